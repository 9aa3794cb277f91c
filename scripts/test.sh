#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, runs CTest (unit
# tests, end-to-end tests with real programs, Go's pprof as a client).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
# The browser tests (e2e.web) must run, never skip, under this command.
export HEAPSCOPE_REQUIRE_CHROMIUM=1
scripts/build.sh
build=${BUILD_DIR:-build}
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 600
# Sanitizer builds of the unit tests (ASan, UBSan, TSan): README, "Reliability testing".
tests/sanitizers/run.sh
