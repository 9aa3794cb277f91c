#!/usr/bin/env bash
# The cost of descriptor tracking: a million open+close pairs of /dev/null,
# plain, under the runtime with resource tracking off (HEAPSCOPE_RESOURCES=0)
# and on (the default), median of REPEATS interleaved runs each. Not a test.
# Usage: bench/fd_churn.sh [BUILD_DIR] [PAIRS] [REPEATS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
pairs=${2:-1000000}
repeats=${3:-7}
lib=$build/lib/libheapscope.so
[ -f "$lib" ] || { echo "no $lib: build first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
g++ -std=c++20 -O2 -g "$here/fd_churn.cc" -o "$tmp/fd_churn"

one() {  # ns per pair of one run of "$@"
  "$@" "$tmp/fd_churn" "$pairs" | sed -E 's/.*: ([0-9.]+) ns each.*/\1/'
}

median() { sort -g | awk '{v[NR]=$1} END{print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

# Rounds interleave the three, so drift in the machine's load hits all alike.
: >"$tmp/plain"; : >"$tmp/off"; : >"$tmp/on"
for _ in $(seq "$repeats"); do
  one env >>"$tmp/plain"
  one env LD_PRELOAD="$lib" HEAPSCOPE_OUT="$tmp/out-off" HEAPSCOPE_RESOURCES=0 >>"$tmp/off"
  one env LD_PRELOAD="$lib" HEAPSCOPE_OUT="$tmp/out-on" >>"$tmp/on"
done
plain=$(median <"$tmp/plain")
off=$(median <"$tmp/off")
on=$(median <"$tmp/on")
echo "open+close of /dev/null, $pairs pairs, median of $repeats interleaved runs:"
echo "  plain                      $plain ns"
echo "  runtime, tracking off      $off ns  ($(awk -v a="$off" -v b="$plain" 'BEGIN{printf "%.2f", a/b}')x plain)"
echo "  runtime, tracking on       $on ns  ($(awk -v a="$on" -v b="$plain" 'BEGIN{printf "%.2f", a/b}')x plain)"
echo "  runs (ns): plain $(tr '\n' ' ' <"$tmp/plain")| off $(tr '\n' ' ' <"$tmp/off")| on $(tr '\n' ' ' <"$tmp/on")"
