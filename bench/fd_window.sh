#!/usr/bin/env bash
# How often the profiler's own descriptors take the number a program's
# open() expects: bench/fd_window.cc under each LIB, with snapshots every
# INTERVAL and the HTTP endpoint on, alone and with /metrics scraped every
# 100 ms; ROUNDS interleaved rounds. Not a test (the result is a rate that
# depends on the machine's scheduling).
# Usage: bench/fd_window.sh [--interval 1s] [--seconds 8] [--rounds 2] LIB [LIB...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
interval=1s seconds=8 rounds=2
while [ $# -gt 0 ]; do
  case $1 in
    --interval) interval=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--interval D] [--seconds S] [--rounds N] LIB [LIB...]" >&2; exit 2; }
command -v curl >/dev/null || { echo "fd_window.sh needs curl" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
g++ -std=c++20 -O2 "$here/fd_window.cc" -o "$tmp/fd_window"

one() {  # LIB scrape|quiet
  rm -rf "$tmp/out"
  HEAPSCOPE_HTTP=127.0.0.1:0 HEAPSCOPE_INTERVAL=$interval HEAPSCOPE_OUT=$tmp/out \
    LD_PRELOAD=$1 "$tmp/fd_window" "$seconds" >"$tmp/result" 2>"$tmp/err" &
  local pid=$! port=""
  for _ in $(seq 50); do
    port=$(grep -o '127\.0\.0\.1:[0-9]*' "$tmp/err" | head -1 || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  if [ "$2" = scrape ] && [ -n "$port" ]; then
    while kill -0 "$pid" 2>/dev/null; do
      curl -s "http://$port/metrics" >/dev/null || true
      sleep 0.1
    done
  fi
  wait "$pid"
  cat "$tmp/result"
}

for r in $(seq "$rounds"); do
  for lib in "$@"; do
    echo "round $r, $lib, snapshots every $interval: $(one "$lib" quiet)"
    echo "round $r, $lib, same and /metrics every 100ms: $(one "$lib" scrape)"
  done
done
