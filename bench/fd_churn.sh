#!/usr/bin/env bash
# The cost of descriptor tracking: a million open+close pairs of /dev/null,
# plain, under the runtime with resource tracking off (HEAPSCOPE_RESOURCES=0)
# and on (the default), best of REPEATS runs each. Not a test.
# Usage: bench/fd_churn.sh [BUILD_DIR] [PAIRS] [REPEATS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
pairs=${2:-1000000}
repeats=${3:-3}
lib=$build/lib/libheapscope.so
[ -f "$lib" ] || { echo "no $lib: build first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
g++ -std=c++20 -O2 -g "$here/fd_churn.cc" -o "$tmp/fd_churn"

best() {  # best ns per pair over $repeats runs of "$@"
  local b=""
  for _ in $(seq "$repeats"); do
    local ns
    ns=$("$@" "$tmp/fd_churn" "$pairs" | sed -E 's/.*: ([0-9.]+) ns each.*/\1/')
    if [ -z "$b" ] || awk -v a="$ns" -v b="$b" 'BEGIN{exit !(a<b)}'; then b=$ns; fi
  done
  echo "$b"
}

plain=$(best env)
off=$(best env LD_PRELOAD="$lib" HEAPSCOPE_OUT="$tmp/off" HEAPSCOPE_RESOURCES=0)
on=$(best env LD_PRELOAD="$lib" HEAPSCOPE_OUT="$tmp/on")
echo "open+close of /dev/null, $pairs pairs, best of $repeats:"
echo "  plain                      $plain ns"
echo "  runtime, tracking off      $off ns  ($(awk -v a="$off" -v b="$plain" 'BEGIN{printf "%.2f", a/b}')x plain)"
echo "  runtime, tracking on       $on ns  ($(awk -v a="$on" -v b="$plain" 'BEGIN{printf "%.2f", a/b}')x plain)"
