"""Exports real architectures with random weights, and PyTorch's outputs, for dpcc's model tests.

Run (the files are large: --out defaults to models/, which git ignores; never commit them):
    /usr/bin/python3 tools/export_models.py [--models resnet50,mobilenet_v2,bert] [--out DIR]
    /usr/bin/python3 tools/export_models.py --tiny [--models ...] [--out DIR]

Models (random weights, no download; BatchNorm running statistics are gathered on random
normal batches so activations have realistic scales; the scales and shifts of BatchNorm and
LayerNorm are drawn around 1 and 0, as in a trained model, rather than left at exactly 1 and 0,
so a compiler that drops them fails the tests; the last BatchNorm of each ResNet residual
branch is scaled down, as training leaves it, see RESIDUAL_BRANCH_SCALE):
    resnet50      torchvision resnet50(), input "input" N x 3 x 224 x 224, output "output", opset 13
    mobilenet_v2  torchvision mobilenet_v2(), same input and output, opset 13
    bert          a BERT-like encoder classifier (4 layers, hidden 256, 4 heads, FFN 1024, vocab
                  1000, post-norm, GELU as Erf), input "input_ids" int64 N x 128, output
                  "logits" N x 2, opset 14, weights (and, unlike BERT's zeros, biases)
                  normal with std 0.02
--tiny writes small versions for the test suite instead: tiny_resnet18 (resnet18 at 64 x 64),
tiny_mobilenet_v2 (width 0.25 at 96 x 96) and tiny_bert (2 layers, hidden 64, sequence 32).

Each model NAME is written as the ONNX backend test suite lays it out:
    OUT/NAME/model.onnx
    OUT/NAME/test_data_set_0/input_0.pb    fixed-seed input (TensorProto named as the graph input)
    OUT/NAME/test_data_set_0/output_0.pb   PyTorch's eval-mode output (named as the graph output)
The batch axis is dynamic; BatchNorm nodes are kept in the graph, not folded.
"""
import argparse
import collections
import math
import os
import time
import warnings

import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from onnx import numpy_helper

SEED = 0
BN_CALIBRATION_BATCHES = 4
BN_CALIBRATION_BATCH_SIZE = 8


class EncoderLayer(nn.Module):
    """One post-norm BERT layer: multi-head self-attention, then a GELU feed-forward."""

    def __init__(self, hidden, heads, ffn, seq_len):
        super().__init__()
        self.heads, self.head_dim, self.seq_len = heads, hidden // heads, seq_len
        self.q = nn.Linear(hidden, hidden)
        self.k = nn.Linear(hidden, hidden)
        self.v = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, hidden)
        self.norm1 = nn.LayerNorm(hidden, eps=1e-12)
        self.ffn_in = nn.Linear(hidden, ffn)
        self.ffn_out = nn.Linear(ffn, hidden)
        self.norm2 = nn.LayerNorm(hidden, eps=1e-12)

    def split_heads(self, x):
        """N x S x hidden -> N x heads x S x head_dim (static shape apart from the batch)."""
        return x.reshape(-1, self.seq_len, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x):
        q, k, v = self.split_heads(self.q(x)), self.split_heads(self.k(x)), self.split_heads(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        context = torch.matmul(torch.softmax(scores, dim=-1), v)
        context = context.transpose(1, 2).reshape(-1, self.seq_len, self.heads * self.head_dim)
        x = self.norm1(x + self.out(context))
        return self.norm2(x + self.ffn_out(F.gelu(self.ffn_in(x))))


class BertClassifier(nn.Module):
    """Token and learned position embeddings, encoder layers, first token -> Linear -> classes."""

    def __init__(self, vocab=1000, hidden=256, layers=4, heads=4, ffn=1024, seq_len=128, classes=2):
        super().__init__()
        self.tokens = nn.Embedding(vocab, hidden)
        self.positions = nn.Parameter(torch.empty(seq_len, hidden))
        self.norm = nn.LayerNorm(hidden, eps=1e-12)
        self.layers = nn.ModuleList(EncoderLayer(hidden, heads, ffn, seq_len) for _ in range(layers))
        self.classifier = nn.Linear(hidden, classes)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.bias, std=0.02)
        nn.init.normal_(self.positions, std=0.02)

    def forward(self, input_ids):
        x = self.norm(self.tokens(input_ids) + self.positions)
        for layer in self.layers:
            x = layer(x)
        return self.classifier(x[:, 0])


