"""Trains a Fashion-MNIST classifier (a CNN or a small vision transformer) and exports it with
its data sets, for testing dpcc's dynamic-precision noise schedule on real trained models.

Run from anywhere (a few minutes each on 2 CPU cores):
    /usr/bin/python3 tools/train_fmnist.py --arch cnn [--epochs 5] [--out DIR]
    /usr/bin/python3 tools/train_fmnist.py --arch transformer [--epochs 10] [--out DIR]
    /usr/bin/python3 tools/train_fmnist.py --arch resnet50 [--epochs 2] [--out DIR]   (~20 min)

Architectures:
    cnn          Conv(1->32)+BN+ReLU, MaxPool; Conv(32->32)+BN+ReLU, Conv(32->64)+BN+ReLU,
                 MaxPool; Conv(64->64)+BN+ReLU; Flatten (64 x 7 x 7); Linear(3136->128)+ReLU;
                 Linear(128->10)
    transformer  a small pre-norm vision transformer: 7 x 7 patches (16 tokens) cut with
                 Reshape/Transpose, a linear patch embedding (MatMul) to width 64, learned
                 position embeddings, 4 encoder layers (4-head self-attention written as
                 MatMul/Softmax/MatMul over activations, LayerNorm, GELU MLP of width 128),
                 a final LayerNorm, mean pooling over the tokens, Linear(64->10)
    resnet50     torchvision's ResNet-50 (53 convolutions, 16 bottleneck blocks, BatchNorm,
                 residual adds) with a 1-channel stem and a 10-class head, on the 28 x 28
                 images as they are (1 x 1 spatial at the last stage, 64 MMACs an image): a
                 trained ResNet-50, since pretrained ImageNet weights cannot be fetched here

Writes into --out (default models/fmnist_<arch>/; the cnn and the transformer are committed there,
so that the tests never train: see models/README.md):
    model.onnx                        opset 13, input "input" N x 1 x 28 x 28 float32 (dynamic
                                      batch), output "logits" N x 10; BatchNorm nodes are kept,
                                      LayerNorm and GELU are decomposed by the exporter
    calib.npy, calib_labels.npy       1024 test-set images (fixed seed) and labels, for dpcc
                                      --calib: data the network was not trained on, as a user's
                                      calibration data would be (training images, which the
                                      network fits, have wider margins and understate noise)
    test.npy, test_labels.npy         the other 8976 test images, held out from calibration
                                      (float32, labels int64)
    test_data_set_0/input_0.pb        test images 0..7 (ONNX TensorProto named "input")
    test_data_set_0/output_0.pb       PyTorch's eval-mode logits for them (named "logits");
                                      testsuite/run_models.sh checks dprun against these
    info.json                         architecture, PyTorch test accuracy, parameter count,
                                      training time, epochs, seed and versions
Images are normalised as tools/fmnist.py does. Everything is seeded, and training uses a fixed
number of threads (--threads; default 2 for the cnn and resnet50, 1 for the transformer, whose small ops run
faster on one), so a rerun on the same machine gives the same files.
"""
import argparse
import collections
import json
import math
import os
import platform
import time

import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

import fmnist
from train_util import evaluate, export_onnx, save_tensor, train

SEED = 0
TEST_DATA_IMAGES = 8


