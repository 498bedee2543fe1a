#!/usr/bin/env bash
# setup.sh: installs what dpcc needs from Debian's archive (when missing) and builds it.
#
#   bash tools/setup.sh [BUILD_DIR] [extra cmake args...]
#
# Sourced by run_example.sh and run_tests.sh. Needs root (or sudo) only when a package is
# missing. BUILD_DIR defaults to build/.
set -euo pipefail

PACKAGES=(cmake make gcc libc6-dev libprotobuf-c-dev protobuf-c-compiler libcmocka-dev
          libonnx-dev libonnx-testdata libcjson-dev pkgconf python3-onnx python3-numpy ${DPCC_EXTRA_PACKAGES:-})

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$top/build}
shift || true
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j "$(nproc)" >&2
