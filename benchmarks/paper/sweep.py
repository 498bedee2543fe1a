"""The founding paper's experiment with dpcc: energy against accuracy, dynamic against uniform.

Run through benchmarks/paper/run.sh, which builds dpcc and makes the models first:
    /usr/bin/python3 benchmarks/paper/sweep.py --build build --models models --out OUT \
        [--only NAME,...] [--quick]

For each model, on the default shot-noise-limited profile:
  - the noise-free outputs of the test set (dprun --ideal);
  - a budget sweep of the dynamic schedule (dpcc --budget top1=B): energy per inference,
    optical aJ/MAC, and the test set run noisy on device instances the compiler never saw;
  - a uniform sweep (dpcc --schedule fixed:N for N on a geometric grid, plus the uniform N the
    dynamic compiles found for each budget): the same measurements;
  - energy saved by dynamic against uniform at the same budget, and at equal measured quality:
    the uniform curve interpolated in log-energy at each dynamic point's top-1 agreement with the
    noise-free network (agreement, paired with the clean outputs image by image, resolves a few
    hundredths of a percent on the test sets here; accuracy differences that small drown in the
    test set's sampling error).
Then, on the Fashion-MNIST CNN, the uniform and dynamic sweeps again on the thermal-noise-limited
profile and on a homodyne core with static weight error and detector distortion of half a
quantisation step (static_error.json here), where repetition stops helping.

Labelled models (the Fashion-MNIST ones) are scored by test accuracy; the random-weight models of
tools/export_models.py by top-1 agreement with their own noise-free outputs.

Writes into OUT: results.json (everything measured), CSV files (one per curve), the figures
(PNG and SVG) and table.md, which docs/results.md quotes.
"""
import argparse
import csv
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SEEDS = (101, 102)  # device instances for the test-set runs; dpcc calibrates on 0..
DEFAULT_PROFILE = os.path.join(ROOT, "profiles", "homodyne_shot.json")

# name -> how it is measured. calib/test: images taken from the model's calib.npy/test.npy
# (labelled) or random inputs made here (agreement). budgets: top-1 budgets of the dynamic
# sweep. uniform: the fixed repetition counts of the uniform sweep.
MODELS = {
    "fmnist_cnn": dict(labelled=True, calib=512, test=2000, budgets=(0.005, 0.01, 0.02, 0.05),
                       uniform=(8, 32, 128, 512, 2048)),
    "fmnist_transformer": dict(labelled=True, calib=512, test=2000,
                               budgets=(0.005, 0.01, 0.02, 0.05), uniform=(8, 32, 128, 512, 2048)),
    # top1=0.01 is below this model's converter floor (exit 4, docs/results.md)
    "fmnist_resnet50": dict(labelled=True, calib=256, test=1000, budgets=(0.02, 0.05),
                            uniform=(16, 128, 1024)),
    "bert": dict(labelled=False, calib=64, test=128, budgets=(0.05,), uniform=(16, 128, 1024),
                 tokens=(1000, 128)),
    "resnet50": dict(labelled=False, calib=32, test=32, budgets=(), uniform=(4096,),
                     image=(3, 224, 224)),
}
QUICK = dict(calib=64, test=200, budgets=(0.05,), uniform=(32, 512))
PROFILE_STUDY_MODEL = "fmnist_cnn"
PROFILE_STUDY = {
    "thermal_limited": dict(path=os.path.join(ROOT, "profiles", "thermal_limited.json"),
                            uniform=(1, 4, 16, 64, 256), budgets=(0.01,)),
    "static_error": dict(path=os.path.join(HERE, "static_error.json"),
                         uniform=(8, 32, 128, 512, 2048, 4096), budgets=(0.01,)),
}


def log(msg):
    print(f"paper: {msg}", file=sys.stderr, flush=True)


def run(cmd, ok=(0,)):
    """Runs cmd; returns (exit status, seconds, stderr tail). Raises on statuses not in ok."""
    start = time.time()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    secs = time.time() - start
    if p.returncode not in ok:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr[-800:]}")
    return p.returncode, secs, p.stderr[-800:]


