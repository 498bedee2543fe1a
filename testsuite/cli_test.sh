#!/usr/bin/env bash
# cli_test.sh: the exit statuses and messages docs/architecture.md promises, end to end.
#   bash testsuite/cli_test.sh BUILD_DIR SOURCE_DIR
set -u
build=$1
node=/usr/share/libonnx-testdata/data/node
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0 passes=0

# expect STATUS PATTERN CMD...: runs CMD, checks its exit status and that stderr matches.
expect() {
    local want=$1 pattern=$2
    shift 2
    "$@" >"$tmp/stdout" 2>"$tmp/stderr"
    local got=$?
    if [[ $got -ne $want ]] || { [[ -n $pattern ]] && ! grep -qE -- "$pattern" "$tmp/stderr"; }; then
        echo "FAIL: $* -> exit $got (want $want), stderr: $(head -c 300 "$tmp/stderr")"
        failures=$((failures + 1))
    else
        passes=$((passes + 1))
    fi
}

dpcc=$build/dpcc dprun=$build/dprun
expect 1 "no model given" "$dpcc"
expect 1 "unknown option '--bogus'" "$dpcc" --bogus
expect 1 "no output given" "$dpcc" "$node/test_add/model.onnx"
expect 1 "cannot open" "$dpcc" "$tmp/missing.onnx" -o "$tmp/x.dp"

head -c 4096 /dev/urandom >"$tmp/garbage.onnx"
printf '\x0a\xff\xff\xff\x0f' >>"$tmp/garbage.onnx"
expect 2 "garbage.onnx: not a valid ONNX model" "$dpcc" "$tmp/garbage.onnx" -o "$tmp/garbage.dp"
[[ -e $tmp/garbage.dp ]] && { echo "FAIL: a failed compile left $tmp/garbage.dp"; failures=$((failures + 1)); }

expect 3 "1 op is not supported: 'GRU' \(1 node, #0\)" "$dpcc" "$node/test_gru_defaults/model.onnx" \
    -o "$tmp/gru.dp"
# every unsupported op at once, with its node count and first node
/usr/bin/python3 - "$tmp/three.onnx" <<'PY'
import sys
from onnx import TensorProto, helper
v = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, [2])
nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Foo", ["a"], ["b"], name="f1"),
         helper.make_node("Foo", ["b"], ["c"], name="f2"), helper.make_node("Bar", ["c"], ["d"]),
         helper.make_node("Baz", ["d"], ["y"], name="z", domain="com.example")]
graph = helper.make_graph(nodes, "three", [v("x")], [v("y")])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                helper.make_opsetid("com.example", 1)])
open(sys.argv[1], "wb").write(model.SerializeToString())
PY
expect 3 "3 ops are not supported: 'Foo' \(2 nodes, the first 'f1'\), 'Bar' \(1 node, #3\), \
'com.example.Baz' \(1 node, 'z'\) \(dpcc --list-ops lists" "$dpcc" "$tmp/three.onnx" -o "$tmp/t.dp"
expect 0 "" "$dpcc" --list-ops
grep -q "^EyeLike  *9-17  *9$" "$tmp/stdout" && grep -q "^Conv  *1-17  *1, 11  *analog$" "$tmp/stdout" ||
    { echo "FAIL: dpcc --list-ops"; failures=$((failures + 1)); }
expect 1 "--input-shape names 'nope'" "$dpcc" "$node/test_add/model.onnx" -o "$tmp/a.dp" --input-shape nope=1x2

expect 0 "" "$dpcc" "$node/test_add/model.onnx" -o "$tmp/add.dp" -q
set_dir=$node/test_add/test_data_set_0
expect 0 "max abs error" "$dprun" "$tmp/add.dp" --ideal -i "$set_dir/input_0.pb" -i "$set_dir/input_1.pb" \
    --expect "$set_dir" -o "$tmp/out"
