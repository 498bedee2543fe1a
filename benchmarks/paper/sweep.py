"""The founding paper's experiment with dpcc: energy against held-out score, dpcc's dynamic
schedule against uniform precision and against the paper's own learned precision.

Run through benchmarks/paper/run.sh, which builds dpcc and makes the models first:
    /usr/bin/python3 benchmarks/paper/sweep.py --build build --models models --out OUT \
        [--only NAME,...] [--profiles NAME,...] [--quick] [--learned-batches N]
        [--learned-steps K] [--budgets B,...]

Every model is measured on two device profiles: paper_shot (the paper's shot-noise regime,
photons per MAC set per layer in steps of 0.01: --schedule fixed:100 is 1 photon per MAC) and
homodyne_shot (the default 8-bit homodyne core). On each:
  - the noise-free outputs of the test set (dprun --ideal) and the clean score;
  - dpcc's dynamic schedule at the paper's criterion, an accuracy drop of at most 2 points on
    the calibration set (--budget accuracy=0.02 --labels; BERT, which has no labels: top1=0.02),
    and a small budget sweep around it: compile wall time, the report's energy figures and
    per-layer schedule, and the test set run noisy on device instances 101 and 102, which
    compilation never uses;
  - uniform precision: the compiler's own uniform baseline for each budget
    (report.baseline_uniform.repetitions) and a grid of uniform N, each compiled as
    --schedule fixed:N and scored the same way;
  - energy saved by dynamic against uniform at the same budget, and at equal held-out score:
    the uniform curve (made monotone) interpolated in log-energy at the dynamic point's score.
On paper_shot, also the paper's learned precision (learned.py beside this file: log n per layer
trained with frozen weights, its energy target bisected for a drop of at most 2 points on a
validation split): its wall time, its schedule compiled with --schedule from:FILE and scored on
the same test set and device instances, and the dpcc/learned energy ratio. learned.py runs the
paper's 1500 batches of 32 and 6 search steps where this machine affords them (MODELS says where
not), with Adam's learning rate 15 / batches: the paper's 0.01 at 1500 batches.

Data: labelled models (the Fashion-MNIST ones) calibrate on the first images of calib.npy and
its labels; the test set is the first images of test.npy and learned.py's validation split the
next ones, so neither method sees the test images. They are scored by test accuracy. The
random-weight BERT-like encoder gets random token ids and is scored by top-1 agreement with its
own noise-free outputs.

Writes into OUT: results.json (everything measured), MODEL.PROFILE.csv (one row per compiled
schedule), and, through plot.py, the figures and table.md.
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
SEEDS = (101, 102)  # device instances of the test-set runs; dpcc's own measurements use 0..
CRITERION = 0.02    # the paper's: at most 2 points of accuracy lost

# name -> data sizes, learned.py's run, and where a model departs from PROFILES. calib: dpcc's
# calibration set, also learned.py's training set; test: the held-out set every schedule is
# scored on; val: learned.py's validation split (its search). learned: batches (of batch_size)
# and search steps; the paper's 1500 x 32 and 6 where this 2-core machine allows.
PAPER_LEARNED = dict(batches=1500, steps=6, batch_size=32)
MODELS = {
    "fmnist_cnn": dict(labelled=True, calib=512, test=2000, val=2000, learned=PAPER_LEARNED),
    "fmnist_transformer": dict(labelled=True, calib=512, test=2000, val=2000,
                               learned=PAPER_LEARNED),
    # Its dynamic compiles take about 8 minutes each, its uniform ones 2 (256 calibration
    # images), and a training batch of learned.py about 0.4 s: two budgets, half the uniform
    # grid, a fifth of the paper's batches. accuracy=0.01 is near its 8-bit converter floor.
    "fmnist_resnet50": dict(labelled=True, calib=256, test=1000, val=1000,
                            learned=dict(PAPER_LEARNED, batches=300),
                            budgets=(CRITERION, 0.05),
                            uniform={"paper_shot": (100, 1000, 10000, 100000),
                                     "homodyne_shot": (4, 64, 1024)}),
    # A learned.py batch of 32 sequences costs about 10 CPU seconds (436 MMACs a sequence):
    # 60 batches of 8 and 4 search steps keep its run near a quarter of an hour
    "bert": dict(labelled=False, calib=64, test=128, val=128, tokens=(1000, 128),
                 learned=dict(batches=60, steps=4, batch_size=8)),
}
# profile -> budgets of the dynamic sweep, the uniform grid (N), and the light of one step of N
# under photon precision (None: N counts repetitions).
PROFILES = {
    # 0.3, 1, 3, 10, 30, 100, 300, 1000 photons per MAC
    # dense around the criterion: the curve is steep there, and dpcc's energy at the learned
    # baseline's score is read off it by interpolation
    "paper_shot": dict(budgets=(0.01, CRITERION, 0.025, 0.03, 0.04, 0.05),
                       uniform=(30, 100, 300, 1000, 3000, 10000, 30000, 100000), step=0.01),
    "homodyne_shot": dict(budgets=(0.01, CRITERION, 0.05), uniform=(1, 4, 16, 64, 256, 1024),
                          step=None),
}
LEARNED_PROFILE = "paper_shot"
# Adam's learning rate is scaled so that log n can travel as far as in the paper's 1500
# batches at 0.01, from learned.py's initial 1e4 photons to its lowest targets, in fewer batches.
PAPER_TRAVEL = 1500 * 0.01
QUICK_DATA = dict(calib=64, test=200, val=200)
QUICK_LEARNED = dict(batches=40, steps=2, batch_size=32)
QUICK_UNIFORM = {"paper_shot": (100, 10000), "homodyne_shot": (4, 256)}


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
    """One model's files and data sets, and the commands that compile, run and score it."""

    def __init__(self, name, cfg, args, work):
        self.name, self.cfg, self.args = name, cfg, args
        self.dir = os.path.join(args.models, name)
        self.onnx = os.path.join(self.dir, "model.onnx")
        self.work = os.path.join(work, name)
        os.makedirs(self.work, exist_ok=True)
        self.files = {k: os.path.join(self.work, f"{k}.npy") for k in
                      ("calib", "calib_labels", "test", "val", "val_labels")}
        n_calib, n_test, n_val = cfg["calib"], cfg["test"], cfg["val"]
        if cfg["labelled"]:
            calib = np.load(os.path.join(self.dir, "calib.npy"))[:n_calib]
            calib_labels = np.load(os.path.join(self.dir, "calib_labels.npy"))[:n_calib]
            test = np.load(os.path.join(self.dir, "test.npy"), mmap_mode="r")
            test_labels = np.load(os.path.join(self.dir, "test_labels.npy"))
            if len(test) < n_test + n_val:
                sys.exit(f"paper: {name}: test.npy has {len(test)} images, "
                         f"{n_test + n_val} needed")
            np.save(self.files["calib"], calib)
            np.save(self.files["calib_labels"], calib_labels)
            np.save(self.files["test"], np.asarray(test[:n_test]))
            np.save(self.files["val"], np.asarray(test[n_test:n_test + n_val]))
            np.save(self.files["val_labels"], test_labels[n_test:n_test + n_val])
            self.labels = test_labels[:n_test]
        else:
            vocab, seq = cfg["tokens"]
            ids = np.random.default_rng(0).integers(0, vocab, (n_calib + n_test + n_val, seq),
                                                    dtype=np.int64)
            np.save(self.files["calib"], ids[:n_calib])
            np.save(self.files["test"], ids[n_calib:n_calib + n_test])
            np.save(self.files["val"], ids[n_calib + n_test:])
            self.labels = None
        self.clean = self.clean_score = None

    def budget_args(self, budget):
        if self.cfg["labelled"]:
            return ["--budget", f"accuracy={budget}", "--labels", self.files["calib_labels"]]
        return ["--budget", f"top1={budget}"]

    def compile(self, tag, profile, schedule_args):
        """dpcc with the calibration set; returns (report dict, or None on exit 4, seconds, .dp)."""
        dp = os.path.join(self.work, f"{tag}.dp")
        report = os.path.join(self.work, f"{tag}.json")
        cmd = [os.path.join(self.args.build, "dpcc"), self.onnx, "-o", dp,
               "--calib", self.files["calib"], "--device", profile, "--report", report, "-q",
               "-j", str(self.args.threads)] + schedule_args
        status, secs, err = run(cmd, ok=(0, 4))
        if status == 4:
            log(f"{self.name} {tag}: budget unreachable (exit 4): {err.strip().splitlines()[-1]}")
            return None, secs, dp
        with open(report) as f:
            return json.load(f), secs, dp

    def outputs(self, dp, seed, tag):
        """The test set's logits from dprun (noise-free when seed is None), and the seconds."""
        out = os.path.join(self.work, f"{tag}.out")
        cmd = [os.path.join(self.args.build, "dprun"), dp, "-i", self.files["test"], "-o", out,
               "--format", "npy", "--threads", str(self.args.threads)]
        cmd += ["--ideal"] if seed is None else ["--seed", str(seed)]
        _, secs, _ = run(cmd)
        y = np.load(os.path.join(out, "output_0.npy"))
        return y.reshape(y.shape[0], -1), secs

    def score(self, logits):
        """Accuracy against the labels, or top-1 agreement with the noise-free outputs."""
        ref = self.labels if self.labels is not None else self.clean.argmax(1)
        return float((logits.argmax(1) == ref).mean())

    def measure(self, profile, tag, kind, schedule_args, budget=None):
        """Compiles, runs the test set on each device instance, returns one curve point.
        Every compile of a profile carries a budget, so that the report's measured degradation
        on the calibration set is in the same metric for every schedule."""
        extra = self.budget_args(CRITERION if budget is None else budget)
        rep, compile_s, dp = self.compile(f"{profile}.{tag}", profile, schedule_args + extra)
        point = dict(model=self.name, profile=profile, kind=kind, tag=tag, budget=budget,
                     compile_s=round(compile_s, 1), reachable=rep is not None)
        if rep is None:
            return point
        if self.clean is None:
            self.clean, _ = self.outputs(dp, None, f"{profile}.ideal")
            self.clean_score = self.score(self.clean)
        scores, agree, run_s = [], [], 0.0
        for seed in SEEDS:
            y, secs = self.outputs(dp, seed, f"{profile}.{tag}.s{seed}")
            scores.append(self.score(y))
            agree.append(float((y.argmax(1) == self.clean.argmax(1)).mean()))
            run_s += secs
        layers = rep["layers"]
        macs = [layer["macs"] for layer in layers]
        baseline = rep.get("baseline_uniform") or {}
        point.update(
            clean_score=self.clean_score, score=float(np.mean(scores)),
            score_std=float(np.std(scores)), agreement=float(np.mean(agree)),
            energy_j=rep["total_energy_j"], optical_aj_per_mac=rep["optical_energy_per_mac_aj"],
            macs=rep["macs"], breakdown=rep["energy_breakdown_j"],
            uniform_repetitions=baseline.get("repetitions") or None,
            uniform_energy_j=baseline.get("total_energy_j"),
            measured_calib=rep.get("degradation", {}).get("measured"),
            sampling_margin=rep.get("degradation", {}).get("sampling_margin"),
            mean_repetitions=float(np.average([l["repetitions"] for l in layers], weights=macs)),
            mean_photons_per_mac=float(np.average([l["photons_per_mac"] for l in layers],
                                                  weights=macs)),
            layers=[dict(name=l["name"], op=l["op"], macs=l["macs"], repetitions=l["repetitions"],
                         photons_per_mac=l["photons_per_mac"], effective_bits=l["effective_bits"],
                         sensitivity=l.get("sensitivity")) for l in layers],
            run_s=round(run_s, 1))
        log(f"{self.name} {profile} {tag}: score {point['score']:.4f} (clean "
            f"{self.clean_score:.4f}), {point['energy_j']:.4g} J, "
            f"{point['optical_aj_per_mac']:.4g} aJ/MAC, compile {compile_s:.0f} s, "
            f"runs {run_s:.0f} s")
        return point

    def learned(self, settings):
        """learned.py on the calibration set (training) and the validation split (its search),
        timed; then its schedule compiled for paper_shot and scored like dpcc's."""
        out = os.path.join(self.work, "learned.json")
        schedule = os.path.join(self.work, "learned.schedule.json")
        lr = PAPER_TRAVEL / settings["batches"]
        cmd = [sys.executable, os.path.join(HERE, "learned.py"), "--model", self.onnx,
               "--train", self.files["calib"], "--test", self.files["val"],
               "--batches", str(settings["batches"]), "--batch-size", str(settings["batch_size"]),
               "--search-steps", str(settings["steps"]), "--lr", f"{lr:g}",
               "--max-drop", str(CRITERION), "--threads", str(min(self.args.threads, 2)),
               "--out", out, "--schedule-out", schedule]
        if self.cfg["labelled"]:
            cmd += ["--train-labels", self.files["calib_labels"],
                    "--test-labels", self.files["val_labels"]]
        else:
            cmd += ["--agreement"]
        log(f"{self.name}: learned.py, {settings['batches']} batches of {settings['batch_size']}"
            f" at lr {lr:g}, {settings['steps']} search steps")
        _, wall_s, _ = run(cmd)
        with open(out) as f:
            res = json.load(f)
        point = self.measure(LEARNED_PROFILE, "learned", "learned",
                             ["--schedule", f"from:{schedule}"])
        point["learned"] = dict(
            settings, lr=lr, wall_s=round(wall_s, 1), val_clean=res["noise_free"],
            val_score=res["noisy"], meets=res["meets"], target_photons=res["target_photons"],
            mean_photons=res["mean_photons"], aj_per_mac=res["aj_per_mac"],
            search=[dict(target_photons=s["target_photons"], mean_photons=s["mean_photons"],
                         noisy=s["noisy"], meets=s["meets"], seconds=s["seconds"])
                    for s in res["search"]])
        return point