class Model:
    """One model's files and data sets, and the commands that compile and run it."""

    def __init__(self, name, cfg, args, work):
        self.name, self.cfg, self.args = name, cfg, args
        self.dir = os.path.join(args.models, name)
        self.onnx = os.path.join(self.dir, "model.onnx")
        self.work = os.path.join(work, name)
        os.makedirs(self.work, exist_ok=True)
        self.calib = os.path.join(self.work, "calib.npy")
        self.test = os.path.join(self.work, "test.npy")
        rng = np.random.default_rng(0)
        n_calib, n_test = cfg["calib"], cfg["test"]
        if cfg["labelled"]:
            np.save(self.calib, np.load(os.path.join(self.dir, "calib.npy"))[:n_calib])
            np.save(self.test, np.load(os.path.join(self.dir, "test.npy"))[:n_test])
            self.labels = np.load(os.path.join(self.dir, "test_labels.npy"))[:n_test]
        else:
            if "tokens" in cfg:
                vocab, seq = cfg["tokens"]
                data = rng.integers(0, vocab, (n_calib + n_test, seq), dtype=np.int64)
            else:
                data = rng.standard_normal((n_calib + n_test,) + cfg["image"], dtype=np.float32)
            np.save(self.calib, data[:n_calib])
            np.save(self.test, data[n_calib:])
            self.labels = None
        self.clean = None

    def compile(self, tag, profile, schedule_args):
        """dpcc with the calibration set; returns (report dict or None if exit 4, seconds)."""
        dp = os.path.join(self.work, f"{tag}.dp")
        report = os.path.join(self.work, f"{tag}.json")
        cmd = [os.path.join(self.args.build, "dpcc"), self.onnx, "-o", dp, "--calib", self.calib,
               "--device", profile, "--report", report, "-q"] + schedule_args
        status, secs, err = run(cmd, ok=(0, 4))
        if status == 4:
            log(f"{self.name} {tag}: budget unreachable (exit 4): {err.strip().splitlines()[-1]}")
            return None, secs, dp
        with open(report) as f:
            return json.load(f), secs, dp

    def outputs(self, dp, seed, tag):
        """The test set's logits from dprun (noise-free when seed is None)."""
        out = os.path.join(self.work, f"{tag}.out")
        cmd = [os.path.join(self.args.build, "dprun"), dp, "-i", self.test, "-o", out,
               "--format", "npy", "--threads", str(self.args.threads)]
        cmd += ["--ideal"] if seed is None else ["--seed", str(seed)]
        _, secs, _ = run(cmd)
        y = np.load(os.path.join(out, "output_0.npy"))
        return y.reshape(y.shape[0], -1), secs

    def score(self, logits):
        """Accuracy against the labels, or top-1 agreement with the noise-free outputs."""
        ref = self.labels if self.labels is not None else self.clean.argmax(1)
        return float((logits.argmax(1) == ref).mean())

    def measure(self, tag, profile, schedule_args, kind, budget=None):
        """Compiles, runs the test set on each device instance, returns one curve point."""
        rep, compile_s, dp = self.compile(tag, profile, schedule_args)
        point = dict(model=self.name, profile=os.path.basename(profile)[:-5], kind=kind,
                     budget=budget, compile_s=round(compile_s, 1), reachable=rep is not None)
        if rep is None:
            return point
        if self.clean is None:
            self.clean, _ = self.outputs(dp, None, "ideal")
            self.clean_score = self.score(self.clean)
        scores, agree, run_s = [], [], 0.0
        for seed in SEEDS:
            y, secs = self.outputs(dp, seed, f"{tag}.s{seed}")
            scores.append(self.score(y))
            agree.append(float((y.argmax(1) == self.clean.argmax(1)).mean()))
            run_s += secs
        reps = [layer["repetitions"] for layer in rep["layers"]]
        point.update(
            clean_score=self.clean_score, score=float(np.mean(scores)),
            score_std=float(np.std(scores)), agreement=float(np.mean(agree)),
            energy_j=rep["total_energy_j"], optical_aj_per_mac=rep["optical_energy_per_mac_aj"],
            macs=rep["macs"], breakdown=rep["energy_breakdown_j"],
            uniform_repetitions=rep.get("baseline_uniform", {}).get("repetitions"),
            uniform_energy_j=rep.get("baseline_uniform", {}).get("total_energy_j"),
            measured_calib=rep.get("degradation", {}).get("measured"),
            mean_repetitions=float(np.average(reps, weights=[l["macs"] for l in rep["layers"]])),
            layers=[dict(name=l["name"], op=l["op"], macs=l["macs"], repetitions=l["repetitions"],
                         effective_bits=l["effective_bits"], sensitivity=l.get("sensitivity"))
                    for l in rep["layers"]],
            run_s=round(run_s, 1))
        log(f"{self.name} {tag}: score {point['score']:.4f} (clean {self.clean_score:.4f}), "
            f"{point['energy_j']:.4g} J, {point['optical_aj_per_mac']:.4g} aJ/MAC, "
            f"compile {compile_s:.0f} s, runs {run_s:.0f} s")
        return point


def sweep(model, profile, budgets, uniform):
    """The dynamic budget sweep, then the uniform one (the grid and the baselines found)."""
    points = []
    for b in budgets:
        points.append(model.measure(f"{os.path.basename(profile)[:-5]}.dyn{b}", profile,
                                    ["--budget", f"top1={b}"], "dynamic", b))
    found = {p["uniform_repetitions"] for p in points if p.get("uniform_repetitions")}
    for n in sorted(set(uniform) | found):
        points.append(model.measure(f"{os.path.basename(profile)[:-5]}.uni{n}", profile,
                                    ["--schedule", f"fixed:{n}"], "uniform"))
        points[-1]["repetitions"] = n
    return points


