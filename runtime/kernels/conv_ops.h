/*
 * conv_ops.h: private to the convolution family (conv.c, conv_depthwise.c, conv_winograd.c,
 * conv_transpose.c, conv_integer.c): the geometry conv.c works out for all of them, the
 * window tests that pick a path, and the paths nn_Conv_run hands convolutions to.
 */
#ifndef DP_CONV_OPS_H
#define DP_CONV_OPS_H

#include "gemm.h"
#include "kernel_util.h"
#include "nn.h"

typedef struct conv_geom {
    nn_window w;
    int64_t N, C, M, group;
    int64_t Cg, Mg;        /* input and output channels per group */
    int64_t taps;          /* kernel elements per channel */
    int64_t invol, outvol; /* spatial positions of one input and one output plane */
} conv_geom;

/* Conv's geometry, or ConvTranspose's (transpose), from the node's attributes and its input
 * X, weights W and bias B (or NULL): the quantised convolutions hold them at other inputs. */
dp_status conv_geometry(dp_kctx *k, const dp_tensor *x, const dp_tensor *wt,
                        const dp_tensor *b, bool transpose, conv_geom *g);
/* The output's rank and dims (N x M x the window's output sizes). */
void conv_output_shape(const conv_geom *g, dp_tensor *y);
/* Columns j0..j0+nj of the im2col matrix of one group's Cg input planes x (conv.c). */
void conv_im2col(const nn_window *w, const float *x, int64_t Cg, int64_t j0, int64_t nj,
                 float *col);
dp_status conv_no_memory(dp_kctx *k, size_t bytes);
int64_t conv_chunk_size(int64_t rows, int64_t positions, int parts);
int conv_shifted_stride(const nn_window *w);
bool conv_padded_3x3(const nn_window *w);

/* conv_depthwise.c: output channels that each read one input channel */
dp_status conv_depthwise_rows(dp_kctx *k, const conv_geom *g, const float *x, const float *wt,
                              const float *b, const dp_sgemm_epilogue *ep, float *y);
dp_status conv_depthwise_planes(dp_kctx *k, const conv_geom *g, int s, const float *x,
                                const float *wt, const float *b, const dp_sgemm_epilogue *ep,
                                float *y);
dp_status conv_depthwise_analog(dp_kctx *k, const conv_geom *g, int s, const float *x,
                                const float *wt, const float *b, const dp_sgemm_epilogue *ep,
                                float *y);

/* conv_winograd.c */
const float *conv_winograd_weights(dp_kctx *k, const conv_geom *g, const float *wt);
dp_status conv_winograd(dp_kctx *k, const conv_geom *cg, const float *x, const float *u,
                        const dp_sgemm_epilogue *ep, float *y);

#endif
