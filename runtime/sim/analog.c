/*
 * analog.c: the analog layer product of analog.h: programming the weights once per layer
 * (and packing them for dp_sgemm_packed), then per call the DAC, one product per fan-in
 * tile, one Gaussian per output and tile pass, the distortion and the ADC; and the same for
 * a depthwise channel straight from its input plane, without the im2col matrix.
 *
 * Bit-identical results across column chunks rest on two facts. The noise is keyed by the
 * global column, not by the position in the chunk. And dp_sgemm's tiled path sums each
 * element's products in an order fixed by K alone, while its matrix-vector path (M or N
 * equal to 1) sums in another order: so the weights keep at least 2 rows and a single
 * column is padded to 2, and every chunk takes the tiled path.
 */
#include "analog.h"
#include "analog_int8.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "kernel_util.h"
#include "philox.h"

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static size_t align64(size_t n) { return (n + 63) / 64 * 64; }

/* Round to nearest, ties to even, for |v| < 2^51: adding 1.5 * 2^52 leaves no fraction
 * bits, so the addition itself rounds, in the default rounding mode every C program starts
 * in and dpcc never changes (and without -ffast-math, which would fold it away). Far faster
 * than floor and fmod; the levels here are at most 2^23. */
static inline double round_half_even(double v)
{
    return (v + 0x1.8p52) - 0x1.8p52;
}

/* q_b(u) with half = 2^(b-1) and step = 1 / half: multiplying by the reciprocal of a power
 * of two is exact, and a division per value cost more than all the rest. Selects, not
 * branches, so that loops over it vectorise. */
static inline double quantise(double u, double half, double step)
{
    u = u > 1.0 ? 1.0 : u;
    u = u < -1.0 ? -1.0 : u;
    return round_half_even(u * half) * step;
}

/* quantise in float: u * half is exact, half being a power of two. */
static inline float quantise_f(float u, float half, float step)
{
    return dp_level_f(u * half, half) * step;
}

double dp_analog_quantise(double u, int bits)
{
    return quantise(u, ldexp(1.0, bits - 1), ldexp(1.0, 1 - bits));
}

/* u_b(u) with levels = 2^b - 1 and step its reciprocal, as rounded to double. */
static inline double quantise_unsigned(double u, double levels, double step)
{
    u = u > 1.0 ? 1.0 : u;
    u = u < 0.0 ? 0.0 : u;
    return round_half_even(u * levels) * step;
}

/* The same in float, for up to 22 bits: u * levels stays below 2^22, where adding
 * 1.5 * 2^23 rounds exactly. */
static inline float quantise_unsigned_f(float u, float levels, float step)
{
    return dp_unsigned_level_f(u, levels) * step;
}

double dp_analog_quantise_unsigned(double u, int bits)
{
    double levels = ldexp(1.0, bits) - 1;
    return quantise_unsigned(u, levels, 1.0 / levels);
}

/*
 * Whether every sum of a pass's level products is an integer below 2^24, exact in float
 * whatever the order of its terms: at most 8 bits of DAC and weights, no static errors and
 * at most 256 inputs a pass (255 x 128 x 256 < 2^24, 255^2 x 256 < 2^24). The sums are then
 * the same bits however they are computed: by dp_sgemm, tap by tap, or in 8-bit integers
 * (analog_int8.h).
 */
static bool byte_levels(const dp_analog_params *p)
{
    return p->dac_bits <= 8 && p->weight_bits <= 8 && p->static_weight_std == 0 &&
           p->core_cols <= 256;
}

/* Whether an unsigned DAC keeps its levels k themselves through the product, the step
 * 1 / (2^b - 1) applied once to each sum (and its square to each squared norm), where
 * otherwise each input is the float nearest k / (2^b - 1). A signed DAC's steps are powers
 * of two: its sums are exact as they are. */
static bool exact_levels(const dp_analog_params *p)
{
    return p->dac_unsigned && byte_levels(p);
}

/* exact_levels's step 1 / (2^b - 1), in float as the DAC has it. */
static float level_step(const dp_analog_params *p)
{
    return (float)(1.0 / (ldexp(1.0, p->dac_bits) - 1.0));
}

static int bad_std(double v) { return !(v >= 0.0) || isinf(v); }

dp_status dp_analog_params_check(const dp_analog_params *p, dp_error *err)
{
    const struct { const char *name; int bits; } bits[] = {
        {"dac_bits", p->dac_bits}, {"weight_bits", p->weight_bits}, {"adc_bits", p->adc_bits}};
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++)
        if (bits[i].bits < 1 || bits[i].bits > DP_ANALOG_MAX_BITS)
            return dp_fail(err, DP_EINPUT, "analog %s is %d, not in 1..%d", bits[i].name,
                           bits[i].bits, DP_ANALOG_MAX_BITS);
    if (p->repetitions < 1)
        return dp_fail(err, DP_EINPUT, "analog repetitions is %lld, not >= 1",
                       (long long)p->repetitions);
    if (p->core_cols < 1)
        return dp_fail(err, DP_EINPUT, "analog core_cols is %lld, not >= 1",
                       (long long)p->core_cols);
    const struct { const char *name; double v; } stds[] = {
        {"photons_per_mac", p->photons_per_mac}, {"thermal_std", p->thermal_std},
        {"weight_noise_std", p->weight_noise_std}, {"input_noise_std", p->input_noise_std},
        {"static_weight_std", p->static_weight_std}};
    for (size_t i = 0; i < sizeof stds / sizeof stds[0]; i++)
        if (bad_std(stds[i].v))
            return dp_fail(err, DP_EINPUT, "analog %s is %g, not finite and >= 0",
                           stds[i].name, stds[i].v);
    if (!isfinite(p->distortion_k3))
        return dp_fail(err, DP_EINPUT, "analog distortion_k3 is not finite");
    return DP_OK;
}

dp_analog_params dp_analog_without_noise(const dp_analog_params *p)
{
    dp_analog_params q = *p;
    q.photons_per_mac = 0;
    q.thermal_std = 0;
    q.weight_noise_std = 0;
    q.input_noise_std = 0;
    return q;
}

/* The largest |src[i]| of a row, or infinity (or NaN) if some element is not finite. The
 * magnitudes compared as their bits, which order them as floats do and put NaN above
 * infinity: an integer maximum, which vectorises whole (the rows of an attention product are
 * programmed on every call, and float selects that let NaN through ran mostly scalar). */
