#!/usr/bin/python3
"""Fits the float polynomials of the noise's normal quantile in runtime/base/philox.c and
prints them as a C table.

    /usr/bin/python3 tools/fit_normal_quantile.py

A normal's magnitude is |z| = Q^-1(v / 2), v in (0, 1] uniform and Q the upper tail of the
standard normal. Segment s (0..31) holds v = t 2^(-1-s), t in [1, 2], where |z| is a smooth
function of x = t - 3/2; each is a degree-4 Chebyshev least-squares fit in double (numpy,
scipy's ndtri for Q^-1, accurate to double's precision in the tails), rounded to float. It
prints each fit's largest error, evaluated as philox.c does (Horner in float by fused
multiply-adds), on stderr;
the unit test test_analog measures the result against a double-precision quantile.
"""
import sys

import numpy as np
from scipy.special import ndtri

from fit_erf import fit

SEGMENTS, DEGREE = 32, 4


def horner_float(coef, x):
    """The polynomial (constant first) at x by float fused multiply-adds: each step's
    product is exact in double, and the sum rounded to float (through double, whose
    rounding first is off by an ulp in rare ties: enough to measure the fit)."""
    acc = np.full_like(x, coef[-1])
    for c in coef[-2::-1]:
        acc = np.float32(acc.astype(np.float64) * x.astype(np.float64) + np.float64(c))
    return acc


def main():
    t = np.linspace(1, 2, 100001)
    x = np.float32(t - 1.5)
    table = []
    for s in range(SEGMENTS):
        z = -ndtri(t * 2.0 ** (-2 - s))
        coef = fit(t - 1.5, z, DEGREE)
        err = np.max(np.abs(horner_float(coef, x).astype(np.float64) - z))
        print(f"segment {s}: |z| in [{z[-1]:.4f}, {z[0]:.4f}], largest error {err:.2g}",
              file=sys.stderr)
        table.append(coef)
    print(f"static const float normal_quantile_poly[{DEGREE + 1}][{SEGMENTS}] = {{")
    for k in range(DEGREE + 1):
        print(f"    {{ /* x^{k} */")
        row = [float(table[s][k]).hex().replace("0000000p", "p") + "f" for s in range(SEGMENTS)]
        for i in range(0, SEGMENTS, 4):
            print("    " * 2 + ", ".join(row[i:i + 4]) + ",")
        print("    },")
    print("};")


if __name__ == "__main__":
    main()
