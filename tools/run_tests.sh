#!/usr/bin/env bash
# run_tests.sh: sets up, builds, and runs the whole test suite with ctest.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/tools/setup.sh" "$top/build"
cd "$top/build"
ctest --output-on-failure -j "$(nproc)" "$@"
