#!/usr/bin/env bash
# run_example.sh: sets up, builds, then compiles and runs the bundled Fashion-MNIST CNN,
# checking its outputs against PyTorch's (examples/expected/).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/tools/setup.sh" "$top/build"
out=$top/out
mkdir -p "$out"
"$top/build/dpcc" "$top/examples/fmnist_cnn.onnx" -o "$out/fmnist_cnn.dp"
"$top/build/dprun" "$out/fmnist_cnn.dp" --ideal -i "$top/examples/input_0.npy" -o "$out/example" \
    --expect "$top/examples/expected" --rtol 1e-3 --atol 1e-4
"$top/build/dprun" "$out/fmnist_cnn.dp" --ideal -i "$top/examples/batch_8.npy" -o "$out/example_batch" \
    --expect "$top/examples/expected_batch_8" --rtol 1e-3 --atol 1e-4
echo "example: outputs in $out/example and $out/example_batch match PyTorch's"
