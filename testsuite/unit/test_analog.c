/*
 * test_analog.c: the Philox generator against Random123's known answers, and the analog
 * layer product of analog.h against the formulas of analog-model.md: each noise source's
 * variance, division by N, the ADC floor, effective bits, static errors, determinism and
 * independence from column chunking.
 *
 * Variance checks compare the mean over n outputs of d^2 / v (d: deviation from the
 * noise-free result, v: the formula's variance) with 1. For Gaussian d that mean has
 * standard deviation sqrt(2 / n) (chi-square with n degrees of freedom), for uniform
 * quantisation error sqrt(0.8 / n); the tolerance is 4 of those: with n >= 20000, a few
 * percent, and a false failure is a 1-in-15000 event that fixed seeds make reproducible.
 * Run the binary directly to see the measured figures.
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

#include "analog.h"
#include "kernel_util.h"
#include "philox.h"

static double chi2_tol(int64_t n) { return 4.0 * sqrt(2.0 / (double)n); }

/* Uniform values in [-1, 1) from Philox; tag picks the stream so W and X differ. */
static float *fill(int64_t n, uint32_t tag)
{
    float *v = malloc((size_t)n * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i += 2) {
        uint32_t ctr[4] = {(uint32_t)i, (uint32_t)(i >> 32), 0, 0}, key[2] = {tag, 0x5eedu}, r[4];
        dp_philox4x32_10(ctr, key, r);
        v[i] = (float)(2.0 * dp_philox_uniform(r[0], r[1]) - 1.0);
        if (i + 1 < n)
            v[i + 1] = (float)(2.0 * dp_philox_uniform(r[2], r[3]) - 1.0);
    }
    return v;
}

static dp_analog_params base_params(void)
{
    return (dp_analog_params){.dac_bits = 8, .weight_bits = 8, .adc_bits = 24, .repetitions = 1,
                              .core_cols = 64, .seed = 1};
}

static dp_analog_weights *prepare(dp_arena *a, const dp_analog_params *p, uint32_t layer,
                                  int64_t M, int64_t K, const float *W)
{
    dp_analog_weights *w = NULL;
    dp_error err = {0};
    dp_status st = dp_analog_prepare(p, layer, 0, M, K, W, K, a, &w, &err);
    if (st != DP_OK)
        fail_msg("prepare: %s", err.msg);
    return w;
}

/* One dp_analog_run over P columns starting at global column col0; returns the clip count. */
static int64_t run(const dp_analog_weights *w, const dp_analog_params *p, const float *G,
                   int64_t nG, uint32_t inference, uint64_t col0, int64_t P, const float *X,
                   int64_t ldx, float *Y, int64_t ldy, float *pre_adc)
{
    size_t bytes = (dp_analog_scratch_size(w, P) + 63) / 64 * 64;
    void *scratch = aligned_alloc(64, bytes);
    assert_non_null(scratch);
    dp_analog_call call = {.x_scale = 1.0f, .adc_scale = G, .n_adc_scale = nG,
                           .inference = inference, .col0 = col0, .pre_adc = pre_adc};
    dp_error err = {0};
    int64_t clipped = -1;
    dp_status st = dp_analog_run(w, p, &call, P, X, ldx, Y, ldy, scratch, &clipped, &err);
    free(scratch);
    if (st != DP_OK)
        fail_msg("run: %s", err.msg);
    return clipped;
}

static void philox_known_answers(void **state)
{
    /* Random123 tests/kat_vectors, the three philox4x32 10 lines: counter, key, result */
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
         0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
         0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int v = 0; v < 3; v++) {
        uint32_t out[4];
        dp_philox4x32_10(kat[v], kat[v] + 4, out);
        for (int i = 0; i < 4; i++)
            assert_int_equal(out[i], kat[v][6 + i]);
    }
    assert_true(dp_philox_uniform(0, 0) == 0.0);
    assert_true(dp_philox_uniform(0xffffffff, 0xffffffff) == 1.0 - 0x1p-53);
}

