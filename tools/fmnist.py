"""Loads Debian's Fashion-MNIST (IDX files, gzip) into normalised numpy arrays.

Usage (as a module, from tools/):
    import fmnist
    x, y = fmnist.load("train")   # x: N x 1 x 28 x 28 float32, y: N int64
    x, y = fmnist.load("t10k")

    fmnist.write_split(out)          # calib.npy, test.npy and labels into folder out

Images are scaled to [0, 1] then normalised with mean 0.2860 and std 0.3530.

Run directly to print the shapes and statistics, or with --split DIR... to write the
calibration/held-out split into each trained model's folder (what tools/run_tests.sh does for
the committed models of models/fmnist_*; numpy only, about a second):
    /usr/bin/python3 tools/fmnist.py [--split models/fmnist_cnn models/fmnist_transformer]
"""
import sys
import gzip
import os

import numpy as np

DATA_DIR = "/usr/share/datasets/fashion-mnist"
MEAN = 0.2860
STD = 0.3530
SEED = 0
CALIB_IMAGES = 1024


def _read_idx(path):
    """Returns the array stored in a gzip-compressed IDX file (unsigned-byte data only)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = data[0] << 8 | data[1], data[2], data[3]
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    count = int(np.prod(dims))
    if len(data) != offset + count:
        raise ValueError(f"{path}: expected {count} bytes of data, found {len(data) - offset}")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def load(split, data_dir=DATA_DIR):
    """Returns (images, labels) for split "train" or "t10k"."""
    images = _read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz"))
    labels = _read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz"))
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{split}: {images.shape[0]} images but {labels.shape[0]} labels")
    x = (images.astype(np.float32) / 255.0 - MEAN) / STD
    return x[:, None, :, :].astype(np.float32), labels.astype(np.int64)


def split(data_dir=DATA_DIR):
    """The test set split: {"calib": (images, labels), "test": (images, labels)}, 1024
    calibration images drawn with a fixed seed (data the networks were not trained on, as a
    user's calibration data would be) and the other 8976 held out from calibration."""
    x_test, y_test = load("t10k", data_dir)
    calib_idx = np.random.default_rng(SEED).choice(len(x_test), CALIB_IMAGES, replace=False)
    held_out = np.setdiff1d(np.arange(len(x_test)), calib_idx)
    return {name: (np.ascontiguousarray(x_test[idx]), y_test[idx])
            for name, idx in (("calib", calib_idx), ("test", held_out))}


def write_split(out, data_dir=DATA_DIR):
    """Writes split() into out: calib.npy, calib_labels.npy, test.npy and test_labels.npy."""
    os.makedirs(out, exist_ok=True)
    for name, (x, y) in split(data_dir).items():
        np.save(os.path.join(out, name + ".npy"), x)
        np.save(os.path.join(out, name + "_labels.npy"), y)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        if sys.argv[1] != "--split" or len(sys.argv) < 3:
            sys.exit("usage: fmnist.py [--split DIR...]")
        for folder in sys.argv[2:]:
            write_split(folder)
            print(f"fmnist: wrote calib.npy, test.npy and their labels into {folder}")
        sys.exit(0)
    for part in ("train", "t10k"):
        x, y = load(part)
        print(f"{part}: x {x.shape} {x.dtype} mean {x.mean():.4f} std {x.std():.4f}; "
              f"y {y.shape} {y.dtype} classes {np.bincount(y).tolist()}")
