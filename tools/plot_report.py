"""Draws a dpcc or dprun report (docs/report.md): where the precision and the energy go.

    /usr/bin/python3 tools/plot_report.py REPORT.json [-o PREFIX]

Three panels, as PREFIX.png and PREFIX.svg (default: the report's path without .json): each
analog layer's repetitions N (under photon precision, its photons per MAC), each layer's energy
per inference split into optical, DAC, ADC, digital and memory parts, and the network's total
split the same way. Needs matplotlib (Debian's python3-matplotlib).
"""
import argparse
import json
import os
import sys

PARTS = ("optical", "dac", "adc", "digital", "memory")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report", help="a report written by dpcc --report or dprun --report")
    ap.add_argument("-o", "--out", help="prefix of the PNG and SVG files")
    args = ap.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_report: needs matplotlib (apt-get install python3-matplotlib)")
    with open(args.report) as f:
        rep = json.load(f)
    layers = rep.get("layers") or []
    if not layers:
        sys.exit(f"plot_report: {args.report} has no analog layers to draw")
    photons = rep.get("analog_model", {}).get("precision") == "photons"
    prefix = args.out or (args.report[:-5] if args.report.endswith(".json") else args.report)

    x = range(len(layers))
    fig, (top, mid, low) = plt.subplots(3, 1, figsize=(max(6, 0.35 * len(layers) + 2), 9),
                                        gridspec_kw=dict(height_ratios=(1, 1, 0.5)))
    level = [L["photons_per_mac"] if photons else L["repetitions"] for L in layers]
    top.bar(x, level, color="tab:blue")
    top.set_yscale("log")
    top.set_ylabel("photons per MAC" if photons else "repetitions N")
    top.set_title(f"{rep.get('device', '?')}: {rep.get('optical_energy_per_mac_aj', 0):.3g} "
                  f"aJ/MAC optical, {rep.get('total_energy_j', 0):.3g} J per inference")
    bottom = [0.0] * len(layers)
    for part in PARTS:
        vals = [L["breakdown"][part] or 0 for L in layers]
        mid.bar(x, vals, bottom=bottom, label=part)
        bottom = [b + v for b, v in zip(bottom, vals)]
    mid.set_ylabel("energy per inference (J)")
    mid.legend(fontsize="small", ncol=len(PARTS))
    mid.set_xticks(list(x))
    mid.set_xticklabels([L["name"] for L in layers], rotation=60, ha="right", fontsize="x-small")
    top.set_xticks(list(x))
    top.set_xticklabels([])
    total = rep.get("energy_breakdown_j", {})
    shares = [total.get(p) or 0 for p in PARTS]
    whole = sum(shares) or 1
    low.barh([0], [shares[0] / whole], label=PARTS[0])
    left = shares[0] / whole
    for part, share in zip(PARTS[1:], shares[1:]):
        low.barh([0], [share / whole], left=left, label=part)
        left += share / whole
    low.set_xlim(0, 1)
    low.set_yticks([])
    low.set_title("the network's energy: " + ", ".join(
        f"{p} {100 * s / whole:.3g}%" for p, s in zip(PARTS, shares)), fontsize="small")
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(f"{prefix}.{ext}", dpi=120)
    print(f"plot_report: {prefix}.png, {prefix}.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