static void normals_are_standard(void **state)
{
    enum { CALLS = 50000 };
    double sum = 0, sum2 = 0, sum4 = 0, cross[3] = {0, 0, 0};
    for (uint32_t i = 0; i < CALLS; i++) {
        uint32_t ctr[4] = {i, 0, 0, 0}, key[2] = {7, 0}, r[4];
        float z[4];
        dp_philox4x32_10(ctr, key, r);
        dp_philox_normal4(r, z);
        for (int k = 0; k < 4; k++) {
            sum += z[k];
            sum2 += (double)z[k] * z[k];
            sum4 += (double)z[k] * z[k] * z[k] * z[k];
        }
        /* within a pair, across pairs, and the radii of the two pairs */
        cross[0] += (double)z[0] * z[1];
        cross[1] += (double)z[0] * z[2];
        cross[2] += ((double)z[0] * z[0] + (double)z[1] * z[1] - 2.0) *
                    ((double)z[2] * z[2] + (double)z[3] * z[3] - 2.0) / 4.0;
    }
    double n = 4.0 * CALLS, mean = sum / n, var = sum2 / n, kurt = sum4 / n;
    printf("normals: mean %.4f var %.4f fourth moment %.3f (n = %.0f); correlations %.4f %.4f "
           "%.4f\n", mean, var, kurt, n, cross[0] / CALLS, cross[1] / CALLS, cross[2] / CALLS);
    assert_true(fabs(mean) < 4.0 / sqrt(n));
    assert_true(fabs(var - 1.0) < chi2_tol((int64_t)n));
    /* E z^4 = 3, Var z^4 = 96 */
    assert_true(fabs(kurt - 3.0) < 4.0 * sqrt(96.0 / n));
    /* each product has mean 0 and variance 1 when the normals are independent */
    for (int k = 0; k < 3; k++)
        assert_true(fabs(cross[k] / CALLS) < 4.0 / sqrt((double)CALLS));
}

/* The generator's own logarithm, sine and cosine against libm's, in double, over Philox's
 * outputs: a few float ulps of the largest normal. */
static void normals_match_libm_box_muller(void **state)
{
    double worst = 0;
    for (uint32_t i = 0; i < 20000; i++) {
        uint32_t ctr[4] = {i, 1, 2, 3}, key[2] = {11, 0}, r[4];
        dp_philox4x32_10(ctr, key, r);
        /* the extremes of u1 and u2 too */
        if (i == 0)
            r[0] = r[1] = r[2] = r[3] = 0;
        if (i == 1)
            r[0] = r[1] = r[2] = r[3] = 0xffffffffu;
        float z[4];
        dp_philox_normal4(r, z);
        for (int p = 0; p < 2; p++) {
            double u1 = ((float)(int32_t)(r[2 * p] >> 1) + 0.5f) * 0x1p-31;
            double u2 = (double)(r[2 * p + 1] >> 8) * 0x1p-24;
            double rad = sqrt(-2.0 * log(u1)), theta = 6.283185307179586476925286766559 * u2;
            worst = fmax(worst, fabs(z[2 * p] - rad * cos(theta)));
            worst = fmax(worst, fabs(z[2 * p + 1] - rad * sin(theta)));
        }
    }
    printf("normals: largest difference from libm's Box-Muller %.3g\n", worst);
    assert_true(worst < 4e-6);
}

/* Blocks of draws are exactly the draws one lane at a time, for a block's first and a later
 * column and where the counter's column field crosses 2^32. */
static void noise_block_is_the_draws_one_at_a_time(void **state)
{
    const uint64_t cols[] = {0, 5 * DP_NOISE_BLOCK + 37, ((uint64_t)1 << 32) * 4 - DP_NOISE_BLOCK,
                             ((uint64_t)1 << 32) * 4};
    for (size_t s = 0; s < sizeof cols / sizeof cols[0]; s++) {
        dp_noise_id id = {.seed = 9, .layer = 4, .stream = DP_NOISE_DYNAMIC, .tile = 3,
                          .row = 17, .col = cols[s], .inference = 2};
        /* one block, and as many as one call gives */
        for (int blocks = 1; blocks <= DP_NOISE_SPAN / DP_NOISE_BLOCK; blocks += 3) {
            float z[DP_NOISE_SPAN];
            /* the columns from id.col to the end of its blocks-th block */
            dp_noise_normals(&id, blocks * DP_NOISE_BLOCK - (int)(cols[s] % DP_NOISE_BLOCK), z);
            for (int b = 0; b < blocks; b++) {
                uint64_t block = cols[s] / DP_NOISE_BLOCK + (uint64_t)b;
                for (int i = 0; i < DP_NOISE_BLOCK / 4; i++) {
                    dp_noise_id one = id;
                    one.col = block * (DP_NOISE_BLOCK / 4) + (uint64_t)i;
                    uint32_t ctr[4], key[2], r[4];
                    float want[4];
                    dp_noise_counter(&one, ctr, key);
                    dp_philox4x32_10(ctr, key, r);
                    dp_philox_normal4(r, want);
                    for (int k = 0; k < 4; k++)
                        assert_true(z[b * DP_NOISE_BLOCK + k * DP_NOISE_BLOCK / 4 + i] == want[k]);
                }
            }
        }
    }
}