def sweep(model, profile, budgets, uniform):
    """The dynamic budget sweep, then the uniform one (the grid and the baselines found)."""
    points = [model.measure(profile, f"dyn{b}", "dynamic", [], b) for b in budgets]
    found = {p["uniform_repetitions"] for p in points if p.get("uniform_repetitions")}
    for n in sorted(set(uniform) | found):
        points.append(model.measure(profile, f"uni{n}", "uniform", ["--schedule", f"fixed:{n}"]))
        points[-1]["repetitions"] = n
    return points


def uniform_at(points, key, value, kind="uniform"):
    """The curve's energy (J and aJ/MAC) where its `key` (score or agreement) reaches value:
    log-linear interpolation between the dearest point below and the cheapest at or above it,
    on the curve made monotone (more energy never scores less); None past the curve. The
    uniform curve by default; kind="dynamic" reads dpcc's budget sweep the same way."""
    uni = sorted((p["energy_j"], p["optical_aj_per_mac"], p[key]) for p in points
                 if p["kind"] == kind and p["reachable"])
    hull, best = [], -1.0
    for e, aj, s in uni:
        best = max(best, s)
        hull.append((e, aj, best))
    for lo, hi in zip([None] + hull, hull):
        if hi[2] < value:
            continue
        if lo is None or hi[2] == lo[2]:
            return dict(energy_j=hi[0], optical_aj_per_mac=hi[1])
        t = (value - lo[2]) / (hi[2] - lo[2])
        return dict(energy_j=math.exp(math.log(lo[0]) + t * math.log(hi[0] / lo[0])),
                    optical_aj_per_mac=math.exp(math.log(lo[1]) + t * math.log(hi[1] / lo[1])))
    return None


