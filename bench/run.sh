#!/usr/bin/env bash
# gatehouse's benchmark suite: builds release binaries, installs the load generator and the baselines (wrk,
# HAProxy, nginx from Debian's packages) when missing, then runs bench/run.py, which measures everything on
# 127.0.0.1 with bounded durations, interleaving contenders over several rounds, and writes
# bench/results.json, docs/performance.md and docs/performance.svg. Usage: bench/run.sh [--quick]
# (`python3 bench/run.py --docs-only` rewrites docs/performance.md and the chart from bench/results.json.)
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for tool in wrk haproxy nginx; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]} (Debian packages)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null) \
    || echo "could not install ${need[*]}; baselines that need them are skipped"
fi
echo "== cargo build --release"
cargo build --release --locked --bin gatehouse
exec python3 bench/run.py "$@"