static void noise_layout_is_injective(void **state)
{
    dp_noise_id a = {.seed = 1, .layer = 2, .stream = DP_NOISE_DYNAMIC, .tile = 1, .row = 3,
                     .col = 4, .inference = 5};
    uint32_t c0[4], k0[2], c1[4], k1[2];
    dp_noise_counter(&a, c0, k0);
    assert_int_equal(c0[0], 3);
    assert_int_equal(c0[1], 4);
    assert_int_equal(c0[2], 1u << 8);
    assert_int_equal(c0[3], 5);
    assert_int_equal(k0[0], 1);
    assert_int_equal(k0[1], 2);
    /* the top bits of one field never reach the next */
    dp_noise_id b = a;
    b.tile = 0;
    b.col = DP_NOISE_COL_LIMIT - 1;
    dp_noise_counter(&b, c1, k1);
    assert_int_equal(c1[2], 0xffu);
    b.tile = DP_NOISE_TILE_LIMIT - 1;
    b.stream = DP_NOISE_STATIC;
    dp_noise_counter(&b, c1, k1);
    assert_int_equal(c1[2], 0xffffffffu ^ (2u << 30));
}

static void quantiser_levels(void **state)
{
    /* b = 2: step 0.5, levels -1, -0.5, 0, 0.5, 1 */
    assert_true(dp_analog_quantise(0.3, 2) == 0.5);
    assert_true(dp_analog_quantise(0.25, 2) == 0.0); /* tie: k = 0.5 -> 0 (even) */
    assert_true(dp_analog_quantise(0.75, 2) == 1.0); /* tie: k = 1.5 -> 2 (even) */
    assert_true(dp_analog_quantise(-0.75, 2) == -1.0);
    assert_true(dp_analog_quantise(-0.25, 2) == 0.0);
    assert_true(dp_analog_quantise(1.0, 2) == 1.0);
    assert_true(dp_analog_quantise(7.0, 3) == 1.0);
    assert_true(dp_analog_quantise(-7.0, 3) == -1.0);
    assert_true(dp_analog_quantise(0.51, 1) == 1.0);
    assert_true(dp_analog_quantise(0.5, 1) == 0.0);
    assert_true(dp_analog_quantise(0.1 + 0x1p-9, 8) == 13.0 / 128); /* 12.8 + 1/4 -> 13 */
    assert_true(isnan(dp_analog_quantise(NAN, 8)));
    /* b_eff of the ADC's own step noise is its bit width */
    dp_analog_params p = base_params();
    p.adc_bits = 10;
    dp_analog_var_parts v = dp_analog_variance_parts(&p, 3.0, 64, 1.0, 1.0);
    assert_true(fabs(dp_analog_effective_bits(3.0, v.adc) - 10.0) < 1e-12);
    assert_true(v.dynamic == 0 && v.stat == 0);
    p.thermal_std = 0.1;
    p.photons_per_mac = 32;
    p.weight_noise_std = 0.5;
    p.input_noise_std = 0.25;
    p.static_weight_std = 2;
    p.repetitions = 4;
    v = dp_analog_variance_parts(&p, 3.0, 64, 8.0, 16.0);
    assert_true(fabs(v.dynamic - (0.09 + 2.0 + 2.0 + 1.0)) < 1e-12);
    assert_true(fabs(v.stat - 32.0) < 1e-12);
    assert_true(fabs(dp_analog_variance(&p, 3.0, 64, 8.0, 16.0) -
                     (5.09 / 4 + v.adc + 32.0)) < 1e-12);
}

/* One layer's measured dynamic noise against the formula. */
typedef struct measured {
    int64_t n;
    double ratio; /* mean of d^2 / v */
    double var;   /* mean of d^2, MAC units */
    double pred;  /* mean of v */
} measured;

/*
 * An M x K layer (weights and inputs uniform in [-1, 1), X = 1, one ADC full scale G) run
 * with p and without its dynamic noise; d in MAC units: (Y - Y_clean) / W_j. Each check
 * passes its own inference index, so that no two checks reuse the same normals.
 */
