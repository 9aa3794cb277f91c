#!/usr/bin/env bash
# Serving /debug/pprof/heap with 100,000 live samples over 10,000 stacks:
# time per request and how long the program's threads are held up.
# Not a test. Usage: bench/http_heap_bench.sh [BUILD_DIR] [FETCHES]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
fetches=${2:-20}
lib=$build/lib/libheapscope.so
[ -f "$lib" ] || { echo "no $lib: build first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
g++ -std=c++20 -O2 -g -pthread "$here/http_heap_bench.cc" -o "$tmp/http_heap_bench"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LD_PRELOAD=$lib HEAPSCOPE_RATE=1 HEAPSCOPE_FINAL=0 HEAPSCOPE_OUT=$tmp/out \
  HEAPSCOPE_HTTP=127.0.0.1:$port "$tmp/http_heap_bench" "$port" "$fetches"
