"""Checks that dprun's paper_shot device and benchmarks/paper/onnx_torch.py simulate the same noise.

    /usr/bin/python3 testsuite/paper_noise_test.py BUILD_DIR MODEL.onnx [--repetitions K]
        [--inputs I] [--samples S] [--torch-samples T] [--torch-photon-scale F]

The model is compiled for profiles/paper_shot.json with `--schedule fixed:K` (default 1000), so
every analog layer has n = K x 0.01 photons per MAC, and dprun runs each of I inputs S times in one
batch (every inference index draws its own noise; two dprun seeds, S/2 copies each). onnx_torch.py
runs the same inputs T times at the same n. The inputs are the model's calib.npy images 16 to
16 + I (seeded normals where it has none); dpcc calibrates on images 0 to 15 and the inputs.
For every output element of every input the two sides' means and variances over the draws must
agree within their Monte Carlo errors: the mean's standard error is sqrt(var / S), the
variance's sqrt((m4 - var^2 (S-3)/(S-1)) / S) with m4 the central fourth moment, which is
var sqrt(2 / (S-1)) for Gaussian outputs and stays right for the skewed, heavy-tailed outputs a
nonlinear network makes. The tolerance on each z-score is 4.5, or the Bonferroni bound for a
0.1% chance of a false failure over all elements where that is larger. Seeds are fixed, so a
run's verdict is stable.

The paper's model has no converters; paper_shot's are 22 bits wide with 16 times the calibrated
range (converters.headroom), so that nothing clips: with the ranges at the calibrated quantiles
the clipped 0.01% made dprun's output variance 4% lower than PyTorch's, and this test failed.

--torch-photon-scale F runs the PyTorch side at F n instead: with F = 1.25 the test must fail,
which shows it can tell a wrong photon count.

Prints the worst z-scores and one PASS or FAIL line; exit status 0 on pass, 1 on failure, 77
(ctest: skipped) when the model has not been made.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import torch

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "benchmarks", "paper"))
from onnx_torch import OnnxModule  # noqa: E402

PROFILE = os.path.join(ROOT, "profiles", "paper_shot.json")
PHOTON_STEP = 0.01  # the profile's photons per MAC of one repetition
DPRUN_SEEDS = (11, 12)
TORCH_SEED = 7
CALIB_SIZE = 16


def fail(msg):
    print(f"paper_noise_test: FAIL: {msg}", flush=True)
    sys.exit(1)


def model_inputs(model, count):
    """count inputs and a small calibration set: the model's calib.npy, else seeded normals."""
    calib = os.path.join(os.path.dirname(model), "calib.npy")
    if os.path.exists(calib):
        data = np.load(calib)[:CALIB_SIZE + count].astype(np.float32)
        return data[CALIB_SIZE:], data[:CALIB_SIZE]
    graph = onnx.load(model, load_external_data=False).graph
    inits = {t.name for t in graph.initializer}
    dims = next(v for v in graph.input if v.name not in inits).type.tensor_type.shape.dim
    shape = [d.dim_value or 1 for d in dims][1:]
    data = np.random.default_rng(0).standard_normal([CALIB_SIZE + count] + shape).astype(np.float32)
    return data[CALIB_SIZE:], data[:CALIB_SIZE]


