/*
 * nn.h: private to the nn kernel family (nn.c's table and the files that implement it):
 * the ops' entry points and the sliding-window geometry Conv, ConvTranspose and the pools
 * share.
 */
#ifndef DP_NN_H
#define DP_NN_H

#include "dp_op.h"

/* Conv and pools support 1 to 3 spatial dimensions (ONNX allows more; no model uses them). */
enum { NN_MAXSP = 3 };

/* Bound on kernel sizes, strides, dilations and pads, so that their products cannot
 * overflow int64_t */
#define NN_ATTR_MAX INT32_MAX

/*
 * A window sliding over the spatial dimensions of an N x C x D1 x ... x Dn input. Arrays
 * are right-aligned to three dimensions: with fewer, the leading entries describe a dimension
 * of size 1 with a 1-wide kernel, so kernels always loop over three.
 */
typedef struct nn_window {
    int nsp;                 /* spatial dimensions of the input, 1 to NN_MAXSP */
    int64_t in[NN_MAXSP];    /* input size */
    int64_t out[NN_MAXSP];   /* output size */
    int64_t k[NN_MAXSP];     /* kernel size */
    int64_t s[NN_MAXSP];     /* stride */
    int64_t d[NN_MAXSP];     /* dilation */
    int64_t pb[NN_MAXSP];    /* padding before (may be negative for ConvTranspose) */
    int64_t pe[NN_MAXSP];    /* padding after */
} nn_window;

typedef enum nn_pad_mode { NN_EXPLICIT, NN_SAME_UPPER, NN_SAME_LOWER, NN_VALID } nn_pad_mode;

/* The auto_pad attribute (NOTSET, the default, is NN_EXPLICIT: the pads attribute). */
dp_status nn_auto_pad(dp_kctx *k, nn_pad_mode *mode);

/* Checks x is N x C x D1 x ... with 1 to NN_MAXSP spatial dims, their count in *nsp. */
dp_status nn_spatial_rank(dp_kctx *k, const dp_tensor *x, const char *what, int *nsp);

/* Starts w with nsp spatial dimensions, each of size 1 with a 1-wide kernel and no padding. */
void nn_window_reset(nn_window *w, int nsp);

/*
 * Fills w for a Conv or pool over x from the attributes strides, dilations, pads and
 * auto_pad, and the kernel (nsp sizes, validated here), computing the output size.
 * ceil_mode rounds output sizes up (pools only).
 */
dp_status nn_window_init(dp_kctx *k, const dp_tensor *x, const int64_t *kernel,
                         bool ceil_mode, nn_window *w);

/* Reads an optional INTS attribute of n values each in [lo, NN_ATTR_MAX], or fills dflt. */
dp_status nn_attr_ints(dp_kctx *k, const char *name, int n, int64_t lo, int64_t dflt,
                       int64_t *vals);

/*
 * The indices i in [*lo, *hi), a subrange of [0, count), for which i * step + off lies in
 * [0, n): the kernel taps of one output position that fall inside the input (step:
 * dilation), or the output positions one tap reaches inside the input (step: stride).
 */
static inline void nn_range(int64_t off, int64_t step, int64_t n, int64_t count, int64_t *lo,
                            int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + step - 1) / step;
    int64_t b = off >= n ? 0 : (n - 1 - off) / step + 1;
    if (a > count)
        a = count;
    if (b > count)
        b = count;
    *lo = a;
    *hi = b > a ? b : a;
}

/*
 * numpy.matmul's shapes, which MatMul and the integer products share: the last two dimensions
 * multiply, the others broadcast; a 1-D A is a row vector and a 1-D B a column vector, their
 * unit dimension dropped from the result.
 */
typedef struct nn_mm_dims {
    int64_t M, N, K;
    bool a_vector, b_vector; /* A, B 1-D */
    dp_tensor ab, bb, ob;    /* batch shapes of A, B and the result */
} nn_mm_dims;
dp_status nn_matmul_dims(dp_kctx *k, const dp_tensor *a, const dp_tensor *b, nn_mm_dims *g);
/* The result's rank and dims. */
void nn_matmul_shape(const nn_mm_dims *g, dp_tensor *y);
/* Which of A's and B's matrices (*ia, *ib: indices of their M x K and K x N blocks) make
 * matrix bi of the result. */
void nn_matmul_batch(const nn_mm_dims *g, int64_t bi, int64_t *ia, int64_t *ib);

/* Fails unless dtype t is one of the n listed. */
dp_status nn_need_dtype(dp_kctx *k, dp_dtype t, int n, const dp_dtype *ok);

#define NN_OP(name)                                                                          \
    dp_status nn_##name##_types(dp_kctx *k);                                                 \
    dp_status nn_##name##_infer(dp_kctx *k);                                                 \
    dp_status nn_##name##_run(dp_kctx *k);

NN_OP(Conv)
NN_OP(ConvTranspose)
NN_OP(Gemm)
NN_OP(MatMul)
NN_OP(Einsum)
NN_OP(AveragePool)
NN_OP(MaxPool)
NN_OP(GlobalAveragePool)
NN_OP(GlobalMaxPool)
NN_OP(BatchNormalization)
NN_OP(InstanceNormalization)
NN_OP(LayerNormalization)
NN_OP(LRN)

#endif