static measured measure_dynamic(const dp_analog_params *p, int64_t M, int64_t K, int64_t P,
                                float G, uint32_t inference)
{
    dp_arena arena;
    dp_arena_init(&arena, 0);
    float *W = fill(M * K, 1), *X = fill(K * P, 2);
    float *Y0 = malloc((size_t)(M * P) * sizeof(float));
    float *Y1 = malloc((size_t)(M * P) * sizeof(float));
    double *xn = calloc((size_t)P, sizeof(double)), *wn = calloc((size_t)M, sizeof(double));
    assert_true(Y0 && Y1 && xn && wn);
    dp_analog_weights *w = prepare(&arena, p, 3, M, K, W);
    dp_analog_params clean = dp_analog_without_noise(p);
    assert_int_equal(run(w, &clean, &G, 1, 0, 0, P, X, P, Y0, P, NULL), 0);
    assert_int_equal(run(w, p, &G, 1, inference, 0, P, X, P, Y1, P, NULL), 0);

    measured m = {.n = M * P};
    double sum_ratio = 0, sum_var = 0, sum_pred = 0;
    double *v = calloc((size_t)(M * P), sizeof(double));
    assert_non_null(v);
    /* the variance, summed over tiles from norms computed here, not taken from w */
    for (int64_t k0 = 0; k0 < K; k0 += p->core_cols) {
        int64_t kt = K - k0 < p->core_cols ? K - k0 : p->core_cols;
        memset(xn, 0, (size_t)P * sizeof(double));
        memset(wn, 0, (size_t)M * sizeof(double));
        for (int64_t i = k0; i < k0 + kt; i++)
            for (int64_t q = 0; q < P; q++) {
                double x = dp_analog_quantise(X[i * P + q], p->dac_bits);
                xn[q] += x * x;
            }
        for (int64_t j = 0; j < M; j++)
            for (int64_t i = k0; i < k0 + kt; i++) {
                double x = dp_analog_quantise((double)W[j * K + i] / w->scale[j], p->weight_bits);
                wn[j] += x * x;
            }
        for (int64_t j = 0; j < M; j++)
            for (int64_t q = 0; q < P; q++)
                v[j * P + q] += dp_analog_variance_parts(p, G, kt, xn[q], wn[j]).dynamic /
                                (double)p->repetitions;
    }
    for (int64_t j = 0; j < M; j++)
        for (int64_t q = 0; q < P; q++) {
            double d = ((double)Y1[j * P + q] - Y0[j * P + q]) / w->scale[j];
            sum_ratio += d * d / v[j * P + q];
            sum_var += d * d;
            sum_pred += v[j * P + q];
        }
    m.ratio = sum_ratio / (double)m.n;
    m.var = sum_var / (double)m.n;
    m.pred = sum_pred / (double)m.n;
    free(v);
    free(W), free(X), free(Y0), free(Y1), free(xn), free(wn);
    dp_arena_free(&arena);
    return m;
}

static void expect_ratio(const char *what, measured m)
{
    printf("%-28s measured var %.6g formula %.6g ratio %.4f (tol %.4f, n = %lld)\n", what, m.var,
           m.pred, m.ratio, chi2_tol(m.n), (long long)m.n);
    if (!(fabs(m.ratio - 1.0) < chi2_tol(m.n)))
        fail_msg("%s: measured/formula variance %.4f", what, m.ratio);
}

enum { VM = 16, VK = 64, VP = 4000 }; /* 64000 outputs per check */
static const float VG = 32.0f;        /* |s| stays below ~15: no clipping */

static void each_noise_source_alone(void **state)
{
    dp_analog_params p = base_params();
    p.thermal_std = 0.005;
    expect_ratio("thermal", measure_dynamic(&p, VM, VK, VP, VG, 1));
    p = base_params();
    p.photons_per_mac = 500;
    expect_ratio("shot", measure_dynamic(&p, VM, VK, VP, VG, 2));
    p = base_params();
    p.weight_noise_std = 0.02;
    expect_ratio("dynamic weight", measure_dynamic(&p, VM, VK, VP, VG, 3));
    p = base_params();
    p.input_noise_std = 0.02;
    expect_ratio("dynamic input", measure_dynamic(&p, VM, VK, VP, VG, 4));
}

/* All dynamic sources at once, over 4 fan-in tiles (32, 32, 32, 4 inputs). */
static void repetitions_divide_variance(void **state)
{
    dp_analog_params p = base_params();
    p.thermal_std = 0.004;
    p.photons_per_mac = 800;
    p.weight_noise_std = 0.015;
    p.input_noise_std = 0.015;
    p.core_cols = 32;
    double var1 = 0;
    for (int64_t N = 1; N <= 16; N *= 4) {
        p.repetitions = N;
        char what[32];
        snprintf(what, sizeof what, "all dynamic, 4 tiles, N=%lld", (long long)N);
        measured m = measure_dynamic(&p, VM, 100, VP, VG, 10 + (uint32_t)N);
        expect_ratio(what, m);
        if (N == 1)
            var1 = m.var;
        else
            printf("%-28s var(1) / var(N) = %.3f\n", "", var1 / m.var);
    }
}

static void effective_bits_grow_with_repetitions(void **state)
{
    dp_analog_params p = base_params();
    p.thermal_std = 0.01;
    double b1 = dp_analog_effective_bits(VG, (p.thermal_std * VG) * (p.thermal_std * VG));
    double b1_measured = 0;
    for (int64_t N = 1; N <= 64; N *= 4) {
        p.repetitions = N;
        measured m = measure_dynamic(&p, VM, VK, VP, VG, 100 + (uint32_t)N);
        double b = dp_analog_effective_bits(VG, m.var), want = b1 + 0.5 * log2((double)N);
        double tol = 0.5 * log2(1.0 + chi2_tol(m.n));
        if (N == 1)
            b1_measured = b;
        printf("b_eff N=%-3lld measured %.4f bits, b_eff(1) + 0.5 log2 N = %.4f (tol %.3f), "
               "measured b_eff(1) + 0.5 log2 N = %.4f\n",
               (long long)N, b, want, tol, b1_measured + 0.5 * log2((double)N));
        assert_true(fabs(b - want) < tol);
        /* two independent estimates: sqrt(2) times the spread */
        assert_true(fabs(b - b1_measured - 0.5 * log2((double)N)) < sqrt(2.0) * tol);
    }
}

