"""The founding paper's own precision-learning method, a baseline for dpcc's schedule.

Garg et al., "Dynamic Precision Analog Computing for Neural Networks" (arXiv 2102.06365), learn
the photons per MAC n of every analog layer by gradient descent with the network's weights
frozen. This tool does the same on an ONNX model run in PyTorch (onnx_torch.py, the shot noise
of dpcc's paper_shot device), then searches for the least energy that keeps held-out accuracy
within a budget of the noise-free network's:

    /usr/bin/python3 benchmarks/paper/learned.py --model models/fmnist_cnn/model.onnx \
        --train models/fmnist_cnn/calib.npy --train-labels models/fmnist_cnn/calib_labels.npy \
        --test models/fmnist_cnn/test.npy --test-labels models/fmnist_cnn/test_labels.npy \
        --out learned.json [--schedule-out learned.schedule.json] [--batches 300 --search-steps 3]

    # the random-weight BERT-like encoder has no labels: score top-1 agreement with its own
    # noise-free outputs (inputs are token ids)
    ... --model models/bert/model.onnx --train ids_a.npy --test ids_b.npy --agreement

Method. For a target T, every node's log n starts at log(--init-photons) and Adam (lr --lr)
minimises, over --batches batches of --batch-size training inputs (cycled through in a seeded
order), cross-entropy(noisy logits, labels) + --lambda * max(0, log(mean n) - log(T)), mean n
being the MAC-weighted mean over the analog nodes: the hinge lets the network spend photons where
they buy accuracy until the mean reaches T. The held-out set is then run noisy, averaged over
--eval-seeds noise seeds. The search bisects log T between --min-photons and --max-photons for
--search-steps steps, keeping the least T whose accuracy (or agreement) is at most --max-drop
below the noise-free one; if no step meets it, T = --max-photons is trained and reported.

Writes --out (JSON): the settings, the noise-free and noisy scores, every search step, and for
the chosen T each analog node's name, op, MACs per inference and n, and the mean optical energy
(n h c / lambda at 1550 nm, in aJ per MAC); the wall time. --schedule-out is the chosen
schedule for `dpcc --device paper_shot --schedule from:FILE`: repetitions = round(n / step),
at least 1, step being the profile's photons per MAC per repetition (--photon-step, 0.01).
With --per-channel, n is learned per output channel of every Conv, Gemm and MatMul by a weight
(the paper's per-channel option; a product of two activations keeps one n), its mean energy
counts each channel's MACs, and no schedule is written: dpcc's are per layer, so that run is
scored here only, on the same noise model.
Runs are reproducible for a given --seed; torch runs on --threads (1, or 2) threads.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_torch import PHOTON_AJ, OnnxModule  # noqa: E402

EVAL_BATCH = 256


def log(msg):
    print(f"learned: {msg}", file=sys.stderr, flush=True)


def predict(net, x):
    """Logits for all of x, in batches, without gradients."""
    with torch.no_grad():
        return torch.cat([net(x[i:i + EVAL_BATCH]) for i in range(0, len(x), EVAL_BATCH)])


def score(logits, labels):
    return float((logits.argmax(1) == labels).double().mean())


def train(net, target, x, y, args):
    """Learns every node's log n for the target mean photons per MAC; returns the last loss."""
    net.set_photons(args.init_photons)
    net.set_seed(args.seed)
    net.noisy = True
    opt = torch.optim.Adam(net.noise.parameters(), lr=args.lr)
    order = np.random.default_rng(args.seed)
    perm, at = order.permutation(len(x)), 0
    log_target = math.log(target)
    for _ in range(args.batches):
        if at + args.batch_size > len(perm):
            perm, at = order.permutation(len(x)), 0
        idx = torch.from_numpy(perm[at:at + args.batch_size])
        at += args.batch_size
        penalty = torch.relu(torch.log(net.mean_photons()) - log_target)
        loss = F.cross_entropy(net(x[idx]), y[idx]) + args.lam * penalty
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss)