DP_MULTI_TARGET
static float row_magnitude(const float *src, int64_t K)
{
    uint32_t top = 0;
    for (int64_t i = 0; i < K; i++) {
        uint32_t bits;
        memcpy(&bits, &src[i], sizeof bits);
        bits &= UINT32_C(0x7fffffff);
        top = bits > top ? bits : top;
    }
    float wmax;
    memcpy(&wmax, &top, sizeof wmax);
    return wmax;
}

/* dst[i] = q(src[i] / wmax) + std z[i], the programmed weight, in double as the model has it. */
DP_MULTI_TARGET
static void program_span(const float *src, const float *z, int64_t n, double wmax, double half,
                         double step, double std, float *dst)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = (float)(quantise((double)src[i] / wmax, half, step) + std * z[i]);
}

/* The programmed weights w^ + e of rows 0..M-1 into w (K floats a row), with W_j and the
 * per-tile squared norms into a. */
static dp_status program_rows(dp_analog_weights *a, const float *W, int64_t ldw,
                              const float *scale, float *w, dp_error *err)
{
    const dp_analog_params *p = &a->params;
    int64_t M = a->rows, K = a->cols;
    double half = ldexp(1.0, p->weight_bits - 1), step = ldexp(1.0, 1 - p->weight_bits);
    dp_noise_id id = {.seed = p->seed, .layer = a->layer, .stream = DP_NOISE_STATIC};
    for (int64_t j = 0; j < M; j++) {
        const float *src = W + j * ldw;
        float *dst = w + j * K;
        float wmax = row_magnitude(src, K);
        for (int64_t i = 0; !isfinite(wmax) && i < K; i++)
            if (!isfinite(src[i]))
                return dp_fail(err, DP_EINPUT, "analog layer %u: weight (%lld, %lld) is not finite",
                               a->layer, (long long)j, (long long)i);
        /* an all-zero row is rescaled by 0: programming it would only add noise to nothing */
        if (wmax == 0)
            continue;
        a->scale[j] = scale ? scale[j] : wmax;
        id.row = a->row0 + (uint32_t)j;
        for (int64_t i = 0; i < K; i += DP_NOISE_SPAN) {
            float z[DP_NOISE_SPAN] = {0};
            int64_t n = min64(DP_NOISE_SPAN, K - i);
            if (p->static_weight_std > 0) {
                id.col = (uint64_t)i;
                dp_noise_normals(&id, (int)n, z);
            }
            program_span(src + i, z, n, a->scale[j], half, step, p->static_weight_std, dst + i);
        }
        for (int64_t t = 0; t < a->tiles; t++) {
            double n2 = 0;
            for (int64_t i = t * p->core_cols; i < min64(K, (t + 1) * p->core_cols); i++)
                n2 += (double)dst[i] * dst[i];
            a->norm2[j * a->tiles + t] = n2;
        }
    }
    return DP_OK;
}

dp_status dp_analog_prepare(const dp_analog_params *p, uint32_t layer, uint32_t row0, int64_t M,
                            int64_t K, const float *W, int64_t ldw, const float *scale,
                            dp_arena *arena, dp_analog_weights **out, dp_error *err)
{
    dp_status st = dp_analog_params_check(p, err);
    if (st != DP_OK)
        return st;
    /* rows are numbered layer-wide in 32 bits for the noise */
    if (M < 1 || (uint64_t)row0 + (uint64_t)M > (uint64_t)UINT32_MAX + 1 || K < 1 || ldw < K)
        return dp_fail(err, DP_EINTERNAL, "analog layer %u: bad weight shape %lld x %lld",
                       layer, (long long)M, (long long)K);
    int64_t tiles = (K - 1) / p->core_cols + 1;
    if ((uint64_t)tiles > DP_NOISE_TILE_LIMIT)
        return dp_fail(err, DP_EUNSUPPORTED,
                       "analog layer %u: fan-in %lld needs %lld tile passes, more than %lu",
                       layer, (long long)K, (long long)tiles,
                       (unsigned long)DP_NOISE_TILE_LIMIT);
    int64_t rows = max64(M, 2), kc = min64(p->core_cols, K);
    size_t nw, nn, np;
    if (dp_mul_size((size_t)rows, (size_t)K, &nw) || dp_mul_size((size_t)M, (size_t)tiles, &nn) ||
        dp_mul_size(dp_sgemm_packed_a_size(rows, kc) / sizeof(float), (size_t)tiles, &np))
        return dp_fail(err, DP_ENOMEM, "analog layer %u: weights too large", layer);
    dp_analog_weights *a = dp_arena_calloc(arena, 1, sizeof *a);
    /* the rows as programmed, needed only until they are packed */
    float *w = calloc(nw, sizeof(float));
    if (a != NULL) {
        a->packed = dp_arena_calloc(arena, np, sizeof(float));
        a->scale = dp_arena_calloc(arena, (size_t)M, sizeof(float));
        a->norm2 = dp_arena_calloc(arena, nn, sizeof(double));
    }
    if (a == NULL || w == NULL || a->packed == NULL || a->scale == NULL || a->norm2 == NULL) {
        free(w);
        return dp_fail(err, DP_ENOMEM, "analog layer %u: out of memory for weights", layer);
    }
    a->rows = M;
    a->cols = K;
    a->tiles = tiles;
    a->tile_floats = (int64_t)(dp_sgemm_packed_a_size(rows, kc) / sizeof(float));
    a->layer = layer;
    a->row0 = row0;
    a->params = *p;
    st = program_rows(a, W, ldw, scale, w, err);
    if (st == DP_OK && M == 1) {
        a->row = dp_arena_alloc(arena, (size_t)K * sizeof(float));
        if (!a->row)
            st = dp_fail(err, DP_ENOMEM, "analog layer %u: out of memory for weights", layer);
        else
            memcpy(a->row, w, (size_t)K * sizeof(float));
    }
    for (int64_t t = 0; st == DP_OK && t < tiles; t++)
        dp_sgemm_pack_a(false, rows, min64(kc, K - t * kc), w + t * kc, K,
                        a->packed + t * a->tile_floats);
    if (st == DP_OK && byte_levels(p) && dp_int8_available())
        st = dp_int8_program(w, M, K, p->core_cols, ldexpf(1.0f, p->weight_bits - 1), arena,
                             &a->levels, err);
    free(w);
    if (st == DP_OK)
        *out = a;
    return st;
}

