#!/usr/bin/python3
"""qdq_exact_test.py: a QDQ model's noise-free analog result is its integer arithmetic.

    /usr/bin/python3 testsuite/qdq_exact_test.py BUILD_DIR MODEL_DIR... [--exact-only DIR...]

Each MODEL_DIR (testsuite/data/qdq, tools/make_qdq_model.py) holds a QDQ model and
onnxruntime's outputs for its inputs. The model is compiled without --calib for a device
with no noise at all (paper_shot's core with its shot noise off, so every N gives the limit
N -> infinity) and 22-bit converters, more than any of the model's grids needs: the DAC,
weight and ADC ranges must then all come from the model's scales, none requantised, and
dprun's analog run (not --ideal) must give onnxruntime's outputs within one step of the
output grid (the last DequantizeLinear's scale). What ties them is only the model: its
input, weight and output grids held by the converters' levels. Compiles for the default
device's 8-bit ADC and for 6-bit weight modulators must say that they requantise the
model's output and weight grids. The folders after --exact-only (QLinearConv and
QLinearMatMul cases of testsuite/data/quant, which dpcc lowers to their QDQ form) take the
noise-free check alone; their outputs are integers, one step each.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


LAYERS = ("Conv", "Gemm", "MatMul", "QLinearConv", "QLinearMatMul")


def output_step(model):
    """The scale of the DequantizeLinear that makes the graph's output; 1 for an integer one."""
    if model.graph.output[0].type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        return 1.0
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    made_by = {o: n for n in model.graph.node for o in n.output}
    last = made_by[model.graph.output[0].name]
    assert last.op_type == "DequantizeLinear", last.op_type
    return float(init[last.input[1]])


def first_layer(model):
    return next(n.name for n in model.graph.node if n.op_type in LAYERS)


def noiseless_profile(path, weight_bits=22):
    with open(os.path.join(ROOT, "profiles", "paper_shot.json")) as f:
        d = json.load(f)
    d["name"] = "noiseless_22bit"
    d["description"] = "paper_shot without shot noise: the analog result at N -> infinity"
    d["noise"]["shot_noise"] = False
    d["converters"].update(dac_bits=22, weight_bits=weight_bits, adc_bits=22)
    with open(path, "w") as f:
        json.dump(d, f)


def dpcc(build, args):
    r = subprocess.run([os.path.join(build, "dpcc")] + args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("dpcc %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr))
    return r.stderr


def check(build, model_dir, tmp, exact_only):
    failures = []
    name = os.path.basename(model_dir)
    model = onnx.load(os.path.join(model_dir, "model.onnx"))
    n_layers = sum(n.op_type in LAYERS for n in model.graph.node)
    profile, program = os.path.join(tmp, "noiseless.json"), os.path.join(tmp, name + ".dp")
    noiseless_profile(profile)
    err = dpcc(build, [os.path.join(model_dir, "model.onnx"), "-o", program, "--device", profile])
    line = ("DAC ranges from the model's scales: %d of %d layers (0 requantised); weight levels: "
            "%d (0 requantised); ADC ranges: %d (0 requantised); the schedule from synthetic "
            "calibration data" % (n_layers, n_layers, n_layers, n_layers))
    if line not in err:
        failures.append("%s: no line '%s' in: %s" % (name, line, err))
    if "requantises the model" in err or "requantise the model" in err:
        failures.append("%s: a requantisation warning on 22-bit converters: %s" % (name, err))
    data = os.path.join(model_dir, "test_data_set_0")
    out = os.path.join(tmp, name + "_out")
    subprocess.run([os.path.join(build, "dprun"), program, "-i", os.path.join(data, "input_0.pb"),
                    "-o", out], check=True)
    got, want = load_pb(os.path.join(out, "output_0.pb")), load_pb(os.path.join(data, "output_0.pb"))
    steps = np.abs(got.astype(np.float64) - want) / output_step(model)
    exact = int((steps < 0.5).sum())
    print("%s: noise-free analog run against onnxruntime: %d of %d outputs equal, largest "
          "difference %.3g steps" % (name, exact, steps.size, steps.max()))
    if not steps.max() <= 1 + 1e-3:
        failures.append("%s: an output %.3g steps of the output grid from onnxruntime's" %
                        (name, steps.max()))
    if exact_only:
        return failures
    # the default device's 8-bit converters: its ADC is coarser than every layer's output grid
    err = dpcc(build, [os.path.join(model_dir, "model.onnx"), "-o", program])
    if "warning: the ADC requantises the model's output grid of %d layers" % n_layers not in err:
        failures.append("%s on the default device: no ADC requantisation warning in: %s" %
                        (name, err))
    # 6-bit modulators cannot hold int8 weights: W_j stays max |w_j|, and dpcc says so
    noiseless_profile(profile, weight_bits=6)
    err = dpcc(build, [os.path.join(model_dir, "model.onnx"), "-o", program, "--device", profile])
    want = ("warning: the weight modulators requantise the model's weight grid of %d layers: "
            "'%s' needs 8 bits, the device's modulators have 6" % (n_layers, first_layer(model)))
    if want not in err:
        failures.append("%s on 6-bit modulators: no line '%s' in: %s" % (name, want, err))
    dis = subprocess.run([os.path.join(build, "dpcc"), "--disasm", program], capture_output=True,
                         text=True, check=True).stdout
    if " W=[" in dis or dis.count(" wgrid=8") != n_layers:
        failures.append("%s on 6-bit modulators: weight scales in the program, or grids not "
                        "recorded: %s" % (name, dis))
    return failures


def main():
    failures, exact_only = [], False
    with tempfile.TemporaryDirectory() as tmp:
        for d in sys.argv[2:]:
            if d == "--exact-only":
                exact_only = True
                continue
            failures += check(sys.argv[1], d, tmp, exact_only)
    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