def summarise(points):
    """Adds the savings against uniform to the dynamic and learned points; returns the profile's
    summary at the paper's criterion (dynamic at CRITERION, learned, their energy ratio)."""
    for p in points:
        if p["kind"] == "uniform" or not p["reachable"]:
            continue
        for key, name in (("score", "equal_score"), ("agreement", "equal_agreement")):
            u = uniform_at(points, key, p[key])
            p[f"uniform_{name}"] = u
            p[f"saved_{name}"] = None if u is None else 1 - p["energy_j"] / u["energy_j"]
        same = [q for q in points if q["kind"] == "uniform" and q["reachable"]
                and q["repetitions"] == p.get("uniform_repetitions")]
        if p["kind"] == "dynamic" and same:
            q = same[0]
            p["uniform_same_budget"] = dict(repetitions=q["repetitions"], score=q["score"],
                                            agreement=q["agreement"], energy_j=q["energy_j"],
                                            optical_aj_per_mac=q["optical_aj_per_mac"],
                                            photons_per_mac=q["mean_photons_per_mac"])
            p["saved_same_budget"] = 1 - p["energy_j"] / q["energy_j"]
    dyn = next((p for p in points if p["kind"] == "dynamic" and p["budget"] == CRITERION), None)
    learned = next((p for p in points if p["kind"] == "learned" and p["reachable"]), None)
    summary = dict(budget=CRITERION, dynamic=dyn and dyn["tag"], learned=learned and "learned")
    if dyn and dyn["reachable"] and learned:
        summary["dpcc_over_learned_energy"] = (dyn["optical_aj_per_mac"] /
                                               learned["optical_aj_per_mac"])
        # at equal held-out score, the criterion: dpcc's sweep read at the learned score
        at = uniform_at(points, "score", learned["score"], kind="dynamic")
        summary["dpcc_at_learned_score_aj_per_mac"] = at and at["optical_aj_per_mac"]
        summary["dpcc_over_learned_equal_score"] = at and (at["optical_aj_per_mac"] /
                                                          learned["optical_aj_per_mac"])
        summary["dpcc_compile_s"] = dyn["compile_s"]
        summary["learned_wall_s"] = learned["learned"]["wall_s"]
    return summary


