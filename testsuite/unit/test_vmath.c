/*
 * test_vmath.c: the vector exp and erf (vmath.h) against libm's double exp and erf, in ulps
 * of the float result, over every 4099th float bit pattern (about a million, every sign,
 * exponent and subnormal) and the edges: overflow, underflow, NaN, infinities, signed zero.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmath.h"

enum { STRIDE = 4099 };

/* |got - want| in units of the float spacing at want; infinite unless both are NaN, or the
 * same infinity, where want is not finite. */
static double ulps(float got, double want)
{
    if (isnan(want))
        return isnan(got) ? 0 : INFINITY;
    if (isinf((float)want))
        return got == (float)want ? 0 : INFINITY;
    double a = fabs(want);
    double spacing = a < 0x1p-126 ? 0x1p-149 : ldexp(1.0, ilogb(a) - 23);
    return fabs((double)got - want) / spacing;
}

/* The worst error of f against ref over the strided bit patterns and the edge values. */
static double worst_ulps(void (*f)(const float *, float *, int64_t), double (*ref)(double),
                         const float *edges, int n_edges)
{
    int64_t n = ((int64_t)1 << 32) / STRIDE + 1 + n_edges;
    float *x = malloc((size_t)n * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
    assert_non_null(x);
    assert_non_null(y);
    int64_t i = 0;
    for (uint64_t bits = 0; bits < ((uint64_t)1 << 32); bits += STRIDE, i++) {
        uint32_t b = (uint32_t)bits;
        memcpy(&x[i], &b, sizeof b);
    }
    memcpy(x + i, edges, (size_t)n_edges * sizeof(float));
    f(x, y, n);
    double worst = 0;
    float at = 0;
    for (int64_t j = 0; j < n; j++) {
        double e = ulps(y[j], ref(x[j]));
        if (e > worst)
            worst = e, at = x[j];
    }
    printf("worst %.3f ulp at %a\n", worst, at);
    free(x);
    free(y);
    return worst;
}

static void exp_is_within_1_5_ulp(void **state)
{
    (void)state;
    const float edges[] = {0.0f, -0.0f, 1.0f, -1.0f, 88.72283f, 88.72284f, 89.0f, 1e30f,
                           -87.33654f, -87.5f, -100.0f, -103.27893f, -103.97208f, -104.0f,
                           -1e30f, INFINITY, -INFINITY, NAN, 0x1p-30f, -0x1p-30f};
    assert_true(worst_ulps(dp_vexp, exp, edges, (int)(sizeof edges / sizeof edges[0])) <= 1.5);

    float x[] = {0.0f, INFINITY, -INFINITY, NAN, 100.0f, -200.0f}, y[6];
    dp_vexp(x, y, 6);
    assert_true(y[0] == 1.0f && y[1] == INFINITY && y[2] == 0.0f && isnan(y[3]));
    assert_true(y[4] == INFINITY && y[5] == 0.0f);
}

static void erf_is_within_3_ulp_and_odd(void **state)
{
    (void)state;
    const float edges[] = {0.0f, -0.0f, 0x1p-149f, 0x1p-126f, 0.5f, 0.99999994f, 1.0f,
                           1.0000001f, -1.0f, 2.0f, 3.9f, 4.0f, 4.1f, 10.0f, 1e30f,
                           INFINITY, -INFINITY, NAN};
    assert_true(worst_ulps(dp_verf, erf, edges, (int)(sizeof edges / sizeof edges[0])) <= 3.0);

    float x[] = {-0.0f, INFINITY, -INFINITY, NAN, 0.3f, -0.3f, 2.5f, -2.5f}, y[8];
    dp_verf(x, y, 8);
    assert_true(y[0] == 0.0f && signbit(y[0]));
    assert_true(y[1] == 1.0f && y[2] == -1.0f && isnan(y[3]));
    assert_true(y[5] == -y[4] && y[7] == -y[6]);
}

/* Both run in place, as Softmax calls exp. */
static void in_place_gives_the_same_values(void **state)
{
    (void)state;
    float x[37], a[37], b[37];
    for (int i = 0; i < 37; i++)
        x[i] = a[i] = b[i] = (float)(i - 18) * 0.37f;
    float y[37];
    dp_vexp(x, y, 37);
    dp_vexp(a, a, 37);
    assert_memory_equal(a, y, sizeof y);
    dp_verf(x, y, 37);
    dp_verf(b, b, 37);
    assert_memory_equal(b, y, sizeof y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exp_is_within_1_5_ulp),
        cmocka_unit_test(erf_is_within_3_ulp_and_odd),
        cmocka_unit_test(in_place_gives_the_same_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