def evaluate(net, x, y, args):
    """Held-out score of the noisy network, one per noise seed (seeds args.seed + 1, + 2, ...)."""
    net.noisy = True
    scores = []
    for k in range(args.eval_seeds):
        net.set_seed(args.seed + 1 + k)
        scores.append(score(predict(net, x), y))
    return scores


def layer_record(m):
    """A node's name, op, MACs and n (per channel: their mean, and their least and most)."""
    rec = dict(name=m.name, op=m.op, macs=int(m.macs), photons=m.photons)
    if m.log_n.dim():
        n = m.log_n.detach().exp()
        rec.update(channels=len(n), photons_min=float(n.min()), photons_max=float(n.max()))
    return rec


def run_target(net, target, data, clean, args):
    """Trains and evaluates at one target; returns the step's record."""
    start = time.time()
    loss = train(net, target, data["train_x"], data["train_y"], args)
    scores = evaluate(net, data["test_x"], data["test_y"], args)
    mean_n = float(net.mean_photons())
    if mean_n > 1.05 * target:
        log(f"warning: mean n {mean_n:.4g} stayed above the target {target:.4g}: more --batches, "
            f"a lower --init-photons or a larger --lambda would let it reach it")
    noisy = float(np.mean(scores))
    step = dict(target_photons=target, mean_photons=mean_n, aj_per_mac=mean_n * PHOTON_AJ,
                noisy=noisy, noisy_per_seed=scores, drop=clean - noisy,
                meets=clean - noisy <= args.max_drop, final_loss=loss,
                layers=[layer_record(m) for m in net.noise],
                seconds=round(time.time() - start, 1))
    log(f"target {target:.4g}: mean n {mean_n:.4g} ({step['aj_per_mac']:.4g} aJ/MAC), "
        f"noisy {noisy:.4f} (noise-free {clean:.4f}), {'meets' if step['meets'] else 'misses'} "
        f"the budget, {step['seconds']} s")
    return step


def search(net, data, clean, args):
    """Bisects log target; returns (all steps, the chosen step)."""
    lo, hi = math.log(args.min_photons), math.log(args.max_photons)
    steps, best = [], None
    for _ in range(args.search_steps):
        mid = 0.5 * (lo + hi)
        step = run_target(net, math.exp(mid), data, clean, args)
        steps.append(step)
        if step["meets"]:
            hi, best = mid, step
        else:
            lo = mid
    if best is None:
        best = run_target(net, args.max_photons, data, clean, args)
        steps.append(best)
    return steps, best