[[ -f $tmp/out/output_0.pb ]] || { echo "FAIL: no output_0.pb written"; failures=$((failures + 1)); }
expect 0 "" "$dprun" "$tmp/add.dp" --ideal -i y="$set_dir/input_1.pb" -i x="$set_dir/input_0.pb" \
    --expect "$set_dir"
expect 5 "outputs differ" "$dprun" "$tmp/add.dp" --ideal -i "$set_dir/input_0.pb" \
    -i "$set_dir/input_1.pb" --expect "$node/test_sub/test_data_set_0"
expect 1 "the program has 2 inputs, 1 given" "$dprun" "$tmp/add.dp" --ideal -i "$set_dir/input_0.pb" -o "$tmp/o"
# a program without analog layers runs the same with or without noise
expect 0 "max abs error" "$dprun" "$tmp/add.dp" -i "$set_dir/input_0.pb" -i "$set_dir/input_1.pb" \
    --expect "$set_dir"
# an analog program compiled without calibration runs only --ideal
mm=$node/test_matmul_2d
expect 0 "" "$dpcc" "$mm/model.onnx" -o "$tmp/mm.dp" --no-analog -q
expect 2 "no calibrated full scales" "$dprun" "$tmp/mm.dp" -i "$mm/test_data_set_0/input_0.pb" \
    -i "$mm/test_data_set_0/input_1.pb" -o "$tmp/o"
expect 1 "--seed needs" "$dprun" "$tmp/mm.dp" --seed -3 -i "$mm/test_data_set_0/input_0.pb"
expect 1 "--budget top5=0.1: the metric must be top1, kl, mse or accuracy" "$dpcc" "$mm/model.onnx" -o "$tmp/mm.dp" --budget top5=0.1
expect 1 "--budget top1=inf: the value must be a finite number" "$dpcc" "$mm/model.onnx" -o "$tmp/mm.dp" \
    --budget top1=inf
expect 1 "--schedule must be" "$dpcc" "$mm/model.onnx" -o "$tmp/mm.dp" --schedule fixed:0
expect 1 "nope.json: cannot open" "$dpcc" "$mm/model.onnx" -o "$tmp/mm.dp" --device "$tmp/nope.json"
printf '{"name": "x", "core": {"rows": 0}}' >"$tmp/bad.json"
expect 2 "bad.json" "$dpcc" "$mm/model.onnx" -o "$tmp/mm.dp" --device "$tmp/bad.json"
# shipped profiles by name; a plain word is a name, a file of that name is ./NAME
expect 1 "--device paper_shoot: no bundled profile .*\(bundled: homodyne_shot, paper_shot, \
paper_thermal, thermal_limited\); give a file as a path \(\./paper_shoot\)" \
    "$dpcc" "$mm/model.onnx" -o "$tmp/mm.dp" --device paper_shoot
expect 0 "" "$dpcc" "$mm/model.onnx" -o "$tmp/mm.dp" --device paper_shot --schedule fixed:2000 \
    --report "$tmp/paper.json" -q
grep -q '"precision":[[:space:]]*"photons"' "$tmp/paper.json" ||
    { echo "FAIL: --device paper_shot did not compile for photon precision"; failures=$((failures + 1)); }
# (thermal_limited has static weight errors, which an activation x activation product, as
# this MatMul of two inputs, has not: it was refused as "run with other weight parameters")
# a fixed schedule over the budget is compiled as given, with a warning
expect 0 "warning: the fixed schedule measures top1 = .* over the budget of 0.01" \
    "$dpcc" "$mm/model.onnx" -o "$tmp/mm.dp" --device paper_shot --schedule fixed:1
expect 1 "--budget top1=2: a rate, from 0 to 1" "$dpcc" "$mm/model.onnx" -o "$tmp/mm.dp" \
    --budget top1=2
# a schedule the device cannot run is refused, not written: N over repetitions.max, N not a
# power of two where the profile demands one
expect 1 "gives layer '.*' 5000 repetitions, but the device 'homodyne_shot' runs 1 to 4096$" \
    "$dpcc" "$2/examples/fmnist_cnn.onnx" -o "$tmp/f5000.dp" --schedule fixed:5000
