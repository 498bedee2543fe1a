#!/bin/bash
# llvm_backend_test.sh: the LLVM backend gives the .dp's outputs, byte for byte.
#
#   llvm_backend_test.sh BUILD_DIR SOURCE_DIR            (a build with -DDPCC_WITH_LLVM=ON)
#   llvm_backend_test.sh --absent BUILD_DIR              (a build without: --emit=llvm exits 3)
#
# For the bundled example (calibrated, a fixed schedule) and a few ONNX backend-suite models
# (--no-analog; among them int64 inputs and a data-dependent output shape): compile to .dp
# and with --emit=llvm to an object file (and to .ll and .bc, which clang compiles), link
# each with the OUT.rt.c dpcc writes beside it into a shared object under -Wall -Wextra
# -Werror, run both through dprun and cmp the output files: --ideal, and noisy with the same
# --seed (where a program cannot run noisy, both must fail alike). Exits 77 (skipped) when
# the dpcc given has no LLVM backend.
set -u
if [ "${1:-}" = --absent ]; then
    work=$2/llvm_backend_absent
    mkdir -p "$work"
    "$2/dpcc" "$(dirname "$0")/../examples/fmnist_cnn.onnx" --emit=llvm -o "$work/m.o" --no-analog \
        2>"$work/err"
    rc=$?
    [ $rc -eq 3 ] && grep -q "DPCC_WITH_LLVM" "$work/err" && [ ! -e "$work/m.o" ] \
        && { echo "ok   --emit=llvm refused: $(cat "$work/err")"; exit 0; }
    echo "FAIL: --emit=llvm without LLVM exits $rc: $(cat "$work/err")"
    exit 1
fi
build=$1
src=$2
work=$build/llvm_backend_test
suite=/usr/share/libonnx-testdata/data/node
rm -rf "$work"
mkdir -p "$work"
failures=0
clang=$(command -v clang-14 || command -v clang || true)

. "$(dirname "$0")/backend_compare.sh"   # fail, run_both

# link NAME OBJ RT.o: the object and its runtime as a shared object
link() {
    cc -shared "$2" "$3" -o "$work/$1.so" -lm || { fail "$1: cannot link the object with its runtime"; return 1; }
}

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
    "$build/dpcc" "$model" -o "$work/$name.o" -q "${comp[@]}" || { fail "$name: dpcc .o"; return; }
    local t1=$(date +%s%N)
    echo "     $name: dpcc --emit=llvm (.o) $(((t1 - t0) / 1000000)) ms"
    # the runtime once per model (the slow part: the amalgamated kernels), the forms share it
    t0=$(date +%s%N)
    cc -c -O2 -std=c11 -fPIC -Wall -Wextra -Werror "$work/$name.rt.c" -o "$work/$name.rt.o" \
        || { fail "$name: cc cannot build the runtime"; return; }
    t1=$(date +%s%N)
    echo "     $name: cc -O2 builds the runtime in $(((t1 - t0) / 1000000)) ms"
    if link "$name.o" "$work/$name.o" "$work/$name.rt.o"; then
        run_both "$name.o.ideal" "$work/$name.dp" "$work/$name.o.so" --ideal "${run[@]}"
        run_both "$name.o.seed3" "$work/$name.dp" "$work/$name.o.so" --seed 3 "${run[@]}"
    fi
    # textual IR and bitcode, compiled by clang; their runtime is the one just written
    [ -n "$clang" ] || return
    for form in ll bc; do
        "$build/dpcc" "$model" -o "$work/$name.$form" -q "${comp[@]}" \
            || { fail "$name: dpcc .$form"; continue; }
        "$clang" -c -O2 -fPIC "$work/$name.$form" -o "$work/$name.$form.o" \
            || { fail "$name: clang cannot compile the .$form"; continue; }
        link "$name.$form" "$work/$name.$form.o" "$work/$name.rt.o" \
            && run_both "$name.$form.seed3" "$work/$name.dp" "$work/$name.$form.so" --seed 3 "${run[@]}"
    done
}

ex=$src/examples
"$build/dpcc" "$ex/fmnist_cnn.onnx" --emit=llvm -o "$work/probe.o" -q --no-analog 2>"$work/probe.err"
if [ $? -eq 3 ]; then
    echo "skip: this dpcc has no LLVM backend: $(cat "$work/probe.err")"
    exit 77
fi

check example "$ex/fmnist_cnn.onnx" -i "$ex/batch_8.npy" -- --calib "$ex/calib_64.npy" --schedule fixed:4

if [ -d "$suite" ]; then
    for t in test_conv_with_strides_padding test_gemm_default_no_bias test_matmul_2d test_relu \
             test_softmax_axis_1 test_gather_0 test_expand_dim_changed test_constantofshape_int_zeros test_size; do
        d=$suite/$t
        inputs=()
        for f in "$d"/test_data_set_0/input_*.pb; do inputs+=(-i "$f"); done
        check "$t" "$d/model.onnx" "${inputs[@]}" -- --no-analog
    done
else
    echo "skip the backend-suite models: $suite not found (libonnx-testdata)"
fi

# the weights in a .weights file beside the shared object, found relative to it
mkdir -p "$work/ext"
"$build/dpcc" "$ex/fmnist_cnn.onnx" -o "$work/ext/fm.o" -q --no-analog --external-weights --prefix fm \
    && [ -f "$work/ext/fm.weights" ] \
    && cc -O2 -std=c11 -shared -fPIC -Wall -Wextra -Werror "$work/ext/fm.o" "$work/ext/fm.rt.c" \
          -o "$work/ext/fm.so" -lm \
    && "$build/dprun" "$work/ext/fm.so" --ideal -i "$ex/input_0.npy" --expect "$ex/expected" \
       --rtol 1e-3 --atol 1e-4 2>/dev/null && echo "ok   external weights" \
    || fail "external weights"

if [ $failures -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "all LLVM-compiled kernels agree with their .dp"
