#!/usr/bin/env bash
# run.sh: the benchmark, in one command. Builds dpcc if needed, installs the peer
# (onnxruntime-node 1.20.1, CPU), exports the models if missing, then times dpcc/dprun and
# onnxruntime in the same run and writes a markdown table to benchmarks/results.md.
#
#   bash benchmarks/run.sh
#
# Environment (defaults in brackets):
#   MODELS [resnet50 mobilenet_v2 bert]   BATCHES [1 8] (8 only for the CNNs)   THREADS [1 2]
#   K [5] timed runs per measurement (medians)   CK [3] repetitions of the --no-analog compile
#   CALIB_N [8] random calibration samples      COMPILE_TIMEOUT [300] seconds for the
#   calibrated compiles (calibration + sensitivity + schedule), reported as skipped past it
#   BUDGET [mse=0.1] the dynamic schedule's budget (random-weight models rarely meet top1)
#   WAIT_LOAD [900] seconds to wait for the 1-minute load average to drop below 1.0
#   REAL_MODELS [fmnist_cnn fmnist_resnet50] the dynamic compile on real calibration data
#   (benchmarks/compile_real.sh; "" skips it), BASE_BUILD [none] an earlier build to time there
#   side by side, BASE_LABEL its commit
#   BUILD [build/]  WORK [a fresh folder under /tmp, removed at the end]
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=$top/benchmarks
BUILD=${BUILD:-$top/build}
MODELS=${MODELS:-resnet50 mobilenet_v2 bert}
BATCHES=${BATCHES:-1 8}
THREADS=${THREADS:-1 2}
K=${K:-5}
CK=${CK:-3}
CALIB_N=${CALIB_N:-8}
COMPILE_TIMEOUT=${COMPILE_TIMEOUT:-300}
BUDGET=${BUDGET:-mse=0.1}
WAIT_LOAD=${WAIT_LOAD:-900}
PY=/usr/bin/python3
TIME=/usr/bin/time
log() { echo "bench: $*" >&2; }

# --- set-up: build, peer, models -------------------------------------------------------
if [[ ! -x $BUILD/dpcc || ! -x $BUILD/dprun ]]; then
    log "building dpcc into $BUILD"
    bash "$top/tools/setup.sh" "$BUILD"
fi
if [[ ! -f $bench/node_modules/onnxruntime-node/package.json ]]; then
    log "installing onnxruntime-node 1.20.1 (CPU binding; install scripts skipped)"
    (cd "$bench" && npm install --ignore-scripts --no-save --no-audit --no-fund \
        onnxruntime-node@1.20.1 >&2)
