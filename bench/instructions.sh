#!/usr/bin/env bash
# Instructions per request (callgrind; repeatable on a busy machine) of two revisions, for REFRESH_TOKEN_AUTH and
# for invocations with a reused and with distinct tokens (bench/instructions.py): builds BASE (a git revision) and
# NEW (a revision, or the working tree when omitted) as release binaries like bench/ab.sh, installs Debian's
# valgrind when missing, and prints each count and the B/A ratio.
# Usage: bench/instructions.sh BASE [NEW] [-- bench/instructions.py options: --n N --kinds K,…]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
command -v valgrind >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null)
AB_BUILD_ONLY=1 bash bench/ab.sh "$@"
args=("$@")
rest=()
for i in "${!args[@]}"; do
  if [ "${args[$i]}" = "--" ]; then rest=("${args[@]:$((i + 1))}"); break; fi
done
exec python3 bench/instructions.py target/ab/gatehouse-A target/ab/gatehouse-B "${rest[@]}"
