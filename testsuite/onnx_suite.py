#!/usr/bin/python3
"""Runs the ONNX backend test suite through dpcc and dprun --ideal.

Every test folder of Debian's libonnx-testdata (node, pytorch-converted, pytorch-operator,
simple) is compiled with dpcc and each of its test_data_set_* is run with dprun, comparing
every output with the suite's reference (rtol 1e-3, atol 1e-5, NaN equals NaN).

A test is in scope when all of its ops are in the list the foundation issue names. The run
fails if an in-scope test fails, unless testsuite/onnx_suite_xfail.txt lists it with a reason.

    /usr/bin/python3 testsuite/onnx_suite.py --build build [--filter REGEX] [-j N] [-v]

--backend c runs each test through the C backend as well: the .dp and the C kernel (dpcc
--emit=c, built under -Wall -Wextra -Werror into a shared object that dprun loads) must both
meet the references, and the kernel's output files must be the .dp's byte for byte. Building
each self-contained model.c takes ~10 s at -O2 (the amalgamated runtime), so by default the
suite splits it: the runtime the file embeds (checked to be BUILD/gen/dp_runtime.c, byte for
byte) is compiled once at -O2, and each model's program part (its tables, layers and entry
points, against BUILD/gen/dp_runtime.h) at -O0 and linked with it: the same code, as two
objects. --c-whole builds every file as the docs say (cc -O2 ... model.c), slowly.
"""
import argparse
import collections
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile

import onnx
from onnx import numpy_helper

IN_SCOPE_OPS = set("""
Abs Add And ArgMax ArgMin AveragePool BatchNormalization Cast CastLike Ceil Celu Clip Concat
Constant ConstantOfShape Conv ConvTranspose Cos CumSum DepthToSpace Div Dropout Einsum Elu Equal
Erf Exp Expand Flatten Floor Gather GatherElements GatherND Gemm GlobalAveragePool GlobalMaxPool
Greater GreaterOrEqual HardSigmoid HardSwish Hardmax Identity InstanceNormalization IsInf IsNaN
LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax LRN MatMul Max MaxPool Mean Min Mod
Mul Neg Not OneHot Or Pad Pow PRelu Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum
ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape
Resize Round Selu Shape Shrink Sigmoid Sign Sin Sinh Size Slice Softmax Softplus Softsign
SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh ThresholdedRelu Tile TopK Transpose Trilu
Unsqueeze Upsample Where Xor
Acos Acosh Asin Asinh Atan Atanh Cosh
EyeLike
QuantizeLinear DequantizeLinear DynamicQuantizeLinear QLinearConv QLinearMatMul ConvInteger
MatMulInteger
""".split())

FOLDERS = ["node", "pytorch-converted", "pytorch-operator", "simple"]
HERE = os.path.dirname(os.path.abspath(__file__))


def model_ops(path):
    model = onnx.load(path, load_external_data=False)
    return {n.op_type for n in model.graph.node}


def output_step(path):
    """The largest step of the model's output grids: the scale of the DequantizeLinear that
    writes each graph output (a quantized model's outputs, tools/make_qdq_model.py)."""
    model = onnx.load(path)
    init = {t.name: t for t in model.graph.initializer}
    made_by = {o: n for n in model.graph.node for o in n.output}
    steps = []
    for out in model.graph.output:
        n = made_by.get(out.name)
        if n is None or n.op_type != "DequantizeLinear" or n.input[1] not in init:
            raise ValueError("%s: output '%s' is not written by a DequantizeLinear of a constant "
                             "scale, so it has no grid step" % (path, out.name))
        steps.append(float(numpy_helper.to_array(init[n.input[1]]).max()))
    return max(steps)


def read_xfail(path):
    """Lines 'folder/test  reason'; '#' starts a comment."""
    xfail = {}
    if os.path.exists(path):
        for line in open(path):
            line = line.split("#", 1)[0].strip()
            if line:
                name, _, reason = line.partition(" ")
                xfail[name] = reason.strip()
    return xfail


CC_FLAGS = ["-std=c11", "-fPIC", "-Wall", "-Wextra", "-Werror"]
PROGRAM_MARK = "\n#pragma GCC diagnostic pop\n\n/* ======== the program ======== */\n"


