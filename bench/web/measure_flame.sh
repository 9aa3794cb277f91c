#!/usr/bin/env bash
# How long the page of `heapscope web` takes to show the flame graph of a
# 300,000-sample profile (bench/analyzer/gen_big_profile.go): from
# navigation start to the graph drawn on its canvas, in Debian's headless
# Chromium, median over runs. Needs a build (build/ or $BUILD_DIR), go and
# /usr/bin/chromium.
#
#   bench/web/measure_flame.sh [RUNS_PER_SERVER]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
profile=$tmp/big.pb.gz
go run "$root/bench/analyzer/gen_big_profile.go" "$profile"
echo "profile: $(stat -c %s "$profile") bytes, 300000 samples"
node "$root/web/test/e2e.mjs" --heapscope "$build/bin/heapscope" --measure "$profile" \
  --runs "${1:-5}"
