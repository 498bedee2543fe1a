#!/usr/bin/env bash
# qdq_noisy_test.sh: a QDQ model compiled with the plain command runs on the noisy device.
#   bash testsuite/qdq_noisy_test.sh BUILD_DIR MODEL_DIR...
# Each MODEL_DIR (testsuite/data/qdq, tools/make_qdq_model.py) is compiled as a user would,
# dpcc MODEL -o OUT (no --calib: the DAC ranges come from the model's scales, the rest of the
# schedule from dpcc's synthetic calibration, of which it must warn), and dprun without
# --ideal must agree with onnxruntime's top-1 class on at least 3 of its 4 or 8 images.
set -u
if [[ $# -lt 2 ]]; then
    echo "usage: $0 BUILD_DIR MODEL_DIR..." >&2
    exit 1
fi
build=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
for dir in "$@"; do
    name=$(basename "$dir")
    if ! "$build/dpcc" "$dir/model.onnx" -o "$tmp/$name.dp" 2>"$tmp/$name.err"; then
        echo "FAIL: $name: dpcc: $(cat "$tmp/$name.err")"
        failures=$((failures + 1))
        continue
    fi
    if ! grep -q "calibrated on synthetic inputs (no --calib)" "$tmp/$name.err"; then
        echo "FAIL: $name: dpcc compiled without --calib and did not say it used synthetic inputs"
        failures=$((failures + 1))
    fi
    if ! "$build/dprun" "$tmp/$name.dp" -i "$dir/test_data_set_0/input_0.pb" \
            --expect "$dir/test_data_set_0" --top1 0.25; then
        echo "FAIL: $name: the noisy run's top-1 classes are not onnxruntime's"
        failures=$((failures + 1))
    fi
done
exit $((failures > 0))