void dp_analog_prefetch(const dp_analog_weights *w)
{
    __builtin_prefetch(w->scale);
    __builtin_prefetch(w->norm2);
    if (w->row)
        __builtin_prefetch(w->row);
}

/* The tiled product's operands, whatever the caller's P. */
typedef struct run_layout {
    int64_t pp;       /* columns of the product: max(P, 2) */
    int64_t kc;       /* the widest tile: min(C, K) */
    int64_t lds;      /* a row of the products and the norms: pp, or more for the bytes' */
    size_t xq, s, xn; /* byte offsets of the quantised inputs, the products, the norms */
    size_t gemm;      /* byte offset of dp_sgemm's scratch */
    size_t bytes;     /* byte offsets of the DAC's bytes for analog_int8.h, its tops and
                       * their panels' counts */
    size_t tops, panel_tops;
    size_t total;
} run_layout;

static run_layout layout_for(const dp_analog_weights *w, int64_t P)
{
    run_layout l;
    int64_t rows = max64(w->rows, 2);
    l.pp = max64(P, 2);
    l.kc = min64(w->params.core_cols, w->cols);
    l.lds = w->levels ? max64(l.pp, dp_int8_row_floats(P)) : l.pp;
    l.xq = 0;
    l.s = l.xq + align64((size_t)(l.kc * l.pp) * sizeof(float));
    l.xn = l.s + align64((size_t)(rows * l.lds) * sizeof(float));
    l.gemm = l.xn + align64((size_t)l.lds * sizeof(float));
    l.bytes = l.gemm + align64(dp_sgemm_scratch_size(rows, l.pp, l.kc));
    size_t bytes = w->levels ? align64(dp_int8_bytes_size(l.kc, P)) : 0;
    l.tops = l.bytes + bytes;
    l.panel_tops = l.tops + bytes;
    l.total = l.panel_tops + (w->levels ? dp_int8_panels_size(P) : 0);
    return l;
}

size_t dp_analog_scratch_size(const dp_analog_weights *w, int64_t P)
{
    return layout_for(w, P).total;
}

/* What one tile pass needs to turn a product s into its share of Y. */
typedef struct tile_ctx {
    const dp_analog_params *p;
    const dp_analog_weights *w;
    const dp_analog_call *call;
    int64_t t, P;
    bool noisy;
    double adc_half;         /* 2^(b_adc - 1) */
    double shot;             /* full-scale shot noise: K_t / n */
    double shot_per_norm;    /* signal shot noise: 1 / (K_t n), times |x^|^2 |w^_j|^2 */
    double thermal_mac;      /* thermal std relative to the MACs' range: s_th sqrt(K_t) r_w r_x */
    const float *xn;         /* |x^_t|^2 per column, summed in float: all a noise's std
                              * needs, and twice the vector lanes of double */
    float *Y;
    int64_t ldy;
    int64_t clipped;
} tile_ctx;

/* Phi(x), the standard normal distribution function. */
static double normal_cdf(double x)
{
    return 0.5 * erfc(-x * 0.70710678118654752440);
}

/*
 * The mean and variance of q(u + sd e), e ~ N(0, 1): the ADC of analog.h on the normalised
 * value u with noise sd, its 2 half + 1 levels k / half. Where the noise dithers the ADC
 * (sd >= half a step), the closed form u and sd^2 + step^2 / 12, whose part beyond full scale
 * the caller's clip of the average stands for; below, summed over the at most 17 levels
 * within 8 sds of u (the mass beyond is below 1e-15), the end levels taking the tails.
 */
static void quantised_moments(double u, double sd, double half, double *mean, double *var)
{
    double step = 1.0 / half;
    if (sd >= step / 2) {
        *mean = u;
        *var = sd * sd + step * step / 12.0;
        return;
    }
    if (sd == 0) {
        *mean = quantise(u, half, step);
        *var = 0;
        return;
    }
    double lo = floor((u - 8 * sd) * half), hi = ceil((u + 8 * sd) * half);
    lo = lo < -half ? -half : lo;
    hi = hi > half ? half : hi;
    double m1 = 0, m2 = 0;
    for (double k = lo; k <= hi; k++) {
        double below = k == -half ? 0.0 : normal_cdf(((k - 0.5) * step - u) / sd);
        double above = k == half ? 1.0 : normal_cdf(((k + 0.5) * step - u) / sd);
        double pk = above - below, level = k * step;
        m1 += pk * level;
        m2 += pk * level * level;
    }
    *mean = m1;
    *var = m2 > m1 * m1 ? m2 - m1 * m1 : 0.0;
}

/*
 * digitise_outputs with an averaging ADC (adc_average, N > 1): one repetition's variance is
 * fixed + a |x^|^2; the N conversions' average is drawn as one Gaussian of their mean and
 * variance / N, then clipped to full scale.
 */
static int64_t digitise_outputs_averaged(const tile_ctx *c, int64_t j, int64_t q0, int n,
                                         const float *s, const float *z, double G, double fixed,
                                         double a)
{
    const dp_analog_params *pr = c->p;
    double inv_G = 1.0 / G, reps = (double)pr->repetitions, k3 = pr->distortion_k3;
    double out_scale = G * (double)c->call->x_scale * c->w->scale[j];
    const float *xn = c->xn + q0;
    float *y = c->Y + j * c->ldy + q0;
    int64_t clipped = 0;
    for (int i = 0; i < n; i++) {
        double u = s[i] * inv_G, mean, var;
        u = u - k3 * u * u * u;
        double sd = c->noisy ? sqrt(fixed + (a != 0 ? a * xn[i] : 0.0)) * inv_G : 0.0;
        quantised_moments(u, sd, c->adc_half, &mean, &var);
        double v = mean + (z ? sqrt(var / reps) * z[i] : 0.0);
        clipped += (v > 1.0) | (v < -1.0);
        v = v > 1.0 ? 1.0 : v < -1.0 ? -1.0 : v;
        y[i] = c->t == 0 ? (float)(v * out_scale) : y[i] + (float)(v * out_scale);
    }
    return clipped;
}

/*
 * Noise of variance v(z) (z: standard normals, NULL without noise), distortion, ADC,
 * rescale, sum into Y: outputs q0..q0+n of row j in one pass, n <= DP_NOISE_SPAN. Stage by
 * stage, each a loop without branches that vectorises. Returns how many clipped.
 */
