/*
 * philox.h: the counter-based generator behind the analog noise model (analog-model.md
 * section 6): Philox4x32-10, its conversion to uniform and normal doubles, and the layout
 * that turns one noise draw's identity into Philox's counter and key.
 *
 * A counter-based generator is a pure function of its inputs, so a draw depends only on
 * what it is for (seed, layer, tile pass, output, inference), never on the order in which
 * threads or chunks ask for it.
 */
#ifndef DP_PHILOX_H
#define DP_PHILOX_H

#include <stdint.h>

/*
 * Philox4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2,
 * 3", SC 2011), bit-identical to Random123's philox4x32 with 10 rounds and checked against
 * its published known-answer vectors.
 */
void dp_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* (hi:lo >> 11) * 2^-53: a double in [0, 1) carrying the top 53 of the 64 bits. */
double dp_philox_uniform(uint32_t hi, uint32_t lo);

/*
 * Two independent standard normals from one Philox output, by the Box-Muller transform:
 * u1 = ((r[0]:r[1] >> 11) + 1) * 2^-53 in (0, 1], u2 = (r[2]:r[3] >> 11) * 2^-53 in [0, 1),
 * z[0] = sqrt(-2 ln u1) cos(2 pi u2), z[1] = sqrt(-2 ln u1) sin(2 pi u2).
 * Box-Muller needs no rejection, so one Philox call always yields exactly two normals; u1
 * excludes 0 so the logarithm is finite, which caps |z| at sqrt(106 ln 2) ~ 8.6. The
 * logarithm, cosine and sine are dpcc's own polynomials (within 1e-12 of libm's), in plain
 * arithmetic: loops over them vectorise, and every build on every machine gives the same
 * bits.
 */
void dp_philox_normal2(const uint32_t r[4], double z[2]);

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
    uint32_t row;           /* output channel (or a pair of them, as the caller defines) */
    uint64_t col;           /* column of the product (or a pair of inputs), < DP_NOISE_COL_LIMIT */
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

/* Columns one dp_noise_normals call draws for: a multiple of every vector width. */
enum { DP_NOISE_BLOCK = 32 };

/*
 * The normals of n <= DP_NOISE_BLOCK draws at once, the same as dp_noise_counter,
 * dp_philox4x32_10 and dp_philox_normal2 give one at a time: z0[i] and z1[i] are the pair
 * drawn for id with col = id->col + i, i < n. Vectorised.
 */
void dp_noise_normals(const dp_noise_id *id, int n, double z0[restrict DP_NOISE_BLOCK],
                      double z1[restrict DP_NOISE_BLOCK]);

#endif
