#!/usr/bin/env bash
# run.sh: the founding paper's experiment, in one command (docs/results.md).
#
#   bash benchmarks/paper/run.sh [--quick] [--only NAME,...] [--profiles NAME,...]
#                                [--learned-batches N] [--learned-steps K] [--threads T]
#                                [--budgets B,...]
#
# After the README's set-up (bash tools/run_tests.sh, which builds dpcc, exports the BERT-like
# encoder and trains the two small Fashion-MNIST models), this trains the Fashion-MNIST
# ResNet-50 if it is missing (about 20 minutes on 2 cores, once), measures every model on the
# paper_shot and homodyne_shot profiles: dpcc's dynamic schedule, uniform precision and, on
# paper_shot, the paper's learned precision (benchmarks/paper/sweep.py, which runs learned.py),
# draws the figures (plot.py) and copies the PNG figures and table.md, which docs/results.md
# shows, into docs/paper/ (each schedule's CSV and the SVG figures stay in OUT). Options go to sweep.py: learned.py's batches and search steps
# default to the paper's 1500 and 6 where this 2-core machine affords them (sweep.py's MODELS:
# fewer for the ResNet-50 and BERT); --learned-batches and --learned-steps set them for all.
#
# --quick: tiny data sets, one budget, two uniform points and a tiny learned.py run, a smoke
# test of the whole chain in a few minutes; its results stay in OUT/quick and docs/paper/ is
# left as it is. Environment: BUILD [build/], OUT [benchmarks/paper/out/].
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$top/build}
OUT=${OUT:-$top/benchmarks/paper/out}
PY=/usr/bin/python3
log() { echo "paper: $*" >&2; }
start=$SECONDS
quick=0
for a in "$@"; do [[ $a == --quick ]] && quick=1; done
((quick)) && OUT=$OUT/quick

if [[ ! -x $BUILD/dpcc || ! -x $BUILD/dprun ]]; then
    log "building dpcc into $BUILD"
    bash "$top/tools/setup.sh" "$BUILD"
fi
if ! $PY -c 'import matplotlib' 2>/dev/null; then
    log "installing python3-matplotlib"
    if [[ $(id -u) == 0 ]]; then apt-get update -qq && apt-get install -y -qq python3-matplotlib >&2
    else sudo apt-get update -qq && sudo apt-get install -y -qq python3-matplotlib >&2; fi
fi
# Only the models the run measures: a model being trained elsewhere has no model.onnx yet, and
# naming the others with --only keeps this from starting a second training.
only=
prev=
for a in "$@"; do
    [[ $prev == --only ]] && only=$a
    [[ $a == --only=* ]] && only=${a#--only=}
    prev=$a
done
wanted() { [[ -z $only || ,$only, == *,$1,* ]]; }
if wanted bert && [[ ! -f $top/models/bert/model.onnx ]]; then
    log "exporting bert"
    $PY "$top/tools/export_models.py" --out "$top/models" --models bert >&2
fi
for arch in cnn transformer resnet50; do
    if wanted "fmnist_$arch" && [[ ! -f $top/models/fmnist_$arch/model.onnx ]]; then
        log "training the Fashion-MNIST $arch"
        $PY "$top/tools/train_fmnist.py" --arch "$arch" >&2
    fi
done

mkdir -p "$OUT"
$PY "$top/benchmarks/paper/sweep.py" --build "$BUILD" --models "$top/models" --out "$OUT" "$@"
$PY "$top/benchmarks/paper/plot.py" "$OUT"
if ((quick)); then
    log "done in $(((SECONDS - start) / 60)) min: figures, CSV and table.md in $OUT"
else
    mkdir -p "$top/docs/paper"
    cp "$OUT"/*.png "$OUT"/table.md "$top/docs/paper/"
    log "done in $(((SECONDS - start) / 60)) min: figures and table.md in docs/paper/, CSV and" \
        "SVG in $OUT"
fi
