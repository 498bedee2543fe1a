"""list_ops_test.py: dpcc --list-ops against ONNX's own operator schemas.

    /usr/bin/python3 testsuite/list_ops_test.py BUILD_DIR

Every op dpcc lists must name exactly the versions onnx.defs gives it up to dpcc's highest
opset (the opsets at which its definition changed, deprecated ones left out) and the opsets
where it exists; and a model using an op its opset does not define (LayerNormalization at
opset 13, Upsample at opset 11) must be refused with exit 3, naming the op and its opsets.
Exits 77 (ctest: skipped) without python3-onnx.
"""
import os
import re
import subprocess
import sys
import tempfile

try:
    import onnx
    import onnx.defs
    from onnx import TensorProto, helper
except ImportError:
    print("skipped: python3-onnx is missing")
    sys.exit(77)


def onnx_versions(op, max_opset):
    """The since-versions of op's non-deprecated schemas at opsets 1..max_opset."""
    versions = set()
    for v in range(1, max_opset + 1):
        try:
            schema = onnx.defs.get_schema(op, v, "")
        except onnx.defs.SchemaError:
            continue
        if not schema.deprecated:
            versions.add(schema.since_version)
    return sorted(versions)


def model_with(op, opset, path, **attrs):
    """A one-node float model of op at opset (inputs X, and Scale for LayerNormalization)."""
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 2, 4, 4])]
    names, inits = ["X"], []
    if op == "LayerNormalization":
        inits.append(helper.make_tensor("Scale", TensorProto.FLOAT, [4], [1.0] * 4))
        names.append("Scale")
    if op == "Upsample":
        inits.append(helper.make_tensor("S", TensorProto.FLOAT, [4], [1, 1, 2, 2]))
        names.append("S")
    node = helper.make_node(op, names, ["Y"], name="the_node", **attrs)
    graph = helper.make_graph([node], "g", inputs,
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, path)


def main():
    build = sys.argv[1]
    dpcc = os.path.join(build, "dpcc")
    out = subprocess.run([dpcc, "--list-ops"], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    head = re.search(r"model opsets (\d+) to (\d+)", lines[0])
    max_opset = int(head.group(2))
    rows = [l for l in lines if re.match(r"^[A-Z]\w* +\S+ +[0-9?]", l)]
    failures = []
    if len(rows) < 100:
        failures.append(f"only {len(rows)} ops listed")
    for row in rows:
        m = re.match(r"^(\w+) +(\d+)-(\d+) +([\d, ]+?)( +analog)?$", row)
        if not m:
            failures.append(f"unreadable row: {row!r}")
            continue
        op, first, last = m.group(1), int(m.group(2)), int(m.group(3))
        listed = [int(v) for v in m.group(4).split(",")]
        want = onnx_versions(op, max_opset)
        want_last = max((v for v in range(1, max_opset + 1)
                         if onnx_versions(op, v) and not onnx.defs.get_schema(op, v, "").deprecated),
                        default=0)
        if listed != want or first != (want[0] if want else 0) or last != want_last:
            failures.append(f"{op}: dpcc lists opsets {first}-{last} versions {listed}; onnx.defs "
                            f"gives {want[0] if want else None}-{want_last} versions {want}")
    with tempfile.TemporaryDirectory() as tmp:
        cases = [("LayerNormalization", 13, {"axis": -1}, r"'LayerNormalization' at opset 13 \(ONNX defines it from opset 17\)"),
                 ("Upsample", 11, {}, r"'Upsample' at opset 11 \(ONNX defines it at opsets 1 to 9\)")]
        for op, opset, attrs, pattern in cases:
            path = os.path.join(tmp, f"{op}.onnx")
            model_with(op, opset, path, **attrs)
            r = subprocess.run([dpcc, path, "-o", os.path.join(tmp, "m.dp"), "--no-analog", "-q"],
                               capture_output=True, text=True)
            if r.returncode != 3 or not re.search(pattern, r.stderr):
                failures.append(f"{op} at opset {opset}: exit {r.returncode}, {r.stderr.strip()!r}")
        ok = os.path.join(tmp, "ln17.onnx")
        model_with("LayerNormalization", 17, ok, axis=-1)
        r = subprocess.run([dpcc, ok, "-o", os.path.join(tmp, "m.dp"), "--no-analog", "-q"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            failures.append(f"LayerNormalization at opset 17: exit {r.returncode}, {r.stderr.strip()!r}")
    for f in failures:
        print("FAIL:", f)
    print(f"list-ops: {len(rows)} ops checked against onnx.defs {onnx.__version__}, "
          f"{len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
