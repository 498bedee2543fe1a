/*
 * analog.h: the simulated analog matrix product of noisy runs, Y (M x P) = W (M x K) X (K x P),
 * as one analog layer computes it on the optical core (analog-model.md sections 2, 3 and 6):
 * DAC and weight quantisation, static programming errors, the Gaussian noise of N averaged
 * repetitions, the detector's distortion, the ADC, and the digital rescale and sum over
 * fan-in tiles. Row j of W is output channel j; column p of X is one input vector.
 *
 * Quantisers. q_b(u), for b bits, is the symmetric mid-tread quantiser of step D = 2 / 2^b
 * over [-1, 1]: u is clipped to [-1, 1] and rounded to the nearest multiple k D, ties to
 * even k, so k runs over -2^(b-1)..2^(b-1) (2^b + 1 levels: zero and both ends are exact,
 * so ReLU zeros and each channel's largest weight are represented exactly, and the error is
 * within D/2 everywhere on [-1, 1], which makes the quantisation noise of a signal spread
 * over many steps D^2 / 12 up to full scale). The DAC, the weights and the ADC all use it:
 *   DAC     x^ = q_{b_dac}(x / X)
 *           or, for inputs calibration saw never negative (dac_unsigned), the unsigned
 *           u_b(x / X): clipped to [0, 1] and rounded to the nearest k / (2^b - 1), all 2^b
 *           levels on the inputs' side of zero, a step 2^b / (2^b - 1) times finer
 *   weights w^ = q_{b_w}(w / W_j) + e,  W_j = max_i |w_ji| (or the caller's), e ~ N(0, s_static^2)
 *   ADC     q  = G_j q_{b_adc}(s / G_j): the ADC step in MAC units is D = 2 G_j / 2^b_adc.
 * NaN propagates through every stage. With an unsigned DAC of at most 8 bits, weights of at
 * most 8 bits, no static errors and at most 256 inputs a pass, a pass's sum is computed in
 * levels, exactly (an integer below 2^24), and rounded once when multiplied by the steps
 * (float(1 / (2^b_dac - 1)) 2^(1 - b_w)), so its bits do not depend on how it is computed.
 *
 * Randomness (philox.h). Rows are numbered g = row0 + j, row0 being the layer's number of
 * the block's first output channel, so the blocks of one layer (Conv groups) draw apart.
 * Both streams draw a row's normals in dp_noise_normals's blocks of columns. Static errors:
 * stream DP_NOISE_STATIC, row g, the weight's column i, tile 0, inference 0. Dynamic noise:
 * stream DP_NOISE_DYNAMIC, row g, the product's global column, tile t, the caller's
 * inference index.
 * Both are keyed by (seed, layer). So the bits of Y depend neither on how the caller splits
 * the columns into chunks nor on which thread runs which chunk.
 */
#ifndef DP_ANALOG_H
#define DP_ANALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_arena.h"
#include "dp_base.h"
#include "dp_op.h"

/* Bit widths are 1..DP_ANALOG_MAX_BITS, so every DAC and weight level is exact in float. */
enum { DP_ANALOG_MAX_BITS = 24 };

/* One device (and one layer's repetition count), in the units of analog-model.md. */
typedef struct dp_analog_params {
    int dac_bits;             /* b_dac of the input DAC */
    int weight_bits;          /* b_w of the weight modulators */
    int adc_bits;             /* b_adc of the ADC */
    int64_t repetitions;      /* N >= 1 passes averaged by the detector */
    double photons_per_mac;   /* n per MAC per repetition; 0: no shot noise */
    bool shot_full_scale;     /* shot std sqrt(K / n), not |x^| |w^_j| / sqrt(K n) */
    bool adc_average;         /* every repetition converted, the N conversions averaged */
    bool dac_unsigned;        /* the DAC spans [0, X] (u_b above) */
    double thermal_std;       /* s_th, relative to the ADC full scale G_j, or with thermal_mac
                               * to the MACs' full range: std s_th sqrt(K) r_w r_x, r_w = 2,
                               * r_x = 2 (1 with dac_unsigned) */
    bool thermal_mac;
    double weight_noise_std;  /* s_w per weight per pass, relative to W_j */
    double input_noise_std;   /* s_x per input per pass, relative to X */
    double static_weight_std; /* s_static per weight per device, relative to W_j */
    double distortion_k3;     /* detector nonlinearity s -> G (y - k3 y^3), y = s / G */
    int64_t core_cols;        /* C, the largest fan-in of one tile pass */
    uint32_t seed;            /* the device instance: static errors and noise streams */
} dp_analog_params;

