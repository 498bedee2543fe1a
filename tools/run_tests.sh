#!/usr/bin/env bash
# run_tests.sh: sets up, builds, exports the PyTorch models the model tests compare against
# (once: git ignores them), writes the data split of the committed Fashion-MNIST models from
# Debian's dataset (models/README.md), and runs the whole test suite with ctest.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
DPCC_EXTRA_PACKAGES="${DPCC_EXTRA_PACKAGES:-} python3-torch python3-torchvision dataset-fashion-mnist" \
    bash "$top/tools/setup.sh" "$top/build" -DDPCC_WERROR=ON
for m in resnet50 mobilenet_v2 bert tiny_resnet18 tiny_mobilenet_v2 tiny_bert; do
    if [[ ! -f $top/models/$m/model.onnx ]]; then
        echo "run_tests: exporting the PyTorch models into models/" >&2
        /usr/bin/python3 "$top/tools/export_models.py" --out "$top/models" >&2
        /usr/bin/python3 "$top/tools/export_models.py" --tiny --out "$top/models" >&2
        break
    fi
done
# the committed Fashion-MNIST classifiers' calibration/held-out split, from Debian's dataset
for arch in cnn transformer; do
    if [[ ! -f $top/models/fmnist_$arch/test_labels.npy ]]; then
        /usr/bin/python3 "$top/tools/fmnist.py" --split "$top/models/fmnist_$arch" >&2
    fi
done
cd "$top/build"
ctest --output-on-failure -j "$(nproc)" "$@"
