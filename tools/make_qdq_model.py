#!/usr/bin/python3
"""make_qdq_model.py: the bundled Fashion-MNIST CNN quantized as onnxruntime's static QDQ
quantizer would, with onnxruntime's outputs as its references (testsuite/data/qdq).

The float model (examples/fmnist_cnn.onnx) has its BatchNorms folded into the convolutions,
then every tensor a layer reads goes through QuantizeLinear -> DequantizeLinear: activations
as uint8 per tensor, their ranges the min and max over the 64 calibration images
(examples/calib_64.npy, widened to include 0); weights as int8, symmetric, one scale per
output channel (DequantizeLinear with axis 0); biases as int32 with scale x_scale * w_scale
and zero point 0. The logits are quantized too, so that the model's output has a grid whose
step (the last QuantizeLinear's scale) says how far two runs of it may differ.

The reference outputs are onnxruntime-node's (tools/ort_run.js) for examples/batch_8.npy at its
default optimisation level, which fuses the QDQ pairs into integer kernels (QLinearConv and the
like); the script also prints how far they are from onnxruntime with optimisations disabled,
which computes the QDQ graph as written, in float32. The files are committed; regenerate with

    cd /tmp && npm install --ignore-scripts onnxruntime-node@1.20.1
    /usr/bin/python3 tools/make_qdq_model.py --ort /tmp
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def attrs_of(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def fold(model):
    """The float layers in order: (kind, weight, bias, attrs) with BatchNorm folded into the
    convolutions, and where the graph adds the stem's output back (the residual)."""
    init = {t.name: numpy_helper.to_array(t).copy() for t in model.graph.initializer}
    nodes = list(model.graph.node)
    layers = []
    for i, n in enumerate(nodes):
        if n.op_type == "Conv":
            w = init[n.input[1]].astype(np.float64)
            b = np.zeros(w.shape[0]) if len(n.input) < 3 else init[n.input[2]].astype(np.float64)
            bn = nodes[i + 1]
            assert bn.op_type == "BatchNormalization"
            g, beta, mean, var = (init[x].astype(np.float64) for x in bn.input[1:5])
            k = g / np.sqrt(var + attrs_of(bn).get("epsilon", 1e-5))
            w, b = w * k[:, None, None, None], (b - mean) * k + beta
            relu = nodes[i + 2].op_type == "Relu"
            layers.append(("Conv", w.astype(np.float32), b.astype(np.float32), attrs_of(n), relu))
        elif n.op_type == "Gemm":
            a = attrs_of(n)
            assert a.get("transB") == 1 and a.get("alpha", 1.0) == 1.0
            layers.append(("Gemm", init[n.input[1]], init[n.input[2]], a, False))
    return layers


def torch_conv(x, w, b, a):
    p = a.get("pads", [0, 0, 0, 0])
    assert p[0] == p[2] and p[1] == p[3] and a.get("group", 1) == 1
    return F.conv2d(x, torch.from_numpy(w), torch.from_numpy(b), stride=a.get("strides", [1, 1]),
                    padding=(p[0], p[1]), dilation=a.get("dilations", [1, 1]))


def float_points(layers, x):
    """The float tensors the QDQ graph quantizes, in the order make_graph quantizes them."""
    x = torch.from_numpy(x)
    (c1, c2, c3, c4, fc) = layers
    pts = [x]
    a1 = F.relu(torch_conv(x, c1[1], c1[2], c1[3]))
    a2 = F.relu(torch_conv(a1, c2[1], c2[2], c2[3]))
    a3 = F.relu(torch_conv(a2, c3[1], c3[2], c3[3]))
    c = torch_conv(a3, c4[1], c4[2], c4[3])
    r = F.relu(a2 + c)
    g = r.mean(dim=(2, 3))
    logits = g @ torch.from_numpy(fc[1]).T + torch.from_numpy(fc[2])
    return pts + [a1, a2, a3, c, r, g, logits]


def act_params(t):
    """uint8 asymmetric over [min(t, 0), max(t, 0)], as onnxruntime's MinMax calibration."""
    lo, hi = min(float(t.min()), 0.0), max(float(t.max()), 0.0)
    scale = np.float32((hi - lo) / 255.0)
    zero = np.uint8(np.clip(np.round(-lo / scale), 0, 255))
    return scale, zero


