#!/usr/bin/env bash
# run.sh: the founding paper's experiment, in one command (docs/results.md).
#
#   bash benchmarks/paper/run.sh [--quick] [--only NAME,...]
#
# After the README's set-up (bash tools/run_tests.sh, which builds dpcc, exports ResNet-50 and the
# BERT-like encoder and trains the two small Fashion-MNIST models), this trains the Fashion-MNIST
# ResNet-50 if it is missing (about 15 minutes on 2 cores, once), sweeps budgets and schedules
# (benchmarks/paper/sweep.py), draws the figures (plot.py) and copies figures, CSV files and the
# table into docs/paper/, which docs/results.md shows. --quick: tiny data sets and one budget,
# a smoke test of the whole chain in a few minutes. Environment: BUILD [build/], OUT
# [benchmarks/paper/out/].
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$top/build}
OUT=${OUT:-$top/benchmarks/paper/out}
PY=/usr/bin/python3
log() { echo "paper: $*" >&2; }
start=$SECONDS

if [[ ! -x $BUILD/dpcc || ! -x $BUILD/dprun ]]; then
    log "building dpcc into $BUILD"
    bash "$top/tools/setup.sh" "$BUILD"
fi
if ! $PY -c 'import matplotlib' 2>/dev/null; then
    log "installing python3-matplotlib"
    if [[ $(id -u) == 0 ]]; then apt-get update -qq && apt-get install -y -qq python3-matplotlib >&2
    else sudo apt-get update -qq && sudo apt-get install -y -qq python3-matplotlib >&2; fi
fi
for m in resnet50 bert; do
    if [[ ! -f $top/models/$m/model.onnx ]]; then
        log "exporting $m"
        $PY "$top/tools/export_models.py" --out "$top/models" --models "$m" >&2
    fi
done
for arch in cnn transformer resnet50; do
    if [[ ! -f $top/models/fmnist_$arch/model.onnx ]]; then
        log "training the Fashion-MNIST $arch"
        $PY "$top/tools/train_fmnist.py" --arch "$arch" >&2
    fi
done

mkdir -p "$OUT"
$PY "$top/benchmarks/paper/sweep.py" --build "$BUILD" --models "$top/models" --out "$OUT" "$@"
$PY "$top/benchmarks/paper/plot.py" "$OUT"
mkdir -p "$top/docs/paper"
cp "$OUT"/*.png "$OUT"/*.svg "$OUT"/*.csv "$OUT"/table.md "$top/docs/paper/"
log "done in $(((SECONDS - start) / 60)) min: figures, CSV and table.md in docs/paper/"