[[ -e $tmp/f5000.dp ]] && { echo "FAIL: fixed:5000 left a .dp"; failures=$((failures + 1)); }
expect 1 "3 repetitions, but the device 'thermal_limited' runs 1 to 256, powers of two only" \
    "$dpcc" "$2/examples/fmnist_cnn.onnx" -o "$tmp/f3.dp" --device thermal_limited --schedule fixed:3
# options the conventional way: --opt=value, attached short values, -- ends the options
expect 0 "" "$dpcc" --output="$tmp/mm.dp" -j1 --schedule=fixed:2 -q -- "$mm/model.onnx"
expect 0 "" "$dpcc" "$mm/model.onnx" -o"$tmp/mm.dp" --budget=top1=0.5 -q
expect 1 "option '--se' is ambiguous: --seed, --seeds" "$dpcc" "$mm/model.onnx" -o "$tmp/m.dp" --se 1
expect 1 "unknown option '-x'" "$dpcc" -x
expect 1 "-o needs a value" "$dpcc" "$mm/model.onnx" -o
# the default budget gives way to the device's best, with a warning; the user's does not
expect 0 "warning: the default budget, top1 <= 0.01, is out of reach .* measures top1 = " \
    "$dpcc" "$mm/model.onnx" -o "$tmp/mm.dp" --device paper_shot --report "$tmp/default.json"
grep -q '"met":[[:space:]]*false' "$tmp/default.json" ||
    { echo "FAIL: the report does not say the default budget was not met"; failures=$((failures + 1)); }
expect 4 "no schedule meets top1 <= 0.01: even 1000000 steps of light everywhere" \
    "$dpcc" "$mm/model.onnx" -o "$tmp/mm.dp" --device paper_shot --budget top1=0.01
expect 0 "" "$dpcc" "$mm/model.onnx" -o "$tmp/mm.dp" --device paper_shot --json
grep -q '"met":[[:space:]]*false' "$tmp/stdout" ||
    { echo "FAIL: dpcc --json does not say the default budget was not met"; failures=$((failures + 1)); }
grep -q "warning: the default budget" "$tmp/stderr" ||
    { echo "FAIL: dpcc --json kept the warning off stderr"; failures=$((failures + 1)); }
cp "$2/profiles/thermal_limited.json" "$tmp/mine"
expect 1 "give a file as a path \(\./mine\)" "$dpcc" "$mm/model.onnx" -o "$tmp/mm.dp" --device mine
expect 0 "" bash -c "cd '$tmp' && '$dpcc' '$mm/model.onnx' -o mm.dp --device ./mine \
    --schedule fixed:4 -q"
expect 0 "" "$dprun" "$tmp/mm.dp" -i "$mm/test_data_set_0/input_0.pb" \
    -i "$mm/test_data_set_0/input_1.pb" -o "$tmp/o"

# Outputs into what is not a regular file: devices and FIFOs are written, never replaced;
# through a symbolic link the file it names is replaced and the link stays; - is stdout.
ex=$2/examples
expect 0 "" "$dpcc" "$ex/fmnist_cnn.onnx" -o /dev/null --no-analog -q
[[ -c /dev/null ]] || { echo "FAIL: -o /dev/null replaced the device"; failures=$((failures + 1)); }
expect 1 "/dev/full: cannot write: No space left on device" "$dpcc" "$ex/fmnist_cnn.onnx" \
    -o /dev/full --no-analog -q
[[ -c /dev/full ]] || { echo "FAIL: -o /dev/full replaced the device"; failures=$((failures + 1)); }
mkfifo "$tmp/fifo"
# bounded: should dpcc fail before it opens the FIFO, the reader must not wait forever
timeout 60 cat "$tmp/fifo" >"$tmp/from_fifo" &
expect 0 "" "$dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp/f.dp" --calib "$ex/calib_64.npy" \
    --schedule fixed:1 --report "$tmp/fifo" -q
