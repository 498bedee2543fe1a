/*
 * test_calibrate.c: calibration's statistics (compiler/tuning/reservoir.c): the quantiles
 * that become the converters' full scales, against order statistics the test computes
 * itself by sorting every value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "reservoir.h"

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005u + 1442695040888963407u;
    return *s >> 11;
}

/* n distinct values (i + 0.5) / n in a seeded random order, signs alternating. */
static float *shuffled(int64_t n, uint64_t seed)
{
    float *v = malloc((size_t)n * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)((i + 0.5) / (double)n) * (i % 2 ? -1.0f : 1.0f);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(lcg(&seed) % (uint64_t)(i + 1));
        float t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
    return v;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* The k-th smallest |v| (k from 1). */
static double kth_smallest(const float *v, int64_t n, int64_t k)
{
    float *a = malloc((size_t)n * sizeof *a);
    assert_non_null(a);
    for (int64_t i = 0; i < n; i++)
        a[i] = fabsf(v[i]);
    qsort(a, (size_t)n, sizeof *a, cmp_float);
    double x = a[k - 1];
    free(a);
    return x;
}

/* The ceil(q n)-th smallest |v|: the definition both of the reservoir's quantiles use. */
static double order_statistic(const float *v, int64_t n, double q)
{
    int64_t k = (int64_t)ceil(q * (double)n);
    return kth_smallest(v, n, k < 1 ? 1 : k);
}

/* While the quantile is among a channel's DPC_TOP_K largest values (up to about
 * (DPC_TOP_K - 1) / (1 - q) values: 310,000 at q = 0.9999), it is exact. */
static void channel_quantile_is_exact_within_its_reach(void **state)
{
    (void)state;
    static const int64_t sizes[] = {1, 31, 32, 1000, 100000, 123457, 310000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t n = sizes[s];
        float *v = shuffled(n, 7 + s);
        dpc_reservoir r;
        assert_true(dpc_reservoir_init(&r, 1, 3));
        for (int64_t i = 0; i < n; i++) {
            dpc_reservoir_offer_channel(&r, 1, v[i]);
            dpc_reservoir_offer_channel(&r, 2, 100 * v[i]); /* another channel, kept apart */
        }
        assert_true(dpc_reservoir_channel_quantile(&r, 1, 0.9999) == order_statistic(v, n, 0.9999));
        assert_true(dpc_reservoir_channel_quantile(&r, 0, 0.9999) == 0);
        dpc_reservoir_free(&r);
        free(v);
    }
}

/* Beyond its reach the channel gives the least of its DPC_TOP_K largest: at or above the
 * true quantile (fewer clips), never below. */
static void channel_quantile_errs_high_beyond_its_reach(void **state)
{
    (void)state;
    int64_t n = 1000000;
    float *v = shuffled(n, 99);
    dpc_reservoir r;
    assert_true(dpc_reservoir_init(&r, 1, 1));
    for (int64_t i = 0; i < n; i++)
        dpc_reservoir_offer_channel(&r, 0, v[i]);
    double got = dpc_reservoir_channel_quantile(&r, 0, 0.9999);
    assert_true(got >= order_statistic(v, n, 0.9999));
    assert_true(got == kth_smallest(v, n, n - DPC_TOP_K + 1));
    dpc_reservoir_free(&r);
    free(v);
}

/* Up to DPC_RESERVOIR values the sample is everything: exact; beyond, a uniform sample whose
 * quantile stays within 5 standard errors, sqrt(q (1 - q) / DPC_RESERVOIR), of the truth
 * (values uniform on (0, 1), shuffled, then in rising order). NaN is ignored and the sum of
 * squares kept. */
static void layer_quantile_exact_then_sampled(void **state)
{
    (void)state;
    float *v = shuffled(DPC_RESERVOIR, 3);
    dpc_reservoir r;
    assert_true(dpc_reservoir_init(&r, 11, 0));
    double sum2 = 0;
    for (int64_t i = 0; i < DPC_RESERVOIR; i++) {
        dpc_reservoir_offer(&r, v[i]);
        sum2 += (double)v[i] * v[i];
    }
    dpc_reservoir_offer(&r, NAN);
    assert_int_equal(r.seen, DPC_RESERVOIR);
    assert_true(fabs(r.sum2 - sum2) <= 1e-9 * sum2);
    assert_true(dpc_reservoir_quantile(&r, 0.9999) == order_statistic(v, DPC_RESERVOIR, 0.9999));
    free(v);

    dpc_reservoir_restart(&r);
    int64_t n = 2000000;
    v = shuffled(n, 5);
    for (int64_t i = 0; i < n; i++)
        dpc_reservoir_offer(&r, v[i]);
    static const double qs[] = {0.5, 0.9, 0.99, 0.999};
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
        double q = qs[k], se = sqrt(q * (1 - q) / DPC_RESERVOIR);
        assert_true(fabs(dpc_reservoir_quantile(&r, q) - q) <= 5 * se);
    }
    /* values in rising order: a sample that favours any part of the stream shows */
    dpc_reservoir_restart(&r);
    for (int64_t i = 0; i < n; i++)
        dpc_reservoir_offer(&r, (float)((i + 0.5) / (double)n));
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
        double q = qs[k], se = sqrt(q * (1 - q) / DPC_RESERVOIR);
        assert_true(fabs(dpc_reservoir_quantile(&r, q) - q) <= 5 * se);
    }
    dpc_reservoir_free(&r);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(channel_quantile_is_exact_within_its_reach),
        cmocka_unit_test(channel_quantile_errs_high_beyond_its_reach),
        cmocka_unit_test(layer_quantile_exact_then_sampled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
