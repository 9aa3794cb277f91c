#!/bin/sh
# Side-by-side overhead benchmark; see bench/README.md.
#   bench/run_bench.sh [--build DIR] [--runs N] [--quick] [--micro] [--help]
exec python3 "$(dirname "$0")/run_bench.py" "$@"
