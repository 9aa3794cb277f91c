#!/usr/bin/env bash
# Times `heapscope top` against `go tool pprof -top` on the same large
# profile (median of 3 runs each, wall clock and CPU) and checks that both
# name the same 10 leading functions, in the same order. The goal is a
# ratio of at most 0.1.
#
# usage: bench/analyzer/compare_top.sh [HEAPSCOPE] [PROFILE.pb.gz]
#   HEAPSCOPE defaults to build/bin/heapscope; without PROFILE, one is made
#   with gen_big_profile.go (300,000 samples, 20,000 functions) under
#   ${BENCH_DIR:-/tmp/heapscope-bench-analyzer}.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
heapscope=${1:-$root/build/bin/heapscope}
profile=${2:-}
work=${BENCH_DIR:-/tmp/heapscope-bench-analyzer}
mkdir -p "$work"

[[ -x $heapscope ]] || { echo "compare_top: no heapscope binary at $heapscope" >&2; exit 2; }
command -v go >/dev/null || { echo "compare_top: go is not installed (apt-get install golang-go)" >&2; exit 2; }
export GOCACHE="$work/gocache" GOPATH="$work/gopath" GOFLAGS=-mod=mod GO111MODULE=on GOPROXY=off

if [[ -z $profile ]]; then
  profile="$work/big.pb.gz"
  if [[ ! -s $profile ]]; then
    go run "$here/gen_big_profile.go" "$profile"
  fi
fi

# Runs "$@" 3 times; prints "median_wall median_cpu" in seconds.
median_time() {
  local runs=()
  for _ in 1 2 3; do
    /usr/bin/time -o "$work/time.out" -f "%e %U %S" "$@" >/dev/null 2>&1
    runs+=("$(tail -1 "$work/time.out")")
  done
  local wall cpu
  wall=$(printf '%s\n' "${runs[@]}" | awk '{ print $1 }' | sort -n | sed -n 2p)
  cpu=$(printf '%s\n' "${runs[@]}" | awk '{ printf "%.2f\n", $2 + $3 }' | sort -n | sed -n 2p)
  echo "$wall $cpu"
}

# The name column of a -top table (after "flat flat% sum% cum cum%"),
# without pprof's inline markers.
# Reads all its input, so the writer never gets SIGPIPE.
leading_names() {
  awk 'found && n < 10 {
         $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); sub(/ \((partial-)?inline\)$/, "")
         print; n++
       }
       /^ *flat +flat%/ { found = 1 }'
}

echo "profile: $profile ($(du -h "$profile" | cut -f1) gzipped)"
read -r hs_wall hs_cpu < <(median_time "$heapscope" top "$profile")
read -r pp_wall pp_cpu < <(median_time go tool pprof -top "$profile")
printf '%-24s %8s %8s\n' "" "wall s" "cpu s"
printf '%-24s %8s %8s\n' "heapscope top" "$hs_wall" "$hs_cpu"
printf '%-24s %8s %8s\n' "go tool pprof -top" "$pp_wall" "$pp_cpu"
ratio=$(awk -v a="$hs_wall" -v b="$pp_wall" 'BEGIN { printf "%.4f", (b > 0 ? a / b : 0) }')
echo "ratio (wall, heapscope / pprof): $ratio"

ours=$("$heapscope" top -n 10 "$profile" | leading_names)
go tool pprof -top "$profile" >"$work/pprof-top.txt" 2>/dev/null
theirs=$(leading_names <"$work/pprof-top.txt")
status=0
if [[ -n $ours && $ours == "$theirs" ]]; then
  echo "leading 10 functions agree:"
  printf '%s\n' "$ours" | sed 's/^/  /'
else
  echo "FAIL: leading functions differ" >&2
  diff <(echo "$ours") <(echo "$theirs") >&2 || true
  status=1
fi
if awk -v r="$ratio" 'BEGIN { exit !(r > 0.1) }'; then
  echo "FAIL: heapscope top takes more than 1/10 of go tool pprof -top" >&2
  status=1
fi
exit $status
