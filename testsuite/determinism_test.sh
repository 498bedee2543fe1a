#!/usr/bin/env bash
# determinism_test.sh: noisy runs are keyed by (seed, layer, tile, output, inference), so the
# same seed gives the same bits on any thread count and a different seed gives other noise.
#   bash testsuite/determinism_test.sh PROGRAM.dp INPUT.npy BUILD_DIR
set -u
prog=$1 input=$2 build=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { "$build/dprun" "$prog" -i "$input" -o "$tmp/$1" --format npy "${@:2}" || exit 1; }
run t1 --seed 5 --threads 1
run t2 --seed 5 --threads 2
run t3 --seed 5 --threads 3
run other --seed 6 --threads 2
run ideal --ideal
failures=0
cmp -s "$tmp/t1/output_0.npy" "$tmp/t2/output_0.npy" || { echo "FAIL: seed 5 differs on 1 and 2 threads"; failures=$((failures + 1)); }
cmp -s "$tmp/t1/output_0.npy" "$tmp/t3/output_0.npy" || { echo "FAIL: seed 5 differs on 1 and 3 threads"; failures=$((failures + 1)); }
cmp -s "$tmp/t1/output_0.npy" "$tmp/other/output_0.npy" && { echo "FAIL: seeds 5 and 6 give the same outputs"; failures=$((failures + 1)); }
cmp -s "$tmp/t1/output_0.npy" "$tmp/ideal/output_0.npy" && { echo "FAIL: the noisy run equals the ideal one"; failures=$((failures + 1)); }
echo "determinism: $failures failed"
[[ $failures -eq 0 ]]
