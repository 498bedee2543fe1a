# backend_compare.sh: sourced by the backend tests (c_backend_test.sh, llvm_backend_test.sh).
# Needs $build (dprun), $work (scratch) and $failures (counts failures) set by the caller.

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# run_both NAME DP SO ARGS...: runs dprun on both, compares exit status, stderr and outputs
run_both() {
    local name=$1 dp=$2 so=$3
    shift 3
    local a=$work/$name.dp.out b=$work/$name.so.out
    rm -rf "$a" "$b"
    "$build/dprun" "$dp" "$@" -o "$a" 2>"$a.err"
    local rc_dp=$?
    "$build/dprun" "$so" "$@" -o "$b" 2>"$b.err"
    local rc_so=$?
    if [ $rc_dp -ne $rc_so ]; then
        fail "$name: dprun exits $rc_dp on the .dp, $rc_so on the .so"
        cat "$a.err" "$b.err"
        return
    fi
    if [ $rc_dp -ne 0 ]; then
        # the messages name the program: the same once both names are taken out
        sed -i "s|$dp|PROGRAM|g" "$a.err"
        sed -i "s|$so|PROGRAM|g" "$b.err"
        cmp -s "$a.err" "$b.err" || fail "$name: different messages: $(cat "$a.err") / $(cat "$b.err")"
        echo "ok   $name (both fail: $(cat "$a.err"))"
        return
    fi
    local n=0
    for f in "$a"/output_*.pb; do
        cmp "$f" "$b/$(basename "$f")" || fail "$name: $(basename "$f") differs"
        n=$((n + 1))
    done
    [ $n -gt 0 ] || fail "$name: no outputs"
    echo "ok   $name ($n outputs identical)"
}