def run_dprun(build, model, x, calib, repetitions, samples, tmp):
    """Compiles for paper_shot and returns dprun's outputs, inputs x len(x) x samples x ..."""
    np.save(os.path.join(tmp, "calib.npy"), calib)
    program = os.path.join(tmp, "m.dp")
    cmd = [os.path.join(build, "dpcc"), model, "-o", program, "--device", PROFILE, "-q",
           "--calib", os.path.join(tmp, "calib.npy"), "--schedule", f"fixed:{repetitions}"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        fail(f"dpcc exited {p.returncode}: {p.stderr.strip()[-2000:]}")
    half = samples // len(DPRUN_SEEDS)
    batch = np.repeat(x, half, axis=0)
    np.save(os.path.join(tmp, "x.npy"), batch)
    outs = []
    for seed in DPRUN_SEEDS:
        out = os.path.join(tmp, f"out{seed}")
        cmd = [os.path.join(build, "dprun"), program, "-i", os.path.join(tmp, "x.npy"), "-o", out,
               "--format", "npy", "--seed", str(seed)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode:
            fail(f"dprun exited {p.returncode}: {p.stderr.strip()[-2000:]}")
        y = np.load(os.path.join(out, "output_0.npy")).astype(np.float64)
        outs.append(y.reshape((len(x), half) + y.shape[1:]))
    return np.concatenate(outs, axis=1)


def run_torch(model, x, photons, samples):
    """onnx_torch.py's noisy outputs, inputs x len(x) x samples x ..."""
    net = OnnxModule(model, photons=photons)
    net.set_seed(TORCH_SEED)
    batch = torch.from_numpy(np.repeat(x, samples, axis=0))
    with torch.no_grad():
        y = torch.cat([net(batch[i:i + 512]) for i in range(0, len(batch), 512)])
    y = y.double().numpy()
    return y.reshape((len(x), samples) + y.shape[1:])


def moments(y):
    """Per element over axis 1: (samples, mean, unbiased variance, variance's squared std. error)."""
    s = y.shape[1]
    mean = y.mean(1)
    d = y - mean[:, None]
    var = (d ** 2).sum(1) / (s - 1)
    m4 = (d ** 4).mean(1)
    return s, mean, var, np.maximum(m4 - var ** 2 * (s - 3) / (s - 1), 0) / s


def z_scores(a, b):
    """Per element z-scores of the difference in mean and in variance between samples a and b."""
    sa, ma, va, ea = moments(a)
    sb, mb, vb, eb = moments(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        z_mean = (ma - mb) / np.sqrt(va / sa + vb / sb)
        z_var = (va - vb) / np.sqrt(ea + eb)
    return np.nan_to_num(z_mean, nan=np.inf), np.nan_to_num(z_var, nan=np.inf), va, vb


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build", help="folder holding dpcc and dprun")
    ap.add_argument("model", help="a small ONNX model (models/fmnist_cnn or models/tiny_resnet18)")
    ap.add_argument("--repetitions", type=int, default=1000, help="K of fixed:K; n = K x 0.01")
    ap.add_argument("--inputs", type=int, default=4)
    ap.add_argument("--samples", type=int, default=600, help="dprun draws per input")
    ap.add_argument("--torch-samples", type=int, default=2400, help="PyTorch draws per input")
    ap.add_argument("--torch-photon-scale", type=float, default=1.0,
                    help="run PyTorch at this multiple of n (1.25 must fail)")
    args = ap.parse_args()
    if not os.path.isfile(args.model):
        print(f"paper_noise_test: skipped: no {args.model} (tools/train_fmnist.py makes it)")
        return 77
    torch.set_num_threads(1)
    start = time.time()
    for tool in ("dpcc", "dprun"):
        if not os.access(os.path.join(args.build, tool), os.X_OK):
            fail(f"no {tool} in {args.build}")
    if not os.path.exists(PROFILE):
        fail(f"{PROFILE} does not exist")

    photons = args.repetitions * PHOTON_STEP
    x, calib = model_inputs(args.model, args.inputs)
    # The inputs under test are calibrated on too, so that their noise-free values are inside
    # the converters' calibrated ranges.
    calib = np.concatenate([calib, x])
    with tempfile.TemporaryDirectory(prefix="paper_noise_") as tmp:
        dp = run_dprun(args.build, args.model, x, calib, args.repetitions, args.samples, tmp)
    pt = run_torch(args.model, x, photons * args.torch_photon_scale, args.torch_samples)
    if dp.shape[2:] != pt.shape[2:]:
        fail(f"output shapes differ: dprun {dp.shape[2:]}, PyTorch {pt.shape[2:]}")

    z_mean, z_var, v_dp, v_pt = z_scores(dp.reshape(len(x), dp.shape[1], -1),
                                         pt.reshape(len(x), pt.shape[1], -1))
    elements = z_mean.size
    tol = max(4.5, statistics.NormalDist().inv_cdf(1 - 0.001 / (4 * elements)))
    ratio = v_dp / v_pt
    worst_m = np.unravel_index(np.argmax(np.abs(z_mean)), z_mean.shape)
    worst_v = np.unravel_index(np.argmax(np.abs(z_var)), z_var.shape)
    print(f"paper_noise_test: {args.model}, n = {photons:g} photons per MAC (fixed:{args.repetitions}), "
          f"PyTorch at {args.torch_photon_scale:g} n; {len(x)} inputs x {z_mean.shape[1]} outputs, "
          f"{dp.shape[1]} dprun and {pt.shape[1]} PyTorch draws each")
    print(f"  noise std (dprun) median {np.median(np.sqrt(v_dp)):.4g}, against |mean| median "
          f"{np.median(np.abs(dp.mean(1))):.4g}; variance ratio dprun/PyTorch median "
          f"{np.median(ratio):.4f}, range [{ratio.min():.4f}, {ratio.max():.4f}]")
    print(f"  worst mean z {z_mean[worst_m]:+.2f} (input {worst_m[0]}, output {worst_m[1]}); worst "
          f"variance z {z_var[worst_v]:+.2f} (input {worst_v[0]}, output {worst_v[1]}); tolerance "
          f"{tol:.2f}; {time.time() - start:.1f} s")
    if not (np.all(v_dp > 0) and np.all(v_pt > 0)):
        fail("an output has no noise on one side")
    if max(np.abs(z_mean).max(), np.abs(z_var).max()) > tol:
        fail(f"worst |z| {max(np.abs(z_mean).max(), np.abs(z_var).max()):.2f} > {tol:.2f}")
    print("paper_noise_test: PASS", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
