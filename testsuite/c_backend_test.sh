#!/bin/bash
# c_backend_test.sh: the C backend gives the .dp's outputs, byte for byte.
#
#   c_backend_test.sh BUILD_DIR SOURCE_DIR
#
# For the bundled example (calibrated and scheduled) and a few ONNX backend-suite models
# (--no-analog; among them int64 inputs, a data-dependent output shape and a program folded
# to no instructions at all): compile to .dp and to .c, build the .c as a shared object with
# every C compiler present (cc, and clang) under -Wall -Wextra -Werror, run both through dprun
# and cmp the output files: --ideal, and noisy with the same --seed (where a program cannot
# run noisy, both must fail alike). The whole ONNX suite goes through the C backend in
# onnx_backend_suite_c (onnx_suite.py --backend c).
set -u
build=$1
src=$2
work=$build/c_backend_test
suite=/usr/share/libonnx-testdata/data/node
rm -rf "$work"
mkdir -p "$work"
failures=0

compilers=(cc)
command -v clang >/dev/null && compilers+=(clang)

. "$(dirname "$0")/backend_compare.sh"   # fail, run_both

# check NAME MODEL RUN-ARGS... -- DPCC-ARGS...
check() {
    local name=$1 model=$2
    shift 2
    local run=() comp=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do run+=("$1"); shift; done
    shift
    comp=("$@")
    "$build/dpcc" "$model" -o "$work/$name.dp" -q "${comp[@]}" || { fail "$name: dpcc .dp"; return; }
    local t0=$(date +%s%N)
    "$build/dpcc" "$model" -o "$work/$name.c" -q "${comp[@]}" || { fail "$name: dpcc .c"; return; }
    local t1=$(date +%s%N)
    echo "     $name: dpcc --emit=c $(((t1 - t0) / 1000000)) ms"
    for c in "${compilers[@]}"; do
        local so=$work/$name.$c.so
        t0=$(date +%s%N)
        "$c" -O2 -std=c11 -shared -fPIC -Wall -Wextra -Werror "$work/$name.c" -o "$so" -lm \
            || { fail "$name: $c cannot build the kernel"; continue; }
        t1=$(date +%s%N)
        echo "     $name: $c -O2 builds the kernel in $(((t1 - t0) / 1000000)) ms"
        run_both "$name.$c.ideal" "$work/$name.dp" "$so" --ideal "${run[@]}"
        run_both "$name.$c.seed3" "$work/$name.dp" "$so" --seed 3 "${run[@]}"
    done
}

ex=$src/examples
check example "$ex/fmnist_cnn.onnx" -i "$ex/batch_8.npy" -- --calib "$ex/calib_64.npy" --budget top1=0.02 --seeds 2
# a QDQ model's analog layers carry the model's weight full scales (format version 3)
qdq=$src/testsuite/data/qdq/test_fmnist_cnn_qdq
check qdq_cnn "$qdq/model.onnx" -i "$qdq/test_data_set_0/input_0.pb" --

if [ -d "$suite" ]; then
    for t in test_conv_with_strides_padding test_gemm_default_no_bias test_matmul_2d test_relu \
             test_softmax_axis_1 test_gather_0 test_expand_dim_changed test_size; do
        d=$suite/$t
        inputs=()
        for f in "$d"/test_data_set_0/input_*.pb; do inputs+=(-i "$f"); done
        check "$t" "$d/model.onnx" "${inputs[@]}" -- --no-analog
    done
else
    echo "skip the backend-suite models: $suite not found (libonnx-testdata)"
fi

# the weights in a .weights file beside the kernel, found relative to the shared object
mkdir -p "$work/ext"
"$build/dpcc" "$ex/fmnist_cnn.onnx" -o "$work/ext/fm.c" -q --no-analog --external-weights --prefix fm \
    && cc -O2 -std=c11 -shared -fPIC -Wall -Wextra -Werror "$work/ext/fm.c" -o "$work/ext/fm.so" -lm \
    && "$build/dprun" "$work/ext/fm.so" --ideal -i "$ex/input_0.npy" --expect "$ex/expected" \
       --rtol 1e-3 --atol 1e-4 2>/dev/null && echo "ok   external weights" \
    || fail "external weights"

# a file named after one of the runtime's kernels (concat.c, whose concat_run is static
# there): the entry points' prefix becomes concat_model
if [ -d "$suite" ]; then
    d=$suite/test_size
    "$build/dpcc" "$d/model.onnx" -o "$work/ext/concat.c" -q --no-analog \
        && grep -q "concat_model_run" "$work/ext/concat.c" \
        && cc -O1 -std=c11 -shared -fPIC -Wall -Wextra -Werror "$work/ext/concat.c" \
              -o "$work/ext/concat.so" -lm \
        && "$build/dprun" "$work/ext/concat.so" --ideal -i "$d/test_data_set_0/input_0.pb" \
           --expect "$d/test_data_set_0" 2>/dev/null && echo "ok   a prefix the runtime uses" \
        || fail "a prefix the runtime uses (concat.c)"
fi

if [ $failures -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "all C kernels agree with their .dp"
