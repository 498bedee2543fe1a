"""plain.py: every torchvision classification architecture through the plain dpcc command.

    /usr/bin/python3 benchmarks/torchvision/plain.py [--build build] [--out DIR]
                     [--models resnet18,vit_b_16] [--timeout 1800]

For each architecture (one or more per family of torchvision.models, random seeded weights,
since no pretrained weights can be fetched here): exports it with PyTorch at opset 14 and a
small input (64 x 64 for the convolutional networks and the transformers, whose ops do not
depend on the size: vit_b_16 built for 64 x 64 images; 96 for inception_v3, which needs 75;
224 where the architecture fixes it or its adaptive pooling needs a multiple of 7 or 6:
alexnet, vgg, maxvit), runs the plain
    dpcc model.onnx -o model.dp
(no option: synthetic calibration, the default device and budget, the dynamic schedule) and
    dprun model.dp --ideal
and compares dprun's output with PyTorch's. Prints a Markdown table (architecture, ops,
export, dpcc exit status and seconds, analog layers, aJ/MAC, worst relative error), which
benchmarks/results.md carries. Minutes per network on 2 cores: an hour or more in all.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import onnx
import torch
import torchvision
from onnx import numpy_helper

# name -> input side (None: 64)
ARCHS = {
    "alexnet": 224, "vgg11_bn": 224, "resnet18": None, "resnet50": None,
    "resnext50_32x4d": None, "wide_resnet50_2": None, "densenet121": None,
    "squeezenet1_1": None, "googlenet": None, "inception_v3": 96, "mobilenet_v2": None,
    "mobilenet_v3_small": None, "mobilenet_v3_large": None, "mnasnet0_5": None,
    "shufflenet_v2_x0_5": None, "efficientnet_b0": None, "efficientnet_v2_s": None,
    "regnet_x_400mf": None, "regnet_y_400mf": None, "convnext_tiny": None,
    "vit_b_16": 64, "swin_t": 64, "swin_v2_t": 64, "maxvit_t": 224,
}


def build(name):
    kwargs = {}
    if name in ("googlenet", "inception_v3"):
        kwargs["aux_logits"] = False
        kwargs["init_weights"] = True
    if name == "vit_b_16":
        kwargs["image_size"] = 64   # 16 patches of 16 x 16: the same ops as at 224
    return getattr(torchvision.models, name)(**kwargs).eval()


def run(cmd, timeout):
    start = time.time()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return r.returncode, time.time() - start, r.stderr
    except subprocess.TimeoutExpired:
        return "timeout", time.time() - start, ""


def one(name, side, args, tmp):
    torch.manual_seed(0)
    row = {"arch": name}
    model = build(name)
    side = side or 64
    x = torch.randn(1, 3, side, side)
    with torch.no_grad():
        ref = model(x).numpy()
    path = os.path.join(tmp, f"{name}.onnx")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, x, path, opset_version=14, input_names=["input"],
                              output_names=["output"])
    except Exception as e:  # an exporter limit, not dpcc's: reported as such
        row["export"] = f"fails: {str(e).splitlines()[0][:80]}"
        return row
    proto = onnx.load(path)
    row["export"] = f"{side}x{side}"
    row["ops"] = len({n.op_type for n in proto.graph.node})
    np.save(os.path.join(tmp, f"{name}.npy"), x.numpy())
    dp = os.path.join(tmp, f"{name}.dp")
    report = os.path.join(tmp, f"{name}.json")
    rc, secs, err = run([f"{args.build}/dpcc", path, "-o", dp, "--report", report], args.timeout)
    row["dpcc"], row["dpcc_s"] = rc, round(secs)
    row["warning"] = next((l for l in err.splitlines() if "warning" in l), "")[:100]
    if rc != 0:
        row["error"] = err.strip().splitlines()[-1][:160] if err.strip() else ""
        return row
    rep = json.load(open(report))
    row["analog_layers"] = len(rep.get("layers", []))
    row["aj_per_mac"] = rep.get("optical_energy_per_mac_aj")
    out = os.path.join(tmp, f"{name}.out")
    rc, secs, err = run([f"{args.build}/dprun", dp, "--ideal", "-i", os.path.join(tmp, f"{name}.npy"),
                         "-o", out, "--format", "npy"], args.timeout)
    row["dprun"] = rc
    if rc == 0:
        got = np.load(os.path.join(out, "output_0.npy"))
        row["rel_err"] = float(np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-30))
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--models", help="comma-separated subset of: " + ",".join(ARCHS))
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per dpcc or dprun run")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    args = ap.parse_args()
    names = args.models.split(",") if args.models else list(ARCHS)
    torch.set_num_threads(2)
    rows = []
    print("| architecture | input | ops | dpcc | seconds | analog layers | aJ/MAC | --ideal vs PyTorch |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            r = one(name, ARCHS[name], args, tmp)
            rows.append(r)
            err = f"{r['rel_err']:.1e}" if "rel_err" in r else r.get("error", "")
            print(f"| {name} | {r.get('export')} | {r.get('ops', '')} | {r.get('dpcc', '')} | "
                  f"{r.get('dpcc_s', '')} | {r.get('analog_layers', '')} | "
                  f"{r['aj_per_mac']:.3g} | {err} |" if r.get("aj_per_mac") is not None else
                  f"| {name} | {r.get('export')} | {r.get('ops', '')} | {r.get('dpcc', '')} | "
                  f"{r.get('dpcc_s', '')} | {r.get('analog_layers', '')} | | {err} |", flush=True)
            for f in os.listdir(tmp):
                if f.startswith(name + "."):
                    p = os.path.join(tmp, f)
                    subprocess.run(["rm", "-rf", p])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    bad = [r["arch"] for r in rows if r.get("dpcc") != 0 and not str(r.get("export", "")).startswith("fails")]
    print(f"\n{len(rows) - len(bad)} of {len(rows)} compile with the plain command"
          + (f"; failing: {', '.join(bad)}" if bad else ""))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
