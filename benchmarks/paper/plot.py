"""Figures and tables from benchmarks/paper/sweep.py's results.json.

    /usr/bin/python3 benchmarks/paper/plot.py OUT     (OUT holds results.json)

Writes into OUT:
    energy_accuracy.png/.svg   per model: test score against energy per inference, dynamic and
                               uniform schedules, the noise-free score as a dashed line
    layers.png/.svg            per model: the dynamic schedule's repetitions and effective bits
                               per analog layer, at the budget nearest 0.01
    profiles.png/.svg          the CNN on three devices: top-1 agreement with the noise-free
                               network against repetitions (where repetition stops helping)
    table.md                   the paper-style table, the profile table, the machine and time
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SCORE_NAME = {True: "test accuracy", False: "top-1 agreement with noise-free"}


def save(fig, out, name):
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(out, f"{name}.{ext}"), dpi=110)
    plt.close(fig)


def curve(points, kind):
    pts = sorted((p["energy_j"], p["score"]) for p in points if p["kind"] == kind and p["reachable"])
    return [e for e, _ in pts], [100 * s for _, s in pts]


def plot_energy_accuracy(res, out):
    models = [m for m, r in res["models"].items() if any(p["reachable"] for p in r["points"])]
    if not models:
        return
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.6), squeeze=False)
    for ax, name in zip(axes[0], models):
        r = res["models"][name]
        for kind, style in (("uniform", "s--"), ("dynamic", "o-")):
            e, s = curve(r["points"], kind)
            if e:
                ax.plot(e, s, style, label=kind, markersize=5)
        clean = next(p["clean_score"] for p in r["points"] if p["reachable"])
        ax.axhline(100 * clean, color="gray", linestyle=":", label="noise-free")
        ax.set_xscale("log")
        ax.set_xlabel("energy per inference (J)")
        ax.set_ylabel(SCORE_NAME[r["labelled"]] + " (%)")
        ax.set_title(name)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    save(fig, out, "energy_accuracy")


def nearest_dynamic(points, budget=0.01):
    dyn = [p for p in points if p["kind"] == "dynamic" and p["reachable"]]
    return min(dyn, key=lambda p: abs(p["budget"] - budget)) if dyn else None


def plot_layers(res, out):
    chosen = [(m, nearest_dynamic(r["points"])) for m, r in res["models"].items()]
    chosen = [(m, p) for m, p in chosen if p]
    if not chosen:
        return
    fig, axes = plt.subplots(len(chosen), 1, figsize=(9, 2.8 * len(chosen)), squeeze=False)
    for ax, (name, p) in zip(axes[:, 0], chosen):
        layers = p["layers"]
        x = range(len(layers))
        ax.bar(x, [l["repetitions"] for l in layers], color="tab:blue", label="repetitions N")
        ax.set_yscale("log")
        ax.set_ylabel("repetitions N")
        ax.set_title(f"{name}: dynamic schedule at top-1 budget {p['budget']}")
        ax.set_xlabel("analog layer (program order)")
        bits = ax.twinx()
        bits.plot(list(x), [l["effective_bits"] for l in layers], "o-", color="tab:red",
                  markersize=3, label="effective bits")
        bits.set_ylabel("effective bits", color="tab:red")
    save(fig, out, "layers")


def plot_profiles(res, out):
    if not res["profiles"]:
        return
    base = res["models"].get(next(iter(res["profiles"].values()))["model"])
    series = {"homodyne_shot": base["points"]} if base else {}
    series.update({k: v["points"] for k, v in res["profiles"].items()})
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, (prof, points) in enumerate(series.items()):
        uni = sorted((p["repetitions"], 100 * p["agreement"]) for p in points
                     if p["kind"] == "uniform" and p["reachable"])
        dyn = sorted((p["mean_repetitions"], 100 * p["agreement"]) for p in points
                     if p["kind"] == "dynamic" and p["reachable"])
        color = f"C{i}"
        if uni:
            ax.plot(*zip(*uni), "s--", color=color, label=f"{prof}: uniform")
        if dyn:
            ax.plot(*zip(*dyn), "o", color=color, markersize=7, label=f"{prof}: dynamic")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("repetitions (dynamic: MAC-weighted mean)")
    ax.set_ylabel("top-1 agreement with noise-free (%)")
    ax.set_title("Fashion-MNIST CNN on three devices")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, out, "profiles")


def pct(x, digits=1):
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def table(res):
    rows = ["| model | scored by | noise-free | budget (top-1) | dynamic: noisy (agreement) | "
            "optical aJ/MAC | "
            "J per inference | uniform (same budget): N, noisy, J | saved, same budget | "
            "saved, equal agreement |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in res["models"].items():
        scored = "accuracy" if r["labelled"] else "agreement"
        for p in r["points"]:
            if p["kind"] != "dynamic":
                continue
            if not p["reachable"]:
                rows.append(f"| {name} | {scored} | | {p['budget']} | unreachable (exit 4) | | | | | |")
                continue
            u = p.get("uniform_same_budget")
            uni = (f"{u['repetitions']}, {pct(u['score'], 2)} ({pct(u['agreement'], 2)}), "
                   f"{u['energy_j']:.3g}" if u else "n/a")
            rows.append(f"| {name} | {scored} | {pct(p['clean_score'], 2)} | {p['budget']} | "
                        f"{pct(p['score'], 2)} ({pct(p['agreement'], 2)}) | "
                        f"{p['optical_aj_per_mac']:.3g} | {p['energy_j']:.3g} | {uni} | {pct(p.get('saved_same_budget'))} | "
                        f"{pct(p.get('saved_equal_score'))} |")
        if not any(p["kind"] == "dynamic" for p in r["points"]):
            for p in r["points"]:
                if p["reachable"]:
                    rows.append(f"| {name} | {scored} | 100% | uniform N={p['repetitions']} only | "
                                f"{pct(p['score'], 2)} | {p['optical_aj_per_mac']:.3g} | "
                                f"{p['energy_j']:.3g} | | | |")
    out = ["## Dynamic against uniform on the default profile (homodyne_shot)", ""] + rows
    if res["profiles"]:
        out += ["", "## The Fashion-MNIST CNN on other devices", "",
                "| profile | schedule | N (dynamic: MAC-weighted mean) | test accuracy (agreement) | "
                "optical aJ/MAC | J per inference | saved, equal agreement |",
                "|---|---|---|---|---|---|---|"]
        for prof, r in res["profiles"].items():
            for p in r["points"]:
                if not p["reachable"]:
                    out.append(f"| {prof} | dynamic, budget {p['budget']} | unreachable (exit 4) "
                               f"| | | | |")
                    continue
                sched = (f"dynamic, budget {p['budget']}" if p["kind"] == "dynamic"
                         else "uniform")
                n = (f"{p['mean_repetitions']:.0f}" if p["kind"] == "dynamic"
                     else str(p["repetitions"]))
                out.append(f"| {prof} | {sched} | {n} | {pct(p['score'], 2)} "
                           f"({pct(p['agreement'], 2)}) | "
                           f"{p['optical_aj_per_mac']:.3g} | {p['energy_j']:.3g} | "
                           f"{pct(p.get('saved_equal_score')) if p['kind'] == 'dynamic' else ''} |")
    m = res["machine"]
    out += ["", f"Machine: {m['platform']}, {m['cpus']} CPUs. Device instances (seeds) of the "
            f"test-set runs: {', '.join(map(str, res['seeds']))}. Total time: "
            f"{res['seconds'] / 60:.1f} min."]
    return "\n".join(out) + "\n"


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "out")
    with open(os.path.join(out, "results.json")) as f:
        res = json.load(f)
    plot_energy_accuracy(res, out)
    plot_layers(res, out)
    plot_profiles(res, out)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(table(res))
    print(f"plot: figures and table.md in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
