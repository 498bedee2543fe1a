#!/usr/bin/env bash
# batched_measure_test.sh: dpcc measures its schedules on the model lowered again for batches
# of 16 calibration samples (compiler/tuning/measure.c), whose noise is keyed differently
# from the batch-1 program dprun runs, with the same statistics. This checks the two agree:
# the normalised output MSE dpcc reports for a fixed schedule on the example's 64
# calibration images, over device instances 0 to 7, against the same MSE computed from
# dprun's noisy and --ideal outputs of the compiled program on those images and instances,
# within 5 standard errors of their difference (from the spread over the instances). And
# the batched runs split over threads (calibration's included) leave the program the same on
# 1 and 3 threads, byte for byte.
#   bash testsuite/batched_measure_test.sh BUILD_DIR EXAMPLES_DIR
set -u
build=$1 ex=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp/m.dp" --calib "$ex/calib_64.npy" \
    --schedule fixed:2 --budget mse=1 --seed 0 --seeds 8 --report "$tmp/r.json" -v \
    2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
if ! grep -q "runs: the model lowered again for batches of 16" "$tmp/log"; then
    echo "FAIL: dpcc did not measure on batches of 16:"
    grep "runs:" "$tmp/log"
    exit 1
fi
for j in 1 3; do
    "$build/dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp/j$j.dp" --calib "$ex/calib_64.npy" \
        --budget top1=0.02 --seeds 2 -q -j$j || exit 1
done
cmp -s "$tmp/j1.dp" "$tmp/j3.dp" || { echo "FAIL: dpcc -j1 and -j3 give other programs"; exit 1; }
"$build/dprun" "$tmp/m.dp" --ideal -i "$ex/calib_64.npy" -o "$tmp/ideal" --format npy || exit 1
for s in 0 1 2 3 4 5 6 7; do
    "$build/dprun" "$tmp/m.dp" --seed $s -i "$ex/calib_64.npy" -o "$tmp/s$s" --format npy || exit 1
done
/usr/bin/python3 - "$tmp" <<'EOF'
import json, math, sys
import numpy as np
tmp = sys.argv[1]
clean = np.load(f"{tmp}/ideal/output_0.npy").astype(np.float64)
var = ((clean - clean.mean()) ** 2).sum()
per_seed = [((np.load(f"{tmp}/s{s}/output_0.npy") - clean) ** 2).sum() / var for s in range(8)]
dprun = float(np.mean(per_seed))
se = float(np.std(per_seed, ddof=1) / math.sqrt(len(per_seed)))
dpcc = json.load(open(f"{tmp}/r.json"))["degradation"]["measured"]
# both are means over 8 instances of the same distribution: the difference's error is
# sqrt(2) times one mean's
bound = 5 * math.sqrt(2) * se
print(f"batched_measure: dpcc {dpcc:.5g}, dprun {dprun:.5g} (se {se:.2g}), bound {bound:.2g}")
if not dprun > 0 or not abs(dpcc - dprun) <= bound:
    print("FAIL: dpcc's batched measurement and dprun disagree")
    sys.exit(1)
EOF
