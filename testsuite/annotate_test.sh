#!/usr/bin/env bash
# annotate_test.sh: dpcc --annotate, --schedule from:FILE and --json on the bundled example.
#   bash testsuite/annotate_test.sh BUILD_DIR SOURCE_DIR
# Compiles examples/fmnist_cnn.onnx with --annotate and checks that
#   - the annotated model's graph (and everything but metadata_props) equals the original's,
#     and its metadata holds, for every analog layer of --report, the same repetitions;
#   - it runs as the original does: on onnxruntime-node when benchmarks/node_modules has it,
#     else through dpcc --no-analog and dprun --ideal; outputs compared bit for bit;
#   - recompiling with --schedule from:ANNOTATED (and from the --report JSON), with the same
#     calibration and seed, writes the same .dp byte for byte;
#   - a schedule naming a node the model lacks, missing a layer or with a bad count is exit 2
#     naming the node; a model without the metadata is exit 2;
#   - --json prints the summary and the report on stdout, and nothing of it on stderr.
# Needs /usr/bin/python3 with onnx (the python3 first on PATH may lack it).
set -u
if [[ $# -ne 2 ]]; then
    echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2
    exit 1
fi
build=$1 src=$2
py=/usr/bin/python3
ex=$src/examples
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# the same calibration and seed for every compile: --seeds 2 and a loose budget keep it short
compile() { "$build/dpcc" "$@" --calib "$ex/calib_64.npy" --seeds 2 --seed 0 --budget top1=0.05; }

if ! compile "$ex/fmnist_cnn.onnx" -o "$tmp/a.dp" --annotate "$tmp/annotated.onnx" \
        --report "$tmp/report.json" --json >"$tmp/summary.json" 2>"$tmp/err"; then
    echo "FAIL: dpcc --annotate: $(tail -c 600 "$tmp/err")"
    exit 1
fi
grep -q "^layer " "$tmp/err" && fail "--json still printed the table on stderr"

# the graph is the original's; the metadata matches the report
"$py" - "$ex/fmnist_cnn.onnx" "$tmp/annotated.onnx" "$tmp/report.json" "$tmp/summary.json" <<'EOF' || failures=$((failures + 1))
import json, sys
import onnx
orig, ann = onnx.load(sys.argv[1]), onnx.load(sys.argv[2])
report, summary = json.load(open(sys.argv[3])), json.load(open(sys.argv[4]))
bad = []
if orig.graph.SerializeToString() != ann.graph.SerializeToString():
    bad.append("the annotated graph differs from the original")
a, b = onnx.ModelProto(), onnx.ModelProto()
a.CopyFrom(orig)
b.CopyFrom(ann)
del a.metadata_props[:]
del b.metadata_props[:]
if a.SerializeToString() != b.SerializeToString():
    bad.append("the annotated model differs from the original outside metadata_props")
onnx.checker.check_model(ann)
meta = {p.key: p.value for p in ann.metadata_props}
if len(meta) != len(ann.metadata_props):
    bad.append("duplicate metadata keys")
sched = json.loads(meta.get("dpcc.schedule", "{}"))
want = [(l["name"], l["repetitions"]) for l in report["layers"]]
if not want:
    bad.append("the report has no analog layers")
if [(l["name"], l["repetitions"]) for l in sched.get("layers", [])] != want:
    bad.append("dpcc.schedule's repetitions differ from the report's")
names = {n.name for n in orig.graph.node}
for name, reps in want:
    node = json.loads(meta.get("dpcc.node:" + name, "{}"))
    if node.get("repetitions") != reps or "effective_bits" not in node or "energy_j" not in node:
        bad.append(f"dpcc.node:{name}: {node}, want {reps} repetitions, bits and energy")
    if name not in names:
        bad.append(f"layer '{name}' is no node of the ONNX model")
for doc, what in ((report, "--report"), (sched, "dpcc.schedule"), (summary, "--json")):
    if doc.get("schema_version") != 1:
        bad.append(f"{what}: schema_version {doc.get('schema_version')}")
if summary.get("report", {}).get("layers") != report["layers"]:
    bad.append("--json's report differs from --report's")
if summary.get("compile", {}).get("analog_layers") != len(want):
    bad.append(f"--json: compile summary {summary.get('compile')}")
for b_ in bad:
    print("FAIL:", b_)
sys.exit(1 if bad else 0)
EOF

# the annotated model behaves as the original
ort=$src/benchmarks/node_modules/onnxruntime-node
if [[ -d $ort ]] && command -v node >/dev/null; then
    cat >"$tmp/ort_check.js" <<'EOF'
// Runs two models on one float32 .npy and exits 1 unless every output is bitwise equal.
'use strict';
const fs = require('fs');
const [ortPath, modelA, modelB, npy] = process.argv.slice(2);
const ort = require(ortPath);
function readNpy(file) {
  const buf = fs.readFileSync(file);
  const hlen = buf.readUInt16LE(8), header = buf.toString('latin1', 10, 10 + hlen);
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`${file}: not float32`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim())
    .filter((s) => s.length).map(Number);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  new Uint8Array(data.buffer).set(buf.subarray(10 + hlen, 10 + hlen + data.byteLength));
  return new ort.Tensor('float32', data, shape);
}
async function run(model, x) {
  const s = await ort.InferenceSession.create(model, { executionProviders: ['cpu'],
                                                       intraOpNumThreads: 1 });
  return s.run({ [s.inputNames[0]]: x });
}
(async () => {
  const x = readNpy(npy);
  const [a, b] = [await run(modelA, x), await run(modelB, x)];
  for (const k of Object.keys(a)) {
    const da = Buffer.from(a[k].data.buffer), db = Buffer.from(b[k].data.buffer);
    if (!da.equals(db)) { console.log(`output ${k} differs`); process.exit(1); }
  }
  console.log(`onnxruntime: ${Object.keys(a).length} outputs identical`);
})().catch((e) => { console.log(String(e)); process.exit(1); });
EOF
    node "$tmp/ort_check.js" "$ort" "$ex/fmnist_cnn.onnx" "$tmp/annotated.onnx" "$ex/batch_8.npy" \
        >"$tmp/ort.log" 2>&1 && cat "$tmp/ort.log" || fail "onnxruntime-node: $(tail -c 600 "$tmp/ort.log")"
else
    for m in fmnist_cnn:"$ex/fmnist_cnn.onnx" annotated:"$tmp/annotated.onnx"; do
        "$build/dpcc" "${m#*:}" -o "$tmp/${m%%:*}.ideal.dp" --no-analog -q &&
            "$build/dprun" "$tmp/${m%%:*}.ideal.dp" --ideal -i "$ex/batch_8.npy" \
                -o "$tmp/out_${m%%:*}" --format npy 2>/dev/null || fail "dprun ${m%%:*}"
    done
    cmp -s "$tmp/out_fmnist_cnn/output_0.npy" "$tmp/out_annotated/output_0.npy" ||
        fail "dprun: the annotated model's outputs differ from the original's"
fi

# the schedule read back reproduces the program
compile "$tmp/annotated.onnx" -o "$tmp/b.dp" --schedule "from:$tmp/annotated.onnx" -q 2>"$tmp/err" ||
    fail "--schedule from:annotated.onnx: $(tail -c 600 "$tmp/err")"
cmp -s "$tmp/a.dp" "$tmp/b.dp" || fail "--schedule from:annotated.onnx: the .dp differs"
compile "$ex/fmnist_cnn.onnx" -o "$tmp/c.dp" --schedule "from:$tmp/report.json" -q \
    --annotate "$tmp/again.onnx" 2>"$tmp/err" || fail "--schedule from:report.json: $(tail -c 600 "$tmp/err")"
cmp -s "$tmp/a.dp" "$tmp/c.dp" || fail "--schedule from:report.json: the .dp differs"
# annotating an annotated model replaces dpcc's keys
"$py" -c '
import onnx, sys
k = [p.key for p in onnx.load(sys.argv[1]).metadata_props]
sys.exit(0 if k.count("dpcc.schedule") == 1 and len(k) == len(set(k)) else 1)' "$tmp/again.onnx" ||
    fail "re-annotating left duplicate metadata keys"

# schedules that do not fit: exit 2, naming the node
"$py" - "$tmp/annotated.onnx" "$tmp" <<'EOF' || failures=$((failures + 1))
import json, sys
import onnx
m = onnx.load(sys.argv[1])
entry = next(p for p in m.metadata_props if p.key == "dpcc.schedule")
good = json.loads(entry.value)
def write(name, edit):
    s = json.loads(json.dumps(good))
    edit(s["layers"])
    entry.value = json.dumps(s)
    onnx.save(m, f"{sys.argv[2]}/{name}.onnx")
write("renamed", lambda L: L[1].update(name="/no/such/Conv"))
write("missing", lambda L: L.pop(2))
write("zero", lambda L: L[0].update(repetitions=0))
write("toomany", lambda L: L[0].update(repetitions=1 << 30))
write("text", lambda L: L[0].update(repetitions="eight"))
print(json.dumps([l["name"] for l in good["layers"]]), file=open(f"{sys.argv[2]}/names.json", "w"))
EOF
names=$("$py" -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))))' "$tmp/names.json")
layer0=$(sed -n 1p <<<"$names") layer2=$(sed -n 3p <<<"$names")
bad_case() {
    local file=$1 pattern=$2
    compile "$ex/fmnist_cnn.onnx" -o "$tmp/bad.dp" --schedule "from:$file" -q 2>"$tmp/err"
    local rc=$?
    if [[ $rc -ne 2 ]] || ! grep -qF -- "$pattern" "$tmp/err"; then
        fail "--schedule from:$(basename "$file") -> exit $rc (want 2, naming '$pattern'): $(head -c 300 "$tmp/err")"
    fi
}
bad_case "$tmp/renamed.onnx" "/no/such/Conv"
bad_case "$tmp/missing.onnx" "$layer2"
bad_case "$tmp/zero.onnx" "$layer0"
bad_case "$tmp/toomany.onnx" "$layer0"
bad_case "$tmp/text.onnx" "$layer0"
bad_case "$ex/fmnist_cnn.onnx" "no dpcc.schedule"
[[ -e $tmp/bad.dp ]] && fail "a refused schedule left $tmp/bad.dp"

echo "annotate: $failures failed"
[[ $failures -eq 0 ]]
