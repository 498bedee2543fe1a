#!/usr/bin/python3
"""make_qdq_model.py: float ONNX models quantized as onnxruntime's static QDQ quantizer would,
with onnxruntime's outputs as their references (testsuite/data/qdq).

    /usr/bin/python3 tools/make_qdq_model.py --ort DIR [fmnist_cnn | resnet18]

fmnist_cnn: the bundled Fashion-MNIST CNN (examples/fmnist_cnn.onnx), calibrated on
examples/calib_64.npy, its references for examples/batch_8.npy. resnet18: a ResNet-18 (two
BasicBlocks per stage, the 7x7 stride-2 stem and max pool, residual Adds, 1x1 downsampling
convolutions) a quarter as wide as torchvision's (16 to 128 channels, 0.7 M parameters) for
1 x 3 x 32 x 32 inputs, its weights and BatchNorm statistics drawn from torch.manual_seed(0),
calibrated on 32 and checked on 4 seeded Gaussian images.

The float model has its BatchNorms folded into the convolutions, then every tensor a layer
reads goes through QuantizeLinear -> DequantizeLinear: activations (the outputs of Conv, Gemm,
Add and pools, after the Relu that follows them) as uint8 per tensor, their ranges the min and
max over the calibration images (widened to include 0; a MaxPool keeps its input's), weights
as int8, symmetric, one scale per output channel (DequantizeLinear with axis 0), biases as
int32 with scale x_scale * w_scale and zero point 0. The outputs are quantized too, so that
they have a grid whose step (the last QuantizeLinear's scale) says how far two runs may differ.

Calibration runs the folded float model on onnxruntime; the references are onnxruntime-node's
(tools/ort_run.js) at its default optimisation level, which fuses the QDQ pairs into integer
kernels (QLinearConv, QLinearAdd and the like); the script also prints how far they are from
onnxruntime with optimisations disabled, which computes the QDQ graph as written, in float32.
The files are committed; regenerate with

    cd /tmp && npm install --ignore-scripts onnxruntime-node@1.20.1
    /usr/bin/python3 tools/make_qdq_model.py --ort /tmp fmnist_cnn
    /usr/bin/python3 tools/make_qdq_model.py --ort /tmp resnet18
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
# Ops whose output is an activation the next layer reads: quantized (after a sole Relu).
QUANTIZED_OUTPUTS = {"Conv", "Gemm", "Add", "Relu", "MaxPool", "GlobalAveragePool"}
# Ops that move values without computing new ones: a layer reading their output reads the
# DequantizeLinear before them.
PASS_THROUGH = {"Flatten", "Reshape"}


def attrs_of(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def consumers(graph):
    use = {}
    for n in graph.node:
        for i in n.input:
            use.setdefault(i, []).append(n)
    return use


def fold_bn(model):
    """The model with each BatchNormalization that alone reads a Conv folded into it."""
    init = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    made_by = {o: n for n in model.graph.node for o in n.output}
    use = consumers(model.graph)
    nodes = []
    for n in model.graph.node:
        if n.op_type == "BatchNormalization":
            conv = made_by[n.input[0]]
            assert conv.op_type == "Conv" and len(use[n.input[0]]) == 1, n.name
            w = init[conv.input[1]]
            b = init[conv.input[2]] if len(conv.input) > 2 else np.zeros(w.shape[0])
            g, beta, mean, var = (init[x] for x in n.input[1:5])
            k = g / np.sqrt(var + attrs_of(n).get("epsilon", 1e-5))
            init[conv.input[1]] = w * k[:, None, None, None]
            bias = conv.name + "_folded_bias"
            init[bias] = (b - mean) * k + beta
            del conv.input[2:]
            conv.input.append(bias)
            conv.output[0] = n.output[0]
            continue
        nodes.append(n)
    used = {i for n in nodes for i in n.input}
    graph = helper.make_graph(nodes, model.graph.name, model.graph.input, model.graph.output,
                              [numpy_helper.from_array(a.astype(np.float32), k)
                               for k, a in init.items() if k in used])
    return helper.make_model(graph, opset_imports=model.opset_import)


def quant_points(graph):
    """The activations to quantize, in graph order: the inputs, and what QUANTIZED_OUTPUTS
    write, except a tensor only a Relu reads (the Relu's output is quantized instead)."""
    use = consumers(graph)
    init = {t.name for t in graph.initializer}
    pts = [i.name for i in graph.input if i.name not in init]
    for n in graph.node:
        out = n.output[0]
        readers = use.get(out, [])
        if n.op_type in QUANTIZED_OUTPUTS and not (len(readers) == 1 and
                                                   readers[0].op_type == "Relu"):
            pts.append(out)
    return pts


def act_params(t):
    """uint8 asymmetric over [min(t, 0), max(t, 0)], as onnxruntime's MinMax calibration."""
    lo, hi = min(float(t.min()), 0.0), max(float(t.max()), 0.0)
    scale = np.float32((hi - lo) / 255.0)
    zero = np.uint8(np.clip(np.round(-lo / scale), 0, 255))
    return scale, zero


def ort(ort_dir, model, inputs, level="all"):
    """onnxruntime-node's outputs of model (a ModelProto) for inputs (arrays, in order)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        onnx.save(model, path)
        files = []
        for k, x in enumerate(inputs):
            files.append(os.path.join(tmp, "x%d.npy" % k))
            np.save(files[-1], x)
        subprocess.run(["node", os.path.join(HERE, "ort_run.js"), "--ort", ort_dir, "--opt",
                        level, path, tmp] + files, check=True)
        return [np.load(os.path.join(tmp, "output_%d.npy" % k))
                for k in range(len(model.graph.output))]


def calibrate(ort_dir, model, calib):
    """{tensor: (scale, zero point)} for the quant points, from the float model's ranges."""
    pts = quant_points(model.graph)
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.output[:]
    probe.graph.output.extend(helper.make_empty_tensor_value_info(p) for p in pts[1:])
    got = dict(zip(pts[1:], ort(ort_dir, probe, [calib])))
    got[pts[0]] = calib
    made_by = {o: n for n in model.graph.node for o in n.output}
    act = {}
    for p in pts:
        src = made_by.get(p)
        if src is not None and src.op_type == "MaxPool" and src.input[0] in act:
            act[p] = act[src.input[0]]  # the max of grid values lies on the grid
        else:
            act[p] = act_params(got[p])
    return act


def quantize(model, act, name):
    """The QDQ graph of the folded float model; act: calibrate's parameters."""
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    outputs = {o.name for o in model.graph.output}
    made_by = {o: n for n in model.graph.node for o in n.output}
    nodes, inits = [], []
    renamed = {}  # activation -> its DequantizeLinear's output

    def const(cname, a):
        inits.append(numpy_helper.from_array(a, cname))
        return cname

    def qdq(x):
        s = const(x + "_scale", np.array(act[x][0], np.float32))
        z = const(x + "_zero", np.array(act[x][1], np.uint8))
        src = x + "_float" if x in outputs else x
        dq = x if x in outputs else x + "_dq"
        nodes.append(helper.make_node("QuantizeLinear", [src, s, z], [x + "_q"],
                                      name=x + "_quant"))
        nodes.append(helper.make_node("DequantizeLinear", [x + "_q", s, z], [dq],
                                      name=x + "_dequant"))
        renamed[x] = dq

    def input_scale(x):
        while x not in act:
            src = made_by[x]
            assert src.op_type in PASS_THROUGH, "%s reads %s, not a quantized tensor" % (x, src)
            x = src.input[0]
        return act[x][0]

    def weights(n):
        """int8 per output channel, symmetric; the bias int32 on the grid x_scale * w_scale."""
        w, b = init[n.input[1]], init[n.input[2]]
        if n.op_type == "Gemm":
            a = attrs_of(n)
            assert a.get("transB") == 1 and a.get("alpha", 1.0) == 1.0, n.name
        flat = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
        ws = (np.maximum(flat, 1e-8) / 127).astype(np.float32)
        shape = (-1,) + (1,) * (w.ndim - 1)
        wq = np.clip(np.round(w / ws.reshape(shape)), -127, 127).astype(np.int8)
        bs = (np.float32(input_scale(n.input[0])) * ws).astype(np.float32)
        bq = np.round(b / bs).astype(np.int32)
        names = []
        for suffix, q, s, zt in (("w", wq, ws, np.int8), ("b", bq, bs, np.int32)):
            base = "%s_%s" % (n.name, suffix)
            nodes.append(helper.make_node(
                "DequantizeLinear", [const(base + "_q", q), const(base + "_scale", s),
                                     const(base + "_zero", np.zeros(s.shape, zt))],
                [base], name=base + "_dequant", axis=0))
            names.append(base)
        return names

    for x in quant_points(model.graph):
        if x not in made_by:
            qdq(x)
    for n in model.graph.node:
        out = n.output[0]
        q = helper.make_node(n.op_type, [renamed.get(i, i) for i in n.input],
                             [out + "_float" if out in act and out in outputs else out],
                             name=n.name, **attrs_of(n))
        if n.op_type in ("Conv", "Gemm"):
            q.input[1:] = weights(n)
        nodes.append(q)
        if out in act:
            qdq(out)
    graph = helper.make_graph(nodes, name, model.graph.input, model.graph.output, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="tools/make_qdq_model.py")
    m.ir_version = 7
    onnx.checker.check_model(m)
    return m


def fmnist_cnn():
    """(float model, calibration images, test images) of the bundled CNN."""
    model = onnx.load(os.path.join(TOP, "examples", "fmnist_cnn.onnx"))
    return (model, np.load(os.path.join(TOP, "examples", "calib_64.npy")),
            np.load(os.path.join(TOP, "examples", "batch_8.npy")))


def resnet18():
    """(float model, calibration images, test images) of the quarter-width ResNet-18."""
    import torch
    from torchvision.models.resnet import BasicBlock, ResNet

    torch.manual_seed(0)
    net = ResNet(BasicBlock, [2, 2, 2, 2], num_classes=10)
    # torchvision's widths are fixed (64 to 512): rebuild its layers a quarter as wide
    net.inplanes = 16
    net.conv1 = torch.nn.Conv2d(3, 16, 7, 2, 3, bias=False)
    net.bn1 = torch.nn.BatchNorm2d(16)
    net.layer1 = net._make_layer(BasicBlock, 16, 2)
    net.layer2 = net._make_layer(BasicBlock, 32, 2, stride=2)
    net.layer3 = net._make_layer(BasicBlock, 64, 2, stride=2)
    net.layer4 = net._make_layer(BasicBlock, 128, 2, stride=2)
    net.fc = torch.nn.Linear(128, 10)
    for m in net.modules():  # statistics as training leaves them, not the identity
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = 0.5 + torch.rand(c)
            m.bias.data = 0.2 * torch.randn(c)
            m.running_mean = 0.2 * torch.randn(c)
            m.running_var = 0.5 + torch.rand(c)
    net.eval()
    gen = torch.Generator().manual_seed(1)
    calib = torch.randn(32, 3, 32, 32, generator=gen)
    test = torch.randn(4, 3, 32, 32, generator=gen)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "float.onnx")
        torch.onnx.export(net, calib[:1], path, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=13)
        model = onnx.load(path)
    return model, calib.numpy(), test.numpy()


