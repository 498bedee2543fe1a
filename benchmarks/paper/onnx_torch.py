"""An ONNX model run in PyTorch, with the founding paper's shot noise on every analog node.

Used by benchmarks/paper/learned.py (the paper's learned per-layer precision, a baseline for
dpcc's schedule) and testsuite/paper_noise_test.py (the same noise against dprun's paper_shot
device). As a library:

    from onnx_torch import OnnxModule
    net = OnnxModule("models/fmnist_cnn/model.onnx", photons=1000.0)
    logits = net(torch.from_numpy(x))             # noisy; net.noisy = False for the ideal network

Run alone, it checks the injected noise against the formula below on hand-built Conv, Gemm and
MatMul graphs, and runs the models given noise-free against the reference outputs in their
test_data_set_0/ (where there are some), printing their op types:

    /usr/bin/python3 benchmarks/paper/onnx_torch.py [models/*/model.onnx ...]

The weights (initializers) are frozen buffers. Each *analog node* (Conv, Gemm, MatMul, the
last with two activations too, as in attention) owns a ShotNoise module whose one trainable
parameter is log_n, the natural log of n, the photons per multiply-accumulate. The noise is the
shot-noise-limited regime of Garg et al., "Dynamic Precision Analog Computing for Neural
Networks" (arXiv 2102.06365), as dpcc's paper_shot device simulates it: no quantisation and no
tiling, one optical pass over the whole fan-in D. Output j of a product gets, before its bias,
an independent Gaussian of std |x| |w_j| / sqrt(D n), where |x| is the Euclidean norm of the
input vector (for Conv: the im2col patch, padding zeros included) and |w_j| that of the weight
row (a Conv output channel's filter; for activation x activation products, the column of the
second operand). The homodyne signal grows as n while its vacuum noise grows as sqrt(n), and
the norms set the light's amplitude, so the relative error falls as 1 / sqrt(n).

Only the op types of the project's models (tools/export_models.py, tools/train_fmnist.py) are
implemented, each by its ONNX definition; any other op, or an attribute value these models do
not use, raises UnsupportedOp naming the node.
"""
import math
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import helper, numpy_helper

ANALOG_OPS = ("Conv", "Gemm", "MatMul")
# One photon at 1550 nm, h c / lambda, in attojoules: the optical energy of a MAC is n times this.
PHOTON_AJ = 6.62607015e-34 * 2.99792458e8 / 1550e-9 * 1e18


class UnsupportedOp(Exception):
    """A node this module cannot run (its op type or one of its attribute values)."""


def node_name(node, index):
    """The name dpcc keys a layer by: the node's own, else OP_INDEX (docs/annotate.md)."""
    return node.name or f"{node.op_type}_{index}"


def _norm(sum_of_squares):
    # Patches of ReLU zeros have norm 0, where sqrt's gradient is infinite; the clamp keeps
    # log_n's gradient finite and changes no value that matters (the noise is 0 there anyway).
    return sum_of_squares.clamp_min(1e-30).sqrt()


class ShotNoise(nn.Module):
    """One analog node's photons per MAC (trainable as log_n) and its last-seen MAC count.

    log_n is one value, or with per_channel one per output channel (the paper's per-channel
    option), made on the node's first forward pass, when the channels are known."""

    def __init__(self, name, op, photons, per_channel=False):
        super().__init__()
        self.name, self.op, self.per_channel = name, op, per_channel
        self.log_n = nn.Parameter(torch.tensor(math.log(photons)))
        self.macs = None  # per inference, set by the first forward pass

    @property
    def photons(self):
        """n, or its mean over the output channels (each does the same MACs)."""
        return float(self.log_n.exp().mean())

    def split(self, channels):
        """One log n per output channel from now on, each the node's value so far."""
        if self.per_channel and self.log_n.dim() == 0 and channels > 1:
            self.log_n = nn.Parameter(self.log_n.detach().repeat(channels))

    def add(self, y, scale, fan_in, generator, channel_axis):
        """y plus N(0, 1) * scale / sqrt(fan_in * n), element by element, scale broadcast to y
        and n, if per channel, along y's channel_axis."""
        z = torch.randn(y.shape, generator=generator, dtype=y.dtype, device=y.device)
        log_n = self.log_n
        if log_n.dim() == 1:
            log_n = log_n.view([-1] + [1] * (y.dim() - 1 - channel_axis % y.dim()))
        return y + z * scale * torch.exp(-0.5 * log_n) / math.sqrt(fan_in)