/* Quantisation error of an 8-bit ADC against the unquantised product (24-bit ADC). */
static void adc_floor(void **state)
{
    enum { M = VM, K = VK, P = VP };
    dp_arena arena;
    dp_arena_init(&arena, 0);
    float *W = fill(M * K, 1), *X = fill(K * P, 2);
    float *Y0 = malloc(M * P * sizeof(float)), *Y1 = malloc(M * P * sizeof(float));
    assert_true(Y0 && Y1);
    dp_analog_params p = base_params();
    dp_analog_weights *w = prepare(&arena, &p, 0, M, K, W);
    run(w, &p, &VG, 1, 0, 0, P, X, P, Y0, P, NULL);
    p.adc_bits = 8;
    double D = 2.0 * VG / 256;

    /* without noise: the error is the quantiser's own, uniform on [-D/2, D/2] */
    run(w, &p, &VG, 1, 0, 0, P, X, P, Y1, P, NULL);
    double sum = 0, worst = 0;
    for (int64_t j = 0; j < M; j++)
        for (int64_t q = 0; q < P; q++) {
            double e = ((double)Y1[j * P + q] - Y0[j * P + q]) / w->scale[j];
            sum += e * e;
            worst = fmax(worst, fabs(e));
        }
    double ratio = sum / (M * P) / (D * D / 12), tol = 4.0 * sqrt(0.8 / (M * P));
    printf("ADC 8 bits, no noise: error var / (D^2/12) = %.4f (tol %.4f), max |e| / D = %.4f\n",
           ratio, tol, worst / D);
    assert_true(fabs(ratio - 1.0) < tol);
    assert_true(worst <= D / 2 * (1 + 1e-4));

    /* with noise averaged over many repetitions: v(N) = dynamic / N + D^2 / 12 */
    p.thermal_std = 0.005;
    p.repetitions = 4096;
    double pred = dp_analog_variance(&p, VG, K, 0, 0);
    run(w, &p, &VG, 1, 0, 0, P, X, P, Y1, P, NULL);
    sum = 0;
    for (int64_t j = 0; j < M; j++)
        for (int64_t q = 0; q < P; q++) {
            double e = ((double)Y1[j * P + q] - Y0[j * P + q]) / w->scale[j];
            sum += e * e;
        }
    double var = sum / (M * P);
    printf("ADC 8 bits, N=4096: var %.6g, v(N) %.6g, ratio %.4f; b_eff %.3f (formula %.3f)\n",
           var, pred, var / pred, dp_analog_effective_bits(VG, var),
           dp_analog_effective_bits(VG, pred));
    assert_true(fabs(var / pred - 1.0) < chi2_tol(M * P));
    free(W), free(X), free(Y0), free(Y1);
    dp_arena_free(&arena);
}

/*
 * Static errors read back one by one: with X the identity, column i of the product is the
 * programmed column i of the weights, so (Y - Y_clean) / W_j is e_ji itself.
 */
