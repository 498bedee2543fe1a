"""Loads Debian's Fashion-MNIST (IDX files, gzip) into normalised numpy arrays.

Usage (as a module, from tools/):
    import fmnist
    x, y = fmnist.load("train")   # x: N x 1 x 28 x 28 float32, y: N int64
    x, y = fmnist.load("t10k")

Images are scaled to [0, 1] then normalised with mean 0.2860 and std 0.3530.
Run directly (/usr/bin/python3 tools/fmnist.py) to print the shapes and statistics.
"""
import gzip
import os

import numpy as np

DATA_DIR = "/usr/share/datasets/fashion-mnist"
MEAN = 0.2860
STD = 0.3530


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


if __name__ == "__main__":
    for split in ("train", "t10k"):
        x, y = load(split)
        print(f"{split}: x {x.shape} {x.dtype} mean {x.mean():.4f} std {x.std():.4f}; "
              f"y {y.shape} {y.dtype} classes {np.bincount(y).tolist()}")
