/*
 * analog_int8.h: an analog tile pass's products in 8-bit integers, for analog.c.
 *
 * Where the DAC and the weights take at most 8 bits, without static errors, and a pass takes
 * at most 256 inputs, every sum of level products is an integer below 2^24, exact in float in
 * any order (analog.h). Such sums may then be computed in integers:
 * AVX-512 VNNI multiplies four unsigned input bytes by four signed weight bytes and adds the
 * four products into a 32-bit lane in one instruction, four times the multiply-adds of an
 * fp32 FMA, and gives the bits of dp_sgemm on the levels. A signed DAC's levels are offset
 * by 128 into bytes, and 128 times each row's weight sum taken off again.
 *
 * A weight level is one of -128..128 (analog.h's q_b), one more than a byte holds: +-128 are
 * programmed as +-127, and each such weight's missing +-1 times its input is added to the
 * row's sums afterwards (every row has one: its largest weight is a full-scale level).
 */
#ifndef DP_ANALOG_INT8_H
#define DP_ANALOG_INT8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_arena.h"
#include "dp_base.h"

/* The level nearest l (in steps) within [-half, half], in float, for up to 23 bits: adding
 * 1.5 * 2^23 rounds exactly for levels up to 2^22, to nearest, ties to even. Shared by
 * analog.c's float DAC and ADC and this file's byte DAC. */
static inline float dp_level_f(float l, float half)
{
    l = l > half ? half : l;
    l = l < -half ? -half : l;
    return (l + 0x1.8p23f) - 0x1.8p23f;
}

/* The unsigned DAC's level of u (analog.h's u_b in steps): u clipped to [0, 1] times
 * levels = 2^b - 1, rounded as dp_level_f rounds, exact below 2^22. */
static inline float dp_unsigned_level_f(float u, float levels)
{
    u = u > 1.0f ? 1.0f : u;
    u = u < 0.0f ? 0.0f : u;
    return (u * levels + 0x1.8p23f) - 0x1.8p23f;
}

typedef struct dp_int8_weights dp_int8_weights;

/* Whether this processor runs the integer products (x86-64 with AVX-512 VNNI). */
bool dp_int8_available(void);

/*
 * The weight levels of an M x K layer for the integer products: w holds the programmed rows
 * (level / half each, K floats a row), C is the fan-in of a pass. Lives in arena.
 * DP_ENOMEM.
 */
dp_status dp_int8_program(const float *w, int64_t M, int64_t K, int64_t C, float half,
                          dp_arena *arena, dp_int8_weights **out, dp_error *err);

/*
 * A pass's inputs as the integer products take them: bytes of level + offset (offset 0 for
 * an unsigned DAC, 128 for a signed one). The caller sets the buffers: tops and panel_tops
 * NULL for an unsigned DAC, which is what makes it one. A signed 8-bit DAC's level +128
 * does not fit: its byte holds 255, and tops, laid out as bytes, holds a 1 there (0
 * elsewhere), the panels of 32 columns that hold any such input counted in panel_tops.
 */
typedef struct dp_int8_inputs {
    uint8_t *bytes;
    uint8_t *tops;
    int32_t *panel_tops;
} dp_int8_inputs;

/* Bytes for a pass of up to kc inputs over P columns: of bytes (and of tops), and of
 * panel_tops. */
size_t dp_int8_bytes_size(int64_t kc, int64_t P);
size_t dp_int8_panels_size(int64_t P);

/* The columns a row of S holds for P columns: P rounded up to the products' 32. */
int64_t dp_int8_row_floats(int64_t P);

/*
 * The DAC of one pass: the levels of rows 0..kt-1 of X (row stride ldx), columns 0..P-1,
 * times inv_x, into in (its buffers sized as above): for an unsigned DAC of levels = 2^b - 1
 * levels, for a signed one of half = 2^(b - 1) <= 128 (the other argument unused). Where xn is not
 * NULL, each column's sum of squared levels is added to xn[q] (exact: integers below
 * 2^24). False where an input is NaN, which has no level: the caller then takes the float
 * path, where NaN propagates.
 */
bool dp_int8_dac(const float *X, int64_t ldx, int64_t kt, int64_t P, float inv_x, float levels,
                 float half, dp_int8_inputs *in, float *xn);

/*
 * S (rows 0..M-1, row stride lds >= dp_int8_row_floats(P)) = the level sums of pass t (of
 * kt inputs) over in's P columns, each times scale: one rounding of the exact sum.
 */
void dp_int8_product(const dp_int8_weights *w, int64_t t, int64_t kt, const dp_int8_inputs *in,
                     int64_t P, float scale, float *S, int64_t lds);

#endif
