#!/usr/bin/env bash
# trained_models_test.sh: the committed trained models (models/README.md) are what their
# scripts made.
#   bash testsuite/trained_models_test.sh MODELS_DIR BUILD_DIR
# For models/fmnist_cnn and models/fmnist_transformer: the committed files match SHA256SUMS,
# tools/fmnist.py --split regenerates the recorded calibration/held-out split from Debian's
# dataset byte for byte, and dprun --ideal classifies the whole test set (calib + held-out,
# 10,000 images) as accurately as PyTorch did at training time (info.json), within 10 images.
# Exits 77 (ctest: skipped) without the Fashion-MNIST dataset.
set -u
if [[ $# -ne 2 ]]; then
    echo "usage: $0 MODELS_DIR BUILD_DIR" >&2
    exit 1
fi
models=$1 build=$2
tools=$(cd "$(dirname "$0")/../tools" && pwd)
if [[ ! -d /usr/share/datasets/fashion-mnist ]]; then
    echo "skipped: no /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
for name in fmnist_cnn fmnist_transformer; do
    src=$models/$name dir=$tmp/$name
    mkdir -p "$dir/test_data_set_0"
    cp "$src"/model.onnx "$src"/info.json "$src"/SHA256SUMS "$dir"/ &&
        cp "$src"/test_data_set_0/*.pb "$dir/test_data_set_0/" &&
        /usr/bin/python3 "$tools/fmnist.py" --split "$dir" >/dev/null || {
        echo "FAIL: $name: cannot copy the committed files or write the split"
        failures=$((failures + 1))
        continue
    }
    if ! (cd "$dir" && sha256sum --quiet -c SHA256SUMS); then
        echo "FAIL: $name: files differ from SHA256SUMS"
        failures=$((failures + 1))
        continue
    fi
    if ! "$build/dpcc" "$dir/model.onnx" -o "$dir/m.dp" --no-analog -q ||
       ! "$build/dprun" "$dir/m.dp" --ideal -i "$dir/calib.npy" -o "$dir/calib.out" --format npy ||
       ! "$build/dprun" "$dir/m.dp" --ideal -i "$dir/test.npy" -o "$dir/test.out" --format npy; then
        echo "FAIL: $name: dpcc or dprun failed"
        failures=$((failures + 1))
        continue
    fi
    /usr/bin/python3 - "$dir" "$name" <<'PY' || failures=$((failures + 1))
import json, sys
import numpy as np
d, name = sys.argv[1:3]
right = sum(int((np.load(f"{d}/{s}.out/output_0.npy").argmax(1) == np.load(f"{d}/{s}_labels.npy")).sum())
            for s in ("calib", "test"))
torch_acc = json.load(open(f"{d}/info.json"))["test_accuracy"]
ok = abs(right - round(torch_acc * 10000)) <= 10
print(f"{'PASS' if ok else 'FAIL'}: {name}: dprun --ideal {right / 10000:.4f} on 10,000 test images, "
      f"PyTorch {torch_acc:.4f} (info.json)")
sys.exit(0 if ok else 1)
PY
done
echo "trained models: $failures failed"
[[ $failures -eq 0 ]]
