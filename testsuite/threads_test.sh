#!/usr/bin/env bash
# threads_test.sh: a single inference splits its matrix products over dprun's --threads, the
# exact ones and the noisy analog ones, and gives the same bits on any count.
#   bash testsuite/threads_test.sh MODELS_DIR BUILD_DIR
# Uses models/tiny_resnet18 (tools/export_models.py), whose products are large enough to be
# split (the bundled example's are not), compiled with a fixed schedule on the synthetic
# calibration set. Exits 77 (ctest: skipped) without it.
set -u
models=$1 build=$2
model=$models/tiny_resnet18/model.onnx input=$models/tiny_resnet18/test_data_set_0/input_0.pb
if [[ ! -f $model || ! -f $input ]]; then
    echo "skipped: no $model (make it with tools/export_models.py)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/dpcc" "$model" -o "$tmp/m.dp" --schedule fixed:4 -q 2>"$tmp/dpcc.log" \
    || { echo "FAIL: dpcc: $(tail -c 600 "$tmp/dpcc.log")"; exit 1; }
run() { "$build/dprun" "$tmp/m.dp" -i "$input" -o "$tmp/$1" --format npy "${@:2}" || exit 1; }
failures=0
for mode in "--seed 5" "--ideal"; do
    for t in 1 2 3; do
        # shellcheck disable=SC2086
        run "t$t" $mode --threads "$t"
    done
    for t in 2 3; do
        cmp -s "$tmp/t1/output_0.npy" "$tmp/t$t/output_0.npy" \
            || { echo "FAIL: $mode differs on 1 and $t threads"; failures=$((failures + 1)); }
    done
done
echo "threads: $failures failed"
[[ $failures -eq 0 ]]
