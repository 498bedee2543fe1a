#!/usr/bin/env bash
# mpi_test.sh: dpcc and dprun over MPI ranks give the bits of one process (docs/mpi.md).
#   bash testsuite/mpi_test.sh BUILD_DIR SOURCE_DIR [PLAIN_BUILD_DIR]
# BUILD_DIR is a -DDPCC_WITH_MPI=ON build. For the bundled example (its 64 calibration
# images), the ONNX backend suite's test_Conv2d and models/tiny_resnet18 (when exported; a
# ResNet-class network on synthetic calibration), `mpirun -n K dpcc` for K = 1, 2, 3 must
# write the .dp and the report byte for byte as the same build without a launcher does
# (which never starts MPI), and as PLAIN_BUILD_DIR's dpcc (a build without MPI) where given;
# `mpirun -n K dprun` likewise for a noisy data set's outputs and run report. Rank 0 alone
# reads the input files: with the inputs in rank 0's working folder only, the others' empty,
# both tools still give the same bytes. Then the failures: ranks given different arguments
# (mpirun's MPMD form), and bad input files that rank 0 reads; every rank must end (no hang:
# each run is under a timeout), with one exit status and one message, and no output written.
set -u
# absolute: the ranks below run in folders of their own (mpirun -wdir)
build=$(realpath "$1") src=$(realpath "$2") plain=${3:-}
mpirun=(timeout 300 mpirun --oversubscribe --allow-run-as-root)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# same NAME FILE...: every FILE of run NAME against those of run "ref"
same() {
    local name=$1 f
    shift
    for f in "$@"; do
        cmp -s "$tmp/ref/$f" "$tmp/$name/$f" || fail "$name: $f differs from one process's"
    done
}

# compile NAME MODEL ARGS...: every way of running dpcc on MODEL, against the first
compile() {
    local name=$1 model=$2 k
    shift 2
    mkdir -p "$tmp/ref"
    "$build/dpcc" "$model" -o "$tmp/ref/$name.dp" --report "$tmp/ref/$name.json" -q "$@" \
        || { fail "$name: dpcc failed"; return; }
    if [[ -n $plain ]]; then
        mkdir -p "$tmp/plain"
        "$plain/dpcc" "$model" -o "$tmp/plain/$name.dp" --report "$tmp/plain/$name.json" -q "$@"
        same plain "$name.dp" "$name.json"
    fi
    for k in 1 2 3; do
        mkdir -p "$tmp/k$k"
        "${mpirun[@]}" -n $k "$build/dpcc" "$model" -o "$tmp/k$k/$name.dp" \
            --report "$tmp/k$k/$name.json" -q -j1 "$@" || fail "$name: dpcc on $k ranks failed"
        same "k$k" "$name.dp" "$name.json"
    done
    echo "ok   dpcc $name"
}

# run NAME INPUT: dprun NAME.dp (from the compile above) on a noisy data set, every way
run() {
    local name=$1 input=$2 k
    "$build/dprun" "$tmp/ref/$name.dp" -i "$input" -o "$tmp/ref/$name.out" --seed 7 \
        --report "$tmp/ref/$name.run.json" || { fail "$name: dprun failed"; return; }
    if [[ -n $plain ]]; then
        "$plain/dprun" "$tmp/ref/$name.dp" -i "$input" -o "$tmp/plain/$name.out" --seed 7 \
            --report "$tmp/plain/$name.run.json"
        same plain "$name.out/output_0.pb" "$name.run.json"
    fi
    for k in 1 2 3; do
        "${mpirun[@]}" -n $k "$build/dprun" "$tmp/ref/$name.dp" -i "$input" -o "$tmp/k$k/$name.out" \
            --seed 7 --report "$tmp/k$k/$name.run.json" -j1 || fail "$name: dprun on $k ranks failed"
        same "k$k" "$name.out/output_0.pb" "$name.run.json"
    done
    echo "ok   dprun $name"
}

ex=$src/examples
compile example "$ex/fmnist_cnn.onnx" --calib "$ex/calib_64.npy" --budget top1=0.02 --seeds 2
run example "$ex/batch_8.npy"
suite=/usr/share/libonnx-testdata/data/pytorch-converted/test_Conv2d
compile conv2d "$suite/model.onnx"
run conv2d "$suite/test_data_set_0/input_0.pb"
resnet=$src/models/tiny_resnet18
if [[ -f $resnet/model.onnx ]]; then
    compile resnet "$resnet/model.onnx" --seeds 2
    /usr/bin/python3 -c "import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(3)
        .standard_normal((5, 3, 64, 64), dtype=np.float32))" "$tmp/batch_5.npy"
    run resnet "$tmp/batch_5.npy"
else
    echo "note: no $resnet (tools/export_models.py --tiny): the ResNet is left out"
fi

