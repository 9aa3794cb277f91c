#!/usr/bin/env bash
# Sanitizer builds of the unit tests: for each of ASan, UBSan and TSan,
# configures build-asan / build-ubsan / build-tsan with HEAPSCOPE_SANITIZE
# (cmake/Sanitizers.cmake: every target but the runtime library), no
# benchmarks and no end-to-end tests, builds the *_test executables only
# (target hs_unit_tests) and runs their tests. The libFuzzer tests are left
# out: the fuzzers carry ASan and UBSan themselves and run in the normal
# build. Any sanitizer report fails the test that triggered it.
#
#   tests/sanitizers/run.sh                 # all three
#   HEAPSCOPE_SANITIZERS="asan" tests/sanitizers/run.sh
#   SANITIZER_BUILD_PREFIX=build-i tests/sanitizers/run.sh   # build-iasan, ...
set -euo pipefail
cd "$(dirname "$0")/../.."
# ASan and UBSan share one build ("asan+ubsan") to keep CI short.
sanitizers=${HEAPSCOPE_SANITIZERS:-asan+ubsan tsan}
prefix=${SANITIZER_BUILD_PREFIX:-build-}
jobs=$(nproc)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

for s in $sanitizers; do
  case $s in
    asan) flag=address ;;
    asan+ubsan) flag=address,undefined ;;
    ubsan) flag=undefined ;;
    tsan) flag=thread ;;
    *) echo "heapscope: unknown sanitizer build '$s' (asan, ubsan, asan+ubsan, tsan)" >&2; exit 2 ;;
  esac
  dir=$prefix${s/+/-}
  start=$(date +%s)
  # -O1 -g1: line numbers in reports, and builds and runs quicker than -O0 -g.
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
        -DCMAKE_C_FLAGS_DEBUG="-O1 -g1" -DHEAPSCOPE_SANITIZE=$flag \
        -DHEAPSCOPE_BUILD_BENCH=OFF -DHEAPSCOPE_BUILD_E2E=OFF >/dev/null
  cmake --build "$dir" --target hs_unit_tests -- -j"$jobs"
  built=$(date +%s)
  ctest --test-dir "$dir" --output-on-failure -j"$jobs" --timeout 600 -E '^fuzz_'
  echo "heapscope: $s unit tests passed (build $((built - start)) s, tests $(($(date +%s) - built)) s)"
done
