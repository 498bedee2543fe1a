#!/usr/bin/python3
"""corrupt_test.py: feeds dpcc and dprun reproducibly corrupted ONNX models and .dp programs
(docs/hardening.md), and checks that each is refused cleanly or, if still valid, handled.

    /usr/bin/python3 testsuite/corrupt_test.py --build build      # 1,000 of each, as in ctest
    /usr/bin/python3 testsuite/corrupt_test.py --build build --count 5000 --seed 7 --keep DIR
    /usr/bin/python3 testsuite/corrupt_test.py --build build --regress testsuite/data/regress

From --seed, it derives --count corrupted ONNX files and --count corrupted .dp files from a few
small valid bases: bit flips, byte overwrites, truncations, splices of two files, inserted and
deleted byte runs. A .dp carries a CRC-32 and its section lengths, so half of the .dp files have
their header rewritten to match the corrupted bytes; those reach the metadata decoder, the
validator and the executor. dpcc compiles each ONNX file (--no-analog, a few with the analog
stage) and dprun runs each .dp (--ideal, a few on the noisy core). A run passes when:
  - it ends within --timeout (six times that for an analog compile), without a signal, with
    status 0, 2 or 3; also 4 from an analog compile (no schedule meets the budget), and 1
    from dpcc when a model input lost its shape and dpcc asks for --input-shape;
  - status 0 leaves its output; any other status leaves none and prints a message on stderr
    naming the corrupted file.
Failing inputs are copied to --keep, to become regression files in testsuite/data/regress/.
--regress DIR runs every .onnx and .dp there under the same rules, except that they must be
refused (a .dp in at least one of its two runs, --ideal and noisy), plus two inputs too big to
store, made here. A .dp's inputs are listed in NAME.inputs beside it, as paths relative to the
repository or absolute (default: examples/input_0.npy).
"""
import argparse
import collections
import concurrent.futures
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODE = "/usr/share/libonnx-testdata/data/node"
SIMPLE = "/usr/share/libonnx-testdata/data/simple"
# Small models covering the op kinds and attribute forms the example does not.
NODE_BASES = ["test_add", "test_relu", "test_conv_with_strides_padding",
              "test_gemm_default_no_bias", "test_matmul_2d", "test_maxpool_2d_pads",
              "test_batchnorm_example", "test_softmax_axis_1", "test_concat_2d_axis_1",
              "test_reshape_extended_dims"]
SIMPLE_BASES = ["test_single_relu_model", "test_sign_model"]
HEADER = 64
# Bounds for what a hostile file may make the tools allocate: the limits must refuse it.
MAX_MEMORY = "1G"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Base:
    """A valid file to corrupt, and for a program the inputs dprun binds."""

    def __init__(self, name, data, inputs=()):
        self.name, self.data, self.inputs = name, data, list(inputs)


def dataset_inputs(model_dir):
    d = os.path.join(model_dir, "test_data_set_0")
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.startswith("input_"))


def make_bases(build, work):
    """The ONNX bases, and the .dp bases compiled from them."""
    models = [("fmnist_cnn", os.path.join(TOP, "examples", "fmnist_cnn.onnx"),
               [os.path.join(TOP, "examples", "input_0.npy")])]
    for root, names in ((NODE, NODE_BASES), (SIMPLE, SIMPLE_BASES)):
        for n in names:
            d = os.path.join(root, n)
            if os.path.isfile(os.path.join(d, "model.onnx")):
                models.append((n, os.path.join(d, "model.onnx"), dataset_inputs(d)))
    onnx, dp = [], []
    dpcc = os.path.join(build, "dpcc")
    for name, path, inputs in models:
        with open(path, "rb") as f:
            onnx.append(Base(name, f.read(), inputs))
        out = os.path.join(work, name + ".dp")
        if subprocess.run([dpcc, path, "-o", out, "--no-analog", "-q"]).returncode == 0:
            with open(out, "rb") as f:
                dp.append(Base(name, f.read(), inputs))
    # Analog programs: the example with its calibration, and a small Gemm (mvm records,
    # scales and the device profile in the metadata).
    analog = [("fmnist_cnn_analog", models[0][1], models[0][2],
               ["--calib", os.path.join(TOP, "examples", "calib_64.npy"), "--schedule", "fixed:4"])]
    for name, path, inputs in models:
        if name == "test_gemm_default_no_bias":
            analog.append((name + "_analog", path, inputs, ["--schedule", "fixed:1"]))
    for name, path, inputs, opts in analog:
        out = os.path.join(work, name + ".dp")
        if subprocess.run([dpcc, path, "-o", out, "-q", "-j", "1"] + opts).returncode == 0:
            with open(out, "rb") as f:
                dp.append(Base(name, f.read(), inputs))
    if len(onnx) < 5 or len(dp) < 5:
        sys.exit("corrupt_test: could not build the base files (is %s built?)" % build)
    return onnx, dp


