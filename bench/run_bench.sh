#!/bin/sh
# Side-by-side overhead benchmark; see bench/README.md. One command from a
# fresh clone (as root on Debian 12): installs what is missing, the other
# profilers included (scripts/install-deps.sh bench), builds the workloads
# and the runtime into the build directory, then runs bench/run_bench.py.
#   bench/run_bench.sh [--build DIR] [--runs N] [--quick] [--micro] [--help] ...
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
prev=""
for arg in "$@"; do
  case "$arg" in
    -h|--help) exec python3 "$root/bench/run_bench.py" "$@" ;;
    --build=*) build=${arg#--build=} ;;
  esac
  [ "$prev" = "--build" ] && build=$arg
  prev=$arg
done
bash "$root/scripts/install-deps.sh" bench
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --target bench-all heapscope_runtime >/dev/null
exec python3 "$root/bench/run_bench.py" --build "$build" "$@"