DP_MULTI_TARGET
static int64_t digitise_outputs(const tile_ctx *c, int64_t j, int64_t q0, int n,
                                const float *restrict s, const float *restrict z)
{
    const dp_analog_params *pr = c->p;
    double G = c->call->adc_scale[c->call->n_adc_scale == 1 ? 0 : j];
    /* multiplying by the reciprocal, not dividing, in the loops: a division per output
     * cost more than the rest of the conversion */
    double inv_G = 1.0 / G, v[DP_NOISE_SPAN];
    int64_t clipped = 0;
    double half = c->adc_half, step = 1.0 / half;
    double out_scale = (double)c->call->x_scale * c->w->scale[j];
    float *y = c->Y + j * c->ldy + q0;
    double tg = pr->thermal_mac ? c->thermal_mac : pr->thermal_std * G;
    double sw = pr->weight_noise_std, sx = pr->input_noise_std;
    double wn2 = c->w->norm2[j * c->w->tiles + c->t];
    /* one repetition's variance is fixed + a |x^_t|^2 for the column's squared norm */
    double fixed = c->noisy ? tg * tg + c->shot + sx * sx * wn2 : 0.0;
    double a = c->noisy ? sw * sw + c->shot_per_norm * wn2 : 0.0;
    double reps = (double)pr->repetitions;
    const float *xn = c->xn + q0;
    if (pr->adc_average && pr->repetitions > 1)
        return digitise_outputs_averaged(c, j, q0, n, s, z, G, fixed, a);
    if (pr->distortion_k3 == 0 && c->call->pre_adc == NULL && pr->adc_bits <= 23) {
        /* the common case in one pass and in float, twice double's lanes; with the same std
         * for the whole row where no noise depends on the column, one square root, not n */
        float sd = c->noisy ? (float)sqrt(fixed / reps) : 0.0f;
        float fr = (float)(fixed / reps), ar = (float)(a / reps);
        float h = (float)half;
        /* quantise_f(u, h, step) * scale with the powers of two h and step folded into the
         * other factors, exactly: l = u h in levels, then the level times step * scale,
         * two multiplies an output fewer (u itself below the normal range rounds to level
         * 0 either way) */
        float inv_h = (float)inv_G * h, level_scale = (float)step * (float)(G * out_scale);
        int clip = 0;
        if (a == 0) {
            for (int i = 0; i < n; i++) {
                float l = (s[i] + (z ? sd * z[i] : 0.0f)) * inv_h;
                clip += fabsf(l) > h;
                float q = dp_level_f(l, h) * level_scale;
                y[i] = c->t == 0 ? q : y[i] + q;
            }
        } else {
            for (int i = 0; i < n; i++) {
                float l = (s[i] + sqrtf(fr + ar * xn[i]) * z[i]) * inv_h;
                clip += fabsf(l) > h;
                float q = dp_level_f(l, h) * level_scale;
                y[i] = c->t == 0 ? q : y[i] + q;
            }
        }
        return clip;
    }
    for (int i = 0; i < n; i++)
        v[i] = s[i];
    if (c->noisy) {
        if (a == 0) {
            double sd = sqrt(fixed / reps);
            for (int i = 0; i < n; i++)
                v[i] += sd * z[i];
        } else {
            for (int i = 0; i < n; i++)
                v[i] += sqrt((fixed + a * xn[i]) / reps) * z[i];
        }
    }
    if (pr->distortion_k3 != 0) {
        double k3 = pr->distortion_k3;
        for (int i = 0; i < n; i++) {
            double r = v[i] * inv_G;
            v[i] = G * (r - k3 * r * r * r);
        }
    }
    if (c->call->pre_adc != NULL) {
        float *pre = c->call->pre_adc + (c->t * c->w->rows + j) * c->P + q0;
        for (int i = 0; i < n; i++)
            pre[i] = (float)v[i];
    }
    for (int i = 0; i < n; i++) {
        double u = v[i] * inv_G;
        clipped += (u > 1.0) | (u < -1.0);
        v[i] = quantise(u, half, step) * G * out_scale;
    }
    if (c->t == 0)
        for (int i = 0; i < n; i++)
            y[i] = (float)v[i];
    else
        for (int i = 0; i < n; i++)
            y[i] += (float)v[i];
    return clipped;
}

/* The DAC on one fan-in row of the inputs: dst = q(src / x_scale) (u(src / x_scale) where
 * unsigned, its level itself where exact_levels). Up to 23 bits (22 unsigned) in float, with
 * twice the lanes of double. */
DP_MULTI_TARGET
static void dac(const float *restrict src, int64_t P, double x_scale, const dp_analog_params *p,
                float *restrict dst)
{
    int bits = p->dac_bits;
    bool unsigned_ = p->dac_unsigned;
    if (unsigned_ && bits <= 22) {
        float inv_x = (float)(1.0 / x_scale), levels = ldexpf(1.0f, bits) - 1.0f;
        float step = exact_levels(p) ? 1.0f : level_step(p);
        for (int64_t q = 0; q < P; q++)
            dst[q] = quantise_unsigned_f(src[q] * inv_x, levels, step);
    } else if (unsigned_) {
        double inv_x = 1.0 / x_scale, levels = ldexp(1.0, bits) - 1, step = 1.0 / levels;
        for (int64_t q = 0; q < P; q++)
            dst[q] = (float)quantise_unsigned((double)src[q] * inv_x, levels, step);
    } else if (bits <= 23) {
        float inv_x = (float)(1.0 / x_scale), half = ldexpf(1.0f, bits - 1), step = 1.0f / half;
        for (int64_t q = 0; q < P; q++)
            dst[q] = quantise_f(src[q] * inv_x, half, step);
    } else {
        double inv_x = 1.0 / x_scale, half = ldexp(1.0, bits - 1), step = 1.0 / half;
        for (int64_t q = 0; q < P; q++)
            dst[q] = (float)quantise((double)src[q] * inv_x, half, step);
    }
}

/* xn += the squares of rows i..i+rows-1 of x (ldx apart), row by row in order: four rows with
 * one load and store of xn, where a row at a time loaded and stored it for every row (the
 * stores held the DAC's loop at their rate). */
DP_MULTI_TARGET
static void add_squares(const float *restrict x, int64_t ldx, int rows, int64_t P,
                        float *restrict xn)
{
    const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
    if (rows == 4)
        for (int64_t q = 0; q < P; q++) {
            float a = xn[q] + x0[q] * x0[q];
            a = a + x1[q] * x1[q];
            a = a + x2[q] * x2[q];
            xn[q] = a + x3[q] * x3[q];
        }
    else
        for (int r = 0; r < rows; r++)
            for (int64_t q = 0; q < P; q++)
                xn[q] += x[r * ldx + q] * x[r * ldx + q];
}