def corrupt(rng, data, others):
    """One random corruption of data; returns (kind, bytes). others: files to splice with."""
    b = bytearray(data)
    n = len(b)
    kind = rng.choice(["bitflip", "overwrite", "truncate", "splice", "insert", "delete",
                       "interesting"])
    if kind == "bitflip":
        for _ in range(rng.choice([1, 1, 2, 4, 8])):
            i = rng.randrange(n)
            b[i] ^= 1 << rng.randrange(8)
    elif kind == "overwrite":
        for _ in range(rng.choice([1, 2, 4])):
            i = rng.randrange(n)
            k = min(rng.choice([1, 2, 4, 8, 16]), n - i)
            b[i:i + k] = bytes(rng.randrange(256) for _ in range(k))
    elif kind == "interesting":
        # Values that make lengths, counts and varints extreme.
        v = rng.choice([b"\xff", b"\x00", b"\x7f", b"\x80", b"\xff\xff\xff\xff",
                        b"\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\x00\x00\x00\x80",
                        b"\xfe\xff\xff\xff\x0f"])
        i = rng.randrange(n)
        b[i:i + len(v)] = v
    elif kind == "truncate":
        del b[rng.randrange(n):]
    elif kind == "splice":
        o = rng.choice(others)
        b = b[:rng.randrange(n + 1)] + o[rng.randrange(len(o) + 1):]
    elif kind == "insert":
        i = rng.randrange(n + 1)
        k = rng.choice([1, 2, 4, 16, 64, 300])
        run = bytes(rng.randrange(256) for _ in range(k)) if rng.random() < 0.5 \
            else bytes([rng.randrange(256)]) * k
        b[i:i] = run
    else:  # delete
        i = rng.randrange(n)
        del b[i:i + rng.choice([1, 2, 4, 16, 64, 300])]
    return kind, bytes(b)


def dp_rebuild(meta, weights, head):
    """A .dp whose header's lengths and CRC-32 match meta and weights (docs/dp-format.md)."""
    blob = (HEADER + len(meta) + 63) & ~63
    h = bytearray(head[:HEADER].ljust(HEADER, b"\0"))
    struct.pack_into("<QQI", h, 16, len(meta), len(weights),
                     zlib.crc32(weights, zlib.crc32(meta)) & 0xffffffff)
    return bytes(h) + meta + b"\0" * (blob - HEADER - len(meta)) + weights


def dp_split(data):
    meta_len = struct.unpack_from("<Q", data, 16)[0]
    blob = (HEADER + meta_len + 63) & ~63
    return data[HEADER:HEADER + meta_len], data[blob:]


def corrupt_dp(rng, base, others):
    """Half as corrupt(); half with the header fixed up, so the checksum does not stop them.
    Those corrupt the metadata mostly, sometimes the weights or the header's other fields."""
    if rng.random() < 0.5:
        kind, data = corrupt(rng, base.data, others)
        return kind, data
    meta, weights = dp_split(base.data)
    where = rng.random()
    other_metas = [dp_split(o)[0] for o in others]
    if where < 0.8:
        kind, meta = corrupt(rng, meta, other_metas)
        kind = "meta-" + kind
    elif where < 0.9 and weights:
        kind, weights = corrupt(rng, weights, [dp_split(o)[1] or b"\0" for o in others])
        kind = "weights-" + kind
    else:
        # The whole file, then the lengths and checksum made to match, as fuzz_dp does.
        kind, data = corrupt(rng, base.data, others)
        if len(data) < HEADER:
            return kind, data
        m = min(struct.unpack_from("<Q", data, 16)[0], len(data) - HEADER)
        blob = (HEADER + m + 63) & ~63
        return "fixed-" + kind, dp_rebuild(data[HEADER:HEADER + m], data[blob:], data)
    return kind, dp_rebuild(meta, weights, base.data)


def check(args, path, cmd, out, timeout, allowed, must_fail=False):
    """Runs cmd; returns (status label, problem or None)."""
    try:
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", "no answer within %g s" % timeout
    rc = r.returncode
    err = r.stderr.decode("utf-8", "replace")
    label = str(rc) if rc >= 0 else "signal %d" % -rc
    if rc < 0:
        return label, "killed by signal %d: %s" % (-rc, err.strip()[-400:])
    # A model whose input lost its shape is valid ONNX that needs an option: dpcc asks for
    # --input-shape with status 1 (wrong usage), naming the file, and that is right.
    if rc == 1 and "--input-shape" in err and path.endswith(".onnx"):
        allowed = allowed + (1,)
    if rc not in allowed or (must_fail and rc == 0):
        return label, "exit status %d: %s" % (rc, err.strip()[-400:])
    produced = os.path.isdir(out) and bool(os.listdir(out)) if out.endswith("/") \
        else os.path.exists(out)
    if rc == 0 and not produced:
        return label, "exit status 0 but no output"
    if rc != 0:
        if produced:
            return label, "exit status %d left an output behind" % rc
        if os.path.basename(path) not in err:
            return label, "exit status %d with no message naming the file: %r" % (rc, err[-400:])
        if "AddressSanitizer" in err or "runtime error" in err or "LeakSanitizer" in err:
            return label, "sanitizer report: " + err[-400:]
    return label, None