class OnnxModule(nn.Module):
    """An ONNX graph as a torch module: forward(*inputs) returns the graph's outputs.

    noisy (attribute, default True) switches the shot noise on or off; generator (attribute)
    is the torch.Generator the noise draws from, so that set_seed makes runs reproducible.
    """

    def __init__(self, model, photons=1e4, per_channel=False):
        super().__init__()
        proto = onnx.load(model) if isinstance(model, str) else model
        graph = proto.graph
        self.opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.noisy = True
        self.generator = torch.Generator()

        self._init_attr = {}
        for i, t in enumerate(graph.initializer):
            self.register_buffer(f"init{i}", torch.from_numpy(numpy_helper.to_array(t).copy()))
            self._init_attr[t.name] = f"init{i}"
        self.input_names = [v.name for v in graph.input if v.name not in self._init_attr]
        self.output_names = [v.name for v in graph.output]

        self.nodes = []
        self.noise = nn.ModuleList()
        noise_of = {}
        for index, node in enumerate(graph.node):
            run = getattr(self, "_op_" + node.op_type, None)
            if node.domain not in ("", "ai.onnx") or run is None:
                raise UnsupportedOp(f"node {node_name(node, index)}: op {node.domain or 'ai.onnx'}."
                                    f"{node.op_type} is not implemented")
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if node.op_type in ANALOG_OPS:
                noise_of[index] = len(self.noise)
                self.noise.append(ShotNoise(node_name(node, index), node.op_type, photons,
                                            per_channel))
            self.nodes.append((node, index, attrs))
        self._noise_of = noise_of

    def set_seed(self, seed):
        self.generator.manual_seed(seed)

    def set_photons(self, photons):
        """Sets every analog node's n to photons."""
        with torch.no_grad():
            for m in self.noise:
                m.log_n.fill_(math.log(photons))

    def mean_photons(self):
        """The MAC-weighted mean of n over the analog nodes, as a differentiable tensor (after a
        first forward pass, which counts the MACs)."""
        macs = torch.tensor([float(m.macs) for m in self.noise])
        n = torch.stack([m.log_n.exp().mean() for m in self.noise])
        return (macs * n).sum() / macs.sum()

    def forward(self, *inputs):
        if len(inputs) != len(self.input_names):
            raise ValueError(f"expected {len(self.input_names)} inputs, got {len(inputs)}")
        env = {name: getattr(self, attr) for name, attr in self._init_attr.items()}
        env.update(zip(self.input_names, inputs))
        self._batch = inputs[0].shape[0] if inputs[0].dim() else 1
        for node, index, attrs in self.nodes:
            self._node = node
            self._noise_module = self.noise[self._noise_of[index]] if index in self._noise_of else None
            args = [env[name] if name else None for name in node.input]
            outs = getattr(self, "_op_" + node.op_type)(attrs, *args)
            outs = outs if isinstance(outs, tuple) else (outs,)
            for name, value in zip(node.output, outs):
                if name:
                    env[name] = value
        outs = tuple(env[name] for name in self.output_names)
        return outs[0] if len(outs) == 1 else outs

    # -- helpers -------------------------------------------------------------------------

    def _unsupported(self, what):
        raise UnsupportedOp(f"node {self._node.name or self._node.op_type} ({self._node.op_type}): {what}")

    def _shot(self, y, scale, fan_in, channel_axis=None):
        """Records the node's MACs per inference and, if noisy, adds its shot noise to y.
        channel_axis: y's axis of output channels, None where they are not a weight's rows
        (a product of two activations keeps one n)."""
        m = self._noise_module
        m.macs = y.numel() // self._batch * fan_in
        if channel_axis is not None:
            m.split(y.shape[channel_axis])
        return m.add(y, scale, fan_in, self.generator, channel_axis or 0) if self.noisy else y

    # -- analog ops ----------------------------------------------------------------------

    def _op_Conv(self, a, x, w, b=None):
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            self._unsupported(f"auto_pad {a['auto_pad']!r}")
        if w.dim() != 4:
            self._unsupported("only 2-D convolutions are implemented")
        groups = a.get("group", 1)
        strides = a.get("strides", [1, 1])
        dilations = a.get("dilations", [1, 1])
        top, left, bottom, right = a.get("pads", [0, 0, 0, 0])
        # ONNX pads are begin/end per axis; F.pad takes them last axis first.
        x = F.pad(x, (left, right, top, bottom))
        y = F.conv2d(x, w, None, strides, 0, dilations, groups)
        out_ch, in_per_group, kh, kw = w.shape
        # Squared norms of every group's patches: x**2 under an all-ones kernel.
        ones = torch.ones(groups, in_per_group, kh, kw, dtype=x.dtype)
        patch = _norm(F.conv2d(x * x, ones, None, strides, 0, dilations, groups))
        patch = patch.repeat_interleave(out_ch // groups, dim=1)
        filt = _norm((w * w).flatten(1).sum(1)).view(1, -1, 1, 1)
        y = self._shot(y, patch * filt, in_per_group * kh * kw, 1)
        return y if b is None else y + b.view(1, -1, 1, 1)

    def _op_Gemm(self, a, x, w, c=None):
        alpha, beta = a.get("alpha", 1.0), a.get("beta", 1.0)
        x = x.t() if a.get("transA", 0) else x
        w = w.t() if a.get("transB", 0) else w
        y = x @ w
        scale = _norm((x * x).sum(1, keepdim=True)) * _norm((w * w).sum(0, keepdim=True))
        y = alpha * self._shot(y, scale, x.shape[1], -1)
        return y if c is None else y + beta * c

    def _op_MatMul(self, a, x, w):
        # numpy.matmul's rule for 1-D operands: promote, multiply, drop the added axis.
        squeeze = []
        if x.dim() == 1:
            x, squeeze = x.unsqueeze(0), squeeze + [-2]
        if w.dim() == 1:
            w, squeeze = w.unsqueeze(-1), squeeze + [-1]
        y = x @ w
        # Row norms of x (.. M x 1) times column norms of w (.. 1 x N) broadcast as matmul does.
        scale = _norm((x * x).sum(-1, keepdim=True)) * _norm((w * w).sum(-2, keepdim=True))
        weight = w.dim() == 2 and any(w is b for b in self.buffers())
        y = self._shot(y, scale, x.shape[-1], -1 if weight else None)
        for axis in squeeze:
            y = y.squeeze(axis)
        return y

    # -- digital ops ---------------------------------------------------------------------

    def _op_Constant(self, a):
        if "value" in a:
            return torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
        for key, dtype in (("value_float", torch.float32), ("value_floats", torch.float32),
                           ("value_int", torch.int64), ("value_ints", torch.int64)):
            if key in a:
                return torch.tensor(a[key], dtype=dtype)
        self._unsupported(f"attribute {sorted(a)}")

    def _op_Identity(self, a, x):
        return x

    def _op_Add(self, a, x, y):
        return x + y

    def _op_Sub(self, a, x, y):
        return x - y

    def _op_Mul(self, a, x, y):
        return x * y

    def _op_Div(self, a, x, y):
        # Integer Div truncates toward zero in ONNX.
        return torch.div(x, y, rounding_mode=None if x.is_floating_point() else "trunc")

    def _op_Pow(self, a, x, y):
        return torch.pow(x, y).to(x.dtype)

    def _op_Sqrt(self, a, x):
        return torch.sqrt(x)

    def _op_Erf(self, a, x):
        return torch.erf(x)

    def _op_Relu(self, a, x):
        return torch.relu(x)

    def _op_Clip(self, a, x, lo=None, hi=None):
        if self.opset < 11:
            lo, hi = a.get("min"), a.get("max")
        return x if lo is None and hi is None else torch.clamp(x, lo, hi)

    def _op_BatchNormalization(self, a, x, scale, bias, mean, var):
        if a.get("training_mode", 0) or len([o for o in self._node.output if o]) > 1:
            self._unsupported("training mode")
        shape = (1, -1) + (1,) * (x.dim() - 2)
        inv = scale / torch.sqrt(var + a.get("epsilon", 1e-5))
        return (x - mean.view(shape)) * inv.view(shape) + bias.view(shape)

    def _op_MaxPool(self, a, x):
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or a.get("ceil_mode", 0) \
                or len([o for o in self._node.output if o]) > 1 or x.dim() != 4:
            self._unsupported("only 2-D, explicit pads, floor mode and no indices are implemented")
        top, left, bottom, right = a.get("pads", [0, 0, 0, 0])
        x = F.pad(x, (left, right, top, bottom), value=-math.inf)
        return F.max_pool2d(x, a["kernel_shape"], a.get("strides", [1, 1]), 0,
                            a.get("dilations", [1, 1]))

    def _op_GlobalAveragePool(self, a, x):
        return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)

    def _op_Flatten(self, a, x):
        axis = a.get("axis", 1) % (x.dim() + 1) if x.dim() else 0
        return x.reshape(int(np.prod(x.shape[:axis])), -1)

    def _op_Gather(self, a, data, idx):
        axis = a.get("axis", 0) % data.dim()
        idx = torch.where(idx < 0, idx + data.shape[axis], idx)
        out = data.index_select(axis, idx.reshape(-1).long())
        return out.reshape(data.shape[:axis] + idx.shape + data.shape[axis + 1:])

    def _op_ReduceMean(self, a, x, axes=None):
        axes = a.get("axes") if self.opset < 18 else (None if axes is None else axes.tolist())
        if not axes:
            if self.opset >= 18 and a.get("noop_with_empty_axes", 0):
                return x
            axes = list(range(x.dim()))
        return x.mean(dim=tuple(axes), keepdim=bool(a.get("keepdims", 1)))

    def _op_Reshape(self, a, x, shape):
        shape = [int(s) for s in shape.tolist()]
        if not a.get("allowzero", 0):
            shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return x.reshape(shape)

    def _op_Transpose(self, a, x):
        return x.permute(a.get("perm", list(range(x.dim()))[::-1]))

    def _op_Softmax(self, a, x):
        if self.opset >= 13:
            return torch.softmax(x, dim=a.get("axis", -1))
        # Before opset 13 the input is coerced to 2-D at axis and normalised over the right part.
        axis = a.get("axis", 1) % x.dim()
        flat = x.reshape(int(np.prod(x.shape[:axis])), -1)
        return torch.softmax(flat, dim=1).reshape(x.shape)