/* An exact_levels pass's sums (rows 0..M-1, columns 0..P-1) and squared norms, in levels,
 * times the DAC's step and its square: the one rounding of each. */
DP_MULTI_TARGET
static void scale_levels(float step, int64_t M, int64_t P, float *restrict S, int64_t lds,
                         float *restrict xn)
{
    for (int64_t j = 0; j < M; j++)
        for (int64_t q = 0; q < P; q++)
            S[j * lds + q] *= step;
    float step2 = step * step;
    for (int64_t q = 0; xn && q < P; q++)
        xn[q] *= step2;
}

/* The checks both entry points make of a call: weights prepared as p says, p itself, the
 * columns' numbering, the input and ADC full scales. */
static dp_status check_call(const dp_analog_weights *w, const dp_analog_params *p,
                            const dp_analog_call *call, int64_t P, dp_error *err)
{
    const dp_analog_params *wp = &w->params;
    /* the seed shapes the programmed weights only through their static errors */
    if (p->weight_bits != wp->weight_bits || p->static_weight_std != wp->static_weight_std ||
        p->core_cols != wp->core_cols || (wp->static_weight_std > 0 && p->seed != wp->seed))
        return dp_fail(err, DP_EINTERNAL,
                       "analog layer %u: run with other weight parameters than prepared",
                       w->layer);
    dp_status st = dp_analog_params_check(p, err);
    if (st != DP_OK)
        return st;
    if (P < 0 || (call->n_adc_scale != 1 && call->n_adc_scale != w->rows))
        return dp_fail(err, DP_EINTERNAL, "analog layer %u: bad call shapes", w->layer);
    if (call->col0 > DP_NOISE_COL_LIMIT || (uint64_t)P > DP_NOISE_COL_LIMIT - call->col0)
        return dp_fail(err, DP_EUNSUPPORTED, "analog layer %u: more than 2^40 columns",
                       w->layer);
    if (!(call->x_scale > 0) || isinf(call->x_scale))
        return dp_fail(err, DP_EINPUT, "analog layer %u: input full scale %g is not positive",
                       w->layer, (double)call->x_scale);
    for (int64_t j = 0; j < call->n_adc_scale; j++)
        if (!(call->adc_scale[j] > 0) || isinf(call->adc_scale[j]))
            return dp_fail(err, DP_EINPUT,
                           "analog layer %u: ADC full scale %g of output %lld is not positive",
                           w->layer, (double)call->adc_scale[j], (long long)j);
    return DP_OK;
}

/* The inputs' squared norms feed the weight noise's variance and the signal's shot noise. */
static bool needs_input_norms(const dp_analog_params *p)
{
    return p->weight_noise_std > 0 || (p->photons_per_mac > 0 && !p->shot_full_scale);
}

/* Thermal noise relative to the MACs' full range, for a pass of fan-in K. */
static double thermal_mac_std(const dp_analog_params *p, int64_t K)
{
    return p->thermal_std * sqrt((double)K) * 2.0 * (p->dac_unsigned ? 1.0 : 2.0);
}

static bool is_noisy(const dp_analog_params *p)
{
    return p->thermal_std > 0 || p->photons_per_mac > 0 || p->weight_noise_std > 0 ||
           p->input_noise_std > 0;
}

/* Tile pass t (fan-in kt) of every row: its products S (row stride lds) through the noise,
 * distortion and ADC into Y, the noise a block of columns at a time, as it comes: a chunk
 * may start inside a block. */
static void convert_pass(tile_ctx *c, int64_t t, int64_t kt, const float *S, int64_t lds)
{
    const dp_analog_params *p = c->p;
    c->t = t;
    bool shot = p->photons_per_mac > 0;
    c->shot = shot && p->shot_full_scale ? (double)kt / p->photons_per_mac : 0.0;
    c->shot_per_norm = shot && !p->shot_full_scale ? 1.0 / ((double)kt * p->photons_per_mac) : 0.0;
    c->thermal_mac = thermal_mac_std(p, kt);
    dp_noise_id id = {.seed = p->seed, .layer = c->w->layer, .stream = DP_NOISE_DYNAMIC,
                      .tile = (uint32_t)t, .inference = c->call->inference};
    int first = (int)(c->call->col0 % DP_NOISE_BLOCK);
    if (first + c->P <= DP_NOISE_SPAN) {
        /* a row in one call: as many rows a call as its blocks allow */
        int blocks = (int)(first + c->P - 1) / DP_NOISE_BLOCK + 1;
        int64_t per_call = DP_NOISE_SPAN / DP_NOISE_BLOCK / blocks;
        for (int64_t j0 = 0; j0 < c->w->rows; j0 += per_call) {
            int rows = (int)min64(per_call, c->w->rows - j0);
            float z[DP_NOISE_SPAN];
            if (c->noisy) {
                id.row = c->w->row0 + (uint32_t)j0;
                id.col = c->call->col0;
                dp_noise_normals_rows(&id, rows, (int)c->P, z);
            }
            for (int r = 0; r < rows; r++) {
                const float *zr = z + r * blocks * DP_NOISE_BLOCK + first;
                c->clipped += digitise_outputs(c, j0 + r, 0, (int)c->P, S + (j0 + r) * lds,
                                               c->noisy ? zr : NULL);
            }
        }
        return;
    }
    for (int64_t j = 0; j < c->w->rows; j++) {
        id.row = c->w->row0 + (uint32_t)j;
        for (int64_t q0 = 0; q0 < c->P;) {
            uint64_t col = c->call->col0 + (uint64_t)q0;
            int off = (int)(col % DP_NOISE_BLOCK);
            int n = (int)min64(DP_NOISE_SPAN - off, c->P - q0);
            float z[DP_NOISE_SPAN];
            if (c->noisy) {
                id.col = col;
                dp_noise_normals(&id, n, z);
            }
            c->clipped +=
                digitise_outputs(c, j, q0, n, S + j * lds + q0, c->noisy ? z + off : NULL);
            q0 += n;
        }
    }
}

