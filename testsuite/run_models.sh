#!/usr/bin/env bash
# run_models.sh: compiles and runs (noise-free, --ideal) each model exported by
# tools/export_models.py and checks dprun's outputs against PyTorch's.
#   bash testsuite/run_models.sh MODELS_DIR BUILD_DIR
# Each MODELS_DIR/NAME/ holding model.onnx and test_data_set_0/{input_*,output_*}.pb is one
# test. A model passes when dpcc and dprun both exit 0 and dprun wrote every output_K.pb that
# the data set holds (its --expect compares them). Prints PASS/FAIL per model and a closing
# count, and exits 1 if any failed; exits 77 (ctest: skipped) when MODELS_DIR is missing or holds
# no model.
set -u
if [[ $# -ne 2 ]]; then
    echo "usage: $0 MODELS_DIR BUILD_DIR" >&2
    exit 1
fi
models=$1 build=$2
shopt -s nullglob
dirs=("$models"/*/model.onnx)
if [[ ${#dirs[@]} -eq 0 ]]; then
    echo "skipped: no models in $models (make them with tools/export_models.py)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passes=0 failures=0

for onnx in "${dirs[@]}"; do
    dir=$(dirname "$onnx") name=$(basename "$(dirname "$onnx")")
    data=$dir/test_data_set_0
    inputs=()
    for pb in "$data"/input_*.pb; do inputs+=(-i "$pb"); done
    start=$SECONDS
    "$build/dpcc" "$onnx" -o "$tmp/$name.dp" --no-analog >"$tmp/$name.log" 2>&1
    rc=$?
    if [[ $rc -eq 0 ]]; then
        "$build/dprun" "$tmp/$name.dp" --ideal "${inputs[@]}" -o "$tmp/$name.out" \
            --expect "$data" --rtol 1e-3 --atol 1e-4 >"$tmp/$name.log" 2>&1
        rc=$?
        step=dprun
    else
        step=dpcc
    fi
    if [[ $rc -ne 0 ]]; then
        echo "FAIL: $name: $step exited $rc: $(tail -c 600 "$tmp/$name.log")"
        failures=$((failures + 1))
        continue
    fi
    missing=()
    for pb in "$data"/output_*.pb; do
        [[ -f $tmp/$name.out/$(basename "$pb") ]] || missing+=("$(basename "$pb")")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        echo "FAIL: $name: dprun exited 0 but wrote no ${missing[*]} in its output folder"
        failures=$((failures + 1))
        continue
    fi
    echo "PASS: $name ($((SECONDS - start)) s)"
    passes=$((passes + 1))
done

echo "models: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