class CRuntime:
    """The C mode's shared runtime object: BUILD/gen/dp_runtime.c compiled once at -O2."""

    def __init__(self, build, tmp, whole):
        self.whole = whole
        self.gen = os.path.join(build, "gen")
        self.obj = None
        if whole:
            return
        self.text = open(os.path.join(self.gen, "dp_runtime.c"), encoding="utf-8").read()
        if not os.path.exists(os.path.join(self.gen, "dp_runtime.h")):
            sys.exit("onnx_suite: %s/dp_runtime.h missing: rebuild (tools/amalgamate.py)" % self.gen)
        self.obj = os.path.join(tmp, "dp_runtime.o")
        # -Wno-unused-parameter: what the emitted file's pragma around the runtime says
        subprocess.run(["cc", "-O2", "-c", "-Wno-unused-parameter"] + CC_FLAGS
                       + [os.path.join(self.gen, "dp_runtime.c"),
                        "-o", self.obj], check=True)

    def build(self, tmp, timeout):
        """Builds tmp/model.c into tmp/model.so; returns an error message or None."""
        src, so = os.path.join(tmp, "model.c"), os.path.join(tmp, "model.so")
        if self.whole:
            cmd = ["cc", "-O2", "-shared"] + CC_FLAGS + [src, "-o", so, "-lm"]
        else:
            text = open(src, encoding="utf-8").read()
            at = text.find(self.text)
            if at < 0 or text.find(PROGRAM_MARK, at + len(self.text)) != at + len(self.text):
                return "the runtime in model.c is not %s/dp_runtime.c (stale build?)" % self.gen
            part = os.path.join(tmp, "program.c")
            with open(part, "w", encoding="utf-8") as fh:
                fh.write(text[:at] + '#include "dp_runtime.h"\n' + text[at + len(self.text):])
            cmd = (["cc", "-O0", "-shared"] + CC_FLAGS
                   + ["-I", self.gen, part, self.obj, "-o", so, "-lm"])
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "cc timed out"
        return None if r.returncode == 0 else "cc exit %d: %s" % (r.returncode, r.stderr.strip())


def dprun_check(dprun, prog, ds_dir, inputs, rtol, atol, timeout, out):
    """dprun --ideal --expect on one data set; returns (exit status, stderr)."""
    cmd = [dprun, prog, "--ideal", "--expect", ds_dir, "--rtol", str(rtol), "--atol", str(atol)]
    for f in inputs:
        cmd += ["-i", os.path.join(ds_dir, f)]
    if out:
        cmd += ["-o", out]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "dprun timed out"
    return r.returncode, r.stderr.strip()


def same_outputs(a, b):
    """None when folders a and b hold the same output files byte for byte, else why not."""
    names = sorted(os.listdir(a))
    if names != sorted(os.listdir(b)) or not names:
        return "different output files: %s / %s" % (names, sorted(os.listdir(b)))
    for n in names:
        with open(os.path.join(a, n), "rb") as fa, open(os.path.join(b, n), "rb") as fb:
            if fa.read() != fb.read():
                return "%s differs from the .dp's" % n
    return None


def compile_model(dpcc, test_dir, out, timeout, plain):
    """Returns None, or (status, message) when dpcc does not write out. plain: the command a
    user types, dpcc MODEL -o OUT, analog stage and all; else --no-analog."""
    cmd = [dpcc, os.path.join(test_dir, "model.onnx"), "-o", out] + ([] if plain else
                                                                      ["-q", "--no-analog"])
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "fail", "dpcc timed out"
    if r.returncode == 3:
        return "unsupported", r.stderr.strip()
    if r.returncode != 0:
        return "fail", "dpcc exit %d: %s" % (r.returncode, r.stderr.strip())
    return None


