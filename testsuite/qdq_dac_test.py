#!/usr/bin/python3
"""qdq_dac_test.py: a QDQ model's analog layers take their DAC full scale from its scales.

    /usr/bin/python3 testsuite/qdq_dac_test.py BUILD_DIR MODEL.onnx...

Compiles each model (testsuite/data/qdq, tools/make_qdq_model.py) with the plain command on the
default device and on paper_shot (22-bit converters), and reads each analog layer's X from
dpcc --disasm. The expected X comes from the model alone: the layer's input is a
DequantizeLinear (through Flatten) of scale s and zero point z, so X is s times the DAC's
level count, 2^b - 1 unsigned where z is the type's lowest value, else 2^(b-1) signed; where
the grid reaches further than those levels (the input image's zero point 73 on an 8-bit DAC:
182 steps above it), X spans the grid, and dpcc must warn that the DAC requantises it; dpcc's
summary must say how many layers took their range from the model.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper


def expected(model, bits):
    """{layer: (X, unsigned, grid bits or None when the DAC holds the grid)}."""
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    made_by = {o: n for n in model.graph.node for o in n.output}
    want = {}
    for n in model.graph.node:
        if n.op_type not in ("Conv", "Gemm"):
            continue
        src = made_by[n.input[0]]
        while src.op_type == "Flatten":
            src = made_by[src.input[0]]
        assert src.op_type == "DequantizeLinear", n.name
        s, z = float(init[src.input[1]]), int(init[src.input[2]])
        lo, hi = (0, 255) if init[src.input[2]].dtype == np.uint8 else (-128, 127)
        unsigned = z == lo
        levels = 2 ** bits - 1 if unsigned else 2 ** (bits - 1)
        extent = hi - z if unsigned else max(hi - z, z - lo)
        need = None if extent <= levels else int(np.ceil(np.log2(extent))) + 1
        want[n.name] = (float(np.float32(s * max(levels, extent))), unsigned, need)
    return want


def compile_and_read(build, model_path, tmp, device):
    """({layer: (X, unsigned)} from the disassembly, DAC bits, dpcc's stderr, the number of
    analog layers in its report)."""
    out, report = os.path.join(tmp, "m.dp"), os.path.join(tmp, "report.json")
    cmd = [os.path.join(build, "dpcc"), model_path, "-o", out, "--report", report]
    cmd += ["--device", device] if device else []
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("FAIL: %s: exit %d: %s" % (" ".join(cmd), r.returncode, r.stderr))
    dis = subprocess.run([os.path.join(build, "dpcc"), "--disasm", out], capture_output=True,
                         text=True, check=True).stdout
    got, bits = {}, None
    for line in dis.splitlines():
        m = re.search(r'mvm\s+\w+\s+"([^"]+)".* dac=(\d+) .* X=([0-9.e+-]+)( \(unsigned\))?', line)
        if m:
            got[m.group(1)] = (float(m.group(3)), bool(m.group(4)))
            bits = int(m.group(2))
    return got, bits, r.stderr, len(json.load(open(report))["layers"])


def check(build, model_path):
    """The failures of one model on the default device and on paper_shot."""
    model = onnx.load(model_path)
    label = os.path.basename(os.path.dirname(model_path))
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for device in (None, "paper_shot"):
            where = "%s on %s" % (label, device or "the default device")
            got, bits, stderr, n_layers = compile_and_read(build, model_path, tmp, device)
            want = expected(model, bits)
            requantised = []
            for name, (x, unsigned, need) in want.items():
                if name not in got:
                    failures.append("%s: layer %s has no X in the disassembly" % (where, name))
                    continue
                gx, gu = got[name]
                if abs(gx - x) > 1e-5 * x or gu != unsigned:
                    failures.append("%s: %s: X=%g%s, expected %g%s" % (
                        where, name, gx, " unsigned" if gu else "", x,
                        " unsigned" if unsigned else ""))
                if need:
                    requantised.append((name, need))
            if requantised:
                name, need = requantised[0]
                text = "the DAC requantises the model's input grid of %d layer%s: '%s' needs %d " \
                       "bits, the device's DAC has %d" % (len(requantised),
                                                          "s" if len(requantised) > 1 else "",
                                                          name, need, bits)
                if text not in stderr:
                    failures.append("%s: no warning '%s' in: %s" % (where, text, stderr))
            elif "requantises" in stderr:
                failures.append("%s: a requantisation warning where the DAC holds every grid"
                                % where)
            line = "DAC ranges from the model's scales: %d of %d layers (%d requantised)" % (
                len(want), n_layers, len(requantised))
            if line not in stderr:
                failures.append("%s: no line '%s' in: %s" % (where, line, stderr))
            print("%s (%d-bit DAC): %d layers, X from the model's scales; %d requantised" % (
                where, bits, len(want), len(requantised)))
    return failures


def main():
    failures = [f for path in sys.argv[2:] for f in check(sys.argv[1], path)]
    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