static void static_errors(void **state)
{
    enum { M = 128, K = 256 };
    dp_arena arena;
    dp_arena_init(&arena, 0);
    float *W = fill(M * K, 1), *X = calloc(K * K, sizeof(float));
    float *Y0 = malloc(M * K * sizeof(float)), *Y1 = malloc(M * K * sizeof(float)),
          *Y2 = malloc(M * K * sizeof(float));
    assert_true(X && Y0 && Y1 && Y2);
    for (int64_t i = 0; i < K; i++)
        X[i * K + i] = 1;
    const float G = 2;
    dp_analog_params clean = base_params(), p = base_params();
    clean.core_cols = p.core_cols = K;
    p.static_weight_std = 0.02;
    dp_analog_weights *w0 = prepare(&arena, &clean, 0, M, K, W);
    dp_analog_weights *w1 = prepare(&arena, &p, 0, M, K, W);
    run(w0, &clean, &G, 1, 0, 0, K, X, K, Y0, K, NULL);
    run(w1, &p, &G, 1, 0, 0, K, X, K, Y1, K, NULL);
    double sum = 0, sum2 = 0;
    for (int64_t j = 0; j < M; j++)
        for (int64_t i = 0; i < K; i++) {
            double e = ((double)Y1[j * K + i] - Y0[j * K + i]) / w1->scale[j];
            sum += e;
            sum2 += e * e;
        }
    double n = M * K, var = sum2 / n, s2 = p.static_weight_std * p.static_weight_std;
    double pred = dp_analog_variance_parts(&p, G, K, 1.0, 0).stat;
    printf("static: mean %.3g, var %.6g, formula %.6g, ratio %.4f (tol %.4f, n = %.0f)\n",
           sum / n, var, pred, var / pred, chi2_tol((int64_t)n), n);
    assert_true(fabs(pred - s2) < 1e-15);
    assert_true(fabs(sum / n) < 4.0 * p.static_weight_std / sqrt(n));
    assert_true(fabs(var / s2 - 1.0) < chi2_tol((int64_t)n));

    /* the same device in another inference, and programmed again: the same bits */
    run(w1, &p, &G, 1, 9, 0, K, X, K, Y2, K, NULL);
    assert_memory_equal(Y1, Y2, M * K * sizeof(float));
    dp_analog_weights *again = prepare(&arena, &p, 0, M, K, W);
    run(again, &p, &G, 1, 0, 0, K, X, K, Y2, K, NULL);
    assert_memory_equal(Y1, Y2, M * K * sizeof(float));
    /* another device (seed), or another layer: other errors almost everywhere */
    for (int other = 0; other < 2; other++) {
        dp_analog_params q = p;
        q.seed = other == 0 ? 2 : p.seed;
        dp_analog_weights *w2 = prepare(&arena, &q, other == 0 ? 0 : 1, M, K, W);
        run(w2, &q, &G, 1, 0, 0, K, X, K, Y2, K, NULL);
        int64_t same = 0;
        for (int64_t k = 0; k < M * K; k++)
            same += Y1[k] == Y2[k];
        assert_true(same < M * K / 100);
    }
    free(W), free(X), free(Y0), free(Y1), free(Y2);
    dp_arena_free(&arena);
}

/* A layer with everything on: odd M, 4 tiles, per-channel G, an 8-bit ADC that clips. */
enum { DM = 7, DK = 100, DP = 37 };
static const float DG[DM] = {3, 4, 5, 6, 7, 8, 2};

static dp_analog_params noisy_params(void)
{
    dp_analog_params p = base_params();
    p.adc_bits = 8;
    p.core_cols = 32;
    p.repetitions = 2;
    p.thermal_std = 0.01;
    p.photons_per_mac = 100;
    p.weight_noise_std = 0.02;
    p.input_noise_std = 0.02;
    p.static_weight_std = 0.01;
    p.distortion_k3 = 0.05;
    return p;
}

static void same_seed_same_bits(void **state)
{
    dp_arena arena;
    dp_arena_init(&arena, 0);
    float *W = fill(DM * DK, 3), *X = fill(DK * DP, 4);
    float Ya[DM * DP], Yb[DM * DP];
    dp_analog_params p = noisy_params();
    dp_analog_weights *w = prepare(&arena, &p, 5, DM, DK, W);
    int64_t ca = run(w, &p, DG, DM, 1, 0, DP, X, DP, Ya, DP, NULL);
    int64_t cb = run(w, &p, DG, DM, 1, 0, DP, X, DP, Yb, DP, NULL);
    assert_memory_equal(Ya, Yb, sizeof Ya);
    assert_int_equal(ca, cb);
    assert_true(ca > 0);

    int64_t same = 0;
    run(w, &p, DG, DM, 2, 0, DP, X, DP, Yb, DP, NULL);
    for (int k = 0; k < DM * DP; k++)
        same += Ya[k] == Yb[k];
    assert_true(same < DM * DP / 4);

    dp_analog_params q = p;
    q.seed = 99;
    dp_analog_weights *w2 = prepare(&arena, &q, 5, DM, DK, W);
    run(w2, &q, DG, DM, 1, 0, DP, X, DP, Yb, DP, NULL);
    same = 0;
    for (int k = 0; k < DM * DP; k++)
        same += Ya[k] == Yb[k];
    assert_true(same < DM * DP / 4);
    free(W), free(X);
    dp_arena_free(&arena);
}

/* Columns run in chunks of 1, 5, 13 and 18 (any split, any order) give the same bits. */
static void chunks_are_bit_identical(void **state)
{
    dp_arena arena;
    dp_arena_init(&arena, 0);
    static const int64_t chunk[] = {18, 1, 13, 5};
    for (int64_t M = 1; M <= DM; M += DM - 1) {
        float *W = fill(M * DK, 3), *X = fill(DK * DP, 4);
        float Ya[DM * DP], Yb[DM * DP], Pa[4 * DM * DP], Pb[4 * DM * DP];
        dp_analog_params p = noisy_params();
        dp_analog_weights *w = prepare(&arena, &p, 5, M, DK, W);
        int64_t ca = run(w, &p, DG, M, 4, 1000, DP, X, DP, Ya, DP, Pa), cb = 0;
        memset(Yb, 0xff, sizeof Yb);
        for (int64_t c = 3, p0 = DP; c >= 0; c--) {
            p0 -= chunk[c];
            cb += run(w, &p, DG, M, 4, 1000 + (uint64_t)p0, chunk[c], X + p0, DP, Yb + p0, DP,
                      Pb);
            /* pre-ADC values: [(t * M + j) * P + p] with this chunk's P */
            for (int64_t t = 0; t < 4; t++)
                for (int64_t j = 0; j < M; j++)
                    for (int64_t q = 0; q < chunk[c]; q++)
                        assert_true(Pb[(t * M + j) * chunk[c] + q] ==
                                    Pa[(t * M + j) * DP + p0 + q]);
        }
        assert_memory_equal(Ya, Yb, (size_t)(M * DP) * sizeof(float));
        assert_int_equal(ca, cb);
        free(W), free(X);
    }
    dp_arena_free(&arena);
}

