#!/usr/bin/python3
"""qdq_example.py: the bundled Fashion-MNIST CNN quantized (QDQ) against its float version,
both compiled with dpcc on the same calibration data and budget: accuracy and energy.

    /usr/bin/python3 tools/qdq_example.py [--build build] [--budget accuracy=0.02]
                                         [--device NAME] [--keep DIR] [--uniform N,...]

The float model is examples/fmnist_cnn.onnx; the quantized one its QDQ version from
tools/make_qdq_model.py (testsuite/data/qdq/test_fmnist_cnn_qdq: BatchNorm folded, uint8
activations, int8 per-channel weights), whose analog layers take their converters' ranges
from its scales. Each is compiled with

    dpcc MODEL -o m.dp --calib calib.npy --labels calib_labels.npy --budget BUDGET --report r.json

on the 1,024 calibration images of the Fashion-MNIST test set (tools/fmnist.py's split), then
run on the other 8,976 with dprun --ideal (the noise-free arithmetic) and on the noisy device
(seed 0). Prints a Markdown table: test accuracy of both runs, the report's optical energy per
MAC and total energy per inference, and each layer's repetitions N. About two minutes on two
cores. Needs Debian's dataset-fashion-mnist.

With --uniform N,..., each is compiled instead with --schedule fixed:N (the same light in
every layer) for each N, and run noisy and --ideal on the first 2,048 held-out images: the
table gives the logits' MSE against the noise-free ones, normalised by their variance, and
the fraction of top-1 classes the noise changed. It shows how each model's noise falls with
the light it is given.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import fmnist  # noqa: E402  (tools/ is not a package)

MODELS = (("float, calibrated", os.path.join(TOP, "examples", "fmnist_cnn.onnx")),
          ("QDQ (uint8/int8)", os.path.join(TOP, "testsuite", "data", "qdq",
                                             "test_fmnist_cnn_qdq", "model.onnx")))


def accuracy(build, prog, images, labels, work, ideal):
    out = os.path.join(work, "ideal" if ideal else "noisy")
    subprocess.run([os.path.join(build, "dprun"), prog, "-i", images, "-o", out,
                    "--format", "npy"] + (["--ideal"] if ideal else []), check=True)
    return float((np.load(os.path.join(out, "output_0.npy")).argmax(axis=1) == labels).mean())


def uniform_noise(args, work, counts):
    """The --uniform table: normalised logit MSE and top-1 changes per model and N."""
    images = os.path.join(work, "uniform.npy")
    np.save(images, np.load(os.path.join(work, "test.npy"))[:2048])
    print("| N | model | normalised MSE | top-1 changed |")
    print("|---|---|---|---|")
    for n in counts:
        for k, (label, model) in enumerate(MODELS):
            sub = os.path.join(work, "uniform%d_%s" % (k, n))
            prog = os.path.join(sub, "m.dp")
            os.makedirs(sub, exist_ok=True)
            cmd = [os.path.join(args.build, "dpcc"), model, "-o", prog, "-q",
                   "--calib", os.path.join(work, "calib.npy"), "--schedule", "fixed:" + n]
            subprocess.run(cmd + (["--device", args.device] if args.device else []), check=True)
            logits = []
            for ideal in (True, False):
                out = os.path.join(sub, "ideal" if ideal else "noisy")
                subprocess.run([os.path.join(args.build, "dprun"), prog, "-i", images, "-o", out,
                                "--format", "npy"] + (["--ideal"] if ideal else []), check=True)
                logits.append(np.load(os.path.join(out, "output_0.npy")).astype(np.float64))
            clean, noisy = logits
            print("| %s | %s | %.3g | %.2f%% |" % (
                n, label, ((noisy - clean) ** 2).mean() / clean.var(),
                100 * (noisy.argmax(axis=1) != clean.argmax(axis=1)).mean()))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(TOP, "build"),
                    help="folder holding dpcc and dprun")
    ap.add_argument("--budget", default="accuracy=0.02", help="dpcc --budget")
    ap.add_argument("--device", help="dpcc --device (default: dpcc's)")
    ap.add_argument("--keep", help="write the data, programs and reports here, not to a temporary "
                                   "folder")
    ap.add_argument("--uniform", help="compile with these fixed repetition counts (comma-"
                                      "separated) and measure the noise instead")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or tmp
        os.makedirs(work, exist_ok=True)
        fmnist.write_split(work)
        if args.uniform:
            return uniform_noise(args, work, args.uniform.split(","))
        labels = np.load(os.path.join(work, "test_labels.npy"))
        rows = []
        for k, (label, model) in enumerate(MODELS):
            sub = os.path.join(work, "model%d" % k)
            os.makedirs(sub, exist_ok=True)
            prog, report = os.path.join(sub, "m.dp"), os.path.join(sub, "report.json")
            cmd = [os.path.join(args.build, "dpcc"), model, "-o", prog, "-q",
                   "--calib", os.path.join(work, "calib.npy"),
                   "--labels", os.path.join(work, "calib_labels.npy"),
                   "--budget", args.budget, "--report", report]
            cmd += ["--device", args.device] if args.device else []
            start = time.time()
            subprocess.run(cmd, check=True)
            seconds = time.time() - start
            r = json.load(open(report))
            test = os.path.join(work, "test.npy")
            rows.append((label, accuracy(args.build, prog, test, labels, sub, True),
                         accuracy(args.build, prog, test, labels, sub, False),
                         r["optical_energy_per_mac_aj"], r["total_energy_j"],
                         r["degradation"]["measured"],
                         " ".join(str(layer["repetitions"]) for layer in r["layers"]), seconds,
                         r["device"]))
    print("Fashion-MNIST CNN (examples/fmnist_cnn.onnx), --budget %s, device %s; "
          "%d held-out test images\n" % (args.budget, rows[0][8], len(labels)))
    print("| model | accuracy --ideal | accuracy noisy | optical aJ/MAC | total J/inference | "
          "measured drop (calib) | N per layer | compile s |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| %s | %.2f%% | %.2f%% | %.2f | %.3g | %.2f%% | %s | %.0f |" % (
            row[0], 100 * row[1], 100 * row[2], row[3], row[4], 100 * row[5], row[6], row[7]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
