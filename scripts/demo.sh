#!/usr/bin/env bash
# Builds heapscope and runs the bundled demo service under `heapscope run`:
# the service leaks the way real services do, next to caches and bursts
# that are not leaks, and heapscope prints what it found when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh demo
scripts/build.sh >/dev/null
build=${BUILD_DIR:-build}
out=$(mktemp -d /tmp/heapscope-demo.XXXXXX)
"$build/bin/heapscope" run --out "$out" -- "$build/bin/heapscope-demo" --duration "${DEMO_SECONDS:-20}"
