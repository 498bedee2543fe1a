#!/usr/bin/env bash
# run_sanitizers.sh: builds dpcc with AddressSanitizer and UndefinedBehaviorSanitizer
# (DPCC_SANITIZE) in build-asan and runs the unit tests, the command-line contracts, the bundled
# example and the ONNX backend suite under them, leak checks included (docs/hardening.md).
#
#     bash tools/run_sanitizers.sh                      # everything: about 25 minutes on 2 cores
#     ONNX_FILTER='node/test_[a-c]' bash tools/run_sanitizers.sh    # a part of the ONNX suite
#
# Every sanitizer report is written to build-asan/sanitizer-logs/, whichever process made it:
# tests that expect dpcc to fail would otherwise hide a report behind their expected exit
# status. The run fails when a test fails or when any report was written.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-asan
jobs=$(nproc)
start=$SECONDS

cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDPCC_SANITIZE=ON >/dev/null
cmake --build "$build" -j "$jobs"

logs=$build/sanitizer-logs
rm -rf "$logs"
mkdir -p "$logs"
export ASAN_OPTIONS="detect_leaks=1:log_path=$logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$logs/ubsan"

status=0
(cd "$build" && ctest -R 'unit|cli|example' --output-on-failure -j "$jobs") || status=1
if [[ -n ${ONNX_FILTER:-} ]]; then
    /usr/bin/python3 "$top/testsuite/onnx_suite.py" --build "$build" -j "$jobs" \
        --filter "$ONNX_FILTER" || status=1
else
    (cd "$build" && ctest -R onnx_backend --output-on-failure) || status=1
fi

if compgen -G "$logs/*" >/dev/null; then
    echo "run_sanitizers: sanitizer reports in $logs:" >&2
    grep -h -E 'ERROR: |runtime error|SUMMARY' "$logs"/* | sort | uniq -c >&2 || true
    status=1
fi
echo "run_sanitizers: $((SECONDS - start)) s, $([[ $status == 0 ]] && echo clean || echo FAILED)" >&2
exit $status
