/*
 * philox.h: the counter-based generator behind the analog noise model (analog-model.md
 * section 6): Philox4x32-7, its conversion to uniform doubles and to normals, and the
 * layout that turns one noise draw's identity into Philox's counter and key.
 *
 * A counter-based generator is a pure function of its inputs, so a draw depends only on
 * what it is for (seed, layer, tile pass, output, inference), never on the order in which
 * threads or chunks ask for it.
 */
#ifndef DP_PHILOX_H
#define DP_PHILOX_H

#include <stdint.h>

/*
 * Philox4x32-7 (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2,
 * 3", SC 2011), bit-identical to Random123's philox4x32 with 7 rounds and checked against
 * its published known-answer vectors.
 */
void dp_philox4x32_7(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* (hi:lo >> 11) * 2^-53: a double in [0, 1) carrying the top 53 of the 64 bits. */
double dp_philox_uniform(uint32_t hi, uint32_t lo);

/*
 * Four independent standard normals from one Philox output, in float, one from each word by
 * the normal's quantile: the top bit is the sign and the other 31, k, give v = (k + 1/2)
 * 2^-31 in (0, 1] (float() rounding k + 1/2 to 24 bits), z = +-Q^-1(v / 2) with Q the upper
 * tail, so that P(|z| > c) = 2 Q(c) down to the grid's resolution: the tails are the normal's
 * out to the largest value, Q^-1(2^-33) ~ 6.34 (about one draw in 10^9 lies beyond 6). The
 * quantile is a polynomial per binary exponent of v, within 6.4e-5 of the exact one, in
 * float arithmetic with fused multiply-adds (each one rounding, fmaf where no instruction
 * does it): loops over it vectorise, and every build on every machine gives the same bits. No rejection, so one Philox call always yields exactly four normals. Float, not
 * double: the noise is a model's, a 24-bit mantissa is far finer than its accuracy, and
 * twice as many lanes fit a vector.
 */
void dp_philox_normal4(const uint32_t r[4], float z[4]);

/* The streams one (seed, layer) holds; the tag keeps their counters disjoint. */
typedef enum dp_noise_stream {
    DP_NOISE_DYNAMIC = 0, /* per-pass noise: thermal, shot, dynamic weight and input */
    DP_NOISE_STATIC = 1   /* per-device weight programming errors, drawn once */
} dp_noise_stream;

/* Field widths of the layout below: larger values would collide and are refused. */
#define DP_NOISE_TILE_LIMIT ((uint32_t)1 << 22)
#define DP_NOISE_COL_LIMIT ((uint64_t)1 << 40)

/* What one Philox call is for. */
typedef struct dp_noise_id {
    uint32_t seed;          /* the device instance */
    uint32_t layer;         /* the analog layer */
    dp_noise_stream stream;
    uint32_t tile;          /* fan-in tile pass, < DP_NOISE_TILE_LIMIT */
    uint32_t row;           /* output channel */
    uint64_t col;           /* the counter's column field (dp_noise_normals: a column) */
    uint32_t inference;     /* which run of the network */
} dp_noise_id;

/*
 * The layout, injective over the documented ranges (192 bits in, 32 + 32 + 2 + 22 + 32 +
 * 40 + 32 = 192 bits used), so no two draws share a counter and key:
 *   key[0] = seed                 key[1] = layer
 *   ctr[0] = row                  ctr[1] = col bits 0..31
 *   ctr[2] = col bits 32..39 | tile << 8 | stream << 30
 *   ctr[3] = inference
 */
void dp_noise_counter(const dp_noise_id *id, uint32_t ctr[4], uint32_t key[2]);

/*
 * The dynamic noise of one row comes a block of DP_NOISE_BLOCK columns at a time (a multiple
 * of every vector width): block B of columns 64 B .. 64 B + 63 is 16 Philox calls, lane i with
 * the counter's column field 16 B + i, and column 64 B + 16 k + i takes normal k of lane i.
 * Each lane's normals land in four contiguous runs, so the whole block vectorises.
 */
enum { DP_NOISE_BLOCK = 64, DP_NOISE_SPAN = 4 * DP_NOISE_BLOCK };

/*
 * The normals of columns id->col .. id->col + n - 1 of row id->row (the rest of id as for
 * dp_noise_counter), n >= 1 and id->col mod DP_NOISE_BLOCK + n <= DP_NOISE_SPAN: the whole
 * blocks that hold them, from B = id->col / DP_NOISE_BLOCK on, z[i] belonging to column
 * DP_NOISE_BLOCK B + i. The same as dp_noise_counter, dp_philox4x32_7 and
 * dp_philox_normal4 give one lane at a time.
 */
void dp_noise_normals(const dp_noise_id *id, int n, float z[restrict DP_NOISE_SPAN]);

/*
 * dp_noise_normals for rows id->row .. id->row + rows - 1 at once, the same columns of each,
 * rows >= 1 and rows times the B blocks of one row <= DP_NOISE_SPAN / DP_NOISE_BLOCK: row
 * r's blocks from z + r B DP_NOISE_BLOCK on. A narrow product's rows take one call, whose
 * blocks go through Philox together, where one block at a time waits on its own chain.
 */
void dp_noise_normals_rows(const dp_noise_id *id, int rows, int n,
                           float z[restrict DP_NOISE_SPAN]);

#endif