/* DP_EINPUT naming the first out-of-range field (bits, N, C, negative or NaN stds). */
dp_status dp_analog_params_check(const dp_analog_params *p, dp_error *err);

/*
 * p without the dynamic noise (thermal, shot, weight and input noise set to 0), for
 * calibration and references: quantisation, distortion and the static errors, which are
 * part of the programmed device, stay. Prepare with static_weight_std 0 to drop those too.
 */
dp_analog_params dp_analog_without_noise(const dp_analog_params *p);

/* q_b(u) as defined above. */
double dp_analog_quantise(double u, int bits);

/* u_b(u), the unsigned DAC's quantiser, as defined above. */
double dp_analog_quantise_unsigned(double u, int bits);

/*
 * One layer's weights as programmed into the device: read-only for callers. The rows of w
 * are padded to at least 2 (with zeros) so that the product never takes dp_sgemm's
 * matrix-vector path, whose summation order differs from the tiled one's.
 */
typedef struct dp_analog_weights {
    int64_t rows, cols;      /* M outputs, K inputs */
    int64_t tiles;           /* ceil(K / C): tile t takes inputs t C .. min(K, (t + 1) C) - 1 */
    uint32_t layer;
    uint32_t row0;           /* the layer's number of row 0 (a Conv group's first channel) */
    dp_analog_params params; /* as prepared: weight_bits, static_weight_std, core_cols and
                              * seed must not change afterwards */
    float *packed;           /* w^ + e, max(M, 2) x K, as dp_sgemm_pack_a lays out each tile's
                              * columns, tile t at t * tile_floats */
    int64_t tile_floats;
    float *scale;            /* W_j, M values; 0 for an all-zero row, which then yields 0 */
    double *norm2;           /* |w^_jt|^2 (with e) of row j in tile t at [j * tiles + t] */
    float *row;              /* M == 1: the programmed row, K floats (dp_analog_run_planes);
                              * NULL otherwise */
    struct dp_int8_weights *levels; /* the levels for analog_int8.h's products, where they
                                     * can take them and the processor runs them; or NULL */
} dp_analog_weights;

/*
 * "Programs the device" for one layer, once, not per inference: the W_j, the quantised
 * weights plus their static errors (keyed by p->seed and layer), and the per-tile squared
 * row norms. W is M x K with row stride ldw; its row j is the layer's output channel row0 + j.
 * W_j is max_i |w_ji|, or scale[j] where scale is not NULL (M values, each at least that
 * maximum: a quantized model's grid, which the levels then hold; an all-zero row still gets
 * 0). Everything lives in arena, which must outlive
 * the inferences that use it (the program's arena, not the per-inference one).
 * DP_EINPUT for bad params or non-finite weights, DP_EUNSUPPORTED for more fan-in tiles
 * than the noise layout numbers, DP_ENOMEM.
 */
dp_status dp_analog_prepare(const dp_analog_params *p, uint32_t layer, uint32_t row0, int64_t M,
                            int64_t K, const float *W, int64_t ldw, const float *scale,
                            dp_arena *arena, dp_analog_weights **out, dp_error *err);

/* Asks the cache for what dp_analog_run_planes reads of w, ahead of its call. */
void dp_analog_prefetch(const dp_analog_weights *w);

/* The per-call inputs of dp_analog_run besides the matrices. */
typedef struct dp_analog_call {
    float x_scale;           /* X, the calibrated input full scale, > 0 */
    const float *adc_scale;  /* G_j in MAC units, > 0: one value for the layer or M values */
    int64_t n_adc_scale;     /* 1 or M */
    uint32_t inference;      /* the run of the network this product belongs to */
    uint64_t col0;           /* global index of X's first column in the layer's product */
    float *pre_adc;          /* optional (NULL): receives, at [(t * M + j) * P + p], the value
                              * tile pass t presents to the ADC for output (j, p), noise and
                              * distortion included, before clipping: for calibrating G */
} dp_analog_call;

/* Bytes of 64-byte aligned scratch dp_analog_run needs for P columns; grows with P. */
size_t dp_analog_scratch_size(const dp_analog_weights *w, int64_t P);