/* The im2col matrix of dp_analog_planes's window over an H x W plane: 9 x (Ho Wo). */
static float *window_matrix(const float *x, int64_t H, int64_t W, int st, int64_t *P)
{
    int64_t Ho = H / st, Wo = W / st;
    float *m = malloc((size_t)(9 * Ho * Wo) * sizeof(float));
    assert_non_null(m);
    for (int t = 0; t < 9; t++)
        for (int64_t i = 0; i < Ho; i++)
            for (int64_t j = 0; j < Wo; j++) {
                int64_t r = st * i + t / 3 - 1, c = st * j + t % 3 - 1;
                m[t * Ho * Wo + i * Wo + j] = r >= 0 && r < H && c >= 0 && c < W ? x[r * W + c]
                                                                                 : 0.0f;
            }
    *P = Ho * Wo;
    return m;
}

/* A depthwise channel's window read straight from its plane gives dp_analog_run's bits on
 * the matrix, for both strides, fan-in tiles of 9 and of 4, every noise source with the
 * distortion, and a run of columns that starts inside a row and a noise block. */
static void planes_match_the_matrix(void **state)
{
    dp_arena arena;
    dp_arena_init(&arena, 0);
    static const struct {
        int64_t H, W;
        int stride;
        int64_t cols;
    } cases[] = {{7, 9, 1, 64}, {10, 12, 2, 64}, {12, 10, 1, 4}, {8, 14, 2, 4}};
    float *x = fill(14 * 14, 6), *W = fill(9, 7);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        dp_analog_params p = noisy_params();
        p.core_cols = cases[k].cols;
        int64_t H = cases[k].H, Wd = cases[k].W, P;
        float *X = window_matrix(x, H, Wd, cases[k].stride, &P);
        dp_analog_weights *w = prepare(&arena, &p, 3, 1, 9, W);
        const float G = 2.0f;
        float Ya[14 * 14], Yb[14 * 14];
        int64_t q0 = 5, n = P - 9; /* inside a row and inside a noise block */
        int64_t ca = run(w, &p, &G, 1, 2, 700 + (uint64_t)q0, n, X + q0, P, Ya, n, NULL);
        int64_t Wo = cases[k].stride == 2 ? Wd / 2 : Wd;
        int32_t left[14 * 14], right[14 * 14];
        dp_column_edges(Wo, 0, P, left, right);
        dp_analog_planes in = {.x = x, .H = H, .W = Wd, .stride = cases[k].stride,
                               .left = left, .right = right};
        void *scratch = aligned_alloc(64, dp_analog_planes_scratch_size(&in, n));
        assert_non_null(scratch);
        dp_analog_call call = {.x_scale = 1.0f, .adc_scale = &G, .n_adc_scale = 1,
                               .inference = 2, .col0 = 700 + (uint64_t)q0};
        dp_error err = {0};
        int64_t cb = -1;
        memset(Yb, 0xff, sizeof Yb);
        assert_int_equal(dp_analog_run_planes(w, &p, &call, &in, q0, n, Yb, scratch, &cb, &err),
                         DP_OK);
        assert_memory_equal(Ya, Yb, (size_t)n * sizeof(float));
        assert_int_equal(ca, cb);
        /* a window past the plane's outputs is refused */
        assert_int_equal(dp_analog_run_planes(w, &p, &call, &in, q0, n + 10, Yb, scratch, &cb,
                                              &err),
                         DP_EINTERNAL);
        free(scratch);
        free(X);
    }
    free(x), free(W);
    dp_arena_free(&arena);
}

