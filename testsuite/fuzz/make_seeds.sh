#!/bin/bash
# make_seeds.sh BUILD OUT: seed corpora for the fuzzers, from real files (docs/hardening.md).
# Writes OUT/fuzz_onnx, OUT/fuzz_dp, OUT/fuzz_tensor, OUT/fuzz_device, OUT/fuzz_cli and
# OUT/fuzz_api; BUILD holds the dpcc
# that compiles the .dp seeds. Generated, not committed: the .dp seeds alone are ~100 KB.
set -euo pipefail
build=$1 out=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
node=/usr/share/libonnx-testdata/data/node
mkdir -p "$out"/fuzz_onnx "$out"/fuzz_dp "$out"/fuzz_tensor "$out"/fuzz_device "$out"/fuzz_cli \
    "$out"/fuzz_api

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

# Command lines, NUL-separated, over the files fuzz_cli puts in its folder (m.onnx, p.dp,
# x.npy, b.npy).
n=0
while IFS= read -r line; do
    n=$((n + 1))
    printf '%s' "$line" | tr ' ' '\0' >"$out/fuzz_cli/argv_$n"
done <<'LINES'
dpcc m.onnx -o o.dp --no-analog
dpcc m.onnx -o o.dp --schedule fixed:2 --seeds 1 -j 1 -q
dpcc m.onnx -o o.dp --calib b.npy --budget top1=0.1 --report r.json --report-csv r.csv -j1 --seeds 1
dpcc m.onnx -o o.c --prefix k --no-analog
dpcc m.onnx -o o.dp --input-shape x=1x4 --no-analog --json
dpcc m.onnx -o o.dp --annotate a.onnx --schedule uniform --seeds 1 -j 1 --device paper_shot
dpcc --disasm p.dp
dpcc --help
dprun p.dp -i x.npy --ideal
dprun p.dp -i b.npy -o out --format npy --seed 3 -j 1
dprun p.dp -i x=x.npy --expect x.npy --rtol 0.1 --json --ideal
dprun p.dp -i x.npy --report r.json --repeat 2 --max-memory 1M
dprun --version
LINES

# Calls on one compiler (fuzz_api.c): an op byte, then its arguments; a string is a length
# byte and its bytes.
seed() { printf "$2" >"$out/fuzz_api/$1"; }
seed budget '\x05\x04top1\x9a\x99\x99\x99\x99\x99\xb9\x3f\x05\x02kl\x00\x00\x00\x00\x00\x00\xf0\x7f'
seed schedule '\x06\x07fixed:4\x06\x07dynamic\x06\x0bfrom:r.json'
seed shape '\x0b\x01x\x02\x00\x01\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00'
seed calib '\x03\x01\x01\x02\x04\x04\x00\x00\x00\x00\x00\x00'
seed counts '\x07\x05\x00\x00\x00\x08\x02\x00\x00\x00\x09\x00\x00\x00\x00\x01\x00\x00\x00\x00'
seed paths '\x00\x0apaper_shot\x02\x09calib.npy\x04\xff\x0a\x03'