MODELS = {"fmnist_cnn": fmnist_cnn, "resnet18": resnet18}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ort", required=True, help="folder holding node_modules/onnxruntime-node")
    ap.add_argument("model", nargs="?", default="fmnist_cnn", choices=sorted(MODELS))
    ap.add_argument("--out", help="default: testsuite/data/qdq/test_MODEL_qdq")
    args = ap.parse_args()
    out = args.out or os.path.join(TOP, "testsuite", "data", "qdq", "test_%s_qdq" % args.model)
    model, calib, x = MODELS[args.model]()
    folded = fold_bn(model)
    act = calibrate(args.ort, folded, calib)
    m = quantize(folded, act, args.model + "_qdq")
    ds = os.path.join(out, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    onnx.save(m, os.path.join(out, "model.onnx"))
    y, = ort(args.ort, m, [x])
    plain, = ort(args.ort, m, [x], "disabled")
    for name, a in (("input_0.pb", numpy_helper.from_array(x, m.graph.input[0].name)),
                    ("output_0.pb", numpy_helper.from_array(y, m.graph.output[0].name))):
        with open(os.path.join(ds, name), "wb") as f:
            f.write(a.SerializeToString())
    step = float(act[m.graph.output[0].name][0])
    steps = np.round(np.abs(y - plain) / step).astype(int)
    print("%s: %d bytes; output step %.6g; onnxruntime optimised vs unoptimised: %d of %d "
          "outputs differ, by at most %d step(s)" % (
              args.model, os.path.getsize(os.path.join(out, "model.onnx")), step,
              int((steps > 0).sum()), y.size, int(steps.max())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