wait
[[ -p $tmp/fifo ]] && grep -q '"schema_version"' "$tmp/from_fifo" ||
    { echo "FAIL: --report into a FIFO"; failures=$((failures + 1)); }
echo old >"$tmp/real.json"
ln -s real.json "$tmp/link.json"
ln -s nowhere.json "$tmp/dangling.json"
for link in link dangling; do
    expect 0 "" "$dprun" "$tmp/f.dp" -i "$ex/input_0.npy" -o "$tmp/o" --report "$tmp/$link.json"
    [[ -L $tmp/$link.json ]] || { echo "FAIL: --report replaced the $link"; failures=$((failures + 1)); }
done
grep -q '"schema_version"' "$tmp/real.json" && grep -q '"schema_version"' "$tmp/nowhere.json" ||
    { echo "FAIL: --report through a link did not write its file"; failures=$((failures + 1)); }
expect 0 "" "$dprun" "$tmp/f.dp" -i "$ex/input_0.npy" -o "$tmp/o" --report -
grep -q '"schema_version"' "$tmp/stdout" || { echo "FAIL: --report -"; failures=$((failures + 1)); }
expect 0 "" "$dprun" "$tmp/f.dp" -i "$ex/input_0.npy" -o "$tmp/o" --report /dev/stdout
grep -q '"schema_version"' "$tmp/stdout" ||
    { echo "FAIL: --report /dev/stdout"; failures=$((failures + 1)); }
expect 1 "a folder, not a file to write" "$dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp" --no-analog -q

# progress off a terminal: a line per stage; -q silences it
expect 0 "dpcc: calibration done in [0-9]+ s" "$dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp/f.dp" \
    --calib "$ex/calib_64.npy" --schedule fixed:2
expect 0 "" "$dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp/f.dp" --calib "$ex/calib_64.npy" \
    --schedule fixed:2 -q
[[ -s $tmp/stderr ]] && { echo "FAIL: -q left output on stderr"; failures=$((failures + 1)); }
# -v: every measurement, stamped with the seconds since the analog stage began
expect 0 "^\[ *[0-9]+\.[0-9] s\] sensitivity: /stem/stem.0/Conv: MSE " "$dpcc" "$ex/fmnist_cnn.onnx" \
    -o "$tmp/f.dp" --calib "$ex/calib_64.npy" --budget top1=0.05 -v
# the report as CSV, a row per analog layer, and drawn
expect 0 "" "$dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp/f.dp" --calib "$ex/calib_64.npy" \
    --schedule fixed:2 --report "$tmp/f.json" --report-csv "$tmp/f.csv" -q
[[ $(head -n 1 "$tmp/f.csv") == name,op,macs,repetitions,photons_per_mac,* && $(wc -l <"$tmp/f.csv") == 6 ]] ||
    { echo "FAIL: --report-csv"; failures=$((failures + 1)); }
if /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
    expect 0 "" /usr/bin/python3 "$2/tools/plot_report.py" "$tmp/f.json" -o "$tmp/plot"
    [[ -s $tmp/plot.png && -s $tmp/plot.svg ]] || { echo "FAIL: plot_report.py"; failures=$((failures + 1)); }
fi
# dprun on its own: a summary without -o, an unknown input named, noisy outputs checked by
# top-1 agreement, timing without -o, --json
expect 0 "" "$dprun" "$tmp/f.dp" -i "$ex/batch_8.npy" --ideal
grep -q "^output 0 'logits': float\[8x10\], min .*, max .*, mean " "$tmp/stdout" &&
    grep -q "^  row 7: top-5 " "$tmp/stdout" || { echo "FAIL: dprun's summary"; failures=$((failures + 1)); }
expect 1 "-i image=.*: the program has no input 'image' \(its inputs: 'input'\)" \
    "$dprun" "$tmp/f.dp" -i image="$ex/batch_8.npy"
expect 0 "top-1 differs on [0-9] of 8 rows" "$dprun" "$tmp/f.dp" -i "$ex/batch_8.npy" --seed 3 \
    --expect "$ex/expected_batch_8" --top1 0.5