def uniform_energy_at(points, agreement):
    """Energy of the uniform curve at a measured agreement: log-linear interpolation between
    the cheapest uniform point that reaches it and the dearest one below; None past the curve."""
    uni = sorted((p["energy_j"], p["agreement"]) for p in points
                 if p["kind"] == "uniform" and p["reachable"])
    best = -1.0
    hull = []  # the curve made monotone: more energy never scores less
    for e, s in uni:
        best = max(best, s)
        hull.append((e, best))
    for (e0, s0), (e1, s1) in zip([(0.0, -1.0)] + hull, hull):
        if s1 >= agreement:
            if s0 < 0 or s1 == s0:
                return e1
            t = (agreement - s0) / (s1 - s0)
            return math.exp(math.log(e0) + t * (math.log(e1) - math.log(e0)))
    return None


def summarise(points):
    """Adds the savings to each dynamic point."""
    for p in points:
        if p["kind"] != "dynamic" or not p["reachable"]:
            continue
        same_budget = [q for q in points if q["kind"] == "uniform" and q["reachable"]
                       and q.get("repetitions") == p["uniform_repetitions"]]
        if same_budget:
            q = same_budget[0]
            p["uniform_same_budget"] = dict(repetitions=q["repetitions"], score=q["score"],
                                            agreement=q["agreement"], energy_j=q["energy_j"])
            p["saved_same_budget"] = 1 - p["energy_j"] / q["energy_j"]
        e = uniform_energy_at([q for q in points if q["profile"] == p["profile"]], p["agreement"])
        p["uniform_energy_equal_score"] = e
        p["saved_equal_score"] = None if e is None else 1 - p["energy_j"] / e


def write_csv(path, points):
    keys = ["model", "profile", "kind", "budget", "repetitions", "reachable", "clean_score",
            "score", "score_std", "agreement", "energy_j", "optical_aj_per_mac",
            "mean_repetitions", "saved_same_budget", "saved_equal_score", "compile_s", "run_s"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, keys, extrasaction="ignore")
        w.writeheader()
        for p in points:
            w.writerow(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--models", default=os.path.join(ROOT, "models"))
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--only", help="comma-separated model names (default: every model present)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--quick", action="store_true", help="tiny sets and one budget: a smoke test")
    ap.add_argument("--no-profiles", action="store_true", help="skip the profile study")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    names = args.only.split(",") if args.only else list(MODELS)
    start = time.time()
    results = dict(machine=dict(platform=platform.platform(), cpus=os.cpu_count(),
                                processor=platform.processor()),
                   seeds=list(SEEDS), models={}, profiles={})
    previous = os.path.join(args.out, "results.json")
    if args.only and os.path.isfile(previous):
        # a partial rerun updates the models it names and keeps the others' results
        with open(previous) as f:
            old = json.load(f)
        results["models"], results["profiles"] = old["models"], old["profiles"]
    with tempfile.TemporaryDirectory(prefix="dpcc-paper-") as work:
        for name in names:
            if name not in MODELS:
                sys.exit(f"paper: unknown model {name}; known: {', '.join(MODELS)}")
            if not os.path.isfile(os.path.join(args.models, name, "model.onnx")):
                log(f"{name}: not in {args.models}, skipped")
                continue
            cfg = dict(MODELS[name], **(QUICK if args.quick else {}))
            if name == "resnet50" and args.quick:
                cfg.update(calib=4, test=4, budgets=())
            t0 = time.time()
            model = Model(name, cfg, args, work)
            points = sweep(model, DEFAULT_PROFILE, cfg["budgets"], cfg["uniform"])
            summarise(points)
            results["models"][name] = dict(labelled=cfg["labelled"], calib=cfg["calib"],
                                           test=cfg["test"], points=points,
                                           seconds=round(time.time() - t0))
            write_csv(os.path.join(args.out, f"{name}.csv"), points)
            log(f"{name}: {time.time() - t0:.0f} s")
        if not args.no_profiles and PROFILE_STUDY_MODEL in names and \
                PROFILE_STUDY_MODEL in results["models"]:
            cfg = dict(MODELS[PROFILE_STUDY_MODEL], **(QUICK if args.quick else {}))
            model = Model(PROFILE_STUDY_MODEL, cfg, args, work)
            for prof, pc in PROFILE_STUDY.items():
                t0 = time.time()
                budgets = pc["budgets"][:1] if args.quick else pc["budgets"]
                uniform = pc["uniform"][::2] if args.quick else pc["uniform"]
                points = sweep(model, pc["path"], budgets, uniform)
                summarise(points)
                results["profiles"][prof] = dict(model=PROFILE_STUDY_MODEL, points=points,
                                                 seconds=round(time.time() - t0))
                write_csv(os.path.join(args.out, f"{PROFILE_STUDY_MODEL}.{prof}.csv"), points)
                log(f"profile {prof}: {time.time() - t0:.0f} s")
    results["seconds"] = sum(r["seconds"] for r in results["models"].values()) + \
        sum(r["seconds"] for r in results["profiles"].values())
    with open(previous, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    log(f"done in {time.time() - start:.0f} s: {previous}")


if __name__ == "__main__":
    main()
