#!/usr/bin/python3
# make_fixtures.py: regenerates the tiny tensor files test_tensor_io.c reads.
#
# Run with the system Python (numpy and onnx from Debian): /usr/bin/python3 make_fixtures.py
# The .npy files come from numpy itself and the .pb files from onnx.helper with raw=False, so
# the tests check the readers against the reference writers, typed fields included.
import os

import numpy as np
from onnx import TensorProto, helper

here = os.path.dirname(os.path.abspath(__file__))


def out(name):
    return os.path.join(here, name)


# NumPy: several dtypes, a scalar, an empty array, and format versions 1.0 and 2.0.
np.save(out("f4_2x3.npy"), np.arange(6, dtype="<f4").reshape(2, 3) / 4 - 0.5)
np.save(out("i8_4.npy"), np.array([-(2**40), -1, 0, 2**62], dtype="<i8"))
np.save(out("b1_3.npy"), np.array([True, False, True]))
np.save(out("f2_2.npy"), np.array([1.0, 1 / 3], dtype="<f2"))
np.save(out("u1_2x2.npy"), np.array([[0, 1], [254, 255]], dtype="u1"))
np.save(out("f8_scalar.npy"), np.array(2.5, dtype="<f8"))
np.save(out("i4_empty.npy"), np.zeros((0, 3), dtype="<i4"))
with open(out("f4_v2.npy"), "wb") as f:
    np.lib.format.write_array(f, np.array([1.5, -2.0], dtype="<f4"), version=(2, 0))
# Refused: Fortran order and big-endian data.
np.save(out("f4_fortran.npy"), np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)))
np.save(out("f4_bigendian.npy"), np.array([1.0, 2.0], dtype=">f4"))

# ONNX TensorProto with values in the typed fields rather than raw_data.
typed = [
    ("typed_float.pb", TensorProto.FLOAT, [2, 2], [0.5, -1.25, 3.0, 1e-3]),
    ("typed_int8.pb", TensorProto.INT8, [3], [-128, 0, 127]),
    ("typed_float16.pb", TensorProto.FLOAT16, [2], np.array([1.0, -0.5], dtype=np.float16)),
    ("typed_int64.pb", TensorProto.INT64, [2], [-(2**40), 7]),
    ("typed_double.pb", TensorProto.DOUBLE, [1], [0.1]),
    ("typed_uint64.pb", TensorProto.UINT64, [2], [2**63 + 5, 1]),
    ("typed_bool.pb", TensorProto.BOOL, [2], [True, False]),
]
for name, dtype, dims, vals in typed:
    t = helper.make_tensor(name.split(".")[0], dtype, dims, vals, raw=False)
    with open(out(name), "wb") as f:
        f.write(t.SerializeToString())
