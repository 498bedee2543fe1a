#!/usr/bin/env bash
# mpi_scaling.sh: the speed-up of MPI ranks on this machine (docs/mpi.md): a dynamic compile
# of the Fashion-MNIST CNN on its 1,024 calibration images, and a noisy dprun over its 8,976
# held-out images, as one process and as mpirun -n 1 and -n 2 (one thread a rank), with one
# process on 2 threads beside them. Prints a markdown table of the fastest of K runs (wall
# seconds) and the CPU seconds of that run, and checks that every run wrote the same bytes.
#
#   bash benchmarks/mpi_scaling.sh
#
# Environment: BUILD [build/, configured with -DDPCC_WITH_MPI=ON]  K [3] runs per cell
# (interleaved, so that a change in the machine's load falls on every column alike)
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$top/build}
K=${K:-3}
m=$top/models/fmnist_cnn
for f in "$m/model.onnx" "$m/calib.npy" "$m/test.npy"; do
    [[ -f $f ]] || { echo "no $f (tools/fmnist.py --split $m)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mpirun=(mpirun --oversubscribe --allow-run-as-root)
configs=("1 process, -j1" "1 process, -j2" "mpirun -n 1, -j1" "mpirun -n 2, -j1")
# timed CONFIG NAME COMMAND...: one run as configs[CONFIG] says; its wall and CPU seconds
# appended to NAME.CONFIG
timed() {
    local c=$1 name=$2 cmd
    shift 2
    case $c in
    0) cmd=("$@" -j1) ;;
    1) cmd=("$@" -j2) ;;
    2) cmd=("${mpirun[@]}" -n 1 "$@" -j1) ;;
    3) cmd=("${mpirun[@]}" -n 2 "$@" -j1) ;;
    esac
    /usr/bin/time -f "%e %U %S" -o "$work/t" "${cmd[@]}" >/dev/null 2>"$work/err" \
        || { cat "$work/err" >&2; exit 1; }
    awk '{print $1, $2 + $3}' "$work/t" >>"$work/$name.$c"
}
cold_load=$(cut -d' ' -f1 /proc/loadavg)
for ((run = 0; run < K; run++)); do
    for c in 0 1 2 3; do
        timed $c dpcc "$BUILD/dpcc" "$m/model.onnx" -o "$work/c$c.dp" --calib "$m/calib.npy" \
            --budget top1=0.02 -q
        timed $c dprun "$BUILD/dprun" "$work/c0.dp" -i "$m/test.npy" -o "$work/o$c" --seed 1
    done
done
for c in 1 2 3; do
    cmp -s "$work/c0.dp" "$work/c$c.dp" || { echo "the .dp of '${configs[$c]}' differs" >&2; exit 1; }
    cmp -s "$work/o0/output_0.pb" "$work/o$c/output_0.pb" \
        || { echo "dprun's outputs of '${configs[$c]}' differ" >&2; exit 1; }
done
best() { sort -n "$work/$1.$2" | head -1; }
echo "| run | dpcc: wall s | CPU s | speed-up | dprun: wall s | CPU s | speed-up |"
echo "|---|---|---|---|---|---|---|"
read -r dw _ < <(best dpcc 0)
read -r rw _ < <(best dprun 0)
for c in 0 1 2 3; do
    read -r w u < <(best dpcc $c)
    read -r w2 u2 < <(best dprun $c)
    awk -v n="${configs[$c]}" -v w="$w" -v u="$u" -v w2="$w2" -v u2="$u2" -v dw="$dw" -v rw="$rw" \
        'BEGIN { printf "| %s | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f |\n", n, w, u, dw / w, w2, u2, rw / w2 }'
done
echo
echo "(fastest of $K; load average $cold_load at the start, $(cut -d' ' -f1 /proc/loadavg) at the end; $(nproc) CPUs)"