/usr/bin/python3 -c "import numpy as np, onnx.numpy_helper as h, onnx, sys
t = onnx.load_tensor(sys.argv[1]); np.save(sys.argv[2], -h.to_array(t))" \
    "$ex/expected_batch_8/output_0.pb" "$tmp/wrong.npy"
expect 5 "top-1 differs on 8 of 8 rows" "$dprun" "$tmp/f.dp" -i "$ex/batch_8.npy" --ideal \
    --expect "$tmp/wrong.npy" --top1 0.25
expect 1 "--top1 checks outputs against --expect" "$dprun" "$tmp/f.dp" -i "$ex/batch_8.npy" --top1 0.1
expect 0 "3 runs, median" "$dprun" "$tmp/f.dp" -i "$ex/batch_8.npy" --repeat 3
expect 0 "" "$dprun" "$tmp/f.dp" -i "$ex/batch_8.npy" --json
/usr/bin/python3 -c "import json, sys; d = json.load(open(sys.argv[1]))
assert d['outputs'][0]['shape'] == [8, 10] and len(d['outputs'][0]['top5']) == 8" "$tmp/stdout" ||
    { echo "FAIL: dprun --json"; failures=$((failures + 1)); }

size=$(stat -c %s "$set_dir/input_0.pb")
head -c $((size - 8)) "$set_dir/input_0.pb" >"$tmp/short.pb"
expect 2 "short.pb" "$dprun" "$tmp/add.dp" --ideal -i "$tmp/short.pb" -i "$set_dir/input_1.pb" -o "$tmp/o"

size=$(stat -c %s "$tmp/add.dp")
head -c $((size - 1)) "$tmp/add.dp" >"$tmp/cut.dp"
expect 2 "cut.dp" "$dprun" "$tmp/cut.dp" --ideal -i "$set_dir/input_0.pb" -i "$set_dir/input_1.pb" -o "$tmp/o"

"$dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp/all.dp" --no-analog -q
# a missing --expect path or .so is "cannot open", exit 1, as a missing .dp or input is; NaN
# references that the outputs do not share are counted as such
expect 1 "nope/: cannot open: No such file" "$dprun" "$tmp/all.dp" --ideal \
    -i "$ex/input_0.npy" --expect "$tmp/nope/"
expect 1 "missing.so: cannot open: No such file" "$dprun" "$tmp/missing.so" -i "$ex/input_0.npy"
/usr/bin/python3 -c 'import numpy as np; np.save("'"$tmp"'/nan.npy", np.full((1, 10), np.nan, np.float32))'
expect 5 "10 of 10 elements outside .* \(10 with a NaN or infinity on one side only\)" \
    "$dprun" "$tmp/all.dp" --ideal -i "$ex/input_0.npy" --expect "$tmp/nan.npy"

# Non-finite data: calibration refuses it, naming the file and the first bad value (a folder's
# file too); dprun warns and counts it in --report, or refuses it under --strict, in ideal and
# noisy runs alike.
mkdir -p "$tmp/calnan"
/usr/bin/python3 - "$ex" "$tmp" <<'PY'
import sys
import numpy as np
ex, tmp = sys.argv[1:]
x = np.load(ex + "/calib_64.npy")
np.save(tmp + "/calnan/a.npy", x[:32])
x[40, 0, 5, 7] = np.nan
np.save(tmp + "/calnan/b.npy", x[32:])
np.save(tmp + "/calnan.npy", x)
y = np.load(ex + "/input_0.npy")
y.flat[58] = -np.inf
np.save(tmp + "/inf.npy", y)
PY
expect 2 "calnan.npy: 1 value is not finite, the first \(NaN\) at sample 40, element 147 of it" \
    "$dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp/nan.dp" --calib "$tmp/calnan.npy"
expect 2 "calnan/b.npy: 1 value is not finite, the first \(NaN\) at sample 8, element 147" \
    "$dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp/nan.dp" --calib "$tmp/calnan"
