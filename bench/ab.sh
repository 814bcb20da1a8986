#!/usr/bin/env bash
# A/B of two revisions on the gateway's hot path and on the IdP's REFRESH_TOKEN_AUTH, interleaved (bench/ab.py):
# builds BASE (a git revision) in a temporary worktree and NEW (a revision, or the working tree when omitted) as
# release binaries, installs wrk (Debian's package) when missing, then runs both side by side on 127.0.0.1 and
# prints the medians and the B/A ratios of throughput and of gatehouse's CPU per request, for one reused token, for
# distinct tokens and for refresh.
# Usage: bench/ab.sh BASE [NEW] [-- bench/ab.py options: --rounds N --duration S --tokens N]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
base=$1; shift
new=""
if [ $# -gt 0 ] && [ "$1" != "--" ]; then new=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" = "--" ]; then shift; fi
command -v wrk >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)
out=target/ab
mkdir -p "$out"
root=$PWD
build() { # revision, name
  local wt
  wt=$(mktemp -d /tmp/gatehouse-ab-src-XXXXXX)
  git worktree add -q --detach "$wt" "$1"
  echo "== cargo build --release ($1)"
  # The repository's own target directory: the dependencies are built once, only gatehouse itself again.
  (cd "$wt" && CARGO_TARGET_DIR="$root/target" cargo build -q --release --locked --bin gatehouse)
  cp target/release/gatehouse "$out/$2"
  git worktree remove --force "$wt"
}
build "$base" gatehouse-A
if [ -n "$new" ]; then
  build "$new" gatehouse-B
else
  echo "== cargo build --release (working tree)"
  cargo build -q --release --locked --bin gatehouse
  cp target/release/gatehouse "$out/gatehouse-B"
fi
# bench/instructions.sh reuses the two builds.
if [ "${AB_BUILD_ONLY:-0}" = "1" ]; then exit 0; fi
exec python3 bench/ab.py "$out/gatehouse-A" "$out/gatehouse-B" "$@"
