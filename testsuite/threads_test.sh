#!/usr/bin/env bash
# threads_test.sh: a single inference splits its matrix products, and its depthwise
# convolutions' planes, over dprun's --threads, the exact ones and the noisy analog ones, and
# gives the same bits on any count.
#   bash testsuite/threads_test.sh MODELS_DIR BUILD_DIR
# Uses models/tiny_resnet18, tiny_mobilenet_v2 and mobilenet_v2 (tools/export_models.py),
# whose layers are large enough to be split (the bundled example's are not; the tiny
# MobileNet's depthwise layers are not either), compiled with a fixed schedule on the
# synthetic calibration set. Exits 77 (ctest: skipped) without them.
set -u
models=$1 build=$2
for name in tiny_resnet18 tiny_mobilenet_v2 mobilenet_v2; do
    if [[ ! -f $models/$name/model.onnx || ! -f $models/$name/test_data_set_0/input_0.pb ]]; then
        echo "skipped: no $models/$name (make it with tools/export_models.py)"
        exit 77
    fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
for name in tiny_resnet18 tiny_mobilenet_v2 mobilenet_v2; do
    model=$models/$name/model.onnx input=$models/$name/test_data_set_0/input_0.pb
    "$build/dpcc" "$model" -o "$tmp/m.dp" --schedule fixed:4 -q 2>"$tmp/dpcc.log" \
        || { echo "FAIL: dpcc $name: $(tail -c 600 "$tmp/dpcc.log")"; exit 1; }
    run() { "$build/dprun" "$tmp/m.dp" -i "$input" -o "$tmp/$1" --format npy "${@:2}" || exit 1; }
    for mode in "--seed 5" "--ideal"; do
        for t in 1 2 3; do
            # shellcheck disable=SC2086
            run "t$t" $mode --threads "$t"
        done
        for t in 2 3; do
            cmp -s "$tmp/t1/output_0.npy" "$tmp/t$t/output_0.npy" \
                || { echo "FAIL: $name $mode differs on 1 and $t threads"
                     failures=$((failures + 1)); }
        done
    done
done
echo "threads: $failures failed"
[[ $failures -eq 0 ]]