def make_graph(layers, act):
    """The QDQ graph; act: (scale, zero point) of each quantized activation, in order."""
    nodes, inits = [], []
    counter = iter(range(1000))

    def const(name, a):
        inits.append(numpy_helper.from_array(a, name))
        return name

    def qdq(x, sz):
        k = next(counter)
        s, z = const("act%d_scale" % k, np.array(sz[0], np.float32)), \
            const("act%d_zero" % k, np.array(sz[1], np.uint8))
        nodes.append(helper.make_node("QuantizeLinear", [x, s, z], [x + "_q"], name=x + "_quant"))
        nodes.append(helper.make_node("DequantizeLinear", [x + "_q", s, z], [x + "_dq"],
                                      name=x + "_dequant"))
        return x + "_dq"

    def weights(name, w, b, x_scale):
        """int8 per output channel, symmetric; the bias int32 on the grid x_scale * w_scale."""
        flat = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
        ws = (np.maximum(flat, 1e-8) / 127).astype(np.float32)
        shape = (-1,) + (1,) * (w.ndim - 1)
        wq = np.clip(np.round(w / ws.reshape(shape)), -127, 127).astype(np.int8)
        bs = (np.float32(x_scale) * ws).astype(np.float32)
        bq = np.round(b / bs).astype(np.int32)
        for suffix, q, s, zt in (("w", wq, ws, np.int8), ("b", bq, bs, np.int32)):
            nodes.append(helper.make_node(
                "DequantizeLinear", [const("%s_%s_q" % (name, suffix), q),
                                     const("%s_%s_scale" % (name, suffix), s),
                                     const("%s_%s_zero" % (name, suffix), np.zeros(s.shape, zt))],
                ["%s_%s" % (name, suffix)], name="%s_%s_dequant" % (name, suffix), axis=0))
        return name + "_w", name + "_b"

    def conv(name, x, x_act, layer):
        w, b = weights(name, layer[1], layer[2], x_act[0])
        nodes.append(helper.make_node("Conv", [x, w, b], [name], name=name, **layer[3]))
        if layer[4]:
            nodes.append(helper.make_node("Relu", [name], [name + "_relu"], name=name + "_relu"))
            return name + "_relu"
        return name

    c1, c2, c3, c4, fc = layers
    x = qdq("input", act[0])
    a1 = qdq(conv("conv1", x, act[0], c1), act[1])
    a2 = qdq(conv("conv2", a1, act[1], c2), act[2])
    a3 = qdq(conv("conv3", a2, act[2], c3), act[3])
    c = qdq(conv("conv4", a3, act[3], c4), act[4])
    nodes.append(helper.make_node("Add", [a2, c], ["add"], name="add"))
    nodes.append(helper.make_node("Relu", ["add"], ["add_relu"], name="add_relu"))
    r = qdq("add_relu", act[5])
    nodes.append(helper.make_node("GlobalAveragePool", [r], ["pool"], name="pool"))
    g = qdq("pool", act[6])
    nodes.append(helper.make_node("Flatten", [g], ["flat"], name="flat", axis=1))
    w, b = weights("fc", fc[1], fc[2], act[6][0])
    nodes.append(helper.make_node("Gemm", ["flat", w, b], ["fc"], name="fc", transB=1))
    qdq("fc", act[7])
    nodes[-1].output[0] = "logits"
    graph = helper.make_graph(
        nodes, "fmnist_cnn_qdq",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="tools/make_qdq_model.py")
    m.ir_version = 7
    onnx.checker.check_model(m)
    return m


def ort(args, model_path, x, level):
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "x.npy"), x)
        subprocess.run(["node", os.path.join(HERE, "ort_run.js"), "--ort", args.ort, "--opt", level,
                        model_path, tmp, os.path.join(tmp, "x.npy")], check=True)
        return np.load(os.path.join(tmp, "output_0.npy"))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ort", required=True, help="folder holding node_modules/onnxruntime-node")
    ap.add_argument("--out", default=os.path.join(TOP, "testsuite", "data", "qdq",
                                                  "test_fmnist_cnn_qdq"))
    args = ap.parse_args()
    layers = fold(onnx.load(os.path.join(TOP, "examples", "fmnist_cnn.onnx")))
    calib = np.load(os.path.join(TOP, "examples", "calib_64.npy"))
    with torch.no_grad():
        act = [act_params(t.numpy()) for t in float_points(layers, calib)]
    m = make_graph(layers, act)
    ds = os.path.join(args.out, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    path = os.path.join(args.out, "model.onnx")
    onnx.save(m, path)
    x = np.load(os.path.join(TOP, "examples", "batch_8.npy"))
    y = ort(args, path, x, "all")
    plain = ort(args, path, x, "disabled")
    for name, a in (("input_0.pb", numpy_helper.from_array(x, "input")),
                    ("output_0.pb", numpy_helper.from_array(y, "logits"))):
        with open(os.path.join(ds, name), "wb") as f:
            f.write(a.SerializeToString())
    step = float(act[7][0])
    steps = np.round(np.abs(y - plain) / step).astype(int)
    print("logits' step %.6g; onnxruntime optimised vs unoptimised: %d of %d outputs differ, "
          "by at most %d step(s)" % (step, int((steps > 0).sum()), y.size, int(steps.max())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