"$dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp/cal.dp" --calib "$ex/calib_64.npy" --schedule fixed:4 -q
for mode in --ideal --seed=1; do
    expect 0 "warning: input 'input' \(.*inf.npy\): 1 value is not finite, the first \(-inf\) \
at sample 0, element 58" "$dprun" "$tmp/cal.dp" $mode -i "$tmp/inf.npy" -o "$tmp/inf" \
        --report "$tmp/inf.json"
    grep -q '"nonfinite_inputs":.*1,' "$tmp/inf.json" ||
        { echo "FAIL: dprun $mode --report does not count the non-finite input"; failures=$((failures + 1)); }
    expect 2 "1 value is not finite.*\(--strict\)" "$dprun" "$tmp/cal.dp" $mode --strict \
        -i "$tmp/inf.npy" -o "$tmp/inf2"
done

# Messages: a NUL inside a string (protobuf-c would cut "data.bin\0../../etc/passwd" to
# "data.bin"), a graph input listed twice, an empty MatMul (valid ONNX: nothing to compute
# optically), the memory limit met, and an input of the wrong shape naming its file.
mkdir -p "$tmp/msg"
/usr/bin/python3 - "$tmp/msg" <<'PY'
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
d = sys.argv[1]
v = lambda n, s: helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
save = lambda g, f: onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
                              d + "/" + f)
w = numpy_helper.from_array(np.ones(2, np.float32), "w")
w.data_location = TensorProto.EXTERNAL
w.ClearField("raw_data")
e = w.external_data.add()
e.key, e.value = "location", "data.bin\0../../etc/passwd"
open(d + "/data.bin", "wb").write(np.ones(2, np.float32).tobytes())
add = [helper.make_node("Add", ["x", "w"], ["y"])]
save(helper.make_graph(add, "nul", [v("x", [2])], [v("y", [2])], [w]), "nul.onnx")
save(helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "dup",
                       [v("x", [2]), v("x", [2])], [v("y", [2])]), "dup.onnx")
k0 = numpy_helper.from_array(np.zeros((0, 4), np.float32), "w")
save(helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "k0", [v("x", [3, 0])],
                       [v("y", [3, 4])], [k0]), "k0.onnx")
np.save(d + "/x30.npy", np.zeros((3, 0), np.float32))
PY
expect 2 "nul.onnx: a StringStringEntryProto.value string holds a NUL byte" \
    "$dpcc" "$tmp/msg/nul.onnx" -o "$tmp/msg/nul.dp"
expect 2 "dup.onnx: graph input 'x' is listed twice" "$dpcc" "$tmp/msg/dup.onnx" -o "$tmp/msg/dup.dp"
expect 0 "" "$dpcc" "$tmp/msg/k0.onnx" -o "$tmp/msg/k0.dp"
expect 0 "" "$dprun" "$tmp/msg/k0.dp" -i "$tmp/msg/x30.npy" -o "$tmp/msg/k0"
expect 2 "out of memory \(over --max-memory" "$dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp/msg/m.dp" \
    --max-memory 1
expect 2 "input 0 \('input', from .*/x30.npy\) has shape 3x0" "$dprun" "$tmp/cal.dp" \
    -i "$tmp/msg/x30.npy"

# A weight that is not finite stops the analog stage, and the message names the model.
/usr/bin/python3 - "$ex/fmnist_cnn.onnx" "$tmp/msg/nanw.onnx" <<'PY'
import sys
import numpy as np
import onnx
from onnx import numpy_helper
m = onnx.load(sys.argv[1])
t = next(t for t in m.graph.initializer if len(t.dims) == 4)
a = numpy_helper.to_array(t).copy()
a.flat[5] = np.nan
t.CopyFrom(numpy_helper.from_array(a, t.name))
onnx.save(m, sys.argv[2])
PY
expect 2 "nanw.onnx: analog layer 0: weight \(0, 5\) is not finite" "$dpcc" "$tmp/msg/nanw.onnx" \
    -o "$tmp/msg/nanw.dp" --calib "$ex/calib_64.npy"

