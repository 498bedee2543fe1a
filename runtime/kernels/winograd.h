/*
 * winograd.h: 3x3 convolutions of stride 1 padded by 1 on every side (the output the input's
 * size) by Winograd's minimal filtering F(2x2, 3x3), for conv_winograd.c.
 *
 * Each 2x2 block of outputs (a tile) comes from the 4x4 block of input around it. With the
 * filters transformed to U = G g G^T and each tile's input to V = B^T d B (4x4 each), the sum
 * over input channels at each of the 16 points xi of the 4x4 is a matrix product,
 * P_xi (M x tiles) = U_xi (M x C) V_xi (C x tiles), and each tile's outputs are
 * A^T P A: 16 multiply-adds per channel pair and tile where the direct convolution spends 36.
 * The transforms are those of Lavin and Gray, "Fast Algorithms for Convolutional Neural
 * Networks" (CVPR 2016); their coefficients are 0, 1/2 and 1, so the results differ from the
 * direct sum only by rounding.
 *
 * A convolution runs a chunk of tiles at a time, in three steps that each split over threads
 * (input channels, the 16 points, output channels) without changing any result.
 */
#ifndef DP_WINOGRAD_H
#define DP_WINOGRAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gemm.h"

enum { DP_WINOGRAD_POINTS = 16 };

typedef struct dp_winograd {
    int64_t C, M;       /* input and output channels */
    int64_t H, W;       /* the input's and the output's plane */
    int64_t tiles_wide; /* tiles along a row: ceil(W / 2) */
    int64_t tiles;      /* ceil(H / 2) * tiles_wide */
    int64_t chunk;      /* tiles per chunk */
    bool avx512;        /* transforms in AVX-512 registers (the same bits as without) */
} dp_winograd;

/* The plan for M filters over C channels of H x W planes. */
dp_winograd dp_winograd_plan(int64_t C, int64_t M, int64_t H, int64_t W);

/* Floats of the transformed filters as dp_winograd_pack_weights lays them out: the 16
 * matrices U_xi, each packed as dp_sgemm_pack_a does and starting on a 64-byte boundary. */
size_t dp_winograd_weights_floats(int64_t M, int64_t C);

/* The filters w (M x C x 3 x 3) transformed and packed into packed; tmp holds 16 M C
 * floats. */
void dp_winograd_pack_weights(int64_t M, int64_t C, const float *w, float *packed, float *tmp);

/* Floats of one chunk's transformed input and products: sixteen matrices of C x nt (V_xi)
 * or M x nt (P_xi) floats, each starting 16 floats after the last one ends. */
size_t dp_winograd_input_floats(const dp_winograd *g);
size_t dp_winograd_product_floats(const dp_winograd *g);

/* Channels c0..c1 of the input x (C planes) transformed for tiles t0..t0+nt (numbered row
 * by row): V_xi's row c at v + xi (C nt + 16) + c nt. */
void dp_winograd_input(const dp_winograd *g, const float *x, int64_t t0, int64_t nt, int64_t c0,
                       int64_t c1, float *v);

/* The products P_xi = U_xi V_xi for xi in xi0..xi1, P_xi at p + xi (M nt + 16); scratch:
 * dp_sgemm_scratch_size(M, nt, C) bytes, 64-byte aligned. */
void dp_winograd_products(const dp_winograd *g, const float *u, const float *v, int64_t nt,
                          int xi0, int xi1, float *p, void *scratch);

/* Output channels m0..m1 of tiles t0..t0+nt from their products into y (M planes), with the
 * epilogue ep (its row bias and residual from channel 0 and position 0; no column bias). */
void dp_winograd_output(const dp_winograd *g, const float *p, int64_t t0, int64_t nt,
                        int64_t m0, int64_t m1, const dp_sgemm_epilogue *ep, float *y);

#endif
