#!/usr/bin/env bash
# run_example.sh: sets up, builds, then compiles the bundled Fashion-MNIST CNN for the default
# optical core (calibrated on examples/calib_64.npy, scheduled for at most 2% top-1
# disagreement with the noise-free network: 64 images resolve a rate only to 1/64), checks the noise-free outputs against PyTorch's
# (examples/expected/), and runs the batch of 8 on the simulated noisy core.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/tools/setup.sh" "$top/build"
out=$top/out
ex=$top/examples
mkdir -p "$out"
"$top/build/dpcc" "$ex/fmnist_cnn.onnx" -o "$out/fmnist_cnn.dp" --calib "$ex/calib_64.npy" \
    --budget top1=0.02 --report "$out/report.json"
"$top/build/dprun" "$out/fmnist_cnn.dp" --ideal -i "$ex/input_0.npy" -o "$out/example" \
    --expect "$ex/expected" --rtol 1e-3 --atol 1e-4
"$top/build/dprun" "$out/fmnist_cnn.dp" --ideal -i "$ex/batch_8.npy" -o "$out/example_batch" \
    --expect "$ex/expected_batch_8" --rtol 1e-3 --atol 1e-4
"$top/build/dprun" "$out/fmnist_cnn.dp" -i "$ex/batch_8.npy" -o "$out/example_noisy" --format npy \
    --seed 1 --report "$out/run_report.json"
echo "example: noise-free outputs ($out/example, $out/example_batch) match PyTorch's;"
echo "         noisy outputs in $out/example_noisy; energy reports $out/report.json, $out/run_report.json"