dp_status dp_analog_run(const dp_analog_weights *w, const dp_analog_params *p,
                        const dp_analog_call *call, int64_t P, const float *X, int64_t ldx,
                        float *Y, int64_t ldy, void *scratch, int64_t *clipped, dp_error *err)
{
    dp_status st = check_call(w, p, call, P, err);
    if (st != DP_OK)
        return st;
    int64_t M = w->rows, K = w->cols, C = p->core_cols;
    if (P > 0 && (ldx < P || ldy < P))
        return dp_fail(err, DP_EINTERNAL, "analog layer %u: bad call shapes", w->layer);
    if (clipped != NULL)
        *clipped = 0;
    if (P == 0)
        return DP_OK;

    run_layout l = layout_for(w, P);
    float *xq = (float *)((char *)scratch + l.xq), *S = (float *)((char *)scratch + l.s);
    float *xn = (float *)((char *)scratch + l.xn);
    void *gs = (char *)scratch + l.gemm;
    double x_scale = call->x_scale;
    bool need_xn = needs_input_norms(p);
    tile_ctx c = {.p = p, .w = w, .call = call, .P = P, .noisy = is_noisy(p),
                  .adc_half = ldexp(1.0, p->adc_bits - 1), .xn = xn, .Y = Y, .ldy = ldy};

    /* the same bits as dp_sgemm's below, four times the multiply-adds an instruction */
    bool bytes = w->levels != NULL && byte_levels(p);
    dp_int8_inputs in = {.bytes = (uint8_t *)scratch + l.bytes};
    if (!p->dac_unsigned) {
        in.tops = (uint8_t *)scratch + l.tops;
        in.panel_tops = (int32_t *)(void *)((char *)scratch + l.panel_tops);
    }
    /* the DAC's step: the levels' sums and squares are scaled by it and its square */
    float step = p->dac_unsigned ? level_step(p) : ldexpf(1.0f, 1 - p->dac_bits);
    float levels = ldexpf(1.0f, p->dac_bits) - 1.0f;
    float half = p->dac_unsigned ? 0.0f : ldexpf(1.0f, p->dac_bits - 1);
    for (int64_t t = 0; t < w->tiles; t++) {
        int64_t k0 = t * C, kt = min64(C, K - k0);
        if (bytes && dp_int8_dac(X + k0 * ldx, ldx, kt, P, (float)(1.0 / x_scale), levels, half,
                                 &in, need_xn ? xn : NULL)) {
            dp_int8_product(w->levels, t, kt, &in, P, step * ldexpf(1.0f, 1 - p->weight_bits),
                            S, l.lds);
            scale_levels(step, 0, P, S, l.lds, need_xn ? xn : NULL);
            convert_pass(&c, t, kt, S, l.lds);
            continue;
        }
        if (need_xn)
            memset(xn, 0, (size_t)l.pp * sizeof(float));
        for (int64_t i = 0; i < kt; i++) {
            float *dst = xq + i * l.pp;
            dac(X + (k0 + i) * ldx, P, x_scale, p, dst);
            for (int64_t q = P; q < l.pp; q++)
                dst[q] = 0;
            /* the squares of each four rows while they are in cache */
            if (need_xn && (i % 4 == 3 || i == kt - 1))
                add_squares(xq + (i - i % 4) * l.pp, l.pp, (int)(i % 4) + 1, P, xn);
        }
        dp_sgemm_packed(false, false, max64(M, 2), l.pp, kt, 1.0f, NULL, 0,
                        w->packed + t * w->tile_floats, xq, l.pp, NULL, 0.0f, S, l.pp, NULL,
                        gs);
        if (exact_levels(p))
            scale_levels(level_step(p), M, P, S, l.pp, need_xn ? xn : NULL);
        convert_pass(&c, t, kt, S, l.pp);
    }
    if (clipped != NULL)
        *clipped = c.clipped;
    return DP_OK;
}

/* Columns of a window's product taken through the taps and the ADC at a time. */
enum { PLANE_CHUNK = 4 * DP_NOISE_SPAN };

/* dp_analog_run_planes's scratch: the quantised plane (and for stride 2 its quarters), the
 * products and the inputs' norms of a chunk of columns. */
typedef struct planes_layout {
    size_t quarters, s, xn, total;
} planes_layout;

static planes_layout planes_layout_for(const dp_analog_planes *in, int64_t P)
{
    size_t plane = align64((size_t)(in->H * in->W) * sizeof(float));
    planes_layout l;
    l.quarters = plane;
    l.s = l.quarters + (in->stride == 2 ? plane : 0);
    l.xn = l.s + align64((size_t)min64(P, PLANE_CHUNK) * sizeof(float));
    l.total = l.xn + align64((size_t)min64(P, PLANE_CHUNK) * sizeof(float));
    return l;
}

size_t dp_analog_planes_scratch_size(const dp_analog_planes *in, int64_t P)
{
    return planes_layout_for(in, P).total;
}

/*
 * Taps t0..t1-1 of the window into s (columns q0..q0+P-1) and, where xn is not NULL, their
 * squares into xn: tap by tap, in the order of the matrix's rows, as dp_sgemm sums them
 * (one fused multiply-add per tap, from 0). Each tap is one flat run over the output plane
 * (n positions, rows Wo wide) of the quantised plane shifted, as conv_depthwise.c's loops
 * run: for stride 1 the plane itself, for stride 2 its quarter planes by row and column
 * parity. A tap whose row lies outside the plane reads a 0 of the matrix, whose
 * multiply-add leaves the sum as it is (the sum is never -0), so those outputs are skipped;
 * a read past a row's edge lands in the next row and is selected away (left, right: 0 in the
 * first or last output column, for columns q0..).
 */