/*
 * Y (M x P, row stride ldy) = the analog product of w and X (K x P, row stride ldx), for
 * columns col0 .. col0 + P - 1 of the layer's product. Per fan-in tile t (K_t inputs):
 *   s   = w^_t x^_t                                  (dp_sgemm, in MAC units)
 *   s  += sqrt(v) z, z ~ N(0, 1), v = v1 / N,
 *         v1 = th^2 + shot + s_w^2 |x^_t|^2 + s_x^2 |w^_jt|^2, th = s_th G_j or, with
 *         thermal_mac, s_th sqrt(K_t) r_w r_x,
 *         shot = |x^_t|^2 |w^_jt|^2 / (K_t n), or K_t / n with shot_full_scale
 *   s   = G_j (y - k3 y^3), y = s / G_j
 *   Y  += G_j q_{b_adc}(s / G_j) * X * W_j           (fp32 sum over tiles, in tile order)
 * With adc_average and N > 1, each of the N repetitions is converted and the conversions
 * averaged: their mean and variance are those of q(s + sqrt(v1) z), one Gaussian of that mean
 * and variance / N is drawn (the cost does not grow with N), clipped to [-G_j, G_j]. Where
 * the noise dithers the ADC (sqrt(v1) >= D / 2) the mean is s and the variance v1 + D^2 / 12
 * (the ripple of the mean is then below D / 300; near full scale the clip of the average
 * stands for each conversion's); below, both come from the levels within 8 stds of s.
 * p gives the bits, N and the noise; its weight_bits, static_weight_std, core_cols and (when
 * there are static errors) seed must be those w was prepared with (DP_EINTERNAL otherwise). *clipped (if not NULL) is set
 * to the number of ADC conversions (one per output per tile pass) that clipped. Allocates
 * nothing; scratch: dp_analog_scratch_size(w, P) bytes. DP_EINPUT for a bad X or G.
 */
dp_status dp_analog_run(const dp_analog_weights *w, const dp_analog_params *p,
                        const dp_analog_call *call, int64_t P, const float *X, int64_t ldx,
                        float *Y, int64_t ldy, void *scratch, int64_t *clipped, dp_error *err);

/* dp_analog_planes (dp_op.h): a depthwise layer's input channel as the core sees it. */

/* Bytes of 64-byte aligned scratch dp_analog_run_planes needs for P columns of in. */
size_t dp_analog_planes_scratch_size(const dp_analog_planes *in, int64_t P);

/*
 * Y (1 x P) = dp_analog_run's Y, bit for bit, for columns q0 .. q0 + P - 1 of in's matrix
 * (call->col0 numbering column q0), where w has one row of K = 9 weights: the DAC quantises
 * each input element once, not once for each tap that reads it, and no matrix is built.
 * DP_EINTERNAL for another w or a bad in; otherwise as dp_analog_run.
 */
dp_status dp_analog_run_planes(const dp_analog_weights *w, const dp_analog_params *p,
                               const dp_analog_call *call, const dp_analog_planes *in,
                               int64_t q0, int64_t P, float *Y, void *scratch,
                               int64_t *clipped, dp_error *err);

/* The parts of one output's variance (analog-model.md section 2), in MAC units^2. */
typedef struct dp_analog_var_parts {
    double dynamic; /* one repetition's: (s_th G)^2 + shot + s_w^2 |x^|^2 + s_x^2 |w^|^2 */
    double adc;     /* D^2 / 12, D = 2 G / 2^b_adc */
    double stat;    /* static errors, over device instances: s_static^2 |x^|^2 */
} dp_analog_var_parts;

/* For a tile pass of fan-in K, ADC full scale G and squared norms |x^|^2 and |w^_j|^2. */
dp_analog_var_parts dp_analog_variance_parts(const dp_analog_params *p, double G, int64_t K,
                                             double x_norm2, double w_norm2);

/* v(N) = dynamic / N + adc + stat, with N = p->repetitions; with adc_average, where the noise
 * dithers the ADC (dynamic >= D^2 / 4), (dynamic + adc) / N + stat. */
double dp_analog_variance(const dp_analog_params *p, double G, int64_t K, double x_norm2,
                          double w_norm2);

/*
 * b_eff = log2(2G / (s sqrt(12))), s = sqrt(variance): the bits of a quantiser whose step
 * noise equals the variance (+inf for 0). Averaging N repetitions of the dynamic part adds
 * 0.5 log2(N); the ADC and static parts cap it.
 */
double dp_analog_effective_bits(double G, double variance);

#endif
