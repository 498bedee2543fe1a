/*
 * test_analog.c: the Philox generator against Random123's known answers, its normals against
 * the normal's quantile and tail probabilities, the independence of draws whose counters are
 * neighbours, and the analog layer product of analog.h against the formulas of
 * analog-model.md: each noise source's variance, division by N, the ADC floor, effective
 * bits, static errors, determinism and independence from column chunking.
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
        dp_philox4x32_7(ctr, key, r);
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
    dp_status st = dp_analog_prepare(p, layer, 0, M, K, W, K, NULL, a, &w, &err);
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
    /* Random123 tests/kat_vectors, the three philox4x32 7 lines: counter, key, result */
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x5f6fb709, 0x0d893f64, 0x4f121f81, 0x4f730a48},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x5207ddc2,
         0x45165e59, 0x4d8ee751, 0x8c52f662},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0x4dfccaba,
         0x190a87f0, 0xc47362ba, 0xb6b5242a},
    };
    for (int v = 0; v < 3; v++) {
        uint32_t out[4];
        dp_philox4x32_7(kat[v], kat[v] + 4, out);
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
        dp_philox4x32_7(ctr, key, r);
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

/* Q^-1(p), the normal's upper quantile, in double: Newton's method on ln Q(z) = ln p (Q from
 * libm's erfc), whose steps neither overshoot into the far tail nor stall there. */
static double upper_quantile(double p)
{
    double z = p < 0.5 ? sqrt(-2.0 * log(p)) : 0.0;
    for (int i = 0; i < 60; i++) {
        double q = 0.5 * erfc(z * 0.70710678118654752440);
        double dens = exp(-0.5 * z * z) * 0.39894228040143267794; /* 1 / sqrt(2 pi) */
        double step = (log(q) - log(p)) * q / dens;
        z += step;
        if (fabs(step) < 1e-14)
            break;
    }
    return z;
}

/* The generator's segments and polynomials against the quantile in double, over Philox's
 * outputs and the words at the ends of each segment: within the fit's 6.4e-5, and the sign
 * bit gives the sign. */
static void normals_match_the_quantile(void **state)
{
    double worst = 0, largest = 0;
    for (uint32_t i = 0; i < 20000 + 2 * 32; i++) {
        uint32_t ctr[4] = {i, 1, 2, 3}, key[2] = {11, 0}, r[4];
        dp_philox4x32_7(ctr, key, r);
        /* the first and last 31-bit word of segment s, either sign */
        if (i >= 20000) {
            uint32_t s = (i - 20000) / 2, first = s == 31 ? 0 : UINT32_C(1) << (30 - s);
            uint32_t last = s == 0 ? UINT32_C(0x7fffffff) : (UINT32_C(1) << (31 - s)) - 1;
            r[0] = first;
            r[1] = last;
            r[2] = first | UINT32_C(0x80000000);
            r[3] = last | UINT32_C(0x80000000);
        }
        float z[4];
        dp_philox_normal4(r, z);
        for (int k = 0; k < 4; k++) {
            /* v as the generator rounds it, (k + 1/2) 2^-31 in float */
            double v = (double)((float)(int32_t)(r[k] & 0x7fffffffu) + 0.5f) * 0x1p-31;
            double want = upper_quantile(v / 2);
            want = r[k] >> 31 ? -want : want;
            worst = fmax(worst, fabs(z[k] - want));
            largest = fmax(largest, fabs(z[k]));
        }
    }
    printf("normals: largest difference from the quantile %.3g, largest |z| %.4f (Q^-1(2^-33) "
           "= %.4f)\n", worst, largest, upper_quantile(0x1p-33));
    assert_true(worst < 6.5e-5);
}

/* The fraction of |z| > c for c = 1..6 and its exact value 2 Q(c), and the moments, over
 * 2^28 draws of the fast path (the blocks of dp_noise_normals): the tails are those of a
 * normal out to 5 sigma at least. Each count must lie within 4.5 standard deviations of its
 * binomial expectation (beyond 5: 153.9 +- 55.8; a generator that stopped at 5 sigma would
 * count none), the mean within 4.5 / sqrt(n), the variance within 4.5 sqrt(2 / n). Beyond
 * the largest value the words can give, Q^-1(2^-33) = 6.338, there is nothing. */
static void normal_tails(void **state)
{
    enum { ROWS = 1 << 14, COLS = 1 << 14 };
    static const double tail[7] = {1.0, 0.31731050786291415, 0.04550026389635843,
                                   2.6997960632601918e-3, 6.334248366623996e-5,
                                   5.73303143758389e-7, 1.9731752900754036e-9};
    int64_t beyond[7] = {0};
    double sum = 0, sum2 = 0, largest = 0;
    dp_noise_id id = {.seed = 3, .layer = 1, .stream = DP_NOISE_DYNAMIC, .inference = 7};
    for (uint32_t row = 0; row < ROWS; row++) {
        id.row = row;
        for (uint64_t col = 0; col < COLS; col += DP_NOISE_SPAN) {
            float z[DP_NOISE_SPAN];
            id.col = col;
            dp_noise_normals(&id, DP_NOISE_SPAN, z);
            double s1 = 0, s2 = 0;
            for (int i = 0; i < DP_NOISE_SPAN; i++) {
                double a = fabs(z[i]);
                s1 += z[i];
                s2 += a * a;
                largest = fmax(largest, a);
                /* |z| < 1 for two in three: count the rest by the integer part */
                if (a >= 1.0)
                    beyond[(int)fmin(a, 6.0)]++;
            }
            sum += s1;
            sum2 += s2;
        }
    }
    for (int c = 5; c >= 1; c--)
        beyond[c] += beyond[c + 1];
    double n = (double)ROWS * COLS;
    printf("normals: n = %.0f, mean %.2e, variance - 1 %.2e, largest |z| %.4f\n", n, sum / n,
           sum2 / n - 1.0, largest);
    for (int c = 1; c <= 6; c++) {
        double want = n * tail[c], sd = sqrt(n * tail[c] * (1.0 - tail[c]));
        printf("  |z| > %d: %lld, expected %.1f +- %.1f (%+.2f sd)\n", c, (long long)beyond[c],
               want, sd, ((double)beyond[c] - want) / sd);
        if (c <= 5)
            assert_true(fabs((double)beyond[c] - want) <= 4.5 * sd);
    }
    assert_true(fabs(sum / n) < 4.5 / sqrt(n));
    assert_true(fabs(sum2 / n - 1.0) < 4.5 * sqrt(2.0 / n));
    assert_true(largest <= 6.3381);
}

/* Draws whose counters or keys differ by one in a single field (the next row, column, tile
 * pass, inference, seed or layer, the other stream) are uncorrelated, in value and in
 * magnitude: fewer rounds mix a counter less, and neighbouring counters are what the noise
 * uses. Over n pairs, the mean of z z' and of (z^2 - 1)(z'^2 - 1) / 2 each have standard
 * deviation 1 / sqrt(n) for independent normals; each must lie within 4.5 of them. */
static void neighbouring_draws_are_independent(void **state)
{
    enum { FIELDS = 7, ROWS = 1 << 12 };
    static const char *name[FIELDS] = {"row", "column", "tile", "inference", "seed", "layer",
                                       "stream"};
    for (int f = 0; f < FIELDS; f++) {
        double value = 0, magnitude = 0, n = 0;
        for (uint32_t row = 0; row < ROWS; row++) {
            dp_noise_id a = {.seed = 5, .layer = 6, .stream = DP_NOISE_DYNAMIC, .tile = 7,
                             .row = 2 * row, .col = 0, .inference = 8};
            dp_noise_id b = a;
            b.row += f == 0;
            b.tile += f == 2;
            b.inference += f == 3;
            b.seed += f == 4;
            b.layer += f == 5;
            b.stream = f == 6 ? DP_NOISE_STATIC : a.stream;
            float za[DP_NOISE_SPAN], zb[DP_NOISE_SPAN];
            dp_noise_normals(&a, DP_NOISE_SPAN, za);
            dp_noise_normals(&b, DP_NOISE_SPAN, zb);
            for (int i = 0; i < DP_NOISE_SPAN; i++) {
                /* the next column's counter is the next lane's: column i + 1 in a run of 16 */
                if (f == 1 && i % 16 == 15)
                    continue;
                double x = za[i], y = f == 1 ? za[i + 1] : zb[i];
                value += x * y;
                magnitude += (x * x - 1.0) * (y * y - 1.0) / 2.0;
                n++;
            }
        }
        printf("neighbouring draws (%s + 1): mean z z' %+.2e, of (z^2 - 1)(z'^2 - 1) / 2 "
               "%+.2e (sd %.1e, n = %.0f)\n", name[f], value / n, magnitude / n, 1 / sqrt(n), n);
        assert_true(fabs(value / n) < 4.5 / sqrt(n));
        assert_true(fabs(magnitude / n) < 4.5 / sqrt(n));
    }
}

/* Blocks of draws are exactly the draws one lane at a time, for a block's first and a later
 * column and where the counter's column field crosses 2^32, a row at a time and several
 * rows in one call. */
static void noise_block_is_the_draws_one_at_a_time(void **state)
{
    const uint64_t cols[] = {0, 5 * DP_NOISE_BLOCK + 37, ((uint64_t)1 << 32) * 4 - DP_NOISE_BLOCK,
                             ((uint64_t)1 << 32) * 4};
    enum { MOST = DP_NOISE_SPAN / DP_NOISE_BLOCK };
    for (size_t s = 0; s < sizeof cols / sizeof cols[0]; s++) {
        dp_noise_id id = {.seed = 9, .layer = 4, .stream = DP_NOISE_DYNAMIC, .tile = 3,
                          .row = 17, .col = cols[s], .inference = 2};
        /* blocks a row, and rows a call as many as they allow */
        for (int blocks = 1; blocks <= MOST; blocks++)
            for (int rows = 1; rows * blocks <= MOST; rows++) {
                float z[DP_NOISE_SPAN];
                /* the columns from id.col to the end of its blocks-th block */
                int n = blocks * DP_NOISE_BLOCK - (int)(cols[s] % DP_NOISE_BLOCK);
                if (rows == 1)
                    dp_noise_normals(&id, n, z);
                else
                    dp_noise_normals_rows(&id, rows, n, z);
                for (int r = 0; r < rows; r++)
                    for (int b = 0; b < blocks; b++) {
                        uint64_t block = cols[s] / DP_NOISE_BLOCK + (uint64_t)b;
                        for (int i = 0; i < DP_NOISE_BLOCK / 4; i++) {
                            dp_noise_id one = id;
                            one.row = id.row + (uint32_t)r;
                            one.col = block * (DP_NOISE_BLOCK / 4) + (uint64_t)i;
                            uint32_t ctr[4], key[2], w[4];
                            float want[4];
                            dp_noise_counter(&one, ctr, key);
                            dp_philox4x32_7(ctr, key, w);
                            dp_philox_normal4(w, want);
                            const float *zb = z + (r * blocks + b) * DP_NOISE_BLOCK;
                            for (int k = 0; k < 4; k++)
                                assert_true(zb[k * DP_NOISE_BLOCK / 4 + i] == want[k]);
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
    /* shot noise of the signal's own light: |x^|^2 |w^|^2 / (K n) = 8 * 16 / (64 * 32) */
    v = dp_analog_variance_parts(&p, 3.0, 64, 8.0, 16.0);
    assert_true(fabs(v.dynamic - (0.09 + 0.0625 + 2.0 + 1.0)) < 1e-12);
    /* full-scale light: K / n = 64 / 32 */
    p.shot_full_scale = true;
    v = dp_analog_variance_parts(&p, 3.0, 64, 8.0, 16.0);
    assert_true(fabs(v.dynamic - (0.09 + 2.0 + 2.0 + 1.0)) < 1e-12);
    assert_true(fabs(v.stat - 32.0) < 1e-12);
    assert_true(fabs(dp_analog_variance(&p, 3.0, 64, 8.0, 16.0) -
                     (5.09 / 4 + v.adc + 32.0)) < 1e-12);
}

enum { VM = 16, VK = 64, VP = 4000 }; /* 64000 outputs per check */
static const float VG = 32.0f;        /* |s| stays below ~15: no clipping */

/* An M x K layer of weights and inputs uniform in [-1, 1), prepared with p, and its exact
 * product Y0 (no noise, 24-bit ADC); Y1 is room for the same product run otherwise. */
typedef struct exact_layer {
    dp_arena arena;
    float *W, *X, *Y0, *Y1;
    dp_analog_weights *w;
} exact_layer;

static void exact_layer_init(exact_layer *l, const dp_analog_params *p, uint32_t layer,
                             int64_t M, int64_t K, int64_t P)
{
    dp_arena_init(&l->arena, 0);
    l->W = fill(M * K, 1);
    l->X = fill(K * P, 2);
    l->Y0 = malloc((size_t)(M * P) * sizeof(float));
    l->Y1 = malloc((size_t)(M * P) * sizeof(float));
    assert_true(l->Y0 && l->Y1);
    l->w = prepare(&l->arena, p, layer, M, K, l->W);
    dp_analog_params exact = dp_analog_without_noise(p);
    exact.adc_bits = 24;
    run(l->w, &exact, &VG, 1, 0, 0, P, l->X, P, l->Y0, P, NULL);
}

static void exact_layer_free(exact_layer *l)
{
    free(l->W), free(l->X), free(l->Y0), free(l->Y1);
    dp_arena_free(&l->arena);
}

/* One layer's measured dynamic noise against the formula. */
typedef struct measured {
    int64_t n;
    double ratio; /* mean of d^2 / v */
    double var;   /* mean of d^2, MAC units */
    double pred;  /* mean of v */
} measured;

/* One repetition's variance of an output of a pass of fan-in K, ADC full scale G, squared
 * norms xn (inputs) and wn (weights), in MAC units^2. */
typedef double (*variance_fn)(const dp_analog_params *p, double G, int64_t K, double xn,
                              double wn);

static double library_variance(const dp_analog_params *p, double G, int64_t K, double xn,
                               double wn)
{
    return dp_analog_variance_parts(p, G, K, xn, wn).dynamic;
}

/* The DAC as analog.h defines it, for the norms the formulas take. */
static double dac_level(const dp_analog_params *p, double x)
{
    return p->dac_unsigned ? dp_analog_quantise_unsigned(x, p->dac_bits)
                           : dp_analog_quantise(x, p->dac_bits);
}

/*
 * An M x K layer (weights uniform in [-1, 1), inputs uniform in [-1, 1) times x_gain, or in
 * [0, 1) times x_gain for the unsigned DAC, X = 1, one ADC full scale G) run with p and
 * without its dynamic noise; d in MAC units: (Y - Y_clean) / W_j, against formula's
 * variance divided by N. Each check passes its own inference index, so that no two checks
 * reuse the same normals.
 */
static measured measure_with(const dp_analog_params *p, int64_t M, int64_t K, int64_t P,
                             float G, uint32_t inference, float x_gain, variance_fn formula)
{
    dp_arena arena;
    dp_arena_init(&arena, 0);
    float *W = fill(M * K, 1), *X = fill(K * P, 2);
    for (int64_t i = 0; i < K * P; i++)
        X[i] = (p->dac_unsigned ? 0.5f * (X[i] + 1.0f) : X[i]) * x_gain;
    float *Y0 = malloc((size_t)(M * P) * sizeof(float));
    float *Y1 = malloc((size_t)(M * P) * sizeof(float));
    double *xn = calloc((size_t)P, sizeof(double)), *wn = calloc((size_t)M, sizeof(double));
    assert_true(Y0 && Y1 && xn && wn);
    dp_analog_weights *w = prepare(&arena, p, 3, M, K, W);
    /* the reference is the exact product: no noise and a 24-bit ADC */
    dp_analog_params clean = dp_analog_without_noise(p);
    clean.adc_bits = 24;
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
                double x = dac_level(p, X[i * P + q]);
                xn[q] += x * x;
            }
        for (int64_t j = 0; j < M; j++)
            for (int64_t i = k0; i < k0 + kt; i++) {
                double x = dp_analog_quantise((double)W[j * K + i] / w->scale[j], p->weight_bits);
                wn[j] += x * x;
            }
        for (int64_t j = 0; j < M; j++)
            for (int64_t q = 0; q < P; q++)
                v[j * P + q] += formula(p, G, kt, xn[q], wn[j]) / (double)p->repetitions;
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

static measured measure_dynamic(const dp_analog_params *p, int64_t M, int64_t K, int64_t P,
                                float G, uint32_t inference)
{
    return measure_with(p, M, K, P, G, inference, 1.0f, library_variance);
}

static void expect_ratio(const char *what, measured m)
{
    printf("%-28s measured var %.6g formula %.6g ratio %.4f (tol %.4f, n = %lld)\n", what, m.var,
           m.pred, m.ratio, chi2_tol(m.n), (long long)m.n);
    if (!(fabs(m.ratio - 1.0) < chi2_tol(m.n)))
        fail_msg("%s: measured/formula variance %.4f", what, m.ratio);
}


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

/* analog-model.md section 2, written out here rather than taken from analog.c. */
static double signal_shot(const dp_analog_params *p, double G, int64_t K, double xn, double wn)
{
    return xn * wn / ((double)K * p->photons_per_mac);
}

static double full_scale_shot(const dp_analog_params *p, double G, int64_t K, double xn,
                              double wn)
{
    return (double)K / p->photons_per_mac;
}

/* 1% of the MACs' range times sqrt(K): the weights span 2, signed inputs 2, unsigned 1 */
static double thermal_of_the_macs(const dp_analog_params *p, double G, int64_t K, double xn,
                                  double wn)
{
    double r = 2.0 * (p->dac_unsigned ? 1.0 : 2.0);
    return p->thermal_std * p->thermal_std * (double)K * r * r;
}

/*
 * Shot noise is the signal's own light: std |x^| |w^_j| / sqrt(K n). Against that formula
 * over 2 fan-in tiles and N = 1 and 4, and against the plain physics: inputs 4 times
 * smaller carry 16 times less shot variance, where full-scale light keeps it.
 */
static void shot_noise_follows_the_signal(void **state)
{
    dp_analog_params p = base_params();
    p.photons_per_mac = 20;
    p.core_cols = 32;
    measured full = measure_with(&p, VM, VK, VP, VG, 200, 1.0f, signal_shot);
    expect_ratio("signal shot", full);
    p.repetitions = 4;
    expect_ratio("signal shot, N=4", measure_with(&p, VM, VK, VP, VG, 201, 1.0f, signal_shot));
    p.repetitions = 1;
    measured dim = measure_with(&p, VM, VK, VP, VG, 202, 0.25f, signal_shot);
    expect_ratio("signal shot, inputs / 4", dim);
    double r = dim.var / full.var, tol = 16 * chi2_tol(full.n);
    printf("%-28s var(x / 4) / var(x) = %.4f (x^2 scaling: 0.0625)\n", "", r);
    /* the DAC rounds the smaller inputs a little differently: a percent, not the 6% tol */
    assert_true(fabs(r - 0.0625) < 0.0625 * tol);

    p.shot_full_scale = true;
    measured fs = measure_with(&p, VM, VK, VP, VG, 203, 1.0f, full_scale_shot);
    expect_ratio("full-scale shot", fs);
    measured fs_dim = measure_with(&p, VM, VK, VP, VG, 204, 0.25f, full_scale_shot);
    expect_ratio("full-scale shot, inputs / 4", fs_dim);
    assert_true(fabs(fs_dim.var / fs.var - 1.0) < 2 * chi2_tol(fs.n));
}

/* Thermal noise on the MACs' full range (the founding paper's thermal model), signed and
 * unsigned inputs, over 2 tiles. */
static void thermal_noise_of_the_macs(void **state)
{
    dp_analog_params p = base_params();
    p.thermal_mac = true;
    p.thermal_std = 0.01;
    p.core_cols = 48;
    expect_ratio("thermal (MAC range)", measure_with(&p, VM, VK, VP, VG, 210, 1.0f,
                                                     thermal_of_the_macs));
    p.dac_unsigned = true;
    p.repetitions = 3;
    expect_ratio("thermal (MAC range), unsigned, N=3",
                 measure_with(&p, VM, VK, VP, VG, 211, 1.0f, thermal_of_the_macs));
}

/*
 * The unsigned DAC: levels k / (2^b - 1) on [0, 1], all 2^b of them, 0 and 1 exact, negative
 * inputs at 0; for inputs that are never negative its error variance is (2^b / (2^b - 1))^2
 * / 4 of the signed DAC's, two bits of levels the signed one spends below zero.
 */
static void unsigned_dac_levels(void **state)
{
    assert_true(dp_analog_quantise_unsigned(-0.5, 3) == 0.0);
    assert_true(dp_analog_quantise_unsigned(1.5, 3) == 1.0);
    assert_true(dp_analog_quantise_unsigned(1.0, 8) == 1.0);
    assert_true(dp_analog_quantise_unsigned(0.5, 3) == 4.0 / 7); /* 3.5 -> 4, ties to even */
    assert_true(dp_analog_quantise_unsigned(2.6 / 7, 3) == 3.0 / 7);
    assert_true(isnan(dp_analog_quantise_unsigned(NAN, 8)));
    for (int b = 1; b <= 10; b++) {
        int levels = 0;
        double last = -1;
        for (int i = 0; i <= 8192; i++) {
            double q = dp_analog_quantise_unsigned(i / 8192.0, b);
            levels += q != last;
            last = q;
        }
        assert_int_equal(levels, 1 << b);
    }

    /* the product through the core, noise-free, with a 24-bit ADC: only the DAC rounds */
    enum { M = 8, K = 64, P = 4000 };
    dp_arena arena;
    dp_arena_init(&arena, 0);
    float *W = fill(M * K, 1), *X = fill(K * P, 2);
    for (int64_t i = 0; i < K * P; i++)
        X[i] = 0.5f * (X[i] + 1.0f);
    float *Ys = malloc(M * P * sizeof(float)), *Yu = malloc(M * P * sizeof(float));
    assert_true(Ys && Yu);
    dp_analog_params p = base_params();
    p.dac_bits = 6;
    dp_analog_weights *w = prepare(&arena, &p, 5, M, K, W);
    run(w, &p, &VG, 1, 0, 0, P, X, P, Ys, P, NULL);
    p.dac_unsigned = true;
    run(w, &p, &VG, 1, 0, 0, P, X, P, Yu, P, NULL);
    double err_s = 0, err_u = 0, worst = 0;
    for (int64_t j = 0; j < M; j++)
        for (int64_t q = 0; q < P; q++) {
            double exact = 0, want = 0;
            for (int64_t i = 0; i < K; i++) {
                double wq = dp_analog_quantise((double)W[j * K + i] / w->scale[j], 8);
                exact += wq * X[i * P + q];
                want += wq * dp_analog_quantise_unsigned(X[i * P + q], 6);
            }
            double ys = Ys[j * P + q] / w->scale[j], yu = Yu[j * P + q] / w->scale[j];
            worst = fmax(worst, fabs(yu - want));
            err_s += (ys - exact) * (ys - exact);
            err_u += (yu - exact) * (yu - exact);
        }
    double ratio = err_u / err_s, step = 64.0 / 63.0, want = step * step / 4;
    printf("unsigned DAC: error variance / signed's = %.4f (want %.4f), worst |Y - sum| %.2g\n",
           ratio, want, worst);
    assert_true(worst < 1e-4);
    assert_true(fabs(ratio / want - 1.0) < 4.0 * sqrt(0.8 / (M * P)) * 2);
    free(W), free(X), free(Ys), free(Yu);
    dp_arena_free(&arena);
}

/*
 * An ADC gain per output channel: each channel converted over its own full scale G_j, so its
 * quantisation error variance is (2 G_j / 2^b)^2 / 12 whatever the other channels' G: a
 * channel of small outputs, given a small G_j, keeps its bits.
 */
static void adc_gain_per_channel(void **state)
{
    enum { M = 4, P = 16000 };
    exact_layer l;
    dp_analog_params p = base_params();
    exact_layer_init(&l, &p, 6, M, VK, P);
    const float G[M] = {32.0f, 24.0f, 20.0f, 16.0f}; /* all above |s| < 15: no clipping */
    p.adc_bits = 8;
    assert_int_equal(run(l.w, &p, G, M, 0, 0, P, l.X, P, l.Y1, P, NULL), 0);
    for (int j = 0; j < M; j++) {
        double sum = 0, D = 2.0 * G[j] / 256;
        for (int64_t q = 0; q < P; q++) {
            double e = ((double)l.Y1[j * P + q] - l.Y0[j * P + q]) / l.w->scale[j];
            sum += e * e;
        }
        double ratio = sum / P / (D * D / 12), tol = 4.0 * sqrt(0.8 / P);
        printf("ADC gain of channel %d: G %.1f, error variance / (D^2 / 12) = %.4f (tol %.4f)\n",
               j, G[j], ratio, tol);
        assert_true(fabs(ratio - 1.0) < tol);
    }
    exact_layer_free(&l);
}

/* Dithered (std s >= D / 2): the average of N conversions has variance (s^2 + D^2 / 12) / N. */
static double averaged_conversions(const dp_analog_params *p, double G, int64_t K, double xn,
                                   double wn)
{
    double D = 2.0 * G / ldexp(1.0, p->adc_bits), s = p->thermal_std * G;
    return s * s + D * D / 12;
}

/* Integrated: the noise falls as 1 / N, the one conversion's D^2 / 12 stays (N times it,
 * since measure_with divides the formula by N). */
static double integrated_conversion(const dp_analog_params *p, double G, int64_t K, double xn,
                                    double wn)
{
    double D = 2.0 * G / ldexp(1.0, p->adc_bits), s = p->thermal_std * G;
    return s * s + (double)p->repetitions * D * D / 12;
}

/*
 * The averaging ADC (adc_mode "average"): with noise that dithers the 8-bit ADC, the error
 * variance of the average of N conversions falls as 1 / N, quantisation included; the
 * integrating ADC keeps its D^2 / 12 floor. Without dither (noise far below a step) the N
 * conversions agree and averaging buys nothing.
 */
static void averaging_adc(void **state)
{
    dp_analog_params p = base_params();
    p.adc_bits = 8;
    p.adc_average = true;
    const float G = 16.0f;
    double D = 2.0 * G / 256;
    p.thermal_std = 0.75 * D / G; /* s = 0.75 D */
    double var1 = 0;
    for (int64_t N = 1; N <= 64; N *= 4) {
        p.repetitions = N;
        char what[48];
        snprintf(what, sizeof what, "averaging ADC, dithered, N=%lld", (long long)N);
        measured m = measure_with(&p, VM, VK, VP, G, 220 + (uint32_t)N, 0.5f,
                                  averaged_conversions);
        expect_ratio(what, m);
        if (N == 1)
            var1 = m.var;
        else
            printf("%-28s var(1) / var(N) = %.3f (N = %lld)\n", "", var1 / m.var, (long long)N);
    }
    p.adc_average = false;
    p.repetitions = 16;
    expect_ratio("integrating ADC, N=16", measure_with(&p, VM, VK, VP, G, 240, 0.5f,
                                                       integrated_conversion));

    p.adc_average = true;
    p.thermal_std = 0.05 * D / G; /* s = D / 20: no dither */
    p.repetitions = 64;
    measured m = measure_with(&p, VM, VK, VP, G, 241, 0.5f, averaged_conversions);
    double dithered = (D * D / 400 + D * D / 12) / 64;
    printf("averaging ADC, no dither, N=64: error variance %.3g, D^2 / 12 = %.3g, 1 / N "
           "would give %.3g\n", m.var, D * D / 12, dithered);
    /* the staircase only softens within a few stds of each step's edge */
    assert_true(m.var > 0.5 * D * D / 12 && m.var < D * D / 12 && m.var > 10 * dithered);
}

/*
 * The mean of the averaging ADC's conversions, the undithered case included, against brute
 * force: at N = 2^40 the average is its mean, which must match the mean of q(u + s z) over
 * 100,000 draws of z for each u, to 5 of their standard errors.
 */
static void averaging_adc_mean(void **state)
{
    enum { P = 64, DRAWS = 100000 };
    dp_arena arena;
    dp_arena_init(&arena, 0);
    float W[2] = {1.0f, 1.0f}, X[P], Y[2 * P];
    for (int q = 0; q < P; q++)
        X[q] = -0.9f + 1.8f * (float)q / (P - 1) + 0.0013f;
    float *z = fill(DRAWS, 9);
    dp_analog_params p = base_params();
    p.dac_bits = 20;
    p.adc_bits = 6;
    p.adc_average = true;
    p.repetitions = INT64_C(1) << 40;
    dp_analog_weights *w = prepare(&arena, &p, 7, 2, 1, W);
    double D = 2.0 / 64;
    for (int k = 0; k < 3; k++) {
        double sd = (0.1 + 0.25 * k) * D;
        p.thermal_std = sd; /* G = 1 */
        const float one = 1.0f;
        run(w, &p, &one, 1, 0, 0, P, X, P, Y, P, NULL);
        double worst = 0;
        for (int q = 0; q < P; q++) {
            double u = dp_analog_quantise(X[q], 20), m1 = 0, m2 = 0;
            for (int i = 0; i < DRAWS; i += 2) {
                /* Box-Muller on pairs of the uniforms in [-1, 1) */
                double u1 = 0.5 * (z[i] + 1.0) + 1e-12, u2 = 0.5 * (z[i + 1] + 1.0);
                double r = sqrt(-2 * log(u1));
                for (int h = 0; h < 2; h++) {
                    double e = r * (h ? sin(6.283185307179586 * u2) : cos(6.283185307179586 * u2));
                    double v = dp_analog_quantise(u + sd * e, 6);
                    m1 += v;
                    m2 += v * v;
                }
            }
            m1 /= DRAWS;
            double se = sqrt(fmax(m2 / DRAWS - m1 * m1, 1e-30) / DRAWS);
            /* where every draw lands on one level, Y's float rounding is the only difference */
            worst = fmax(worst, fabs(Y[q] - m1) / fmax(se, 1e-6));
        }
        printf("averaging ADC mean, noise %.2f D: worst |mean - brute force| %.2f standard "
               "errors\n", sd / D, worst);
        assert_true(worst < 5);
    }
    free(z);
    dp_arena_free(&arena);
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
    exact_layer l;
    dp_analog_params p = base_params();
    exact_layer_init(&l, &p, 0, M, K, P);
    const float *X = l.X, *Y0 = l.Y0;
    float *Y1 = l.Y1;
    const dp_analog_weights *w = l.w;
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
    exact_layer_free(&l);
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
    } cases[] = {{7, 9, 1, 64}, {10, 12, 2, 64}, {12, 10, 1, 4}, {8, 14, 2, 4},
                 /* planes of more outputs than one chunk of dp_analog_run_planes */
                 {48, 40, 1, 64}, {80, 56, 2, 4}};
    enum { MAX = 80 * 56 };
    float *x = fill(MAX, 6), *W = fill(9, 7), *Ya = malloc(2 * MAX * sizeof *Ya), *Yb = Ya + MAX;
    int32_t *left = malloc(2 * MAX * sizeof *left), *right = left + MAX;
    assert_true(Ya && left);
    /* each case also with an unsigned DAC without static errors: the sums in levels
     * (exact_levels in analog.c) */
    for (size_t v = 0; v < 2 * sizeof cases / sizeof cases[0]; v++) {
        size_t k = v / 2;
        dp_analog_params p = noisy_params();
        if (v % 2) {
            p.dac_unsigned = true;
            p.static_weight_std = 0;
        }
        p.core_cols = cases[k].cols;
        int64_t H = cases[k].H, Wd = cases[k].W, P;
        float *X = window_matrix(x, H, Wd, cases[k].stride, &P);
        dp_analog_weights *w = prepare(&arena, &p, 3, 1, 9, W);
        const float G = 2.0f;
        int64_t q0 = 5, n = P - 9; /* inside a row and inside a noise block */
        int64_t ca = run(w, &p, &G, 1, 2, 700 + (uint64_t)q0, n, X + q0, P, Ya, n, NULL);
        int64_t Wo = cases[k].stride == 2 ? Wd / 2 : Wd;
        dp_column_edges(Wo, 0, P, left, right);
        dp_analog_planes in = {.x = x, .H = H, .W = Wd, .stride = cases[k].stride,
                               .left = left, .right = right};
        void *scratch = aligned_alloc(64, dp_analog_planes_scratch_size(&in, n));
        assert_non_null(scratch);
        dp_analog_call call = {.x_scale = 1.0f, .adc_scale = &G, .n_adc_scale = 1,
                               .inference = 2, .col0 = 700 + (uint64_t)q0};
        dp_error err = {0};
        int64_t cb = -1;
        memset(Yb, 0xff, MAX * sizeof *Yb);
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
    free(x), free(W), free(Ya), free(left);
    dp_arena_free(&arena);
}

/*
 * With a DAC and weights of 8 bits and no static errors, a pass's sum is the exact integer
 * sum of its level products times the steps (the unsigned DAC's 1 / 255 as float, the signed
 * one's 1 / 128, the weights' 1 / 128), rounded once: whichever way the library computes it
 * (in bytes where the processor has AVX-512 VNNI). Rows of full-scale ties (every weight a
 * +-128 level), both signs of full scale in one row, an all-zero row; passes of 128, 128 and
 * 44 inputs, and of 256 (the most) and 44, over 45 columns (a panel of 32 and a part); inputs
 * beyond both ends of the range: for the signed DAC, a few at +128 in the first 32 columns
 * and many in the others, a whole column's in one. A NaN input makes its column's sums NaN
 * in its pass alone.
 */
static void check_level_sums(bool unsigned_, int64_t C)
{
    enum { M = 13, K = 300, P = 45 };
    int64_t T = (K - 1) / C + 1;
    dp_arena arena;
    dp_arena_init(&arena, 0);
    float *W = fill(M * K, 21), *X = fill(K * P, 22);
    for (int64_t k = 0; k < K; k++) {
        W[2 * K + k] = k % 3 ? 0.5f : -0.5f;
        W[4 * K + k] = 0.0f;
    }
    W[0 * K + 7] = 1.0f;
    W[0 * K + 250] = -1.0f;
    double levels = unsigned_ ? 255.0 : 128.0;
    for (int64_t i = 0; i < K * P; i++) {
        X[i] = unsigned_ ? 0.6f * (X[i] + 1.0f) - 0.05f : 0.99f * X[i];
        /* away from the DAC's ties, where float and double could round apart */
        double f = X[i] * levels - floor(X[i] * levels);
        if (fabs(f - 0.5) < 1e-3)
            X[i] += 0.002f;
    }
    if (!unsigned_) {
        X[5 * P + 3] = X[200 * P + 30] = 1.5f;
        X[17 * P + 3] = -2.0f;
        for (int64_t k = 0; k < K; k += 3)
            X[k * P + 40] = X[k * P + 33 + k % 7] = 1.0f;
        /* every input of a column at +128: the most a panel's tops can take */
        for (int64_t k = 0; k < K; k++)
            X[k * P + 44] = 1.0f;
    }
    X[3 * P + 10] = NAN;
    dp_analog_params p = base_params();
    p.dac_unsigned = unsigned_;
    p.core_cols = C;
    dp_analog_weights *w = prepare(&arena, &p, 4, M, K, W);
    float *Y = malloc(M * P * sizeof *Y), *pre = malloc(T * M * P * sizeof *pre);
    assert_true(Y && pre);
    const float G = 1.0e4f;
    run(w, &p, &G, 1, 0, 0, P, X, P, Y, P, pre);
    double step = unsigned_ ? (double)(float)(1.0 / 255.0) : 1.0 / 128.0;
    for (int64_t j = 0; j < M; j++) {
        float wmax = 0;
        for (int64_t k = 0; k < K; k++)
            wmax = fabsf(W[j * K + k]) > wmax ? fabsf(W[j * K + k]) : wmax;
        for (int64_t t = 0; t < T; t++)
            for (int64_t q = 0; q < P; q++) {
                int64_t acc = 0;
                bool nan = false;
                for (int64_t k = t * C; k < K && k < (t + 1) * C; k++) {
                    double wl = wmax > 0 ? dp_analog_quantise(W[j * K + k] / (double)wmax, 8)
                                         : 0.0;
                    nan |= isnan(X[k * P + q]);
                    double xl = unsigned_ ? dp_analog_quantise_unsigned(X[k * P + q], 8)
                                          : dp_analog_quantise(X[k * P + q], 8);
                    acc += nan ? 0 : (int64_t)llround(wl * 128.0) * llround(xl * levels);
                }
                float got = pre[(t * M + j) * P + q];
                if (nan) {
                    assert_true(isnan(got));
                    continue;
                }
                float want = (float)((double)acc * step / 128.0);
                if (got != want)
                    fail_msg("row %lld pass %lld column %lld: %.9g, exact %.9g", (long long)j,
                             (long long)t, (long long)q, got, want);
            }
    }
    free(W), free(X), free(Y), free(pre);
    dp_arena_free(&arena);
}

static void level_sums_are_exact(void **state)
{
    /* passes of 128, 128 and 44 inputs, and of 256 (the most the exact sums allow) and 44 */
    for (int64_t C = 128; C <= 256; C *= 2) {
        check_level_sums(true, C);
        check_level_sums(false, C);
    }
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

/* A quantized model's weights k * 0.1, largest k 100: W_j = max |w_j| = 10 puts them off the
 * 8-bit levels (-37 / 100 is no multiple of 1 / 128), the model's W_j = 0.1 * 128 on them. */
static void weight_scale_holds_grid(void **state)
{
    dp_arena arena;
    dp_arena_init(&arena, 0);
    const float W[3] = {100 * 0.1f, -37 * 0.1f, -1 * 0.1f}, grid = 128 * 0.1f, G = 4;
    const float X[2 * 3] = {1, 1, 1, 1, 1, 1};
    double want = (double)W[0] + W[1] + W[2];
    dp_analog_params p = base_params();
    for (int given = 0; given < 2; given++) {
        dp_analog_weights *w = NULL;
        dp_error err = {0};
        assert_int_equal(dp_analog_prepare(&p, 0, 0, 1, 3, W, 3, given ? &grid : NULL, &arena,
                                           &w, &err), DP_OK);
        assert_float_equal(w->scale[0], given ? grid : W[0], 0);
        float Y[2];
        run(w, &p, &G, 1, 0, 0, 2, X, 2, Y, 2, NULL);
        if (given)
            assert_true(fabs(Y[0] - want) < 1e-5);
        else
            assert_true(fabs(Y[0] - want) > 1e-2);
    }
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
    assert_int_equal(dp_analog_prepare(&p, 0, 0, 2, 2, W, 2, NULL, &arena, &w, &err), DP_EINPUT);
    assert_non_null(strstr(err.msg, "adc_bits"));
    p = base_params();
    p.thermal_std = -1;
    dp_error_clear(&err);
    assert_int_equal(dp_analog_params_check(&p, &err), DP_EINPUT);
    assert_non_null(strstr(err.msg, "thermal_std"));
    p = base_params();
    dp_error_clear(&err);
    assert_int_equal(dp_analog_prepare(&p, 0, 0, 1, 2, bad, 2, NULL, &arena, &w, &err), DP_EINPUT);
    /* a non-finite weight in a row long enough for the vector lanes is named by place */
    float wide[2 * 40];
    for (int i = 0; i < 80; i++)
        wide[i] = (float)(i % 7) - 3;
    for (int v = 0; v < 2; v++) {
        wide[40 + 20] = v ? NAN : INFINITY;
        dp_error_clear(&err);
        assert_int_equal(dp_analog_prepare(&p, 0, 0, 2, 40, wide, 40, NULL, &arena, &w, &err),
                         DP_EINPUT);
        assert_non_null(strstr(err.msg, "weight (1, 20) is not finite"));
    }
    dp_error_clear(&err);
    assert_int_equal(dp_analog_prepare(&p, 0, 0, 2, 2, W, 2, NULL, &arena, &w, &err), DP_OK);

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
        cmocka_unit_test(normals_match_the_quantile),
        cmocka_unit_test(normal_tails),
        cmocka_unit_test(neighbouring_draws_are_independent),
        cmocka_unit_test(noise_block_is_the_draws_one_at_a_time),
        cmocka_unit_test(noise_layout_is_injective),
        cmocka_unit_test(quantiser_levels),
        cmocka_unit_test(each_noise_source_alone),
        cmocka_unit_test(repetitions_divide_variance),
        cmocka_unit_test(shot_noise_follows_the_signal),
        cmocka_unit_test(thermal_noise_of_the_macs),
        cmocka_unit_test(unsigned_dac_levels),
        cmocka_unit_test(adc_gain_per_channel),
        cmocka_unit_test(averaging_adc),
        cmocka_unit_test(averaging_adc_mean),
        cmocka_unit_test(effective_bits_grow_with_repetitions),
        cmocka_unit_test(adc_floor),
        cmocka_unit_test(static_errors),
        cmocka_unit_test(same_seed_same_bits),
        cmocka_unit_test(chunks_are_bit_identical),
        cmocka_unit_test(planes_match_the_matrix),
        cmocka_unit_test(level_sums_are_exact),
        cmocka_unit_test(distortion_and_clipping),
        cmocka_unit_test(weight_scale_holds_grid),
        cmocka_unit_test(rejects_bad_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
