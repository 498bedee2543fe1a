#!/usr/bin/env bash
# same_outputs.sh: two builds of dpcc give the same bits: for a refactoring that must not
# change behaviour (issue notes state the command they ran).
#   bash tools/same_outputs.sh BASE_BUILD NEW_BUILD [MODELS_DIR]
# Compiles with each build, and cmp's the .dp files, the reports (the compile's timings
# taken out) and dprun's outputs, --ideal and noisy (--seed 7):
#   - the bundled example with the plain command, and calibrated (--calib, --budget top1=0.02);
#   - every model of the ONNX backend suite's node/ folder with the plain command;
#   - models/tiny_resnet18, tiny_mobilenet_v2, tiny_bert and fmnist_cnn, plain, when present.
# Prints one line per difference and a count; exits 1 on any.
set -u
if [[ $# -lt 2 ]]; then
    echo "usage: $0 BASE_BUILD NEW_BUILD [MODELS_DIR]" >&2
    exit 1
fi
base=$1 new=$2
src=$(cd "$(dirname "$0")/.." && pwd)
models=${3:-$src/models}
ex=$src/examples
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
diffs=0 cases=0

# compare NAME MODEL INPUT-ARGS... -- DPCC-ARGS...
compare() {
    local name=$1 model=$2 run=() comp=()
    shift 2
    while [[ $# -gt 0 && $1 != -- ]]; do run+=("$1"); shift; done
    shift
    comp=("$@")
    cases=$((cases + 1))
    for b in base new; do
        local bin=$base
        [[ $b == new ]] && bin=$new
        mkdir -p "$tmp/$b"
        "$bin/dpcc" "$model" -o "$tmp/$b/m.dp" --report "$tmp/$b/r.json" -q "${comp[@]}" \
            2>"$tmp/$b/dpcc.err"
        echo "exit $?" >>"$tmp/$b/dpcc.err"
        sed -i "s|$bin|BUILD|g" "$tmp/$b/dpcc.err"
        if [[ -f $tmp/$b/r.json ]]; then
            /usr/bin/python3 -c 'import json,sys
r=json.load(open(sys.argv[1]))
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if not k.endswith("seconds") and k not in ("compile_s", "timings")}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o
json.dump(strip(r), open(sys.argv[1], "w"), sort_keys=True)' "$tmp/$b/r.json"
        fi
        if [[ -f $tmp/$b/m.dp ]]; then
            for mode in ideal noisy; do
                local flag=(--ideal)
                [[ $mode == noisy ]] && flag=(--seed 7)
                "$bin/dprun" "$tmp/$b/m.dp" "${flag[@]}" "${run[@]}" -o "$tmp/$b/$mode" \
                    2>"$tmp/$b/$mode.err"
                echo "exit $?" >>"$tmp/$b/$mode.err"
            done
        fi
    done
    local d
    d=$(diff -r "$tmp/base" "$tmp/new" 2>&1 | head -3)
    if [[ -n $d ]]; then
        echo "DIFFERENT: $name: $d"
        diffs=$((diffs + 1))
    fi
    rm -rf "$tmp/base" "$tmp/new"
}

compare example-plain "$ex/fmnist_cnn.onnx" -i "$ex/batch_8.npy" --
compare example-calibrated "$ex/fmnist_cnn.onnx" -i "$ex/batch_8.npy" -- \
    --calib "$ex/calib_64.npy" --budget top1=0.02
for d in /usr/share/libonnx-testdata/data/node/*/; do
    [[ -f $d/model.onnx && -d $d/test_data_set_0 ]] || continue
    inputs=()
    for f in "$d"/test_data_set_0/input_*.pb; do [[ -f $f ]] && inputs+=(-i "$f"); done
    compare "node/$(basename "$d")" "$d/model.onnx" "${inputs[@]}" --
done
for m in tiny_resnet18 tiny_mobilenet_v2 tiny_bert fmnist_cnn; do
    [[ -f $models/$m/model.onnx ]] || continue
    compare "models/$m" "$models/$m/model.onnx" -i "$models/$m/test_data_set_0/input_0.pb" --
done
echo "same_outputs: $cases cases, $diffs different"
[[ $diffs -eq 0 ]]
