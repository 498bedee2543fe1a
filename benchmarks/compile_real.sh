#!/usr/bin/env bash
# compile_real.sh: how long the dynamic schedule takes to compile on real calibration data,
# and what it gives on held-out data, for this build and an earlier one side by side.
#
#   [REAL_MODELS="fmnist_cnn fmnist_resnet50"] [BASE_BUILD=DIR [BASE_LABEL=TEXT]] [TEST_N=2000] \
#       bash benchmarks/compile_real.sh BUILD OUT.md
#
# Each Fashion-MNIST model of tools/train_fmnist.py (models/NAME/ with calib.npy, 1,024
# images) is compiled the founding paper's way, `--device paper_shot --budget accuracy=0.02
# --labels calib_labels.npy`, and its first TEST_N held-out test images run noise-free and on
# device instance 101. OUT.md gets a markdown table: wall time, CPU time (user and system:
# steadier than the wall on a shared machine), peak RSS, the measured calibration drop, the
# held-out accuracy drop, optical aJ/MAC. With BASE_BUILD (a build of
# an earlier commit) every model is compiled by both, so the two rows share one machine and
# one load.
set -euo pipefail
if [[ $# -ne 2 ]]; then
    echo "usage: $0 BUILD OUT.md" >&2
    exit 2
fi
build=$1 out=$2
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REAL_MODELS=${REAL_MODELS:-fmnist_cnn fmnist_resnet50}
TEST_N=${TEST_N:-2000}
work=$(mktemp -d /tmp/dpcc-real.XXXXXX)
trap 'rm -rf "$work"' EXIT

rows=()
for m in $REAL_MODELS; do
    dir=$top/models/$m
    [[ -f $dir/model.onnx && -f $dir/calib.npy ]] || { echo "compile_real: no $dir, skipped" >&2; continue; }
    /usr/bin/python3 -c "import numpy as np, sys; np.save(sys.argv[2], np.load(sys.argv[1], mmap_mode='r')[:int(sys.argv[3])])" \
        "$dir/test.npy" "$work/test.npy" "$TEST_N"
    for b in ${BASE_BUILD:+"$BASE_BUILD"} "$build"; do
        label=this
        [[ $b == "${BASE_BUILD:-}" ]] && label="base${BASE_LABEL:+ ($BASE_LABEL)}"
        echo "compile_real: $m with $b" >&2
        /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$b/dpcc" "$dir/model.onnx" -o "$work/m.dp" \
            --calib "$dir/calib.npy" --device paper_shot --budget accuracy=0.02 \
            --labels "$dir/calib_labels.npy" --report "$work/r.json" -q 2>"$work/err" || {
            rows+=("| $m | $label | failed: $(tail -c 200 "$work/err") | | | | | |"); continue; }
        read -r wall user sys rss <"$work/time"
        "$b/dprun" "$work/m.dp" --ideal -i "$work/test.npy" -o "$work/ideal" --format npy 2>/dev/null
        "$b/dprun" "$work/m.dp" --seed 101 -i "$work/test.npy" -o "$work/noisy" --format npy 2>/dev/null
        rows+=("$(/usr/bin/python3 - "$m" "$label" "$wall" "$rss" "$work" "$dir" "$TEST_N" "$user" "$sys" <<'EOF'
import json, sys
import numpy as np
m, label, wall, rss, work, d, n, user, sys_s = sys.argv[1:10]
labels = np.load(f"{d}/test_labels.npy")[:int(n)]
acc = [float((np.load(f"{work}/{k}/output_0.npy").argmax(1) == labels).mean()) for k in ("ideal", "noisy")]
r = json.load(open(f"{work}/r.json"))
print(f"| {m} | {label} | {float(wall):.1f} | {float(user) + float(sys_s):.1f} | {int(rss) // 1024} | {100 * r['degradation']['measured']:.2f} | "
      f"{100 * (acc[0] - acc[1]):.2f} | {r['optical_energy_per_mac_aj']:.3f} |")
EOF
)")
    done
done
{
    echo "Dynamic compile on each model's 1,024 real calibration images (\`--device paper_shot --budget accuracy=0.02 --labels\`), $(nproc) CPUs, 1-minute load $(cut -d' ' -f1 /proc/loadavg) at the end; held out: the first $TEST_N test images on device instance 101."
    echo
    echo "| model | build | compile s | CPU s | peak RSS MiB | calibration drop (points) | held-out drop (points) | optical aJ/MAC |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$out"
cat "$out"