CSV_KEYS = ["model", "profile", "kind", "budget", "repetitions", "reachable", "clean_score",
            "score", "score_std", "agreement", "measured_calib", "energy_j", "optical_aj_per_mac",
            "mean_repetitions", "mean_photons_per_mac", "uniform_repetitions",
            "saved_same_budget", "saved_equal_score", "saved_equal_agreement", "compile_s",
            "learned_wall_s", "run_s"]


def write_csv(path, points):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, CSV_KEYS, extrasaction="ignore")
        w.writeheader()
        for p in points:
            w.writerow(dict(p, learned_wall_s=p.get("learned", {}).get("wall_s")))


def budget_list(text):
    """--budgets: positive fractions, e.g. 0.01,0.02."""
    try:
        budgets = tuple(float(b) for b in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}")
    if not all(0 < b < 1 for b in budgets):
        raise argparse.ArgumentTypeError(f"budgets are fractions in (0, 1): {text!r}")
    return budgets


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--models", default=os.path.join(ROOT, "models"))
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--only", help="comma-separated model names (default: every model present)")
    ap.add_argument("--profiles",
                    help="comma-separated device profiles (default: all of PROFILES); a rerun "
                         "keeps the model's other profiles from OUT/results.json")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="dpcc, dprun and (at most 2) learned.py threads")
    ap.add_argument("--quick", action="store_true",
                    help="tiny sets, one budget, two uniform points, a tiny learned.py run: "
                         "a smoke test of the whole chain")
    ap.add_argument("--learned-batches", type=int,
                    help="learned.py --batches for every model (default: per model, the paper's "
                         "1500 where affordable; --quick: 40); its lr is 15 / batches")
    ap.add_argument("--learned-steps", type=int,
                    help="learned.py --search-steps for every model (default: per model, the "
                         "paper's 6 where affordable; --quick: 2)")
    ap.add_argument("--budgets", type=budget_list,
                    help="comma-separated budgets of the dynamic sweep for every model and "
                         "profile (default: PROFILES', or the model's own in MODELS)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    names = args.only.split(",") if args.only else list(MODELS)
    for name in names:
        if name not in MODELS:
            sys.exit(f"paper: unknown model {name}; known: {', '.join(MODELS)}")
    profiles = args.profiles.split(",") if args.profiles else list(PROFILES)
    for profile in profiles:
        if profile not in PROFILES:
            sys.exit(f"paper: unknown profile {profile}; known: {', '.join(PROFILES)}")
    start = time.time()
    results = dict(machine=dict(platform=platform.platform(), cpus=os.cpu_count(),
                                processor=platform.processor()),
                   seeds=list(SEEDS), criterion=CRITERION, threads=args.threads, models={})
    previous = os.path.join(args.out, "results.json")
    if (args.only or args.profiles) and os.path.isfile(previous):
        # a partial rerun updates the models it names and keeps the others' results (those of
        # this layout: earlier sweeps wrote one profile per model)
        with open(previous) as f:
            old = json.load(f)
        results["models"] = {k: v for k, v in old.get("models", {}).items() if "profiles" in v}
    with tempfile.TemporaryDirectory(prefix="dpcc-paper-") as work:
        for name in names:
            if not os.path.isfile(os.path.join(args.models, name, "model.onnx")):
                log(f"{name}: not in {args.models}, skipped")
                continue
            cfg = dict(MODELS[name], **(QUICK_DATA if args.quick else {}))
            learned = dict(QUICK_LEARNED if args.quick else cfg["learned"])
            learned["batches"] = args.learned_batches or learned["batches"]
            learned["steps"] = args.learned_steps or learned["steps"]
            t0 = time.time()
            model = Model(name, cfg, args, work)
            kept = results["models"].get(name, {}).get("profiles", {}) if args.profiles else {}
            entry = dict(labelled=cfg["labelled"], calib=cfg["calib"], test=cfg["test"],
                         val=cfg["val"], quick=args.quick,
                         profiles={k: v for k, v in kept.items() if k not in profiles})
            for profile in profiles:
                pc = PROFILES[profile]
                t1 = time.time()
                model.clean = model.clean_score = None
                budgets = (CRITERION,) if args.quick else \
                    args.budgets or cfg.get("budgets", pc["budgets"])
                uniform = (QUICK_UNIFORM[profile] if args.quick else
                           cfg.get("uniform", {}).get(profile, pc["uniform"]))
                points = sweep(model, profile, budgets, uniform)
                if profile == LEARNED_PROFILE:
                    try:
                        points.append(model.learned(learned))
                    except RuntimeError as e:
                        # an hour of other measurements is worth keeping when learned.py or
                        # its schedule fails; the error goes into results.json
                        log(f"{name}: learned: {e}")
                        points.append(dict(model=name, profile=profile, kind="learned",
                                           tag="learned", budget=None, reachable=False,
                                           error=str(e)[-800:]))
                summary = summarise(points)
                entry["profiles"][profile] = dict(
                    step=pc["step"], clean_score=model.clean_score,
                    summary=summary, points=points, seconds=round(time.time() - t1))
                write_csv(os.path.join(args.out, f"{name}.{profile}.csv"), points)
                log(f"{name} {profile}: {time.time() - t1:.0f} s")
            entry["seconds"] = round(time.time() - t0)
            results["models"][name] = entry
    results["seconds"] = sum(r["seconds"] for r in results["models"].values())
    with open(previous, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    log(f"done in {time.time() - start:.0f} s: {previous}")


if __name__ == "__main__":
    main()
