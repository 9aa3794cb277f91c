#!/usr/bin/env bash
# Installs what heapscope needs on Debian 12, as root. Only missing packages
# are installed, so a second run is quick. Usage: install-deps.sh [build|demo|test|bench]
set -euo pipefail
what=${1:-build}

pkgs=(cmake ninja-build g++ pkg-config python3 libunwind-dev zlib1g-dev libcli11-dev
      nlohmann-json3-dev libgtest-dev libbenchmark-dev)
# DWARF symbolization in the analyzer (elfutils).
pkgs+=(libdw-dev libelf-dev)
# http(s):// inputs and live endpoints in the analyzer.
pkgs+=(libcurl4-openssl-dev)
# `heapscope web`: its HTTP server, and the page built from web/ with npm.
pkgs+=(libcpp-httplib-dev)
command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
if [ "$what" = demo ] || [ "$what" = test ]; then
  # glibc's separate debug symbols: the runtime names glibc's local
  # functions from them (start_thread, at the root of every thread's stack,
  # instead of libc.so.6+0x...; tests/e2e/test_threads.py).
  pkgs+=(libc6-dbg)
fi
if [ "$what" = test ]; then
  # Real clients the tests use: Go's pprof reads every profile we write.
  pkgs+=(golang-go prometheus)
  # Other allocators in front of the runtime (tests/e2e/test_corners.py).
  pkgs+=(libjemalloc-dev libgoogle-perftools4)
  # libFuzzer's runtime for clang's -fsanitize=fuzzer (src/base/fuzz).
  pkgs+=(libclang-rt-14-dev)
  # Real jemalloc and gperftools heap profiles for the format tests; clang
  # builds the libFuzzer targets of the readers.
  pkgs+=(libjemalloc2 libgoogle-perftools4 clang)
  # Headless Chromium opens the flame graph pages the analyzer writes.
  pkgs+=(chromium)
  # A TLS server for the https input test (tests/e2e/test_https.py).
  pkgs+=(openssl)
fi
if [ "$what" = bench ]; then
  # The tools bench/run_bench.py compares with, and GNU time for peak RSS.
  pkgs+=(heaptrack libjemalloc2 libgoogle-perftools4 time)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "heapscope: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "heapscope: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
fi
