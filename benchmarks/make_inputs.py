"""Writes the benchmark inputs for one model as .npy files (read by dprun and ort_bench.js).

    /usr/bin/python3 benchmarks/make_inputs.py MODEL_DIR OUT_DIR BATCH [BATCH ...] [--calib N]

OUT_DIR/input_bB.npy: the model's test_data_set_0/input_0.pb repeated to a leading batch B.
OUT_DIR/calib.npy (with --calib N): N random calibration samples of the same per-sample shape,
normal(0, 1) float32 for image models, uniform token ids in [0, 1000) for int64 inputs.
"""
import argparse
import os

import numpy as np
import onnx
from onnx import numpy_helper


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("out_dir")
    ap.add_argument("batches", type=int, nargs="+")
    ap.add_argument("--calib", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    t = onnx.TensorProto()
    with open(os.path.join(args.model_dir, "test_data_set_0", "input_0.pb"), "rb") as f:
        t.ParseFromString(f.read())
    x = numpy_helper.to_array(t)
    one = x[:1]
    for b in args.batches:
        xb = np.ascontiguousarray(np.repeat(one, b, axis=0))
        np.save(os.path.join(args.out_dir, f"input_b{b}.npy"), xb)
    if args.calib:
        rng = np.random.default_rng(0)
        shape = (args.calib,) + one.shape[1:]
        if np.issubdtype(one.dtype, np.integer):
            c = rng.integers(0, 1000, size=shape).astype(one.dtype)
        else:
            c = rng.standard_normal(shape).astype(one.dtype)
        np.save(os.path.join(args.out_dir, "calib.npy"), c)


if __name__ == "__main__":
    main()
