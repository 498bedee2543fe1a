#!/usr/bin/env bash
# run_tests.sh: sets up, builds, exports the PyTorch models the model tests compare against
# (once: git ignores them), writes the data split of the committed Fashion-MNIST models from
# Debian's dataset (models/README.md), and runs the whole test suite with ctest.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# build/ has MPI (docs/mpi.md); build-plain, the tools without it, for the mpi_ranks test to
# compare with
DPCC_EXTRA_PACKAGES="${DPCC_EXTRA_PACKAGES:-} python3-torch python3-torchvision dataset-fashion-mnist openmpi-bin libopenmpi-dev" \
    bash "$top/tools/setup.sh" "$top/build" -DDPCC_WERROR=ON -DDPCC_WITH_MPI=ON \
    -DDPCC_PLAIN_BUILD="$top/build-plain"
cmake -S "$top" -B "$top/build-plain" -DCMAKE_BUILD_TYPE=Release -DDPCC_WERROR=ON >/dev/null
cmake --build "$top/build-plain" -j "$(nproc)" --target dpcc dprun >&2
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