def run_test(build, test_dir, rtol, atol, timeout, c_runtime=None, plain=False):
    """Returns (status, message): status is pass, fail or unsupported. With c_runtime, the C
    kernel runs too and its outputs must be the .dp's, byte for byte."""
    dpcc = os.path.join(build, "dpcc")
    dprun = os.path.join(build, "dprun")
    with tempfile.TemporaryDirectory(prefix="dpcc-suite-") as tmp:
        prog = os.path.join(tmp, "model.dp")
        failed = compile_model(dpcc, test_dir, prog, timeout, plain)
        if failed:
            return failed
        kernel = None
        if c_runtime:
            failed = compile_model(dpcc, test_dir, os.path.join(tmp, "model.c"), timeout, plain)
            if failed:
                return "fail", "--emit=c: " + failed[1]
            msg = c_runtime.build(tmp, timeout)
            if msg:
                return "fail", msg
            kernel = os.path.join(tmp, "model.so")
        sets = sorted(d for d in os.listdir(test_dir) if d.startswith("test_data_set_"))
        if not sets:
            return "fail", "no test_data_set_* folder"
        for k, ds in enumerate(sets):
            ds_dir = os.path.join(test_dir, ds)
            inputs = sorted((f for f in os.listdir(ds_dir) if re.match(r"input_\d+\.pb$", f)),
                            key=lambda f: int(f[6:-3]))
            out_dp = os.path.join(tmp, "dp%d" % k) if kernel else None
            rc, err = dprun_check(dprun, prog, ds_dir, inputs, rtol, atol, timeout, out_dp)
            if rc == 3:
                return "unsupported", err
            if rc != 0:
                return "fail", "dprun exit %s on %s: %s" % (rc, ds, err)
            if kernel:
                out_so = os.path.join(tmp, "so%d" % k)
                rc, err = dprun_check(dprun, kernel, ds_dir, inputs, rtol, atol, timeout, out_so)
                if rc != 0:
                    return "fail", "C kernel: dprun exit %s on %s: %s" % (rc, ds, err)
                msg = same_outputs(out_dp, out_so)
                if msg:
                    return "fail", "C kernel on %s: %s" % (ds, msg)
    return "pass", ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="folder holding dpcc and dprun")
    ap.add_argument("--data", default="/usr/share/libonnx-testdata/data")
    ap.add_argument("--folders", default=",".join(FOLDERS))
    ap.add_argument("--filter", default="", help="regex on folder/test names")
    ap.add_argument("--xfail", default=os.path.join(HERE, "onnx_suite_xfail.txt"))
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--rtol", type=float, default=1e-3)
    ap.add_argument("--atol", type=float, default=1e-5)
    ap.add_argument("--atol-steps", type=float,
                    help="atol as this many steps of each model's output grid (output_step), "
                         "for quantized models; replaces --atol")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--backend", choices=["dp", "c"], default="dp",
                    help="c: also the C kernel from --emit=c, byte for byte against the .dp")
    ap.add_argument("--c-whole", action="store_true",
                    help="--backend c: build each model.c whole at -O2 (slow) instead of "
                         "linking its program part with a runtime object built once")
    ap.add_argument("--plain", action="store_true",
                    help="compile as a user would, dpcc MODEL -o OUT with no flags (analog stage, "
                         "synthetic calibration, default budget), not --no-analog")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every failure's message")
    args = ap.parse_args()

    if not os.path.isdir(args.data):
        print("onnx_suite: %s not found: install libonnx-testdata" % args.data, file=sys.stderr)
        return 2
    xfail = read_xfail(args.xfail)
    pattern = re.compile(args.filter)
    tests = []
    for folder in args.folders.split(","):
        root = os.path.join(args.data, folder)
        for name in sorted(os.listdir(root)):
            key = folder + "/" + name
            model = os.path.join(root, name, "model.onnx")
            if pattern.search(key) and os.path.exists(model):
                tests.append((folder, key, os.path.join(root, name), model_ops(model) <= IN_SCOPE_OPS))

    with tempfile.TemporaryDirectory(prefix="dpcc-suite-rt-") as rt_dir, \
            concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        c_runtime = CRuntime(args.build, rt_dir, args.c_whole) if args.backend == "c" else None
        futures = [pool.submit(run_test, args.build, d, args.rtol,
                               args.atol_steps * output_step(os.path.join(d, "model.onnx"))
                               if args.atol_steps else args.atol,
                               args.timeout, c_runtime, args.plain)
                   for _, _, d, _ in tests]
        results = [f.result() for f in futures]

    counts = collections.OrderedDict()
    unexpected, xfailed, xpassed = [], [], []
    for (folder, key, _, in_scope), (status, msg) in zip(tests, results):
        c = counts.setdefault(folder, collections.Counter())
        c["total"] += 1
        c["in_scope"] += in_scope
        c[status + ("" if in_scope else "_out")] += 1
        if in_scope and status != "pass":
            if key in xfail:
                xfailed.append((key, xfail[key]))
            else:
                unexpected.append((key, status, msg))
        elif in_scope and key in xfail:
            xpassed.append(key)
        if args.verbose and status != "pass":
            print("%-60s %s: %s" % (key, status, msg.splitlines()[-1] if msg else ""))

    print("%-18s %6s %8s %7s %7s %12s %9s" % ("folder", "tests", "in-scope", "passed", "failed",
                                              "pass-rate", "out-scope"))
    tot = collections.Counter()
    for folder, c in counts.items():
        failed = c["fail"] + c["unsupported"]
        rate = 100.0 * c["pass"] / c["in_scope"] if c["in_scope"] else 100.0
        print("%-18s %6d %8d %7d %7d %11.1f%% %9d" % (folder, c["total"], c["in_scope"], c["pass"],
                                                      failed, rate, c["total"] - c["in_scope"]))
        tot.update(c)
    rate = 100.0 * tot["pass"] / tot["in_scope"] if tot["in_scope"] else 100.0
    print("%-18s %6d %8d %7d %7d %11.1f%% %9d" % ("all", tot["total"], tot["in_scope"], tot["pass"],
                                                  tot["fail"] + tot["unsupported"], rate,
                                                  tot["total"] - tot["in_scope"]))
    print("out of scope (ops outside the list): %d passed, %d unsupported, %d failed"
          % (tot["pass_out"], tot["unsupported_out"], tot["fail_out"]))
    for key, reason in xfailed:
        print("XFAIL %s: %s" % (key, reason))
    for key in xpassed:
        print("XPASS %s (listed as an expected failure: remove it from the list)" % key)
    for key, status, msg in unexpected:
        last = msg.splitlines()[-1] if msg else ""
        print("FAIL %s (%s): %s" % (key, status, last))
    print("%d passed, %d failed" % (tot["pass"], len(unexpected)))
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
