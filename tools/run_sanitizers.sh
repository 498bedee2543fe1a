#!/usr/bin/env bash
# run_sanitizers.sh [CTEST ARGS...]: builds dpcc with AddressSanitizer and UndefinedBehavior-
# Sanitizer (DPCC_SANITIZE) in build-asan and runs the whole test suite under them, leak checks
# included (docs/hardening.md). CI runs it after tools/run_tests.sh, whose exported and trained
# models in models/ it reuses (the tests that need them skip without them).
#
#     bash tools/run_sanitizers.sh                      # the whole suite
#     bash tools/run_sanitizers.sh -R 'unit|cli'        # a part: the arguments go to ctest
#     SAN_EXCLUDE= bash tools/run_sanitizers.sh         # no test left out (see below)
#
# The build is optimised (-O1, frame pointers kept): an unoptimised one made the analog
# example's compile alone take ~9 minutes. Every sanitizer report is written to
# build-asan/sanitizer-logs/, whichever process made it: tests that expect dpcc to fail would
# otherwise hide a report behind their expected exit status. The run fails when a test fails
# or when any report was written.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-asan
jobs=$(nproc)
start=$SECONDS

cmake -S "$top" -B "$build" -G Ninja -DDPCC_SANITIZE=ON -DDPCC_WERROR=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g -fno-omit-frame-pointer" \
    >/dev/null
cmake --build "$build" -j "$jobs"
built=$SECONDS

logs=$build/sanitizer-logs
rm -rf "$logs"
mkdir -p "$logs"
# log_path: one file per process that reports, so none is lost behind an expected failure.
export ASAN_OPTIONS="detect_leaks=1:log_path=$logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
export LSAN_OPTIONS="log_path=$logs/lsan"

# Left out (docs/hardening.md): install_package and python_pipeline load the instrumented
# libraries into programs built without the sanitizers (a consumer built from the installed
# package; python), which cannot work; c_backend, analog_schedule and annotate_schedule spend
# their time in calibration loops and in the system compiler, and under the sanitizers went past
# their ctest timeouts (1200 s, 300 s) or took 27 minutes; same_outputs compares two release
# builds' bits (an instrumented -O1 build is not what it guards) and ran past its 900 s.
# SAN_EXCLUDE='' runs them too.
exclude=${SAN_EXCLUDE-'^(install_package|python_pipeline|c_backend|analog_schedule|annotate_schedule|same_outputs)$'}
status=0
(cd "$build" && ctest --output-on-failure -j "$jobs" ${exclude:+-E "$exclude"} "$@") || status=1

if compgen -G "$logs/*" >/dev/null; then
    echo "run_sanitizers: sanitizer reports in $logs:" >&2
    grep -h -E 'ERROR: |runtime error|SUMMARY' "$logs"/* | sort | uniq -c >&2 || true
    status=1
fi
echo "run_sanitizers: build $((built - start)) s, tests $((SECONDS - built)) s," \
    "$([[ $status == 0 ]] && echo clean || echo FAILED)" >&2
exit $status