DP_MULTI_TARGET
static void window_taps(const float *wrow, int t0, int t1, const float *xq, int st, int64_t Wo,
                        int64_t n, int64_t q0, int64_t P, const int32_t *left,
                        const int32_t *right, float *restrict s, float *restrict xn)
{
    for (int64_t q = 0; q < P; q++)
        s[q] = 0;
    for (int64_t q = 0; xn && q < P; q++)
        xn[q] = 0;
    for (int t = t0; t < t1; t++) {
        dp_tap_run r = dp_padded_3x3_tap(st, t, Wo, n);
        const float *src = xq + r.quarter * n + r.shift;
        const int32_t *keep = r.edge < 0 ? left : r.edge > 0 ? right : NULL;
        int64_t lo = r.lo < q0 ? q0 : r.lo, hi = r.hi > q0 + P ? q0 + P : r.hi;
        const float *restrict x = src + q0;
        float wv = wrow[t];
        /* one loop for both, each input read once */
        if (xn == NULL)
            for (int64_t q = lo - q0; q < hi - q0; q++) {
                float v = !keep || keep[q] ? x[q] : 0.0f;
                s[q] = fmaf(wv, v, s[q]);
            }
        else
            for (int64_t q = lo - q0; q < hi - q0; q++) {
                float v = !keep || keep[q] ? x[q] : 0.0f;
                s[q] = fmaf(wv, v, s[q]);
                xn[q] += v * v;
            }
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DP_ANALOG_AVX512 1
#include <immintrin.h>

/* Whether the DAC's outputs are levels of at most 8 bits, k / 2^(b-1) or (exact_levels) k,
 * whose squares and sums of up to 256 squares are exact in float, in any order. */
static bool exact_squares(const dp_analog_params *p)
{
    return p->dac_unsigned ? exact_levels(p) : p->dac_bits <= 8;
}

/* window_taps_avx512 numbers a plane's positions in 32-bit lanes */
#define WINDOW_AVX512_MAX (INT32_MAX - 64)
enum { WINDOW_GROUP = 4 };

/*
 * window_taps with AVX-512, 16 columns at a time through all the taps, the sums and the
 * squares in registers: one store each where the taps' runs loaded and stored both once per
 * tap, two loads and two stores for one multiply-add, which held MobileNetV2's noisy run at
 * the stores' rate (3.8 ms of its 21.6, against 1.6 for the whole noise-free depthwise
 * convolutions). The same bits: each column's multiply-adds and squares in the same order,
 * from +0; a lane outside a tap's run or selected away by its column flag adds a 0, which
 * leaves a sum that is never -0 as it is, as the runs' skipping does. Inside every tap's
 * run the loads and stores take no mask (masked stores are slow on some cores). Where the
 * squares are exact (exact_squares), one fused multiply-add a square gives the bits of a
 * multiply and an add.
 */
__attribute__((target("avx512f"), always_inline))
static inline void window_taps_avx512_as(bool exact, const float *wrow, int t0, int t1,
                                         const float *xq, int st, int64_t Wo, int64_t n,
                                         int64_t q0, int64_t P, const int32_t *left,
                                         const int32_t *right, float *restrict s,
                                         float *restrict xn)
{
    const float *src[9];
    int edge[9];
    int32_t lo[9], hi[9];
    __m512 w[9];
    int taps = t1 - t0;
    /* the columns every tap's run holds */
    int64_t inner_lo = 0, inner_hi = P;
    for (int i = 0; i < taps; i++) {
        dp_tap_run r = dp_padded_3x3_tap(st, t0 + i, Wo, n);
        src[i] = xq + r.quarter * n + r.shift + q0;
        edge[i] = r.edge;
        lo[i] = (int32_t)(r.lo - q0);
        hi[i] = (int32_t)(r.hi - q0);
        w[i] = _mm512_set1_ps(wrow[t0 + i]);
        inner_lo = r.lo - q0 > inner_lo ? r.lo - q0 : inner_lo;
        inner_hi = r.hi - q0 < inner_hi ? r.hi - q0 : inner_hi;
    }
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                                           15);
    const __m512i zero = _mm512_setzero_si512();
    for (int64_t q = 0; q < P;) {
        if (q >= inner_lo && q + 16 * WINDOW_GROUP <= inner_hi) {
            /* several vectors together: each column's sums are chains of dependent adds,
             * which one vector at a time leaves waiting */
            __m512 sum[WINDOW_GROUP], sq[WINDOW_GROUP];
            __mmask16 not_left[WINDOW_GROUP], not_right[WINDOW_GROUP];
            for (int v = 0; v < WINDOW_GROUP; v++) {
                not_left[v] = _mm512_cmpneq_epi32_mask(_mm512_loadu_si512(left + q + 16 * v),
                                                       zero);
                not_right[v] = right ? _mm512_cmpneq_epi32_mask(
                                           _mm512_loadu_si512(right + q + 16 * v), zero)
                                     : 0;
                sum[v] = _mm512_setzero_ps();
                sq[v] = _mm512_setzero_ps();
            }
            for (int i = 0; i < taps; i++)
                for (int v = 0; v < WINDOW_GROUP; v++) {
                    __m512 x = _mm512_loadu_ps(src[i] + q + 16 * v);
                    if (edge[i])
                        x = _mm512_maskz_mov_ps(edge[i] < 0 ? not_left[v] : not_right[v], x);
                    sum[v] = _mm512_fmadd_ps(w[i], x, sum[v]);
                    sq[v] = exact ? _mm512_fmadd_ps(x, x, sq[v])
                                  : _mm512_add_ps(sq[v], _mm512_mul_ps(x, x));
                }
            for (int v = 0; v < WINDOW_GROUP; v++) {
                _mm512_storeu_ps(s + q + 16 * v, sum[v]);
                if (xn)
                    _mm512_storeu_ps(xn + q + 16 * v, sq[v]);
            }
            q += 16 * WINDOW_GROUP;
            continue;
        }
        bool full = P - q >= 16, inner = full && q >= inner_lo && q + 16 <= inner_hi;
        __mmask16 live = full ? (__mmask16)0xFFFF : (__mmask16)((1u << (P - q)) - 1);
        __mmask16 not_left = _mm512_mask_cmpneq_epi32_mask(
            live, _mm512_maskz_loadu_epi32(live, left + q), zero);
        __mmask16 not_right = right ? _mm512_mask_cmpneq_epi32_mask(
                                          live, _mm512_maskz_loadu_epi32(live, right + q), zero)
                                    : 0;
        __m512i pos = _mm512_add_epi32(_mm512_set1_epi32((int32_t)q), lane);
        __m512 sum = _mm512_setzero_ps(), sq = _mm512_setzero_ps();
        for (int i = 0; i < taps; i++) {
            __m512 v;
            if (inner) {
                v = _mm512_loadu_ps(src[i] + q);
                if (edge[i])
                    v = _mm512_maskz_mov_ps(edge[i] < 0 ? not_left : not_right, v);
            } else {
                __mmask16 in = (edge[i] < 0 ? not_left : edge[i] > 0 ? not_right : live) &
                               _mm512_cmpge_epi32_mask(pos, _mm512_set1_epi32(lo[i])) &
                               _mm512_cmplt_epi32_mask(pos, _mm512_set1_epi32(hi[i]));
                v = _mm512_maskz_loadu_ps(in, src[i] + q);
            }
            sum = _mm512_fmadd_ps(w[i], v, sum);
            sq = exact ? _mm512_fmadd_ps(v, v, sq) : _mm512_add_ps(sq, _mm512_mul_ps(v, v));
        }
        if (full) {
            _mm512_storeu_ps(s + q, sum);
            if (xn)
                _mm512_storeu_ps(xn + q, sq);
        } else {
            _mm512_mask_storeu_ps(s + q, live, sum);
            if (xn)
                _mm512_mask_storeu_ps(xn + q, live, sq);
        }
        q += 16;
    }
}

/* window_taps_avx512_as with exact a constant in each copy: a test of it for every tap of
 * every vector was in the inner loop. */
__attribute__((target("avx512f")))
static void window_taps_avx512(const float *wrow, int t0, int t1, const float *xq, int st,
                               int64_t Wo, int64_t n, int64_t q0, int64_t P,
                               const int32_t *left, const int32_t *right, float *restrict s,
                               float *restrict xn, bool exact)
{
    if (exact)
        window_taps_avx512_as(true, wrow, t0, t1, xq, st, Wo, n, q0, P, left, right, s, xn);
    else
        window_taps_avx512_as(false, wrow, t0, t1, xq, st, Wo, n, q0, P, left, right, s, xn);
}
#endif

dp_status dp_analog_run_planes(const dp_analog_weights *w, const dp_analog_params *p,
                               const dp_analog_call *call, const dp_analog_planes *in,
                               int64_t q0, int64_t P, float *Y, void *scratch,
                               int64_t *clipped, dp_error *err)
{
    int st_ = in->stride;
    int64_t Ho = st_ == 2 ? in->H / 2 : in->H, Wo = st_ == 2 ? in->W / 2 : in->W;
    if (w->rows != 1 || w->cols != 9 || !w->row || (st_ != 1 && st_ != 2) || in->H < 1 ||
        in->W < 1 || (st_ == 2 && (in->H % 2 || in->W % 2)) || q0 < 0 || P < 0 ||
        q0 + P > Ho * Wo || !in->left || (st_ == 1 && !in->right))
        return dp_fail(err, DP_EINTERNAL, "analog layer %u: bad window input", w->layer);
    dp_status st = check_call(w, p, call, P, err);
    if (st != DP_OK)
        return st;
    if (clipped != NULL)
        *clipped = 0;
    if (P == 0)
        return DP_OK;
    planes_layout l = planes_layout_for(in, P);
    float *xq = scratch, *S = (float *)((char *)scratch + l.s);
    float *xn = (float *)((char *)scratch + l.xn);
    bool need_xn = needs_input_norms(p);
    /* the DAC once per input element; the matrix would hold each up to nine times */
    dac(in->x, in->H * in->W, call->x_scale, p, xq);
    if (st_ == 2) {
        float *quarters = (float *)((char *)scratch + l.quarters);
        dp_split_by_parity(xq, in->H, in->W, quarters);
        xq = quarters;
    }
    /* the products and norms of a chunk of columns stay in the first level of cache
     * through the taps and the conversion; a whole plane's would not */
    DP_ASSERT(call->pre_adc == NULL);
    int64_t C = p->core_cols, total = 0;
    for (int64_t c0 = 0; c0 < P; c0 += PLANE_CHUNK) {
        int64_t n = min64(PLANE_CHUNK, P - c0);
        dp_analog_call part = *call;
        part.col0 += (uint64_t)c0;
        const int32_t *left = in->left + q0 + c0;
        const int32_t *right = in->right ? in->right + q0 + c0 : NULL;
        tile_ctx c = {.p = p, .w = w, .call = &part, .P = n, .noisy = is_noisy(p),
                      .adc_half = ldexp(1.0, p->adc_bits - 1), .xn = xn, .Y = Y + c0,
                      .ldy = P};
        for (int64_t t = 0; t < w->tiles; t++) {
            int t0 = (int)(t * C), t1 = (int)min64(9, (t + 1) * C);
#ifdef DP_ANALOG_AVX512
            if (__builtin_cpu_supports("avx512f") && Ho * Wo < WINDOW_AVX512_MAX)
                window_taps_avx512(w->row, t0, t1, xq, st_, Wo, Ho * Wo, q0 + c0, n, left,
                                   right, S, need_xn ? xn : NULL, exact_squares(p));
            else
#endif
                window_taps(w->row, t0, t1, xq, st_, Wo, Ho * Wo, q0 + c0, n, left, right, S,
                            need_xn ? xn : NULL);
            if (exact_levels(p))
                scale_levels(level_step(p), 1, n, S, n, need_xn ? xn : NULL);
            convert_pass(&c, t, t1 - t0, S, n);
        }
        total += c.clipped;
    }
    if (clipped != NULL)
        *clipped = total;
    return DP_OK;
}

dp_analog_var_parts dp_analog_variance_parts(const dp_analog_params *p, double G, int64_t K,
                                             double x_norm2, double w_norm2)
{
    double tg = p->thermal_mac ? thermal_mac_std(p, K) : p->thermal_std * G;
    double D = 2.0 * G / ldexp(1.0, p->adc_bits);
    dp_analog_var_parts v;
    double shot = p->photons_per_mac <= 0 ? 0.0
                  : p->shot_full_scale ? (double)K / p->photons_per_mac
                  : x_norm2 * w_norm2 / ((double)K * p->photons_per_mac);
    v.dynamic = tg * tg + shot + p->weight_noise_std * p->weight_noise_std * x_norm2 +
                p->input_noise_std * p->input_noise_std * w_norm2;
    v.adc = D * D / 12.0;
    v.stat = p->static_weight_std * p->static_weight_std * x_norm2;
    return v;
}

double dp_analog_variance(const dp_analog_params *p, double G, int64_t K, double x_norm2,
                          double w_norm2)
{
    dp_analog_var_parts v = dp_analog_variance_parts(p, G, K, x_norm2, w_norm2);
    double n = (double)p->repetitions;
    if (p->adc_average && v.dynamic >= 3.0 * v.adc) /* dynamic >= D^2 / 4: dithered */
        return (v.dynamic + v.adc) / n + v.stat;
    return v.dynamic / n + v.adc + v.stat;
}

double dp_analog_effective_bits(double G, double variance)
{
    return log2(2.0 * G / sqrt(12.0 * variance));
}