# expect_failure NAME WANT_RC ARGS...: mpirun ARGS must exit WANT_RC, print one error line
# (holding $tmp/NAME.want), and write nothing into $tmp/fail
expect_failure() {
    local name=$1 want=$2 rc
    shift 2
    rm -rf "$tmp/fail"
    "${mpirun[@]}" "$@" 2>"$tmp/$name.err" >/dev/null
    rc=$?
    [[ $rc -eq $want ]] || fail "$name: exit $rc, not $want: $(cat "$tmp/$name.err")"
    local errors
    errors=$(grep -c 'error:' "$tmp/$name.err")
    [[ $errors -eq 1 ]] || fail "$name: $errors error messages: $(cat "$tmp/$name.err")"
    grep -qF -- "$(cat "$tmp/$name.want")" "$tmp/$name.err" \
        || fail "$name: not the message $(cat "$tmp/$name.want")"
    [[ ! -e $tmp/fail ]] || fail "$name: wrote $(ls -R "$tmp/fail")"
    echo "ok   $name (exit $rc)"
}

# only rank 0 opens the inputs: relative paths that resolve in rank 0's folder alone
mkdir -p "$tmp/r0" "$tmp/empty"
cp "$ex/fmnist_cnn.onnx" "$ex/calib_64.npy" "$ex/batch_8.npy" "$tmp/r0/"
cp "$src/profiles/homodyne_shot.json" "$tmp/r0/device.json"
args=(fmnist_cnn.onnx -o example.dp --report example.json --device ./device.json
      --calib calib_64.npy --budget top1=0.02 --seeds 2 -q -j1)
"${mpirun[@]}" -n 1 -wdir "$tmp/r0" "$build/dpcc" "${args[@]}" \
    : -n 2 -wdir "$tmp/empty" "$build/dpcc" "${args[@]}" || fail "dpcc: other ranks read inputs"
args=(example.dp -i batch_8.npy -o example.out --seed 7 --report example.run.json -j1)
"${mpirun[@]}" -n 1 -wdir "$tmp/r0" "$build/dprun" "${args[@]}" \
    : -n 2 -wdir "$tmp/empty" "$build/dprun" "${args[@]}" || fail "dprun: other ranks read inputs"
same r0 example.dp example.json example.out/output_0.pb example.run.json
[[ -z $(ls -A "$tmp/empty") ]] || fail "other ranks wrote $(ls -A "$tmp/empty")"
echo "ok   inputs read by rank 0 alone"

# ranks given different arguments: usage (exit 1), the first rank that differs says how
echo "rank 2's command line differs from rank 0's: argument 1 is '$tmp/bad.dp' where rank 0's \
is '$tmp/ref/example.dp'" >"$tmp/dprun_args.want"
head -c 300 "$tmp/ref/example.dp" >"$tmp/bad.dp"
expect_failure dprun_args 1 -n 2 "$build/dprun" "$tmp/ref/example.dp" -i "$ex/batch_8.npy" \
    -o "$tmp/fail" -j1 : -n 1 "$build/dprun" "$tmp/bad.dp" -i "$ex/batch_8.npy" -o "$tmp/fail" -j1
echo "rank 1's command line differs from rank 0's: argument 8 is '--labels' where rank 0's is \
missing" >"$tmp/dpcc_args.want"
expect_failure dpcc_args 1 -n 1 "$build/dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp/fail/x.dp" \
    --calib "$ex/calib_64.npy" -q -j1 : -n 2 "$build/dpcc" "$ex/fmnist_cnn.onnx" \
    -o "$tmp/fail/x.dp" --calib "$ex/calib_64.npy" -q -j1 --labels "$ex/labels_8.npy"

# bad inputs, which rank 0 alone reads: the single-process run's status and message
"$build/dprun" "$tmp/bad.dp" -i "$ex/batch_8.npy" 2>"$tmp/dprun_bad.want"
expect_failure dprun_bad $? -n 3 "$build/dprun" "$tmp/bad.dp" -i "$ex/batch_8.npy" \
    -o "$tmp/fail" -j1
head -c 200 "$ex/batch_8.npy" >"$tmp/bad.npy"
"$build/dprun" "$tmp/ref/example.dp" -i "$tmp/bad.npy" 2>"$tmp/dprun_input.want"
expect_failure dprun_input $? -n 3 "$build/dprun" "$tmp/ref/example.dp" -i "$tmp/bad.npy" \
    -o "$tmp/fail" -j1
"$build/dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp/x.dp" --calib "$tmp/bad.npy" -q -j1 \
    2>"$tmp/dpcc_calib.want"
expect_failure dpcc_calib $? -n 3 "$build/dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp/fail/x.dp" \
    --calib "$tmp/bad.npy" -q -j1
# labels that do not fit (8 for 64 calibration images): found inside the compilation, alike
# on every rank, since all have rank 0's bytes
"$build/dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp/x.dp" --calib "$ex/calib_64.npy" \
    --labels "$ex/labels_8.npy" -q -j1 2>"$tmp/dpcc_labels.want"
expect_failure dpcc_labels $? -n 3 "$build/dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp/fail/x.dp" \
    --calib "$ex/calib_64.npy" --labels "$ex/labels_8.npy" -q -j1
echo "mpi: $failures failed"
[[ $failures -eq 0 ]]