def onnx_job(args, work, i, name, data, analog):
    path = os.path.join(work, name)
    with open(path, "wb") as f:
        f.write(data)
    out = os.path.join(work, name + ".out.dp")
    cmd = [os.path.join(args.build, "dpcc"), path, "-o", out, "-q", "--max-memory", MAX_MEMORY]
    cmd += ["--schedule", "fixed:2", "-j", "1"] if analog else ["--no-analog"]
    allowed = (0, 2, 3, 4) if analog else (0, 2, 3)
    # The analog stage calibrates and simulates: seconds, not milliseconds, and far more under
    # a sanitizer on a loaded machine. The timeout is there to catch hangs.
    timeout = args.timeout * (6 if analog else 1)
    label, problem = check(args, path, cmd, out, timeout, allowed, args.must_fail)
    # Nothing half-written: a failed compile leaves no temporary beside the output either.
    if problem is None and label != "0":
        stray = [f for f in os.listdir(work) if f.startswith(name + ".out")]
        if stray:
            problem = "exit status %s left %s behind" % (label, stray)
    return path, label, problem


def dp_job(args, work, i, name, data, inputs, ideal):
    path = os.path.join(work, name)
    with open(path, "wb") as f:
        f.write(data)
    out = os.path.join(work, name + ".out/")
    cmd = [os.path.join(args.build, "dprun"), path, "-o", out, "--max-memory", MAX_MEMORY]
    for x in inputs:
        cmd += ["-i", x]
    cmd += ["--ideal"] if ideal else ["--seed", str(i)]
    label, problem = check(args, path, cmd, out, args.timeout, (0, 2, 3), args.must_fail)
    return path, label, problem


def cleanup(path):
    for p in (path, path + ".out.dp"):
        if os.path.exists(p):
            os.remove(p)
    shutil.rmtree(path + ".out", ignore_errors=True)


def run_jobs(args, jobs):
    """Runs (fn, args) jobs on args.jobs threads; returns a histogram and the failures."""
    hist = collections.Counter()
    failures = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(fn, *a) for fn, a in jobs]
        for fut in concurrent.futures.as_completed(futures):
            path, label, problem = fut.result()
            hist[label] += 1
            args.labels.append((path, label))
            if problem:
                failures.append((path, problem))
                log("FAIL %s: %s" % (os.path.basename(path), problem))
                if args.keep:
                    os.makedirs(args.keep, exist_ok=True)
                    shutil.copy(path, args.keep)
            if not args.regress:
                cleanup(path)
    return hist, failures


def varint(n):
    out = bytearray()
    while True:
        out.append(n & 0x7f | (0x80 if n > 0x7f else 0))
        n >>= 7
        if not n:
            return bytes(out)


def nested_model(depth):
    """An ONNX model of If nodes nested depth deep through their then_branch attributes: once
    a stack overflow in protobuf-c's unpacking (depth 100000, 3.3 MB, made here, not stored).
    Each level's bytes all come before the level it holds, so the file is its levels'
    prefixes, outermost first, made from the lengths counted innermost first."""
    def field(num, payload):
        return varint(num << 3 | 2) + varint(len(payload)) + payload
    name, op = field(1, b"then_branch") + varint(20 << 3) + varint(5), field(4, b"If")
    prefixes, inner = [], 0
    for _ in range(depth):
        attr = len(name) + 1 + len(varint(inner)) + inner
        node = len(op) + 1 + len(varint(attr)) + attr
        prefixes.append(varint(1 << 3 | 2) + varint(node) + op + varint(5 << 3 | 2) + varint(attr)
                        + name + varint(6 << 3 | 2) + varint(inner))
        inner = 1 + len(varint(node)) + node
    opset = field(8, field(1, b"") + varint(2 << 3) + varint(13))
    return varint(1 << 3) + varint(8) + opset + varint(7 << 3 | 2) + varint(inner) \
        + b"".join(reversed(prefixes))


