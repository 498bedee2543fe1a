/*
 * kernel_util.h: small helpers several kernel families share (reading axes and shape
 * inputs, iterating broadcast indices), and the fused post-processing of analog layers that
 * the kernels and the compiler's fusion passes agree on. Add here only what two families
 * (or a kernel family and the compiler) need.
 */
#ifndef DP_KERNEL_UTIL_H
#define DP_KERNEL_UTIL_H

#include "dp_op.h"

/*
 * Reads a 1-D (or scalar) int32/int64 tensor into out[0..*n). Fails with DP_EINPUT if it
 * has more than max elements or another dtype; returns DP_DYNAMIC if its value is unknown.
 */
dp_status dp_read_ints(dp_kctx *k, const dp_tensor *t, int64_t *out, int max, int *n,
                       const char *what);

/*
 * Fused layers. The fusion passes (compiler/passes/fuse_bias.c, fuse_residual.c, fuse_activation.c)
 * move what follows a Conv, ConvTranspose, Gemm or MatMul into it, as a device's digital
 * post-processing unit applies it right after the product. They say so in attributes whose
 * names start with DP_FUSED_PREFIX, a prefix the frontend refuses in user models:
 *   dp_activation  string  Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSigmoid or HardSwish,
 *                          applied to the whole output after the product, any bias and any
 *                          residual
 *   dp_alpha       float   LeakyRelu's and HardSigmoid's alpha
 *   dp_beta        float   HardSigmoid's beta
 *   dp_min, dp_max float   Clip's bounds; an absent one does not bound
 *   dp_bias        int     MatMul only: input 2 is a bias added along the output's last axis
 *   dp_residual    int     Conv only: input 3, shaped as the output, is added to it after the
 *                          bias and before the activation (a residual block's Add)
 * A fused layer computes float32 only.
 */
#define DP_FUSED_PREFIX "dp_"

/* Whether dp_activation may name this op. */
bool dp_fused_activation_known(const char *op);

/* Checks a layer's fused attributes (names, kinds, the activation, a float32 input);
 * the layers' types functions call it. */
dp_status dp_fused_check(dp_kctx *k);

/* Whether the layer's fused activation, if any, is a clamp to [*lo, *hi] (none is (-inf,
 * inf), Relu [0, inf), Clip its bounds), which a product's epilogue can apply (gemm.h):
 * the same bits as dp_fused_activate, which then has nothing left to do. When it is not,
 * *lo and *hi are still -inf and inf, a clamp that does nothing. */
bool dp_fused_clamp(dp_kctx *k, float *lo, float *hi);

/* Applies the layer's fused activation, if it has one, to its output y in place. */
dp_status dp_fused_activate(dp_kctx *k, dp_tensor *y);

/* An H x W plane (H and W even) split by the parity of its rows and columns into four
 * quarter planes, (even, even), (even, odd), (odd, even), (odd, odd), one after another:
 * element (2i + a, 2j + b) goes to quarter 2a + b at (i, j). Stride-2 windows then read
 * each tap as one flat run (conv.c, conv_depthwise.c, analog.c). */
void dp_split_by_parity(const float *plane, int64_t H, int64_t W, float *quarters);

/*
 * Tap t (0..8, row-major) of a 3x3 window padded by 1 on every side, as one flat run over an
 * output plane of n positions in rows W wide: output p, for p in [lo, hi), reads quarter plane
 * `quarter` at p + shift. Stride 1: the input plane itself (quarter 0, the output the input's
 * size); stride 2: its quarter planes (dp_split_by_parity). Outputs whose tap row lies in the
 * padding are outside [lo, hi), and every read of [lo, hi) lies inside the plane; a read one
 * column past a row's edge lands in the next row and must be selected away by the column
 * flags `edge` names (-1 left, +1 right, 0 none).
 * conv_depthwise.c's loops and analog.c's window share it.
 */
typedef struct dp_tap_run {
    int quarter, edge;
    int64_t shift, lo, hi;
} dp_tap_run;
dp_tap_run dp_padded_3x3_tap(int stride, int t, int64_t W, int64_t n);

/* left[i] = 0 where position p0 + i of a plane in rows W wide is a row's first column, 1
 * elsewhere; right[i] (if not NULL) likewise for the last column; n positions. */
void dp_column_edges(int64_t W, int64_t p0, int64_t n, int32_t *left, int32_t *right);

/*
 * Fills dst, contiguous and dims[0] x ... x dims[rank-1], from a strided view of src:
 * element (i0, i1, ...) is read es bytes at src + sum(i_d * stride[d]) * es. Strides are
 * in elements and may be 0 (broadcast) or negative (reversed slices). Transpose, Slice,
 * Expand and Einsum's products copy through it.
 */
void dp_copy_view(void *dst, const void *src, int rank, const int64_t *dims,
                  const int64_t *stride, size_t es);

/* dst (cols x rows, row stride ldd) = the transpose of src (rows x cols, row stride lds): the
 * analog core's orientation of a Gemm or MatMul product (analog_exec.c). */
void dp_transpose(const float *src, int64_t lds, int64_t rows, int64_t cols, float *dst,
                  int64_t ldd);

#endif