# A noisy run that clips most conversions says so (synthetic calibration, the suite's data);
# the bundled example on its own images, which clip a few percent, does not.
csp=$node/test_conv_with_strides_padding
"$dpcc" "$csp/model.onnx" -o "$tmp/csp.dp" -q
expect 0 "warning: 1 analog layer clipped more than 10% of their ADC conversions, 'Conv_0' the \
most \(100.0%\)" "$dprun" "$tmp/csp.dp" -i "$csp/test_data_set_0/input_0.pb" \
    -i "$csp/test_data_set_0/input_1.pb" -o "$tmp/csp"
expect 0 "" "$dprun" "$tmp/cal.dp" -i "$ex/batch_8.npy" -o "$tmp/b8"
grep -q clipped "$tmp/stderr" && { echo "FAIL: the example warns of clipping"; failures=$((failures + 1)); }

# A run's outputs appear together or not at all: a .dp that cannot be written leaves no
# --report or --annotate behind, a --report that cannot be written no dprun outputs.
mkdir -p "$tmp/all"
expect 1 "cannot create a file in its folder" "$dpcc" "$ex/fmnist_cnn.onnx" \
    -o "$tmp/no/such/dir/x.dp" --report "$tmp/all/r.json" --annotate "$tmp/all/a.onnx" -q
[[ -z $(ls -A "$tmp/all") ]] ||
    { echo "FAIL: a failed dpcc left $(ls -A "$tmp/all")"; failures=$((failures + 1)); }
expect 1 "cannot create a file in its folder" "$dprun" "$tmp/all.dp" --ideal -i "$ex/input_0.npy" \
    -o "$tmp/all/out" --report "$tmp/no/such/dir/r.json"
[[ -z $(ls -A "$tmp/all/out" 2>/dev/null) ]] ||
    { echo "FAIL: a failed dprun left $(ls -A "$tmp/all/out")"; failures=$((failures + 1)); }

# SIGTERM mid-run removes the temporaries already written: the second output (or the
# annotated model) is a FIFO no one reads, so the tool blocks there, with the first
# output (or the report) in a temporary beside its target.
killed_clean() { # NAME FOLDER PID
    local name=$1 dir=$2 pid=$3 waited=0
    while ! ls -A "$dir" | grep -q '\.tmp$' && [[ $waited -lt 600 ]]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if ! ls -A "$dir" | grep -q '\.tmp$'; then
        echo "FAIL: $name: no temporary appeared before the FIFO"
        failures=$((failures + 1))
    fi
    kill -TERM "$pid"
    wait "$pid"
    local rc=$?
    local left
    left=$(ls -A "$dir" | grep -v -e '^fifo' -e '^output_1\.pb$')
    if [[ $rc -ne 143 || -n $left ]]; then
        echo "FAIL: $name: exit $rc after SIGTERM (want 143), left: $left"
        failures=$((failures + 1))
    else
        passes=$((passes + 1))
    fi
}
split=$node/test_split_equal_parts_1d
"$dpcc" "$split/model.onnx" -o "$tmp/split.dp" --no-analog -q
mkdir -p "$tmp/sig"
mkfifo "$tmp/sig/fifo_1"
ln -s fifo_1 "$tmp/sig/output_1.pb"
"$dprun" "$tmp/split.dp" --ideal -i "$split/test_data_set_0/input_0.pb" -o "$tmp/sig" 2>/dev/null &
killed_clean dprun "$tmp/sig" $!
rm -rf "$tmp/sig" && mkdir -p "$tmp/sig" && mkfifo "$tmp/sig/fifo_a"
"$dpcc" "$ex/fmnist_cnn.onnx" -o "$tmp/sig/m.dp" --calib "$ex/calib_64.npy" --schedule fixed:4 \
    --report "$tmp/sig/r.json" --annotate "$tmp/sig/fifo_a" -q 2>/dev/null &
killed_clean dpcc "$tmp/sig" $!

echo "$passes passed, $failures failed"
[[ $failures -eq 0 ]]
