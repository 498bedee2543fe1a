"""The converter floor: how many top-1 decisions a device's converters flip with no noise at all.

    /usr/bin/python3 benchmarks/paper/floor.py --build build --model models/fmnist_resnet50 \
        [--calib 1024] [--device homodyne_shot] [--out floor.json]

Compiles the model for the device with every dynamic noise source switched off (no shot or
thermal noise, no dynamic weight or input noise) at one repetition, so that what dpcc measures
on the calibration set is the converters' own effect: the DAC, weight and ADC quantisation
(and any static error or distortion the profile has). Then again with one converter at a time
widened to 22 bits, and with all three, which splits the floor by source; then with the ADC
(and the DAC) 1 or 2 bits wider, which says what converters a tighter budget needs. The figure is dpcc's
own measurement, the top-1 disagreement with the noise-free network on the first --calib
calibration images (report: degradation.measured), and the same measurement of the default
schedule's budget check, so it is exactly the floor a --budget top1=B compile has to clear.

--build may name an older build too (a dpcc of format version 1 reads the same profiles, less
the keys it does not know: they are removed), to compare the floor before and after a change.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
WIDE = 22  # bits: a quantisation error far below anything a top-1 decision notices

VARIANTS = [("as shipped", {}), ("DAC 22 bits", {"dac_bits": WIDE}),
            ("weights 22 bits", {"weight_bits": WIDE}), ("ADC 22 bits", {"adc_bits": WIDE}),
            ("all 22 bits", {"dac_bits": WIDE, "weight_bits": WIDE, "adc_bits": WIDE}),
            # what a 1% budget would take: the ADC, the largest source, a bit or two wider
            ("ADC 9 bits", {"adc_bits": 9}), ("ADC 10 bits", {"adc_bits": 10}),
            ("DAC, ADC 10 bits", {"dac_bits": 10, "adc_bits": 10})]


def noiseless(profile, converters, known_keys):
    """The profile with its dynamic noise off and the given converter widths."""
    p = json.loads(json.dumps(profile))
    p["name"] = p["name"] + "_noiseless"
    noise = p["noise"]
    noise["thermal_std"] = 0
    noise["shot_noise"] = False
    for key in ("weight_std", "input_std"):
        if key in noise:
            noise[key] = 0
    p["converters"].update(converters)
    for group, keys in known_keys.items():
        for key in list(p.get(group, {})):
            if key not in keys:
                del p[group][key]
    return p


def keys_of(build):
    """The profile keys this build's dpcc knows, from the profile it prints with --disasm."""
    with tempfile.TemporaryDirectory() as tmp:
        model = "/usr/share/libonnx-testdata/data/node/test_matmul_2d/model.onnx"
        dp = os.path.join(tmp, "k.dp")
        subprocess.run([os.path.join(build, "dpcc"), model, "-o", dp, "--schedule", "fixed:1",
                        "-q"], check=True, stderr=subprocess.DEVNULL)
        text = subprocess.run([os.path.join(build, "dpcc"), "--disasm", dp], check=True,
                              capture_output=True, text=True).stdout
    device = text[text.index("device {") + len("device "):]
    device = json.loads(device[:device.index("\n}") + 2])
    return {g: set(v) for g, v in device.items() if isinstance(v, dict)}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--model", required=True, help="a folder with model.onnx and calib.npy")
    ap.add_argument("--calib", type=int, default=1024, help="calibration images (default 1024)")
    ap.add_argument("--device", default="homodyne_shot",
                    help="a profile name in profiles/ or a path (default homodyne_shot)")
    ap.add_argument("--out", help="also write the figures as JSON here")
    args = ap.parse_args()
    path = args.device if args.device.endswith(".json") else \
        os.path.join(ROOT, "profiles", args.device + ".json")
    with open(path) as f:
        profile = json.load(f)
    known = keys_of(args.build)
    rows = []
    with tempfile.TemporaryDirectory(prefix="dpcc-floor-") as tmp:
        calib = os.path.join(tmp, "calib.npy")
        np.save(calib, np.load(os.path.join(args.model, "calib.npy"))[:args.calib])
        for label, converters in VARIANTS:
            prof = os.path.join(tmp, "device.json")
            with open(prof, "w") as f:
                json.dump(noiseless(profile, converters, known), f)
            report = os.path.join(tmp, "report.json")
            cmd = [os.path.join(args.build, "dpcc"), os.path.join(args.model, "model.onnx"),
                   "-o", os.path.join(tmp, "m.dp"), "--calib", calib, "--device", prof,
                   "--schedule", "fixed:1", "--seeds", "1", "--report", report, "-q"]
            subprocess.run(cmd, check=True)
            with open(report) as f:
                measured = json.load(f)["degradation"]["measured"]
            # the flips are few (about 15 of 1,024 images), so say how far chance moves them
            stderr = (measured * (1 - measured) / args.calib) ** 0.5
            rows.append(dict(variant=label, top1_flips=measured, stderr=stderr))
            print(f"{label:16s} top-1 flips {100 * measured:.3f}% +- {100 * stderr:.3f} of "
                  f"{args.calib} images", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(dict(model=args.model, device=args.device, calib=args.calib,
                           build=args.build, rows=rows), f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