def load(args):
    """The training and held-out tensors; with --agreement, labels are the noise-free top-1."""
    data = {"train_x": torch.from_numpy(np.load(args.train)),
            "test_x": torch.from_numpy(np.load(args.test))}
    if args.test_limit:
        data["test_x"] = data["test_x"][:args.test_limit]
    if not args.agreement:
        data["train_y"] = torch.from_numpy(np.load(args.train_labels)).long()
        data["test_y"] = torch.from_numpy(np.load(args.test_labels)).long()[:len(data["test_x"])]
    return data


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="ONNX model")
    ap.add_argument("--train", required=True, help=".npy inputs the photons are learned on")
    ap.add_argument("--train-labels", help=".npy integer labels of --train")
    ap.add_argument("--test", required=True, help=".npy held-out inputs")
    ap.add_argument("--test-labels", help=".npy integer labels of --test")
    ap.add_argument("--test-limit", type=int, default=0, help="use only the first N held-out inputs")
    ap.add_argument("--agreement", action="store_true",
                    help="score top-1 agreement with the noise-free outputs (no labels)")
    ap.add_argument("--batches", type=int, default=1500)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--lambda", dest="lam", type=float, default=2.0, help="energy penalty weight")
    ap.add_argument("--init-photons", type=float, default=1e4)
    ap.add_argument("--min-photons", type=float, default=0.1, help="search range, low end")
    ap.add_argument("--max-photons", type=float, default=1e4, help="search range, high end")
    ap.add_argument("--search-steps", type=int, default=6)
    ap.add_argument("--max-drop", type=float, default=0.02, help="accuracy budget (0.02 = 2 points)")
    ap.add_argument("--eval-seeds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--photon-step", type=float, default=0.01,
                    help="photons per MAC of one repetition on the paper_shot device")
    ap.add_argument("--threads", type=int, choices=(1, 2), default=1,
                    help="torch threads; 2 are slower than 1 on a busy 2-core machine")
    ap.add_argument("--max-repetitions", type=int, default=1000000,
                    help="the device's repetitions.max (paper_shot's); the schedule is clamped to it")
    ap.add_argument("--per-channel", action="store_true",
                    help="learn n per output channel (the paper's --noise_per_channel); dpcc "
                         "schedules per layer, so no --schedule-out is written")
    ap.add_argument("--out", default="learned.json")
    ap.add_argument("--schedule-out", help="dpcc --schedule from: file (default: OUT.schedule.json)")
    args = ap.parse_args()
    if not args.agreement and not (args.train_labels and args.test_labels):
        ap.error("--train-labels and --test-labels are needed unless --agreement")
    if not 0 < args.min_photons < args.max_photons:
        ap.error("need 0 < --min-photons < --max-photons")
    schedule_out = None if args.per_channel else \
        args.schedule_out or os.path.splitext(args.out)[0] + ".schedule.json"
    torch.set_num_threads(args.threads)
    start = time.time()

    net = OnnxModule(args.model, photons=args.init_photons, per_channel=args.per_channel)
    data = load(args)
    net.noisy = False
    clean_test = predict(net, data["test_x"])  # also records every node's MACs
    if args.agreement:
        data["test_y"] = clean_test.argmax(1)
        data["train_y"] = predict(net, data["train_x"]).argmax(1)
    clean = score(clean_test, data["test_y"])
    metric = "agreement" if args.agreement else "accuracy"
    log(f"{len(net.noise)} analog nodes, {sum(m.macs for m in net.noise) / 1e6:.3f} MMACs per "
        f"inference; noise-free {metric} {clean:.4f} on {len(data['test_x'])} held-out inputs")

    steps, best = search(net, data, clean, args)
    schedule = {"layers": []}
    for layer in best["layers"]:
        reps = max(1, round(layer["photons"] / args.photon_step))
        if reps > args.max_repetitions:
            log(f"warning: {layer['name']}: {reps} repetitions clamped to {args.max_repetitions}")
            reps = args.max_repetitions
        schedule["layers"].append(dict(name=layer["name"], repetitions=reps))
    settings = {k: getattr(args, k) for k in vars(args)}
    settings["lambda"] = settings.pop("lam")
    result = dict(model=args.model, metric=metric, settings=settings,
                  torch_version=torch.__version__, noise_free=clean, noisy=best["noisy"],
                  drop=best["drop"], meets=best["meets"], target_photons=best["target_photons"],
                  mean_photons=best["mean_photons"], aj_per_mac=best["aj_per_mac"],
                  layers=best["layers"], search=steps, schedule_file=schedule_out,
                  wall_seconds=round(time.time() - start, 1))
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    if schedule_out:
        with open(schedule_out, "w") as f:
            json.dump(schedule, f, indent=1)
    log(f"chosen target {best['target_photons']:.4g}: mean n {best['mean_photons']:.4g} photons "
        f"per MAC = {best['aj_per_mac']:.4g} aJ/MAC, {metric} {best['noisy']:.4f} against "
        f"{clean:.4f} noise-free ({'within' if best['meets'] else 'NOT within'} the budget of "
        f"{args.max_drop}); {result['wall_seconds']} s; wrote {args.out}"
        + (f" and {schedule_out}" if schedule_out else ""))


if __name__ == "__main__":
    main()
