#!/usr/bin/env bash
# run_fuzzers.sh SECONDS [HARNESS...]: runs each libFuzzer harness (testsuite/fuzz/) for SECONDS
# of wall time, all at once under `nice -n 19`, and prints executions and coverage per harness
# (docs/hardening.md). Default harnesses: fuzz_onnx fuzz_dp fuzz_tensor fuzz_device fuzz_cli
# fuzz_api.
#
#     bash tools/run_fuzzers.sh 60                  # a minute each, the four at once
#     bash tools/run_fuzzers.sh 1800 fuzz_dp        # half an hour of fuzz_dp alone
#     KEEP_GOING=1 bash tools/run_fuzzers.sh 1800   # do not stop at the first crash
#
# Configures and builds build-fuzz (clang, -DDPCC_FUZZ=ON) and makes the seed corpora with
# testsuite/fuzz/make_seeds.sh when they are missing (SEED_BUILD names the build whose dpcc
# compiles the .dp seeds; default: build-fuzz's own, instrumented one). The corpora grow in
# build-fuzz/corpus/NAME, crashing inputs go to build-fuzz/art/NAME/, and each run's log to
# build-fuzz/logs/NAME.log. Exits 1 when any harness left an artifact or failed.
set -euo pipefail
if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: run_fuzzers.sh SECONDS [fuzz_onnx|fuzz_dp|fuzz_tensor|fuzz_device|fuzz_cli|fuzz_api ...]" >&2
    exit 2
fi
secs=$1
shift
harnesses=("$@")
[[ ${#harnesses[@]} -gt 0 ]] || harnesses=(fuzz_onnx fuzz_dp fuzz_tensor fuzz_device fuzz_cli fuzz_api)
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-fuzz

if [[ ! -f $build/build.ninja ]]; then
    cmake -S "$top" -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DDPCC_FUZZ=ON \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" >/dev/null
fi
nice -n 19 cmake --build "$build" -j 2 --target "${harnesses[@]}" dpcc

# Seeds are generated, never committed (make_seeds.sh): make them once.
missing=0
for h in "${harnesses[@]}"; do
    [[ -d $build/seeds/$h ]] || missing=1
done
if [[ $missing == 1 ]]; then
    nice -n 19 bash "$top/testsuite/fuzz/make_seeds.sh" "${SEED_BUILD:-$build}" "$build/seeds"
fi

# libFuzzer stops at the first crash unless it runs in fork mode, which can ignore them.
extra=()
if [[ ${KEEP_GOING:-0} == 1 ]]; then
    extra=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
fi
mkdir -p "$build/logs"
pids=()
for h in "${harnesses[@]}"; do
    mkdir -p "$build/corpus/$h" "$build/art/$h"
    touch "$build/logs/$h.start" # artifacts newer than this are this run's
    # fuzz_cli runs the tools, which talk on stdout and stderr: keep only libFuzzer's lines
    # and compiles with the analog stage, seconds under ASan, many more when the machine is
    # busy (nice 19): a 10 s timeout there flags load, not a hang
    quiet=() timeout=10
    [[ $h != fuzz_cli ]] || quiet=(-close_fd_mask=3) timeout=60
    # fuzz_onnx and fuzz_tensor write every input to a file: keep that off the disk.
    (cd "$build" && TMPDIR=/dev/shm nice -n 19 "./testsuite/fuzz/$h" -max_total_time="$secs" \
        -timeout="$timeout" -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="art/$h/" \
        "${extra[@]}" "${quiet[@]}" "corpus/$h" "seeds/$h" >"logs/$h.log" 2>&1) &
    pids+=($!)
done
status=0
rcs=()
for i in "${!pids[@]}"; do
    rc=0
    wait "${pids[$i]}" || rc=$?
    rcs+=("$rc")
done

printf '%-12s %12s %8s %8s %7s %9s %s\n' harness execs cov ft corpus artifacts exit
for i in "${!harnesses[@]}"; do
    h=${harnesses[$i]}
    log=$build/logs/$h.log
    # The last status line ("#N ... cov: C ft: F corp: K/...", or "#N: cov: ..." in fork
    # mode) holds the totals; the final stats give the exact count of executions when printed.
    last=$(grep -E '^#[0-9]+:?[[:space:]].*cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)
    execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+$' || true)
    [[ -n $execs ]] || execs=$(sed -E 's/^#([0-9]+).*/\1/' <<<"$last")
    cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)
    ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)
    corp=$(find "$build/corpus/$h" -type f | wc -l)
    arts=$(find "$build/art/$h" -type f -newer "$build/logs/$h.start" | wc -l)
    printf '%-12s %12s %8s %8s %7s %9s %s\n' "$h" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corp" "$arts" "${rcs[$i]}"
    if [[ ${rcs[$i]} != 0 || $arts != 0 ]]; then
        status=1
    fi
done
[[ $status == 0 ]] || echo "run_fuzzers: failures or artifacts: see $build/logs and $build/art" >&2
exit $status