# -- self-check ------------------------------------------------------------------------------

def _graph(nodes, inputs, initializers, output):
    """A one-output opset-13 model from nodes, float inputs {name: shape} and numpy initializers."""
    g = helper.make_graph(
        nodes, "check",
        [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(output, onnx.TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, name=k) for k, v in initializers.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def _check_noise(title, model, inputs, expected_mean, expected_std, photons, draws=4000):
    """Draws the noisy outputs `draws` times and compares their mean and std with the formula's.
    photons: n, or a numpy vector of n per output channel."""
    per_channel = np.ndim(photons) == 1
    net = OnnxModule(model, photons=1.0 if per_channel else photons, per_channel=per_channel)
    net = net.double()
    net.set_seed(1)
    with torch.no_grad():
        net.noisy = False
        ideal = net(*inputs)
        if per_channel:
            net.noise[0].log_n.copy_(torch.from_numpy(np.log(photons)))
        net.noisy = True
        ys = torch.stack([net(*inputs) for _ in range(draws)])
    mean_err = (ys.mean(0) - expected_mean).abs() / (expected_std / math.sqrt(draws))
    std_ratio = ys.std(0) / expected_std
    ok = (torch.allclose(ideal, expected_mean, rtol=1e-9, atol=1e-9)
          and float(mean_err.max()) < 5 and float((std_ratio - 1).abs().max()) < 5 * math.sqrt(0.5 / draws))
    print(f"{title}: ideal matches {torch.allclose(ideal, expected_mean)}, worst mean z "
          f"{float(mean_err.max()):.2f}, std/expected in [{float(std_ratio.min()):.3f}, "
          f"{float(std_ratio.max()):.3f}]: {'ok' if ok else 'WRONG'}")
    return ok


def self_check():
    """The injected noise's std against a numpy im2col and matrix reference of the formula."""
    rng = np.random.default_rng(0)
    n = 3.0
    ok = True

    # A strided, asymmetrically padded, grouped Conv with bias.
    x = rng.standard_normal((1, 4, 6, 7))
    w = rng.standard_normal((6, 2, 3, 2)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    pads, strides, groups = [1, 0, 2, 1], [2, 1], 2
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=pads, strides=strides, group=groups)
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (xp.shape[2] - 3) // strides[0] + 1
    ow = (xp.shape[3] - 2) // strides[1] + 1
    mean, std = np.zeros((1, 6, oh, ow)), np.zeros((1, 6, oh, ow))
    wd = w.astype(np.float64)
    for j in range(6):
        g = j // 3
        for r in range(oh):
            for c in range(ow):
                patch = xp[0, 2 * g:2 * g + 2, r * strides[0]:r * strides[0] + 3, c:c + 2]
                mean[0, j, r, c] = (patch * wd[j]).sum() + b[j]
                std[0, j, r, c] = np.linalg.norm(patch) * np.linalg.norm(wd[j]) / math.sqrt(patch.size * n)
    conv = _graph([node], {"x": list(x.shape)}, {"w": w, "b": b}, "y")
    ok &= _check_noise("Conv", conv, [torch.from_numpy(x)], torch.from_numpy(mean),
                       torch.from_numpy(std), n)
    # The paper's per-channel option: channel j's noise falls as 1 / sqrt(n_j) alone.
    n_j = np.arange(1.0, 7.0)
    ok &= _check_noise("Conv, n per channel", conv, [torch.from_numpy(x)], torch.from_numpy(mean),
                       torch.from_numpy(std * np.sqrt(n / n_j).reshape(1, 6, 1, 1)), n_j)

    # Gemm with both transposes, alpha and beta: alpha scales the noise, beta * C does not.
    a_ = rng.standard_normal((5, 3))
    bt = rng.standard_normal((4, 5)).astype(np.float32)
    c_ = rng.standard_normal(4).astype(np.float32)
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transA=1, transB=1, alpha=0.5, beta=2.0)
    A, B = a_.T, bt.T.astype(np.float64)
    mean = 0.5 * A @ B + 2.0 * c_
    std = 0.5 * np.outer(np.linalg.norm(A, axis=1), np.linalg.norm(B, axis=0)) / math.sqrt(5 * n)
    gemm = _graph([node], {"a": [5, 3]}, {"b": bt, "c": c_}, "y")
    ok &= _check_noise("Gemm", gemm, [torch.from_numpy(a_)], torch.from_numpy(mean),
                       torch.from_numpy(std), n)
    n_j = np.array([0.5, 2.0, 8.0, 32.0])
    ok &= _check_noise("Gemm, n per channel", gemm, [torch.from_numpy(a_)], torch.from_numpy(mean),
                       torch.from_numpy(std * np.sqrt(n / n_j)), n_j)

    # MatMul of two activations with batch broadcasting: B's columns play the weights.
    p = rng.standard_normal((2, 3, 4, 5))
    q = rng.standard_normal((3, 5, 2))
    node = helper.make_node("MatMul", ["p", "q"], ["y"])
    mean = p @ q
    std = (np.linalg.norm(p, axis=-1)[..., :, None] * np.linalg.norm(q, axis=-2)[..., None, :]
           / math.sqrt(5 * n))
    ok &= _check_noise("MatMul", _graph([node], {"p": list(p.shape), "q": list(q.shape)}, {}, "y"),
                       [torch.from_numpy(p), torch.from_numpy(q)], torch.from_numpy(mean),
                       torch.from_numpy(std), n)
    return ok


def main(paths):
    torch.set_num_threads(min(2, torch.get_num_threads()))
    ok = self_check()
    for path in paths:
        proto = onnx.load(path)
        ops = sorted({node.op_type for node in proto.graph.node})
        net = OnnxModule(proto)
        print(f"{path}: {len(net.noise)} analog nodes; ops {', '.join(ops)}")
        # The noise-free network against the exporter's reference outputs, where they exist.
        data = os.path.join(os.path.dirname(path), "test_data_set_0")
        if os.path.exists(os.path.join(data, "output_0.pb")):
            x, want = (numpy_helper.to_array(onnx.load_tensor(os.path.join(data, f)))
                       for f in ("input_0.pb", "output_0.pb"))
            net.noisy = False
            with torch.no_grad():
                got = net(torch.from_numpy(np.array(x))).numpy()
            err = float(np.abs(got - want).max() / (np.abs(want).max() + 1e-30))
            ok &= err < 1e-3
            print(f"  noise-free against test_data_set_0: max |diff| / max |ref| = {err:.2e}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
