"""Training, evaluation and ONNX-export helpers shared by train_example.py and train_fmnist.py.

    train(model, x, y, epochs, ...)      AdamW with a one-cycle schedule, seeded shuffling
    evaluate(model, x, y)                top-1 accuracy in eval mode
    export_onnx(model, example, path, ...)
                                         torch.onnx.export with a dynamic batch axis, BatchNorm
                                         kept (TrainingMode.PRESERVE on an eval-mode model)
    save_tensor(path, array, name)       an ONNX TensorProto file (the ONNX test-data format)
"""
import os
import time
import warnings

import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def evaluate(model, x, y, batch=1000):
    """Returns the accuracy of model on (x, y)."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def train(model, x, y, epochs, batch=128, lr=3e-3, weight_decay=1e-4, seed=0):
    """Trains with AdamW and a one-cycle learning-rate schedule peaking at lr, printing progress."""
    gen = torch.Generator().manual_seed(seed)
    steps = epochs * ((len(x) + batch - 1) // batch)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    start = time.time()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        total_loss, seen = 0.0, 0
        for step, i in enumerate(range(0, len(x), batch)):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
            seen += len(idx)
            if step % 100 == 0:
                print(f"  epoch {epoch + 1}/{epochs} step {step}: loss {total_loss / seen:.4f} "
                      f"({time.time() - start:.0f} s)", flush=True)
        print(f"epoch {epoch + 1}: train loss {total_loss / seen:.4f} ({time.time() - start:.0f} s)",
              flush=True)


def export_onnx(model, example, path, opset=13, input_name="input", output_name="logits",
                constant_folding=False):
    """Exports eval-mode model to path with a dynamic batch axis, keeping BatchNorm nodes
    (not folded into the convolutions), and checks the result. Returns the loaded ModelProto."""
    model.eval()
    with warnings.catch_warnings():
        # PRESERVE (on an eval-mode model) keeps the BatchNorm nodes; torch warns about constant
        # folding with it, which matters only for models in training mode.
        warnings.filterwarnings("ignore", message="It is recommended that constant folding be turned off")
        torch.onnx.export(model, example, path, opset_version=opset,
                          input_names=[input_name], output_names=[output_name],
                          dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
                          training=torch.onnx.TrainingMode.PRESERVE,
                          do_constant_folding=constant_folding)
    proto = onnx.load(path)
    onnx.checker.check_model(proto)
    return proto


def save_tensor(path, array, name):
    """Writes array as an ONNX TensorProto file (the ONNX test-data format)."""
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(array, name=name).SerializeToString())
