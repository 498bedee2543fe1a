/*
 * vmath.c: exp and erf over float arrays (vmath.h). Each element is a fixed sequence of
 * float operations with selects in place of branches, so the loops vectorise and every
 * instruction set gives the same bits.
 */
#include "vmath.h"

#include "simd.h"

#include <math.h>
#include <string.h>

static inline float float_from_bits(int32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/*
 * exp(x) = 2^n exp(r) with n the nearest integer to x / ln 2 and |r| <= ln(2) / 2:
 * Cody and Waite's two-part ln 2 (0.693359375 holds 8 bits, so n times it is exact), and
 * Taylor's series to r^7, whose remainder is under 6e-9. 2^n is applied as two factors, each
 * a normal float, so that results in the subnormals are rounded once.
 */
static inline float exp_one(float x)
{
    /* past these exp(x) rounds to infinity or 0; a NaN takes -104 here and is restored */
    float c = x > -104.0f ? (x < 89.0f ? x : 89.0f) : -104.0f;
    const float shift = 0x1.8p23f; /* adding it rounds a float of magnitude < 2^22 to an integer */
    float n = (c * 0x1.715476p+0f + shift) - shift;
    float r = (c - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t ni = (int32_t)n, n1 = ni / 2, n2 = ni - n1;
    float y = p * float_from_bits((n1 + 127) << 23) * float_from_bits((n2 + 127) << 23);
    return x != x ? x : y;
}

/*
 * Below |x| = 1, erf(x) = x P(x^2); above it, erf(|x|) = 1 - exp(-x^2) Q(t) with
 * t = 1 / (1 + |x|/2), the substitution of Numerical Recipes' erfcc. P and Q are degree-6
 * Chebyshev fits made by tools/fit_erf.py; erfc(1) < 0.16 keeps Q's relative error well under
 * an ulp of erf, and past |x| = 4 erfc is under half an ulp of 1.
 */
static inline float erf_one(float x)
{
    float x2 = x * x;
    float p = 0x1.4fd6b6p-14f;
    p = p * x2 - 0x1.a64020p-11f;
    p = p * x2 + 0x1.545370p-8f;
    p = p * x2 - 0x1.b80286p-6f;
    p = p * x2 + 0x1.ce2d7cp-4f;
    p = p * x2 - 0x1.812740p-2f;
    p = p * x2 + 0x1.20dd76p+0f;

    float t = 1.0f / (1.0f + 0.5f * fabsf(x));
    float q = -0x1.d350acp-5f;
    q = q * t - 0x1.83786cp-5f;
    q = q * t + 0x1.916bf2p-2f;
    q = q * t + 0x1.bccc94p-4f;
    q = q * t + 0x1.503450p-2f;
    q = q * t + 0x1.18a66cp-2f;
    q = q * t + 0x1.2c4a34p-11f;
    float large = copysignf(1.0f - q * exp_one(-x2), x);
    float y = fabsf(x) < 1.0f ? x * p : large;
    return x != x ? x : y;
}

/* The loops are static so that the C backend's one source, which calls the public names
 * before defining them, can still clone them per instruction set. */
DP_MULTI_TARGET
static void exp_loop(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = exp_one(x[i]);
}

DP_MULTI_TARGET
static void erf_loop(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = erf_one(x[i]);
}

void dp_vexp(const float *x, float *y, int64_t n) { exp_loop(x, y, n); }

void dp_verf(const float *x, float *y, int64_t n) { erf_loop(x, y, n); }
