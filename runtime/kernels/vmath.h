/*
 * vmath.h: exp and erf over float arrays, in branch-free float arithmetic that compiles to
 * vector code, for the transformer's hot elementwise paths (Softmax, GELU's Erf).
 *
 * exp is within 1.5 ulp of the exact result and erf within 3 (test_vmath measures both
 * against libm's double versions), where libm's scalar expf and erff cost a call each.
 * NaN gives NaN, exp overflows to infinity and underflows through the subnormals to 0, and
 * erf is odd and saturates at +-1.
 */
#ifndef DP_VMATH_H
#define DP_VMATH_H

#include <stdint.h>

/* y[i] = exp(x[i]) for i < n; y may be x. */
void dp_vexp(const float *x, float *y, int64_t n);

/* y[i] = erf(x[i]) for i < n; y may be x. */
void dp_verf(const float *x, float *y, int64_t n);

#endif
