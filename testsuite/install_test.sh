#!/usr/bin/env bash
# install_test.sh: `cmake --install` into a temporary prefix, then what a user of that prefix
# does: run the installed tools (which must find their device profiles there), import the
# installed Python package (which must find the installed libraries), and build
# examples/api/compile_and_run.c outside the tree with pkg-config and with find_package(dpcc)
# (shared and static), each compiling and running the bundled model against its references.
#   bash testsuite/install_test.sh BUILD_DIR SOURCE_DIR
set -u
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
ex=$src/examples
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# run NAME CMD...: runs CMD with its output in $tmp/NAME.log, shown on failure.
run() {
    local name=$1
    shift
    if ! "$@" >"$tmp/$name.log" 2>&1; then
        fail "$name: $*"
        tail -n 30 "$tmp/$name.log"
        return 1
    fi
}

run install cmake --install "$build" --prefix "$prefix" || exit 1
libdir=$(ls -d "$prefix"/lib*/pkgconfig 2>/dev/null | head -n 1)
libdir=${libdir%/pkgconfig}
for f in bin/dpcc bin/dprun include/dpcc/dpcc.h include/dpcc/dprt.h include/dpcc/common.h \
         include/dpcc/version.h share/dpcc/profiles/homodyne_shot.json \
         share/man/man1/dpcc.1 share/man/man1/dprun.1; do
    [[ -e $prefix/$f ]] || fail "not installed: $f"
done
for f in libdpcc.so libdprt.so libdpcc.a libdprt.a pkgconfig/dpcc.pc cmake/dpcc/dpccConfig.cmake \
         cmake/dpcc/dpccConfigVersion.cmake; do
    [[ -e $libdir/$f ]] || fail "not installed: ${libdir#$prefix/}/$f"
done
version=$(sed -n 's/^project(dpcc VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[[ $("$prefix/bin/dpcc" --version) == "dpcc $version" ]] || fail "dpcc --version is not $version"
[[ $("$prefix/bin/dprun" --version) == "dprun $version" ]] || fail "dprun --version is not $version"
for tool in dpcc dprun; do
    "$prefix/bin/$tool" --help | grep -q "^usage: $tool" || fail "$tool --help"
done

# The installed tools and libdpcc.so must read the installed profiles, not the source tree's:
# rename the installed default device and look for the new name in what they compile.
sed -i 's/"name": "homodyne_shot"/"name": "installed_homodyne"/' \
    "$prefix/share/dpcc/profiles/homodyne_shot.json"
unset DPCC_PROFILE_DIR
run dpcc "$prefix/bin/dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp/tool.dp" --no-analog -q
grep -qa installed_homodyne "$tmp/tool.dp" || fail "the installed dpcc did not use the installed profile"
run dprun "$prefix/bin/dprun" "$tmp/tool.dp" --ideal -i "$ex/input_0.npy" --expect "$ex/expected" \
    --rtol 1e-3 --atol 1e-4

# Every file the installed manual pages cite is installed, where they say.
for page in "$prefix"/share/man/man1/dpcc.1 "$prefix"/share/man/man1/dprun.1; do
    [[ -f $page ]] || { fail "not installed: ${page#$prefix/}"; continue; }
    grep -q 'docs/' "$page" && fail "${page##*/} cites the source tree's docs/"
    for f in $(grep -oE 'share/(doc/)?dpcc/[A-Za-z0-9_-]+\.[a-z]+' "$page" | sort -u); do
        [[ -e $prefix/$f ]] || fail "${page##*/} cites $f, which is not installed"
    done
done

# The Python package beside the libraries, found from there and not from the build tree: a
# compile by profile name, then a run of the program it made.
if /usr/bin/python3 -c "import numpy" 2>/dev/null; then
    run python env -u DPCC_LIB_DIR PYTHONPATH="$prefix/lib/python3/dist-packages" /usr/bin/python3 -c "
import numpy as np, dpcc
assert dpcc.__file__.startswith('$prefix'), dpcc.__file__
res = dpcc.compile('$ex/fmnist_cnn.onnx', device='paper_shot', calib='$ex/calib_64.npy',
                   schedule='fixed:1000')
assert res.report['device'] == 'paper_shot'
y, = dpcc.Model(data=res.program).run([np.load('$ex/input_0.npy')], ideal=True)
assert y.shape[-1] == 10, y.shape"
fi

cp "$src/examples/api/compile_and_run.c" "$tmp/"
example_args=("$ex/fmnist_cnn.onnx" "$ex/calib_64.npy" "$ex/input_0.npy" "$ex/expected/output_0.pb")

# 1. pkg-config, shared libraries.
export PKG_CONFIG_PATH=$libdir/pkgconfig
[[ $(pkg-config --modversion dpcc) == "$version" ]] || fail "pkg-config --modversion dpcc"
run cc_pkgconfig cc -std=c11 -Wall -O2 "$tmp/compile_and_run.c" -o "$tmp/ex_pkgconfig" \
    $(pkg-config --cflags --libs dpcc) -lm -Wl,-rpath,"$libdir"
if [[ -x $tmp/ex_pkgconfig ]]; then
    run ex_pkgconfig "$tmp/ex_pkgconfig" "${example_args[@]}" "$tmp/pc.dp"
    grep -qa installed_homodyne "$tmp/pc.dp" || fail "libdpcc.so did not use the installed profile"
fi

# 2. find_package(dpcc): the shared and the static imported targets.
mkdir -p "$tmp/consumer"
cat >"$tmp/consumer/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.20)
project(consumer C)
find_package(dpcc $version REQUIRED)
add_executable(ex_shared $tmp/compile_and_run.c)
target_link_libraries(ex_shared PRIVATE dpcc::dpcc dpcc::dprt m)
add_executable(ex_static $tmp/compile_and_run.c)
target_link_libraries(ex_static PRIVATE dpcc::dpcc_static m)
EOF
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
run cmake_configure cmake -S "$tmp/consumer" -B "$tmp/consumer/build" "${generator[@]}" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release &&
    run cmake_build cmake --build "$tmp/consumer/build" -j 2
for kind in shared static; do
    exe=$tmp/consumer/build/ex_$kind
    [[ -x $exe ]] && run "ex_$kind" "$exe" "${example_args[@]}"
done
if [[ -x $tmp/consumer/build/ex_static ]] && ldd "$tmp/consumer/build/ex_static" | grep -q 'libdp\(cc\|rt\)\.so'; then
    fail "ex_static links a shared dpcc library"
fi

if ((failures)); then
    echo "install_test: $failures failure(s)"
    exit 1
fi
echo "install_test: installed to a temporary prefix; tools, pkg-config and find_package all work"