class FmnistCnn(nn.Module):
    """Four 3x3 convolutions with BatchNorm and ReLU, two max pools, two Linear layers."""

    def __init__(self):
        super().__init__()

        def conv(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        self.features = nn.Sequential(
            *conv(1, 32), nn.MaxPool2d(2),                    # 32 x 14 x 14
            *conv(32, 32), *conv(32, 64), nn.MaxPool2d(2),    # 64 x 7 x 7
            *conv(64, 64))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


class Attention(nn.Module):
    """Multi-head self-attention with explicit MatMul/Softmax (no fused attention op)."""

    def __init__(self, dim, heads, tokens):
        super().__init__()
        self.heads, self.head_dim, self.tokens = heads, dim // heads, tokens
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def split_heads(self, x):
        """N x S x dim -> N x heads x S x head_dim (static shape apart from the batch)."""
        return x.reshape(-1, self.tokens, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x):
        q, k, v = self.split_heads(self.q(x)), self.split_heads(self.k(x)), self.split_heads(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        context = torch.matmul(torch.softmax(scores, dim=-1), v)
        context = context.transpose(1, 2).reshape(-1, self.tokens, self.heads * self.head_dim)
        return self.out(context)


class EncoderLayer(nn.Module):
    """Pre-norm transformer layer: x + attention(LN(x)), then x + MLP(LN(x)) with GELU."""

    def __init__(self, dim, heads, mlp, tokens):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, tokens)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp_in = nn.Linear(dim, mlp)
        self.mlp_out = nn.Linear(mlp, dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp_out(F.gelu(self.mlp_in(self.norm2(x))))


class FmnistViT(nn.Module):
    """Patches -> linear embedding + learned positions -> encoder layers -> LN -> mean -> Linear."""

    def __init__(self, patch=7, dim=64, layers=4, heads=4, mlp=128, classes=10, image=28):
        super().__init__()
        self.patch, self.grid = patch, image // patch
        tokens = self.grid * self.grid
        self.embed = nn.Linear(patch * patch, dim)
        self.positions = nn.Parameter(0.02 * torch.randn(tokens, dim))
        self.layers = nn.ModuleList(EncoderLayer(dim, heads, mlp, tokens) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def patches(self, x):
        """N x 1 x 28 x 28 -> N x tokens x patch*patch, patches in row-major order."""
        g, p = self.grid, self.patch
        x = x.reshape(-1, g, p, g, p).transpose(2, 3)
        return x.reshape(-1, g * g, p * p)

    def forward(self, x):
        x = self.embed(self.patches(x)) + self.positions
        for layer in self.layers:
            x = layer(x)
        return self.head(self.norm(x).mean(dim=1))


def fmnist_resnet50():
    """torchvision's ResNet-50 for 1 x 28 x 28 images and 10 classes."""
    model = torchvision.models.resnet50(num_classes=10)
    model.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model


# name -> (constructor, default epochs, peak learning rate, weight decay, default threads).
# The transformer's many small ops run about 3 times faster on one thread than on two.
ARCHS = {
    "cnn": (FmnistCnn, 5, 3e-3, 1e-4, 2),
    "transformer": (FmnistViT, 10, 3e-3, 5e-2, 1),
    "resnet50": (fmnist_resnet50, 2, 2e-3, 1e-4, 2),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", required=True, choices=sorted(ARCHS))
    ap.add_argument("--epochs", type=int, help="training epochs (default: 5 cnn, 10 transformer, 2 resnet50)")
    ap.add_argument("--out", help="output folder (default models/fmnist_ARCH/ in the repository)")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: 2 cnn and resnet50, 1 transformer)")
    args = ap.parse_args()
    build, default_epochs, lr, weight_decay, default_threads = ARCHS[args.arch]
    epochs = args.epochs or default_epochs
    threads = args.threads or default_threads
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    out = os.path.normpath(args.out or os.path.join(root, "models", f"fmnist_{args.arch}"))

    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)

    start = time.time()
    x_train, y_train = fmnist.load("train")
    x_test, y_test = fmnist.load("t10k")
    load_s = time.time() - start
    print(f"data: train {x_train.shape}, test {x_test.shape} ({load_s:.1f} s)", flush=True)

    model = build()
    params = sum(p.numel() for p in model.parameters())
    print(f"{args.arch}: {params} parameters, {epochs} epochs, peak lr {lr}, weight decay "
          f"{weight_decay}, {threads} threads", flush=True)
    start = time.time()
    train(model, torch.from_numpy(x_train), torch.from_numpy(y_train), epochs,
          lr=lr, weight_decay=weight_decay, seed=SEED)
    train_s = time.time() - start
    start = time.time()
    acc = evaluate(model, torch.from_numpy(x_test), torch.from_numpy(y_test))
    eval_s = time.time() - start
    print(f"training took {train_s:.0f} s; test accuracy {acc:.4f} ({eval_s:.1f} s)", flush=True)

    start = time.time()
    os.makedirs(out, exist_ok=True)
    onnx_path = os.path.join(out, "model.onnx")
    proto = export_onnx(model, torch.from_numpy(x_test[:1]), onnx_path, opset=13, constant_folding=True)
    onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    ops = collections.Counter(n.op_type for n in proto.graph.node)

    fmnist.write_split(out)
    batch = x_test[:TEST_DATA_IMAGES]
    with torch.no_grad():
        logits = model(torch.from_numpy(batch)).numpy()
    data = os.path.join(out, "test_data_set_0")
    save_tensor(os.path.join(data, "input_0.pb"), batch, "input")
    save_tensor(os.path.join(data, "output_0.pb"), logits, "logits")
    info = {
        "arch": args.arch,
        "test_accuracy": acc,
        "test_images": len(x_test),
        "parameters": params,
        "epochs": epochs,
        "peak_lr": lr,
        "weight_decay": weight_decay,
        "seed": SEED,
        "threads": threads,
        "train_seconds": round(train_s, 1),
        "eval_seconds": round(eval_s, 1),
        "onnx_bytes": os.path.getsize(onnx_path),
        "onnx_ops": dict(sorted(ops.items())),
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "machine": platform.machine(),
    }
    with open(os.path.join(out, "info.json"), "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    export_s = time.time() - start

    print(f"wrote {out} ({export_s:.1f} s): model.onnx {os.path.getsize(onnx_path)} bytes, "
          f"calib.npy {fmnist.CALIB_IMAGES} images, test.npy {len(x_test)} images, info.json", flush=True)
    print(f"  ops: {dict(sorted(ops.items()))}", flush=True)
    print(f"  test_data_set_0: predictions {logits.argmax(1).tolist()}, labels "
          f"{y_test[:TEST_DATA_IMAGES].tolist()}", flush=True)
    print(f"{args.arch}: test accuracy {acc:.4f}, {params} parameters, training {train_s:.0f} s "
          f"({epochs} epochs)", flush=True)


if __name__ == "__main__":
    main()