def long_attribute_model(n):
    """A Relu model whose node has an ints attribute of n values (packed, one byte each),
    above dpcc's limit of 2^20 when n is larger."""
    def field(num, payload):
        return varint(num << 3 | 2) + varint(len(payload)) + payload
    attr = field(1, b"axes") + varint(20 << 3) + varint(7) + field(8, b"\0" * n)
    node = field(1, b"x") + field(2, b"y") + field(4, b"Relu") + field(5, attr)
    tensor_type = field(1, varint(1 << 3) + varint(1) + field(2, field(1, varint(1 << 3) + varint(4))))
    graph = field(1, node) + field(2, b"g") + field(11, field(1, b"x") + field(2, tensor_type)) \
        + field(12, field(1, b"y") + field(2, tensor_type))
    opset = field(8, field(1, b"") + varint(2 << 3) + varint(13))
    return varint(1 << 3) + varint(8) + opset + field(7, graph)


def regress(args):
    jobs = []
    work = tempfile.mkdtemp(prefix="dpcc-regress-")
    jobs.append((onnx_job, (args, work, 0, "nested_100000.onnx", nested_model(100000), False)))
    jobs.append((onnx_job, (args, work, 0, "attribute_2e20+1.onnx",
                            long_attribute_model((1 << 20) + 1), False)))
    for f in sorted(os.listdir(args.regress)):
        src = os.path.join(args.regress, f)
        with open(src, "rb") as fh:
            data = fh.read()
        if f.endswith(".onnx"):
            jobs.append((onnx_job, (args, work, 0, f, data, False)))
        elif f.endswith(".dp"):
            lst = src[:-3] + ".inputs"
            inputs = ["examples/input_0.npy"]
            if os.path.exists(lst):
                with open(lst) as fh:
                    inputs = fh.read().split()
            inputs = [os.path.join(TOP, x) for x in inputs]
            jobs.append((dp_job, (args, work, 0, f, data, inputs, True)))
            jobs.append((dp_job, (args, work, 1, "noisy_" + f, data, inputs, False)))
    # Each ONNX file must be refused; each program in at least one of its two runs (one
    # may be valid --ideal, such as a program whose analog layers lost their calibration).
    args.must_fail = False
    hist, failures = run_jobs(args, jobs)
    refused = collections.defaultdict(bool)
    for path, label in args.labels:
        name = os.path.basename(path)
        refused[name[6:] if name.startswith("noisy_") else name] |= label != "0"
    for name in sorted(refused):
        if not refused[name]:
            failures.append((name, "accepted, but it is a regression input that must be refused"))
            log("FAIL %s: accepted; it must be refused" % name)
    shutil.rmtree(work, ignore_errors=True)
    print("corrupt_test: %d regression runs, exit statuses %s, %d failures"
          % (len(jobs), dict(sorted(hist.items())), len(failures)))
    return 1 if failures or not jobs else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="build folder holding dpcc and dprun")
    ap.add_argument("--count", type=int, default=1000, help="corrupted files of each kind")
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--timeout", type=float, default=10, help="seconds per run")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--analog-every", type=int, default=25,
                    help="compile every Nth ONNX file with the analog stage (0: never)")
    ap.add_argument("--keep", help="copy failing inputs into this folder")
    ap.add_argument("--regress", help="run the regression files in this folder instead")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.must_fail = False
    args.labels = []
    if args.regress:
        return regress(args)
    t0 = time.time()
    work = tempfile.mkdtemp(prefix="dpcc-corrupt-")
    try:
        onnx, dp = make_bases(args.build, work)
        rng = random.Random(args.seed)
        jobs = []
        for i in range(args.count):
            base = rng.choice(onnx)
            kind, data = corrupt(rng, base.data, [o.data for o in onnx if o is not base])
            name = "c%04d_%s_%s.onnx" % (i, kind, base.name)
            analog = args.analog_every > 0 and i % args.analog_every == args.analog_every - 1
            jobs.append((onnx_job, (args, work, i, name, data, analog)))
        n_onnx = len(jobs)
        for i in range(args.count):
            base = rng.choice(dp)
            kind, data = corrupt_dp(rng, base, [o.data for o in dp if o is not base])
            name = "c%04d_%s_%s.dp" % (i, kind, base.name)
            jobs.append((dp_job, (args, work, i, name, data, base.inputs, i % 4 != 3)))
        hist_o, fail_o = run_jobs(args, jobs[:n_onnx])
        hist_d, fail_d = run_jobs(args, jobs[n_onnx:])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("corrupt_test: seed %d, %.0f s" % (args.seed, time.time() - t0))
    print("  dpcc  on %d ONNX files: exit statuses %s, %d failures"
          % (n_onnx, dict(sorted(hist_o.items())), len(fail_o)))
    print("  dprun on %d .dp files:  exit statuses %s, %d failures"
          % (len(jobs) - n_onnx, dict(sorted(hist_d.items())), len(fail_d)))
    return 1 if fail_o or fail_d else 0


if __name__ == "__main__":
    sys.exit(main())
