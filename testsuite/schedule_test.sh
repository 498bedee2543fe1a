#!/usr/bin/env bash
# schedule_test.sh: the dynamic-precision schedule on held-out data.
#   [SCHEDULE_MODELS="fmnist_cnn fmnist_transformer"] bash testsuite/schedule_test.sh MODELS_DIR BUILD_DIR
# For each Fashion-MNIST model of tools/train_fmnist.py named in SCHEDULE_MODELS (MODELS_DIR/NAME/
# with model.onnx, calib.npy, calib_labels.npy, test.npy, test_labels.npy; fmnist_resnet50 takes
# many minutes, so the suite leaves it to the issue notes and benchmarks/paper): compiles it
# calibrated on calib.npy on the default device for at most 1% top-1 disagreement with the
# noise-free network (2% on the transformer: its converter floor alone flips about 0.5% of the
# calibration images, and with the search's sampling margin of about 0.25% a 1% budget leaves
# less room than the measurement's own scatter, so which schedule wins there depends on the
# device instance drawn), and the CNN also on paper_shot for at most 2 points of accuracy lost
# (the founding paper's criterion), runs the 8976 held-out test images noise-free and on a
# device instance the compiler never saw (seed 101), and checks that
#   - the held-out degradation meets the budget (within its own sampling error, 3 sigma: for
#     the accuracy drop, the paired error of samples fixed and broken by the noise),
#   - on the default device, the test accuracy stays within 1.5 points of the noise-free
#     network's,
#   - the dynamic schedule spends less energy than the uniform one (the report's baseline).
# Exits 77 (ctest: skipped) when no such model is present.
set -u
if [[ $# -ne 2 ]]; then
    echo "usage: $0 MODELS_DIR BUILD_DIR" >&2
    exit 1
fi
models=$1 build=$2
dirs=()
for name in ${SCHEDULE_MODELS:-fmnist_cnn fmnist_transformer}; do
    [[ -f $models/$name/model.onnx ]] || continue
    dirs+=("$models/$name/model.onnx default top1")
    [[ $name == fmnist_cnn ]] && dirs+=("$models/$name/model.onnx paper_shot accuracy")
done
if [[ ${#dirs[@]} -eq 0 ]]; then
    echo "skipped: no Fashion-MNIST models in $models (make them with tools/train_fmnist.py)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
for case in "${dirs[@]}"; do
    read -r onnx device metric <<<"$case"
    dir=$(dirname "$onnx") model=$(basename "$(dirname "$onnx")")
    name=$model.$device
    start=$SECONDS
    budget=0.01
    [[ $model == fmnist_transformer || $metric == accuracy ]] && budget=0.02
    extra=()
    [[ $metric == accuracy ]] && extra+=(--labels "$dir/calib_labels.npy")
    [[ $device != default ]] && extra+=(--device "$device")
    if ! "$build/dpcc" "$onnx" -o "$tmp/$name.dp" --calib "$dir/calib.npy" \
            --budget "$metric=$budget" "${extra[@]}" --report "$tmp/$name.json" -q 2>"$tmp/$name.log"; then
        echo "FAIL: $name: dpcc: $(tail -c 600 "$tmp/$name.log")"
        failures=$((failures + 1))
        continue
    fi
    compile=$((SECONDS - start))
    if ! "$build/dprun" "$tmp/$name.dp" --ideal -i "$dir/test.npy" -o "$tmp/$name.ideal" \
            --format npy 2>"$tmp/$name.log" ||
       ! "$build/dprun" "$tmp/$name.dp" --seed 101 -i "$dir/test.npy" -o "$tmp/$name.noisy" \
            --format npy --threads 2 2>"$tmp/$name.log"; then
        echo "FAIL: $name: dprun: $(tail -c 600 "$tmp/$name.log")"
        failures=$((failures + 1))
        continue
    fi
    /usr/bin/python3 - "$name" "$tmp" "$dir" "$compile" <<'EOF' || failures=$((failures + 1))
import json, math, sys
import numpy as np
name, tmp, d, compile_s = sys.argv[1:5]
clean = np.load(f"{tmp}/{name}.ideal/output_0.npy")
noisy = np.load(f"{tmp}/{name}.noisy/output_0.npy")
labels = np.load(f"{d}/test_labels.npy")
rep = json.load(open(f"{tmp}/{name}.json"))
n = len(labels)
disagree = float((clean.argmax(1) != noisy.argmax(1)).mean())
acc_clean = float((clean.argmax(1) == labels).mean())
acc_noisy = float((noisy.argmax(1) == labels).mean())
budget = rep["degradation"]["budget"]
dyn, uni = rep["total_energy_j"], rep["baseline_uniform"]["total_energy_j"]
ok = True
msgs = []
if rep["degradation"]["metric"] == "accuracy":
    drop = acc_clean - acc_noisy
    discordant = float(((clean.argmax(1) == labels) != (noisy.argmax(1) == labels)).mean())
    if drop > budget + 3 * math.sqrt(max(discordant - drop * drop, 0) / n):
        ok = False
        msgs.append(f"held-out accuracy drop {drop:.4f} misses the budget {budget}")
elif disagree > budget + 3 * math.sqrt(budget * (1 - budget) / n):
    ok = False
    msgs.append(f"held-out top-1 disagreement {disagree:.4f} misses the budget {budget}")
if rep["device"] != "paper_shot" and acc_clean - acc_noisy > 0.015:
    ok = False
    msgs.append(f"accuracy drops {100 * (acc_clean - acc_noisy):.2f} points")
if not dyn < uni:
    ok = False
    msgs.append(f"dynamic {dyn:.4g} J is not below uniform {uni:.4g} J")
print(f"{'PASS' if ok else 'FAIL'}: {name}: held-out disagreement {disagree:.4f} (budget {budget}, "
      f"measured at compile time {rep['degradation']['measured']:.4f}); accuracy "
      f"{acc_clean:.4f} -> {acc_noisy:.4f}; energy {dyn:.4g} J vs uniform N="
      f"{rep['baseline_uniform']['repetitions']} {uni:.4g} J ({100 * (1 - dyn / uni):.1f}% saved); "
      f"{rep['optical_energy_per_mac_aj']:.4g} aJ/MAC optical; compiled in {compile_s} s"
      + ("" if ok else ": " + "; ".join(msgs)))
sys.exit(0 if ok else 1)
EOF
done
echo "schedule: $failures failed"
[[ $failures -eq 0 ]]
