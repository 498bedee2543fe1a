#!/bin/bash
# make_seeds.sh BUILD OUT: seed corpora for the fuzzers, from real files (docs/hardening.md).
# Writes OUT/fuzz_onnx, OUT/fuzz_dp, OUT/fuzz_tensor and OUT/fuzz_device; BUILD holds the dpcc
# that compiles the .dp seeds. Generated, not committed: the .dp seeds alone are ~100 KB.
set -euo pipefail
build=$1 out=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
node=/usr/share/libonnx-testdata/data/node
mkdir -p "$out"/fuzz_onnx "$out"/fuzz_dp "$out"/fuzz_tensor "$out"/fuzz_device

# A spread of ops, attribute kinds and dtypes; small models keep the mutations cheap.
models="test_add test_add_bcast test_relu test_conv_with_strides_padding test_gemm_default_no_bias
test_matmul_2d test_reshape_extended_dims test_gather_0 test_concat_2d_axis_1 test_slice
test_maxpool_2d_pads test_averagepool_2d_default test_batchnorm_example test_softmax_axis_1
test_transpose_default test_pad test_split_equal_parts_1d test_cast_FLOAT_to_DOUBLE test_where_example
test_expand_dim_changed test_constant test_reduce_sum_keepdims_example test_topk test_nonzero_example
test_range_float_type_positive_delta test_shape test_unsqueeze_axis_0 test_tile test_convtranspose
test_clip test_cumsum_1d test_onehot_with_axis test_resize_upsample_scales_nearest test_einsum_batch_matmul
test_constantofshape_float_ones test_lstm_defaults test_if test_loop11"
for m in $models; do
    [ -f "$node/$m/model.onnx" ] && cp "$node/$m/model.onnx" "$out/fuzz_onnx/$m.onnx"
done
cp "$src"/examples/fmnist_cnn.onnx "$out"/fuzz_onnx/

# Programs: single-op ones only, each under 1 KB, digital and with the analog stage (mvm
# instructions with their scales). The example's programs (~97 KB each) made every execution
# slow and kept fuzz_dp shallow (9.2k executions in an earlier run), so they are left out.
for m in test_add test_relu test_conv_with_strides_padding test_gemm_default_no_bias test_gather_0 \
         test_reshape_extended_dims test_transpose_default test_slice test_nonzero_example; do
    "$build"/dpcc "$node/$m/model.onnx" -o "$out/fuzz_dp/$m.dp" --no-analog -q 2>/dev/null || true
done
for m in test_gemm_default_no_bias test_matmul_2d test_conv_with_strides_padding; do
    "$build"/dpcc "$node/$m/model.onnx" -o "$out/fuzz_dp/${m}_analog.dp" --schedule fixed:1 \
        -j 1 -q 2>/dev/null || true
done

# Tensors: the unit tests' fixtures and the ONNX suite's inputs of a few models.
cp "$src"/testsuite/data/*.npy "$src"/testsuite/data/*.pb "$out"/fuzz_tensor/
for m in test_add test_cast_FLOAT_to_DOUBLE test_gather_0 test_nonzero_example test_where_example; do
    for f in "$node/$m"/test_data_set_0/*.pb; do
        cp "$f" "$out/fuzz_tensor/${m}_$(basename "$f")"
    done
done
cp "$src"/examples/input_0.npy "$out"/fuzz_tensor/

cp "$src"/profiles/*.json "$out"/fuzz_device/