/* Without noise: the distortion, the clip count and the pre-ADC values by hand. */
static void distortion_and_clipping(void **state)
{
    dp_arena arena;
    dp_arena_init(&arena, 0);
    const float W[2] = {1.0f, -0.5f}, X[3] = {0.5f, -1.0f, 0.25f};
    dp_analog_params p = base_params();
    p.distortion_k3 = 0.1;
    dp_analog_weights *w = prepare(&arena, &p, 0, 2, 1, W);
    float Y[6], pre[6];
    const float G = 0.75f;
    int64_t clipped = run(w, &p, &G, 1, 0, 0, 3, X, 3, Y, 3, pre);
    int64_t want_clipped = 0;
    for (int j = 0; j < 2; j++)
        for (int q = 0; q < 3; q++) {
            double s = (W[j] < 0 ? -1.0 : 1.0) * X[q], y = s / G, d = G * (y - 0.1 * y * y * y);
            want_clipped += fabs(d) > G;
            double want = G * dp_analog_quantise(d / G, p.adc_bits) * fabs(W[j]);
            assert_float_equal(pre[j * 3 + q], d, 1e-6);
            assert_float_equal(Y[j * 3 + q], want, 1e-6);
        }
    assert_int_equal(want_clipped, 2);
    assert_int_equal(clipped, want_clipped);
    dp_arena_free(&arena);
}

static void rejects_bad_use(void **state)
{
    dp_arena arena;
    dp_arena_init(&arena, 0);
    dp_error err = {0};
    dp_analog_weights *w = NULL;
    const float W[4] = {1, 2, 3, 4}, bad[2] = {1, NAN};
    dp_analog_params p = base_params();
    p.adc_bits = 0;
    assert_int_equal(dp_analog_prepare(&p, 0, 0, 2, 2, W, 2, &arena, &w, &err), DP_EINPUT);
    assert_non_null(strstr(err.msg, "adc_bits"));
    p = base_params();
    p.thermal_std = -1;
    dp_error_clear(&err);
    assert_int_equal(dp_analog_params_check(&p, &err), DP_EINPUT);
    assert_non_null(strstr(err.msg, "thermal_std"));
    p = base_params();
    dp_error_clear(&err);
    assert_int_equal(dp_analog_prepare(&p, 0, 0, 1, 2, bad, 2, &arena, &w, &err), DP_EINPUT);
    /* a non-finite weight in a row long enough for the vector lanes is named by place */
    float wide[2 * 40];
    for (int i = 0; i < 80; i++)
        wide[i] = (float)(i % 7) - 3;
    for (int v = 0; v < 2; v++) {
        wide[40 + 20] = v ? NAN : INFINITY;
        dp_error_clear(&err);
        assert_int_equal(dp_analog_prepare(&p, 0, 0, 2, 40, wide, 40, &arena, &w, &err),
                         DP_EINPUT);
        assert_non_null(strstr(err.msg, "weight (1, 20) is not finite"));
    }
    dp_error_clear(&err);
    assert_int_equal(dp_analog_prepare(&p, 0, 0, 2, 2, W, 2, &arena, &w, &err), DP_OK);

    float Y[4], X[4] = {1, 1, 1, 1}, G = 0;
    _Alignas(64) char scratch[4096];
    assert_true(dp_analog_scratch_size(w, 2) <= sizeof scratch);
    dp_analog_call call = {.x_scale = 1, .adc_scale = &G, .n_adc_scale = 1};
    assert_int_equal(dp_analog_run(w, &p, &call, 2, X, 2, Y, 2, scratch, NULL, &err), DP_EINPUT);
    G = 1;
    dp_analog_params q = p;
    q.weight_bits = p.weight_bits - 1;
    dp_error_clear(&err);
    assert_int_equal(dp_analog_run(w, &q, &call, 2, X, 2, Y, 2, scratch, NULL, &err),
                     DP_EINTERNAL);
    /* without static errors the seed does not shape the weights: another seed may run them */
    q = p;
    q.seed = p.seed + 1;
    dp_error_clear(&err);
    assert_int_equal(dp_analog_run(w, &q, &call, 2, X, 2, Y, 2, scratch, NULL, &err),
                     p.static_weight_std > 0 ? DP_EINTERNAL : DP_OK);
    call.col0 = DP_NOISE_COL_LIMIT - 1;
    dp_error_clear(&err);
    assert_int_equal(dp_analog_run(w, &p, &call, 2, X, 2, Y, 2, scratch, NULL, &err),
                     DP_EUNSUPPORTED);
    dp_arena_free(&arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(philox_known_answers),
        cmocka_unit_test(normals_are_standard),
        cmocka_unit_test(normals_match_libm_box_muller),
        cmocka_unit_test(noise_block_is_the_draws_one_at_a_time),
        cmocka_unit_test(noise_layout_is_injective),
        cmocka_unit_test(quantiser_levels),
        cmocka_unit_test(each_noise_source_alone),
        cmocka_unit_test(repetitions_divide_variance),
        cmocka_unit_test(effective_bits_grow_with_repetitions),
        cmocka_unit_test(adc_floor),
        cmocka_unit_test(static_errors),
        cmocka_unit_test(same_seed_same_bits),
        cmocka_unit_test(chunks_are_bit_identical),
        cmocka_unit_test(planes_match_the_matrix),
        cmocka_unit_test(distortion_and_clipping),
        cmocka_unit_test(rejects_bad_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
