#!/usr/bin/python3
"""make_quant_cases.py: the quantized-op cases of testsuite/data/quant, with onnxruntime's
outputs as their references.

The ONNX backend suite has one or two small tests per quantized op, all uint8 and per
tensor. These cases cover what it leaves out: int8, per-axis and per-channel parameters,
round-half-to-even ties and saturation, groups, strides, padding and dilation, batched and
broadcast products, sums past 2^24 (where float32 would round) and past int32 (which wrap),
and scales held as initializers (folded at compile time) as well as graph inputs. Each case
is laid out as a backend-suite test (model.onnx, test_data_set_0/input_*.pb and output_*.pb),
so testsuite/onnx_suite.py runs them (--data testsuite/data --folders quant).

The inputs are random (seeded); the outputs are onnxruntime-node's (tools/ort_run.js), never
dpcc's. Regenerate (the files are committed; CI needs neither node nor onnxruntime):

    cd /tmp && npm install --ignore-scripts onnxruntime-node@1.20.1
    /usr/bin/python3 tools/make_quant_cases.py --ort /tmp [--out testsuite/data/quant]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ONNX_TYPE = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.uint8): TensorProto.UINT8,
             np.dtype(np.int8): TensorProto.INT8, np.dtype(np.int32): TensorProto.INT32}


def model(op, opset, inputs, consts=(), n_out=1, **attrs):
    """A one-node model of op. inputs: (name, array) pairs fed at run time; consts: (name,
    array) initializers; the node takes the inputs then the consts, or the names in order."""
    order = attrs.pop("order", [n for n, _ in inputs] + [n for n, _ in consts])
    outs = ["y%d" % i for i in range(n_out)]
    node = helper.make_node(op, order, outs, name=op.lower(), **attrs)
    graph = helper.make_graph(
        [node], op.lower(),
        [helper.make_tensor_value_info(n, ONNX_TYPE[a.dtype], a.shape) for n, a in inputs],
        [helper.make_empty_tensor_value_info(o) for o in outs],
        [numpy_helper.from_array(a, n) for n, a in consts])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    # the outputs' types and shapes, as ONNX's own inference gives them
    m = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    onnx.checker.check_model(m)
    return m


def ties(shape, scale, rng):
    """Floats on and between the grid of `scale`: many exact halves (ties), some far out."""
    steps = rng.integers(-300, 300, size=shape).astype(np.float32) / 2
    return (steps * scale).astype(np.float32)


def cases(rng):
    u8 = lambda *s: rng.integers(0, 256, size=s, dtype=np.uint8)
    i8 = lambda *s: rng.integers(-128, 128, size=s, dtype=np.int8)
    f32 = lambda *a: np.array(a, dtype=np.float32)
    c = {}

    # QuantizeLinear / DequantizeLinear
    x = ties((3, 4, 5), 1.0, rng) * f32(0.5, 0.25, 0.125).reshape(3, 1, 1)
    c["quantizelinear_int8_axis0"] = (
        model("QuantizeLinear", 13, [("x", x)], [("s", f32(0.5, 0.25, 0.125)),
                                                ("z", np.array([-3, 0, 7], np.int8))], axis=0),
        [x])
    x = ties((2, 3, 5), 0.03, rng)
    s, z = f32(0.03, 0.06, 0.01, 0.02, 0.09), np.array([0, 128, 255, 3, 100], np.uint8)
    c["quantizelinear_uint8_axis_last"] = (
        model("QuantizeLinear", 13, [("x", x), ("s", s), ("z", z)], axis=-1), [x, s, z])
    x = ties((4, 6), 4.0, rng)
    c["quantizelinear_int8_opset10"] = (
        model("QuantizeLinear", 10, [("x", x)], [("s", f32(4.0)), ("z", np.array(-5, np.int8))]),
        [x])
    x = ties((7,), 0.1, rng)
    c["quantizelinear_no_zero_point"] = (
        model("QuantizeLinear", 13, [("x", x)], [("s", f32(0.1))]), [x])
    x = i8(2, 3, 4)
    s, z = f32(0.5, 0.02, 3.0, 0.1), i8(4)
    c["dequantizelinear_int8_axis2"] = (
        model("DequantizeLinear", 13, [("x", x), ("s", s), ("z", z)], axis=2), [x, s, z])
    x = rng.integers(-10**6, 10**6, size=(3, 5)).astype(np.int32)
    c["dequantizelinear_int32"] = (
        model("DequantizeLinear", 13, [("x", x)], [("s", f32(0.0007))]), [x])
    x = u8(3, 4)
    c["dequantizelinear_uint8_opset10"] = (
        model("DequantizeLinear", 10, [("x", x)],
              [("s", f32(0.02)), ("z", np.array(131, np.uint8))]), [x])

    # DynamicQuantizeLinear
    x = (rng.standard_normal((4, 50)) * 3 + 1).astype(np.float32)
    c["dynamicquantizelinear_randn"] = (
        model("DynamicQuantizeLinear", 11, [("x", x)], n_out=3), [x])
    x = np.zeros((5,), np.float32)
    c["dynamicquantizelinear_zeros"] = (
        model("DynamicQuantizeLinear", 11, [("x", x)], n_out=3), [x])

    # ConvInteger
    x, w = u8(2, 4, 7, 6), u8(6, 2, 3, 3)
    c["convinteger_group_stride_pad_dilation"] = (
        model("ConvInteger", 10, [("x", x)], [("w", w), ("xz", np.array(119, np.uint8)),
                                               ("wz", np.array(3, np.uint8))],
              order=["x", "w", "xz", "wz"], group=2, strides=[2, 1], pads=[1, 0, 1, 2],
              dilations=[1, 2]), [x])
    # sums up to 576 * 255 * 255 = 3.7e7 > 2^24: exact only in integers
    x, w = np.full((1, 64, 5, 5), 255, np.uint8), np.full((4, 64, 3, 3), 255, np.uint8)
    x[0, :, 2, 2] = 0
    w[1] = u8(64, 3, 3)
    c["convinteger_sums_past_2_24"] = (
        model("ConvInteger", 10, [("x", x), ("w", w)], pads=[1, 1, 1, 1]), [x, w])
    x = u8(1, 3, 9)
    c["convinteger_1d_no_zero_points"] = (
        model("ConvInteger", 10, [("x", x)], [("w", u8(2, 3, 4))], strides=[2],
              auto_pad="SAME_UPPER"), [x])

    # QLinearConv
    x = u8(2, 4, 6, 6)
    w, ws = i8(6, 2, 3, 3), (rng.random(6) * 0.02 + 0.001).astype(np.float32)
    b = rng.integers(-5000, 5000, size=6).astype(np.int32)
    c["qlinearconv_per_channel_bias_group"] = (
        model("QLinearConv", 10, [("x", x)],
              [("xs", f32(0.05)), ("xz", np.array(128, np.uint8)), ("w", w), ("ws", ws),
               ("wz", np.zeros(6, np.int8)), ("ys", f32(0.3)), ("yz", np.array(100, np.uint8)),
               ("b", b)],
              order=["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], group=2,
              pads=[1, 1, 1, 1], strides=[2, 2]), [x])
    x, w = u8(1, 3, 8, 8), u8(5, 3, 2, 2)
    ins = [("x", x), ("xs", f32(0.02)), ("xz", np.array(10, np.uint8)), ("w", w),
           ("ws", f32(0.01)), ("wz", np.array(120, np.uint8)), ("ys", f32(0.05)),
           ("yz", np.array(7, np.uint8))]
    c["qlinearconv_uint8_inputs"] = (model("QLinearConv", 10, ins, dilations=[2, 2]),
                                     [a for _, a in ins])

    # MatMulInteger
    a, b, bz = u8(3, 1, 4, 5), u8(5, 6), u8(6)
    c["matmulinteger_per_column"] = (
        model("MatMulInteger", 10, [("a", a), ("b", b), ("az", np.array(3, np.uint8)),
                                    ("bz", bz)]), [a, b, np.array(3, np.uint8), bz])
    a, b = u8(3, 1, 4, 5), u8(2, 5, 6)
    c["matmulinteger_broadcast"] = (
        model("MatMulInteger", 10, [("a", a), ("b", b)], [("az", np.array(200, np.uint8)),
                                                         ("bz", np.array(17, np.uint8))]),
        [a, b])
    a, b = i8(5, 7), i8(7, 3)
    c["matmulinteger_int8"] = (
        model("MatMulInteger", 10, [("a", a), ("b", b)], [("az", np.array(-2, np.int8))],
              order=["a", "b", "az"]), [a, b])
    # 40000 * 255 * 255 = 2.6e9 > 2^31: the int32 sum wraps
    a, b = np.full((1, 40000), 255, np.uint8), np.full((40000, 2), 255, np.uint8)
    b[::3, 1] = 0
    c["matmulinteger_sum_wraps"] = (model("MatMulInteger", 10, [("a", a), ("b", b)]), [a, b])

    # QLinearMatMul
    a, b = u8(3, 4, 8), i8(8, 5)
    bs, bz = (rng.random(5) * 0.05 + 0.01).astype(np.float32), np.zeros(5, np.int8)
    c["qlinearmatmul_per_column"] = (
        model("QLinearMatMul", 10, [("a", a)],
              [("as", f32(0.04)), ("az", np.array(120, np.uint8)), ("b", b), ("bs", bs),
               ("bz", bz), ("ys", f32(0.7)), ("yz", np.array(130, np.uint8))],
              order=["a", "as", "az", "b", "bs", "bz", "ys", "yz"]), [a])
    a, b = i8(2, 3, 6), i8(2, 6, 4)
    ins = [("a", a), ("as", f32(0.1)), ("az", np.array(1, np.int8)), ("b", b),
           ("bs", f32(0.05)), ("bz", np.array(-1, np.int8)), ("ys", f32(0.9)),
           ("yz", np.array(-4, np.int8))]
    c["qlinearmatmul_int8_batched"] = (model("QLinearMatMul", 10, ins), [a for _, a in ins])
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ort", required=True, help="folder holding node_modules/onnxruntime-node")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "testsuite", "data", "quant"))
    args = ap.parse_args()
    rng = np.random.default_rng(23)
    failed = []
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    for name, (m, feeds) in cases(rng).items():
        d = os.path.join(args.out, "test_" + name)
        ds = os.path.join(d, "test_data_set_0")
        os.makedirs(ds)
        onnx.save(m, os.path.join(d, "model.onnx"))
        names = [i.name for i in m.graph.input]
        with tempfile.TemporaryDirectory() as tmp:
            npys = []
            for i, (n, a) in enumerate(zip(names, feeds)):
                npys.append(os.path.join(tmp, "in%d.npy" % i))
                np.save(npys[-1], a)
                with open(os.path.join(ds, "input_%d.pb" % i), "wb") as f:
                    f.write(numpy_helper.from_array(a, n).SerializeToString())
            r = subprocess.run(["node", os.path.join(HERE, "ort_run.js"), "--ort", args.ort,
                                os.path.join(d, "model.onnx"), tmp] + npys,
                               capture_output=True, text=True)
            if r.returncode != 0:
                failed.append("%s: %s" % (name, r.stderr.strip()))
                shutil.rmtree(d)
                continue
            for i, o in enumerate(m.graph.output):
                a = np.load(os.path.join(tmp, "output_%d.npy" % i))
                with open(os.path.join(ds, "output_%d.pb" % i), "wb") as f:
                    f.write(numpy_helper.from_array(a, o.name).SerializeToString())
        print("%-45s in %s" % (name, ", ".join(str(a.dtype) for a in feeds)))
    for f in failed:
        print("onnxruntime refused %s" % f, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
