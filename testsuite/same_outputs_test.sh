#!/usr/bin/env bash
# same_outputs_test.sh: this build gives the same bits as the last commit known to give the
# bits of today's behaviour (testsuite/same_outputs_base: a commit id), so that a change
# meant to leave behaviour alone (a refactoring, a move, a speed-up) proves it did.
#   bash testsuite/same_outputs_test.sh BUILD_DIR SOURCE_DIR
# Builds dpcc and dprun of that commit in a git worktree under BUILD_DIR (once, about a
# minute; the worktree stays, since that dpcc finds its profiles there), then runs tools/same_outputs.sh: the example, every node/ model of the ONNX
# backend suite and the small models, compiled plain and calibrated, run --ideal and noisy.
# A change that means to change outputs records its own commit in same_outputs_base, with
# the reason in its message. Exits 77 (skipped) outside a git clone that has the commit.
set -u
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
base=$(tr -d '[:space:]' <"$src/testsuite/same_outputs_base")
tree=$build/same_outputs_base
if ! git -C "$src" cat-file -e "$base^{commit}" 2>/dev/null; then
    echo "skipped: $src is not a git clone holding commit $base"
    exit 77
fi
if [[ ! -x $tree/build/dpcc || $(cat "$tree/commit" 2>/dev/null) != "$base" ]]; then
    rm -rf "$tree"
    git -C "$src" worktree prune
    git -C "$src" worktree add --detach "$tree/src" "$base" >/dev/null 2>&1 ||
        { echo "FAIL: cannot check out $base"; exit 1; }
    if ! { cmake -S "$tree/src" -B "$tree/build" -DCMAKE_BUILD_TYPE=Release >/dev/null &&
           cmake --build "$tree/build" --target dpcc dprun -j "$(nproc)" >/dev/null; }; then
        echo "FAIL: cannot build $base"
        exit 1
    fi
    echo "$base" >"$tree/commit"
fi
bash "$src/tools/same_outputs.sh" "$tree/build" "$build" "$src/models"