def perturb_norm_affine(model, gen):
    """Draws each BatchNorm/LayerNorm scale from 1 + 0.1 N(0,1) and each shift from 0.1 N(0,1)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm)):
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))


# Trained ResNets keep their identity paths dominant: the last BatchNorm of each residual
# branch learns a small scale (He et al. go as far as initialising it to zero, Goyal et al.
# 2017). Random branches at full scale make a 50-layer network chaotic, amplifying any
# rounding difference at its input a hundredfold by the logits, which no trained ResNet does.
RESIDUAL_BRANCH_SCALE = 0.2


def damp_residual_branches(model):
    """Scales the last BatchNorm of each torchvision residual block by RESIDUAL_BRANCH_SCALE."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torchvision.models.resnet.Bottleneck):
                m.bn3.weight.mul_(RESIDUAL_BRANCH_SCALE)
            elif isinstance(m, torchvision.models.resnet.BasicBlock):
                m.bn2.weight.mul_(RESIDUAL_BRANCH_SCALE)


def calibrate_batchnorm(model, image_size, gen):
    """Sets BatchNorm running statistics to cumulative averages over random normal batches."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
        bn.train()
    with torch.no_grad():
        for _ in range(BN_CALIBRATION_BATCHES):
            model(torch.randn(BN_CALIBRATION_BATCH_SIZE, 3, image_size, image_size, generator=gen))
    model.eval()


def vision_model(build, image_size):
    """Returns a builder of (model, input, names, opset) for a torchvision classifier."""
    def make(gen):
        model = build()
        perturb_norm_affine(model, gen)
        damp_residual_branches(model)
        calibrate_batchnorm(model, image_size, gen)
        return model, torch.randn(1, 3, image_size, image_size, generator=gen), ("input", "output"), 13
    return make


def bert_model(**config):
    """Returns a builder of (model, input, names, opset) for BertClassifier(**config)."""
    def make(gen):
        model = BertClassifier(**config).eval()
        perturb_norm_affine(model, gen)
        seq_len = config.get("seq_len", 128)
        ids = torch.randint(0, config.get("vocab", 1000), (1, seq_len), generator=gen)
        return model, ids, ("input_ids", "logits"), 14
    return make


MODELS = {
    "resnet50": vision_model(torchvision.models.resnet50, 224),
    "mobilenet_v2": vision_model(torchvision.models.mobilenet_v2, 224),
    "bert": bert_model(),
}
TINY_MODELS = {
    "resnet50": ("tiny_resnet18", vision_model(torchvision.models.resnet18, 64)),
    "mobilenet_v2": ("tiny_mobilenet_v2",
                     vision_model(lambda: torchvision.models.mobilenet_v2(width_mult=0.25), 96)),
    "bert": ("tiny_bert", bert_model(hidden=64, layers=2, heads=4, ffn=256, seq_len=32)),
}


def save_tensor(path, array, name):
    """Writes array as an ONNX TensorProto file (the ONNX test-data format)."""
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(array, name=name).SerializeToString())


def export(name, make, out):
    """Builds, exports and checks one model; writes its test data set; prints a summary."""
    start = time.time()
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    model, example, (input_name, output_name), opset = make(gen)
    with torch.no_grad():
        expected = model(example)
    built = time.time() - start

    folder = os.path.join(out, name)
    data = os.path.join(folder, "test_data_set_0")
    os.makedirs(data, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    with warnings.catch_warnings():
        # PRESERVE (on an eval-mode model) keeps the BatchNorm nodes; torch warns about constant
        # folding with it, which matters only for models in training mode.
        warnings.filterwarnings("ignore", message="It is recommended that constant folding be turned off")
        torch.onnx.export(model, example, path, opset_version=opset,
                          input_names=[input_name], output_names=[output_name],
                          dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    save_tensor(os.path.join(data, "input_0.pb"), example.numpy(), input_name)
    save_tensor(os.path.join(data, "output_0.pb"), expected.numpy(), output_name)

    proto = onnx.load(path)
    onnx.checker.check_model(proto)
    onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    ops = collections.Counter(n.op_type for n in proto.graph.node)
    params = sum(p.numel() for p in model.parameters())
    print(f"{name}: {os.path.getsize(path) / 1e6:.1f} MB, {params / 1e6:.2f} M parameters, "
          f"build+calibrate {built:.1f} s, export+check {time.time() - start - built:.1f} s; "
          f"output {tuple(expected.shape)} mean {expected.mean():.4f} std {expected.std():.4f}", flush=True)
    print(f"  ops: {dict(sorted(ops.items()))}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ",".join(MODELS))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
    ap.add_argument("--tiny", action="store_true", help="export the small test-suite versions instead")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    torch.use_deterministic_algorithms(True)

    names = [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {','.join(unknown)}; choose from {','.join(MODELS)}")
    out = os.path.normpath(args.out)
    for n in names:
        name, make = TINY_MODELS[n] if args.tiny else (n, MODELS[n])
        export(name, make, out)


if __name__ == "__main__":
    main()