fi
missing=()
for m in $MODELS; do [[ -f $top/models/$m/model.onnx ]] || missing+=("$m"); done
if ((${#missing[@]})); then
    log "exporting ${missing[*]}"
    (IFS=,; $PY "$top/tools/export_models.py" --out "$top/models" --models "${missing[*]}" >&2)
fi

own_work=0
if [[ -z ${WORK:-} ]]; then WORK=$(mktemp -d /tmp/dpcc-bench.XXXXXX); own_work=1; fi
cleanup() { if ((own_work)); then rm -rf "$WORK"; fi; }
trap cleanup EXIT

# --- wait for a quiet machine -----------------------------------------------------------
load1() { cut -d' ' -f1 /proc/loadavg; }
waited=0
while awk -v l="$(load1)" 'BEGIN { exit !(l >= 1.0) }' && ((waited < WAIT_LOAD)); do
    log "1-minute load $(load1) >= 1.0; waiting ($waited s of $WAIT_LOAD)"
    sleep 30; waited=$((waited + 30))
done
load_start=$(cat /proc/loadavg)
loaded_note=""
if awk -v l="$(load1)" 'BEGIN { exit !(l >= 1.0) }'; then
    loaded_note="**The machine was loaded** (1-minute load average $(load1) after waiting ${waited} s): other jobs shared the CPUs, so absolute times are pessimistic; ours and onnxruntime ran interleaved, so the ratios are fairer than the times."
    log "still loaded after $waited s; measuring anyway"
fi

# --- helpers ----------------------------------------------------------------------------
median() { sort -g | awk '{ a[NR] = $1 } END { if (!NR) { print "-"; exit }
    print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
mib() { [[ $1 == - ]] && echo - || awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-";
    else printf "%.2f", a / b }'; }

# timed CMD...: runs CMD under /usr/bin/time; sets T_WALL (s), T_RSS (KiB), T_RC, T_OUT (file)
timed() {
    T_OUT=$WORK/out.txt
    set +e
    $TIME -f '%e %M' -o "$WORK/time.txt" "$@" >"$T_OUT" 2>&1
    T_RC=$?
    set -e
    read -r T_WALL T_RSS < <(grep -E '^[0-9.]+ [0-9]+$' "$WORK/time.txt" | tail -1) || true
    T_WALL=${T_WALL:--}; T_RSS=${T_RSS:--}
}

# dprun_ms PROGRAM INPUT THREADS [--ideal]: dprun's own median over K runs; sets D_MS, D_RSS
dprun_ms() {
    local prog=$1 in=$2 t=$3; shift 3
    timed "$BUILD/dprun" "$prog" -i "$in" -o "$WORK/dpout" --threads "$t" --repeat "$K" "$@"
    D_MS=$(sed -nE 's/.*median ([0-9.]+) ms.*/\1/p' "$T_OUT" | tail -1)
    if [[ $T_RC -ne 0 || -z $D_MS ]]; then
        log "dprun failed ($T_RC): $(tail -2 "$T_OUT")"; D_MS=-; D_RSS=-; return
    fi
    D_RSS=$T_RSS
}

# ort_ms MODEL INPUT THREADS: onnxruntime's median over K runs; sets O_MS, O_RSS
ort_ms() {
    timed node "$bench/ort_bench.js" "$1" "$2" --threads "$3" --repeat "$K" --warmup 2
    O_MS=$(sed -nE 's/.*"median_ms":([0-9.]+).*/\1/p' "$T_OUT" | tail -1)
    if [[ $T_RC -ne 0 || -z $O_MS ]]; then
        log "onnxruntime failed ($T_RC): $(tail -2 "$T_OUT")"; O_MS=-; O_RSS=-; return
    fi
    O_RSS=$T_RSS
}

nproc_=$(nproc)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
run_rows=()
compile_rows=()

for m in $MODELS; do
    model=$top/models/$m/model.onnx
    w=$WORK/$m
    mkdir -p "$w"
    bs=1
    [[ $m == *bert* ]] || bs=$BATCHES
    $PY "$bench/make_inputs.py" "$top/models/$m" "$w" $bs --calib "$CALIB_N"

    # -- compile: no analog passes (CK times), then calibration with fixed schedules, then
    #    calibration + sensitivity + dynamic schedule (one try, under COMPILE_TIMEOUT)
    walls=(); rsss=()
    for ((i = 0; i < CK; i++)); do
        timed "$BUILD/dpcc" "$model" -o "$w/ideal.dp" --no-analog -q
        [[ $T_RC -eq 0 ]] || { log "dpcc --no-analog failed: $(tail -2 "$T_OUT")"; continue; }
        walls+=("$T_WALL"); rsss+=("$T_RSS")
    done
    compile_rows+=("| $m | \`--no-analog\` (no calibration, sensitivity or schedule) | $(printf '%s\n' "${walls[@]}" | median) | $(mib "$(printf '%s\n' "${rsss[@]}" | median)") | median of ${#walls[@]} |")
    for n in 1 64; do
        log "$m: compiling with --calib and --schedule fixed:$n"
        timed timeout "$COMPILE_TIMEOUT" "$BUILD/dpcc" "$model" -o "$w/fixed$n.dp" --calib "$w/calib.npy" \
            --schedule "fixed:$n" --seeds 1 -q
        if [[ $T_RC -eq 0 ]]; then
            compile_rows+=("| $m | \`--calib\` ($CALIB_N random) \`--schedule fixed:$n --seeds 1\` (calibration, verification; no sensitivity or search) | $T_WALL | $(mib "$T_RSS") | 1 run |")
        else
            rm -f "$w/fixed$n.dp"
            compile_rows+=("| $m | \`--calib --schedule fixed:$n\` | - | - | failed or over ${COMPILE_TIMEOUT} s (exit $T_RC) |")
        fi
    done
    log "$m: compiling with calibration + sensitivity + dynamic schedule (limit ${COMPILE_TIMEOUT} s)"
    timed timeout "$COMPILE_TIMEOUT" "$BUILD/dpcc" "$model" -o "$w/dyn.dp" --calib "$w/calib.npy" \
        --budget "$BUDGET" --seeds 2 -q
    case $T_RC in
        0) compile_rows+=("| $m | \`--calib\` ($CALIB_N random) \`--budget $BUDGET --seeds 2\` (calibration, sensitivity, dynamic schedule) | $T_WALL | $(mib "$T_RSS") | 1 run |") ;;
        124) compile_rows+=("| $m | \`--calib --budget $BUDGET --seeds 2\` (sensitivity + schedule) | - | - | skipped: still running after ${COMPILE_TIMEOUT} s, killed |") ;;
        4) compile_rows+=("| $m | \`--calib --budget $BUDGET --seeds 2\` (sensitivity + schedule) | $T_WALL | $(mib "$T_RSS") | exit 4: budget infeasible on this random model (time is to that verdict) |") ;;
        *) compile_rows+=("| $m | \`--calib --budget $BUDGET --seeds 2\` (sensitivity + schedule) | - | - | failed (exit $T_RC): $(tail -1 "$T_OUT" | cut -c1-120) |") ;;
    esac
    rm -f "$w/dyn.dp"

    # -- run: ours (ideal, noisy fixed:1, noisy fixed:64) and onnxruntime, interleaved
    for b in $bs; do
        for t in $THREADS; do
            in=$w/input_b$b.npy
            log "$m batch $b threads $t: load $(load1)"
            dprun_ms "$w/ideal.dp" "$in" "$t" --ideal; ideal=$D_MS; ideal_rss=$D_RSS
            ort_ms "$model" "$in" "$t"; ort=$O_MS; ort_rss=$O_RSS
            n1=-; n64=-; n64_rss=-
            if [[ -f $w/fixed1.dp ]]; then dprun_ms "$w/fixed1.dp" "$in" "$t" --seed 1; n1=$D_MS; fi
            if [[ -f $w/fixed64.dp ]]; then dprun_ms "$w/fixed64.dp" "$in" "$t" --seed 1; n64=$D_MS; n64_rss=$D_RSS; fi
            run_rows+=("| $m | $b | $t | $ideal | $ort | $(ratio "$ideal" "$ort") | $n1 | $n64 | $(ratio "$n1" "$ideal") | $(ratio "$n64" "$ideal") | $(mib "$ideal_rss") / $(mib "$n64_rss") | $(mib "$ort_rss") |")
            log "${run_rows[-1]}"
        done
    done
    rm -f "$w"/*.dp
done

# --- the dynamic compile on real calibration data ------------------------------------------
real=""
if [[ -n ${REAL_MODELS-fmnist_cnn fmnist_resnet50} ]]; then
    REAL_MODELS=${REAL_MODELS-fmnist_cnn fmnist_resnet50} \
        bash "$bench/compile_real.sh" "$BUILD" "$WORK/real.md" >&2 && real=$WORK/real.md
fi

# --- report -----------------------------------------------------------------------------
{
    echo "# dpcc benchmark results"
    echo
    echo "Written by \`bash benchmarks/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo "Machine: $nproc_ CPUs, $cpu; $("$BUILD/dpcc" --version 2>&1 | head -1);"
    echo "onnxruntime-node $(node -p "require('$bench/node_modules/onnxruntime-node/package.json').version") (CPU execution provider, default graph optimisations)."
    echo "Load average at the start of measuring: $load_start; at the end: $(cat /proc/loadavg)."
    [[ -n $loaded_note ]] && { echo; echo "$loaded_note"; }
    echo
    echo "## Inference (median ms per run of the whole batch, K=$K)"
    echo
    echo "ours ideal = \`dprun --ideal\` (noise-free fp32) on a \`--no-analog\` program; noisy = \`dprun --seed 1\` on programs compiled with \`--calib\` and \`--schedule fixed:1\` / \`fixed:64\`."
    echo "Programs are compiled for batch 1; a batch-8 input runs as a data set of 8 chunks, over \`--threads\` T; at batch 1 T threads share each large matrix product, exact or analog, each large noise-free depthwise or Winograd convolution and each large element-wise op."
    echo "onnxruntime: intra-op threads = T, 2 warm-up runs. Peak RSS from /usr/bin/time (onnxruntime's includes Node's own ~45 MiB)."
    echo
    echo "| model | batch | threads | ours ideal ms | onnxruntime ms | ideal / ort | noisy fixed:1 ms | noisy fixed:64 ms | noisy/ideal (1) | noisy/ideal (64) | ours peak RSS MiB (ideal / noisy) | ort peak RSS MiB |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${run_rows[@]}"
    echo
    echo "## Compile (dpcc wall time and peak RSS)"
    echo
    echo "| model | passes | wall s | peak RSS MiB | note |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${compile_rows[@]}"
    if [[ -n $real ]]; then
        echo
        echo "## Compile on real calibration data (benchmarks/compile_real.sh)"
        echo
        cat "$real"
    fi
    echo
    echo "## The paper benchmark's time (benchmarks/paper/run.sh, not rerun here: hours)"
    echo
    $PY "$bench/paper/timing.py"
} > "$bench/results.md.new"
mv "$bench/results.md.new" "$bench/results.md"
cat "$bench/results.md"
