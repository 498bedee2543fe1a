#!/usr/bin/python3
"""pipeline_example.py: dpcc as one step of a model-export pipeline, through the Python
binding (python/dpcc, docs/api.md).

Exports a small PyTorch CNN to ONNX, compiles it with dpcc for the default device
(calibrated on a batch of inputs, dynamic-precision schedule for a top-1 budget), runs the
program ideal and checks its outputs against PyTorch's (the golden outputs), checks the
report's energy (positive, finite, the sum of the layers'), runs it noisy, prints a summary,
and exits non-zero when a check fails (77 when PyTorch is missing: the test is skipped).

    /usr/bin/python3 tools/pipeline_example.py [--build BUILD_DIR] [--out DIR]
"""
import argparse
import math
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77


def build_model(torch):
    nn = torch.nn

    class SmallCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
            self.head = nn.Linear(16 * 6 * 6, 4)

        def forward(self, x):
            return self.head(torch.flatten(self.features(x), 1))

    torch.manual_seed(0)
    model = SmallCNN()
    # non-trivial BatchNorm statistics, so that folding them is exercised
    with torch.no_grad():
        bn = model.features[1]
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 1.5)
    return model.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", help="the build folder holding libdpcc.so (else DPCC_LIB_DIR "
                    "or the binding's own search)")
    ap.add_argument("--out", help="keep the ONNX model, program and report here")
    ap.add_argument("--budget", default="top1=0.05")
    args = ap.parse_args()
    try:
        import numpy as np
        import torch
    except ImportError as e:
        print("pipeline_example: skipped: %s (run with /usr/bin/python3)" % e)
        return SKIP
    if args.build and "DPCC_LIB_DIR" not in os.environ:
        os.environ["DPCC_LIB_DIR"] = os.path.abspath(args.build)
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
    import dpcc

    if args.out:
        os.makedirs(args.out, exist_ok=True)
        return run(args, args.out, np, torch, dpcc)
    with tempfile.TemporaryDirectory(prefix="dpcc-pipeline-") as out:
        return run(args, out, np, torch, dpcc)


def run(args, out, np, torch, dpcc):
    onnx_path = os.path.join(out, "small_cnn.onnx")
    dp_path = os.path.join(out, "small_cnn.dp")

    # 1. export
    model = build_model(torch)
    gen = torch.Generator().manual_seed(1)
    calib = torch.randn(256, 1, 12, 12, generator=gen)
    test = torch.randn(256, 1, 12, 12, generator=gen)
    torch.onnx.export(model, test[:1], onnx_path, input_names=["x"], output_names=["scores"],
                      dynamic_axes={"x": {0: "n"}, "scores": {0: "n"}}, opset_version=13)
    with torch.no_grad():
        golden = model(test).numpy()

    # 2. compile
    stages = []
    res = dpcc.compile(onnx_path, dp_path, calib=calib.numpy(), budget=args.budget, seeds=2,
                       progress=lambda stage, done: stages.append((stage, done)))
    failures = []
    if not stages or stages[0][0] != "calibration" or stages[-1] != ("schedule", 1.0):
        failures.append("progress reached the callback as %s ... %s"
                        % (stages[:1], stages[-1:]))
    if not res.layers:
        failures.append("no analog layers")

    # 3. golden outputs: the ideal program against PyTorch, image by image and as a batch
    prog = dpcc.Model(dp_path)
    batch, = prog.run([test.numpy()], ideal=True)
    single = np.concatenate([prog.run([test[i:i + 1].numpy()], ideal=True)[0]
                             for i in range(len(test))])
    for what, got in (("batch", batch), ("one by one", single)):
        if got.shape != golden.shape or not np.allclose(got, golden, rtol=1e-3, atol=1e-4):
            err = np.max(np.abs(got - golden)) if got.shape == golden.shape else float("nan")
            failures.append("ideal outputs (%s) differ from PyTorch's: max abs error %.3g"
                            % (what, err))

    # 4. the report's energy
    rep = res.report or {}
    total = rep.get("total_energy_j")
    layer_sum = sum(L["energy_j"] for L in rep.get("layers", []))
    if not isinstance(total, (int, float)) or not math.isfinite(total) or total <= 0:
        failures.append("the report has no positive, finite total energy (%r)" % total)
    elif not math.isclose(total, layer_sum, rel_tol=1e-6):
        failures.append("total energy %.4g J is not the layers' sum %.4g J" % (total, layer_sum))
    binding_sum = sum(L["energy_j"] for L in res.layers)
    if total and not math.isclose(binding_sum, layer_sum, rel_tol=1e-6):
        failures.append("the schedule's energies (%.4g J) disagree with the report's (%.4g J)"
                        % (binding_sum, layer_sum))

    # 5. noisy: the same seed twice gives the same bits
    noisy_a, = prog.run([test.numpy()], seed=5)
    noisy_b, = prog.run([test.numpy()], seed=5)
    if not np.array_equal(noisy_a, noisy_b):
        failures.append("seed 5 gave different noisy outputs twice")
    agree = float(np.mean(np.argmax(noisy_a, 1) == np.argmax(golden, 1)))
    prog.close()
    # the budget holds on images the compiler never saw, within their sampling error
    metric, _, value = args.budget.partition("=")
    if metric == "top1":
        b, n = float(value), len(test)
        allowed = b + 3 * math.sqrt(b * (1 - b) / n)
        if 1 - agree > allowed:
            failures.append("noisy top-1 disagreement %.1f%% on %d test images breaks the "
                            "budget %s (at most %.1f%% with 3 standard errors)"
                            % (100 * (1 - agree), n, args.budget, 100 * allowed))

    print("pipeline_example: dpcc %s, %s -> %s" % (dpcc.version(), onnx_path, dp_path))
    for L in res.layers:
        print("  %-28s %-5s N=%-4d %5.2f bits %.3g J" % (L["name"], L["op"], L["repetitions"],
                                                        L["effective_bits"], L["energy_j"]))
    print("  energy %.4g J per inference; %s measured %.4g (budget %s)"
          % (total or float("nan"), rep.get("degradation", {}).get("metric"),
             rep.get("degradation", {}).get("measured", float("nan")), args.budget))
    print("  ideal max abs error vs PyTorch %.3g; noisy top-1 agreement %.0f%%"
          % (float(np.max(np.abs(batch - golden))), 100 * agree))
    for f in failures:
        print("FAIL:", f)
    print("pipeline_example: %s" % ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
