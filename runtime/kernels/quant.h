/*
 * quant.h: private to the quantisation kernel family (quantize.c's table and the files that
 * implement it: quantize.c, conv_integer.c, matmul_integer.c): the ops' entry points, the
 * scale and zero-point checks they share, the rounding every requantisation uses, and the
 * exact integer product.
 *
 * Arithmetic is onnxruntime's, which the ONNX reference shares: a quantised value is
 * saturate(round_half_even(x / scale) + zero_point) computed in float32, a dequantised one
 * (float)(q - zero_point) * scale, and the QLinear ops requantise their int32 sums with the
 * float32 multiplier x_scale * w_scale / y_scale.
 */
#ifndef DP_QUANT_H
#define DP_QUANT_H

#include "dp_op.h"

/*
 * A quantised tensor's scales and zero points: each one value for the whole tensor, or one
 * per index of an axis. Shapes are checked by quant_params_init; scales, whose values may
 * only be known when the kernel runs, by quant_scales_check.
 */
typedef struct quant_params {
    int64_t count;        /* 1 (per tensor), or the axis' size where either is per axis */
    int64_t outer, inner; /* the elements before and after the axis (per tensor: 1, all) */
    const dp_tensor *scale, *zero; /* NULL when the op has none or omits it (zero: 0) */
    int64_t scale_n, zero_n; /* their counts: 1 or count */
    const char *name;     /* the scale input's name, for messages */
} quant_params;

/*
 * Checks scale (float32, or NULL for the integer ops, which have none) and zero (NULL, or of
 * dtype zdtype, the quantised type) for tensor x, naming them what_scale and what_zero in
 * messages: each holds one value (per tensor), or, where per_axis, is 1-D with x's size
 * along axis (which may count from the back). Scales whose values are known are checked too
 * (quant_scales_check).
 */
dp_status quant_params_init(dp_kctx *k, const dp_tensor *x, bool per_axis, int64_t axis,
                            const dp_tensor *scale, const dp_tensor *zero, dp_dtype zdtype,
                            const char *what_scale, const char *what_zero, quant_params *q);

/* Checks that every scale is finite and positive: at run time, as scales may be graph
 * inputs. */
dp_status quant_scales_check(dp_kctx *k, const quant_params *q);

/* The scale and zero point (0 when omitted) of index i along the axis (any i, per tensor). */
static inline float quant_scale(const quant_params *q, int64_t i)
{
    return ((const float *)q->scale->data)[q->scale_n > 1 ? i : 0];
}
int32_t quant_zero(const quant_params *q, int64_t i);

/* Whether dtype t is a quantised type (uint8, int8), and its range ([0, 0] for another). */
bool quant_dtype(dp_dtype t, int32_t *lo, int32_t *hi);

/* Fails unless t is uint8 or int8, naming the input what. */
dp_status quant_need_dtype(dp_kctx *k, dp_dtype t, const char *what);

/* v rounded half to even, plus zero, saturated to [lo, hi]; NaN gives the zero point, as 0
 * would. */
int32_t quant_round(float v, int32_t zero, int32_t lo, int32_t hi);

/*
 * The exact integer product C (M x N, row stride ldc) = A (M x K) B (K x N, row stride ldb),
 * summed in int32 as ONNX's integer ops define it: a sum that leaves int32's range wraps
 * (onnxruntime's behaviour), rather than being undefined.
 */
void quant_igemm(int64_t M, int64_t N, int64_t K, const int32_t *A, const int32_t *B,
                 int64_t ldb, int32_t *C, int64_t ldc);

/* n int32 values of scratch, or a DP_ENOMEM failure. */
dp_status quant_scratch_i32(dp_kctx *k, int64_t n, int32_t **out);

/*
 * out (uint8 or int8, as y's zero point) = the int32 sums acc of a QLinear op requantised
 * onto y's grid. Sum i takes the multiplier a_scale * b_scale / y_scale (in float32, as
 * onnxruntime forms it) of index r * cols + c = (i / run) % (rows * cols): a's scale r and
 * b's scale c (quant_scale). Checks every scale first.
 */
dp_status quant_requantize(dp_kctx *k, const int32_t *acc, const quant_params *a,
                           int64_t rows, const quant_params *b, int64_t cols, int64_t run,
                           const quant_params *y, dp_tensor *out);

/* The tensor t less its zero points (q, as quant_params_init made it for t), as int32. */
dp_status quant_widen(dp_kctx *k, const dp_tensor *t, const quant_params *q, int32_t **out);

/* The integer products: ConvInteger and MatMulInteger (int32 out) and QLinearConv and
 * QLinearMatMul (requantised out) share an infer and a run each, told apart by their input
 * count (the QLinear ops have 8 or 9, the others at most 4). */
dp_status quant_conv_infer(dp_kctx *k);
dp_status quant_conv_run(dp_kctx *k);
dp_status quant_matmul_infer(dp_kctx *k);
dp_status quant_matmul_run(dp_kctx *k);

#endif
