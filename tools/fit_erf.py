#!/usr/bin/python3
"""Fits the float polynomials of erf in runtime/kernels/vmath.c and prints them as C literals.

    /usr/bin/python3 tools/fit_erf.py

Below |x| = 1, erf(x) = x P(x^2); above it, erf(z) = 1 - exp(-z^2) Q(t) with t = 1 / (1 + z/2)
(the substitution of Numerical Recipes' erfcc), fitted on z in [1, 4]: past 4, erfc(z) is under
half an ulp of 1. Each is a degree-6 Chebyshev least-squares fit in double (numpy), rounded to
float; the unit test test_vmath measures the result against libm.
"""
import math

import numpy as np
from numpy.polynomial import chebyshev, polynomial


def fit(u, g, degree):
    """Coefficients (constant first) of the degree-n polynomial in u nearest g, as float32."""
    lo, hi = u.min(), u.max()
    cheb = chebyshev.chebfit((2 * u - (lo + hi)) / (hi - lo), g, degree)
    to_u = polynomial.Polynomial([-(lo + hi) / (hi - lo), 2 / (hi - lo)])
    return np.float32(polynomial.Polynomial(chebyshev.cheb2poly(cheb))(to_u).coef)


def main():
    erf, erfc = np.vectorize(math.erf), np.vectorize(math.erfc)
    x = np.linspace(1e-6, 1, 400001)
    z = np.linspace(1, 4, 400001)
    fits = {"P (x^2)": fit(x * x, erf(x) / x, 6),
            "Q (t)": fit(1 / (1 + 0.5 * z), erfc(z) * np.exp(z * z), 6)}
    for name, coef in fits.items():
        print(name + ", highest power first:")
        print("    " + ", ".join(float(c).hex().replace("0000000p", "p") + "f" for c in coef[::-1]))


if __name__ == "__main__":
    main()
