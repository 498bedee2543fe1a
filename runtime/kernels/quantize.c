/*
 * quantize.c: the quantisation family's table, the scale and zero-point rules its ops share
 * (quant.h), and the element-wise ops: QuantizeLinear, DequantizeLinear (per tensor, and per
 * axis from opset 13) and DynamicQuantizeLinear. The integer products are conv_integer.c and
 * matmul_integer.c.
 */
#include "quant.h"

#include <math.h>
#include <string.h>

bool quant_dtype(dp_dtype t, int32_t *lo, int32_t *hi)
{
    bool u8 = t == DP_UINT8, i8 = t == DP_INT8;
    *lo = i8 ? -128 : 0;
    *hi = u8 ? 255 : i8 ? 127 : 0;
    return u8 || i8;
}

dp_status quant_need_dtype(dp_kctx *k, dp_dtype t, const char *what)
{
    int32_t lo, hi;
    if (quant_dtype(t, &lo, &hi))
        return DP_OK;
    return dp_kfail(k, DP_EUNSUPPORTED, "%s is %s, expected uint8 or int8", what,
                    dp_dtype_name(t));
}

int32_t quant_round(float v, int32_t zero, int32_t lo, int32_t hi)
{
    if (isnan(v))
        return zero;
    /* in float, as onnxruntime: an infinite or huge v saturates instead of overflowing */
    float r = nearbyintf(v) + (float)zero;
    return r <= (float)lo ? lo : r >= (float)hi ? hi : (int32_t)r;
}

int32_t quant_zero(const quant_params *q, int64_t i)
{
    return q->zero ? (int32_t)dp_load_i64(q->zero->data, q->zero->dtype, q->zero_n > 1 ? i : 0)
                   : 0;
}

static bool one_value(const dp_tensor *t)
{
    return t->rank <= 1 && dp_numel(t) == 1;
}

/* Checks t (a scale or zero point, named what) against x: one value, or where per_axis a 1-D
 * tensor of x's size along axis, which then sets q's count, outer and inner. *n: t's count. */
static dp_status params_shape(dp_kctx *k, const dp_tensor *x, bool per_axis, int64_t axis,
                              const dp_tensor *t, const char *what, quant_params *q, int64_t *n)
{
    char s1[160];
    *n = 1;
    if (!t || one_value(t))
        return DP_OK;
    if (!per_axis)
        return dp_kfail(k, DP_EINPUT, "%s has shape [%s], expected one value", what,
                        dp_shape_str(t, s1, sizeof s1));
    /* ONNX lets MatMulInteger's zero points be N-D, one per matrix of a batch too */
    if (t->rank != 1)
        return dp_kfail(k, DP_EUNSUPPORTED, "%s has shape [%s]: one value or a 1-D tensor "
                        "(per axis) is supported", what, dp_shape_str(t, s1, sizeof s1));
    int a = dp_norm_axis(axis, x->rank);
    if (a < 0)
        return dp_kfail(k, DP_EINPUT, "axis %lld is outside [%d, %d] for an input of rank %d",
                        (long long)axis, -x->rank, x->rank - 1, x->rank);
    if (t->dims[0] != x->dims[a])
        return dp_kfail(k, DP_EINPUT, "%s has %lld values, the input [%s] %lld along axis %d",
                        what, (long long)t->dims[0], dp_shape_str(x, s1, sizeof s1),
                        (long long)x->dims[a], a);
    *n = q->count = x->dims[a];
    q->outer = q->inner = 1;
    for (int d = 0; d < x->rank; d++)
        if (d < a)
            q->outer *= x->dims[d];
        else if (d > a)
            q->inner *= x->dims[d];
    return DP_OK;
}

dp_status quant_params_init(dp_kctx *k, const dp_tensor *x, bool per_axis, int64_t axis,
                            const dp_tensor *scale, const dp_tensor *zero, dp_dtype zdtype,
                            const char *what_scale, const char *what_zero, quant_params *q)
{
    *q = (quant_params){.count = 1, .outer = 1, .inner = dp_numel(x), .scale = scale,
                        .zero = zero, .name = what_scale};
    if (scale && scale->dtype != DP_FLOAT)
        return dp_kfail(k, DP_EINPUT, "%s is %s, expected float", what_scale,
                        dp_dtype_name(scale->dtype));
    if (zero && zero->dtype != zdtype)
        return dp_kfail(k, DP_EINPUT, "%s is %s, expected %s", what_zero,
                        dp_dtype_name(zero->dtype), dp_dtype_name(zdtype));
    dp_status st = params_shape(k, x, per_axis, axis, scale, what_scale, q, &q->scale_n);
    if (st == DP_OK)
        st = params_shape(k, x, per_axis, axis, zero, what_zero, q, &q->zero_n);
    if (st == DP_OK && scale && scale->data)
        st = quant_scales_check(k, q);
    return st;
}

dp_status quant_scales_check(dp_kctx *k, const quant_params *q)
{
    for (int64_t i = 0; i < q->scale_n; i++) {
        float s = quant_scale(q, i);
        if (!(s > 0) || isinf(s))
            return dp_kfail(k, DP_EINPUT, "%s%s is %g: a scale must be finite and positive",
                            q->name, q->scale_n > 1 ? "'s value" : "", (double)s);
    }
    return DP_OK;
}

dp_status quant_scratch_i32(dp_kctx *k, int64_t n, int32_t **out)
{
    /* written in full before it is read */
    *out = dp_scratch_raw(k, (size_t)n * sizeof(int32_t));
    return *out ? DP_OK : dp_kfail(k, DP_ENOMEM, "cannot allocate %zu bytes of scratch",
                                   (size_t)n * sizeof(int32_t));
}

dp_status quant_widen(dp_kctx *k, const dp_tensor *t, const quant_params *q,
                      int32_t **out)
{
    int64_t n = dp_numel(t);
    dp_status st = quant_scratch_i32(k, n, out);
    for (int64_t b = 0; st == DP_OK && q->inner > 0 && b * q->inner < n; b++) {
        int32_t z = quant_zero(q, b % q->count);
        for (int64_t i = b * q->inner; i < (b + 1) * q->inner; i++)
            (*out)[i] = (int32_t)dp_load_i64(t->data, t->dtype, i) - z;
    }
    return st;
}

dp_status quant_requantize(dp_kctx *k, const int32_t *acc, const quant_params *a,
                           int64_t rows, const quant_params *b, int64_t cols, int64_t run,
                           const quant_params *y, dp_tensor *out)
{
    dp_status st = quant_scales_check(k, a);
    if (st == DP_OK)
        st = quant_scales_check(k, b);
    if (st == DP_OK)
        st = quant_scales_check(k, y);
    int64_t period = rows * cols, n = dp_numel(out);
    float *mult = st == DP_OK ? dp_scratch_raw(k, (size_t)period * sizeof(float)) : NULL;
    if (st == DP_OK && !mult)
        st = dp_kfail(k, DP_ENOMEM, "cannot allocate %zu bytes of scratch",
                      (size_t)period * sizeof(float));
    if (st != DP_OK || n == 0)
        return st;
    float ys = quant_scale(y, 0);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            mult[r * cols + c] = quant_scale(a, r) * quant_scale(b, c) / ys;
    int32_t lo, hi, z = quant_zero(y, 0);
    quant_dtype(out->dtype, &lo, &hi);
    for (int64_t i = 0; i < n; i++)
        dp_store_i64(out->data, out->dtype, i,
                     quant_round((float)acc[i] * mult[i / run % period], z, lo, hi));
    return DP_OK;
}

/* ---- QuantizeLinear, DequantizeLinear ---- */

/* The scale and zero point of QuantizeLinear or DequantizeLinear (whose output is float):
 * per axis from opset 13. */
static dp_status linear_params(dp_kctx *k, quant_params *q)
{
    bool quantize = k->out[0]->dtype != DP_FLOAT;
    return quant_params_init(k, k->in[0], k->opset >= 13, dp_attr_int(k, "axis", 1), k->in[1],
                             dp_in(k, 2), quantize ? k->out[0]->dtype : k->in[0]->dtype,
                             quantize ? "y_scale" : "x_scale",
                             quantize ? "y_zero_point" : "x_zero_point", q);
}

static dp_status quantize_types(dp_kctx *k)
{
    dp_dtype x = k->in[0]->dtype;
    if (x != DP_FLOAT && x != DP_INT32)
        return dp_kfail(k, DP_EUNSUPPORTED, "x is %s, expected float or int32",
                        dp_dtype_name(x));
    const dp_tensor *zero = dp_in(k, 2);
    k->out[0]->dtype = zero ? zero->dtype : DP_UINT8;
    return quant_need_dtype(k, k->out[0]->dtype, "y_zero_point");
}

static dp_status dequantize_types(dp_kctx *k)
{
    dp_dtype x = k->in[0]->dtype;
    if (x != DP_UINT8 && x != DP_INT8 && x != DP_INT32)
        return dp_kfail(k, DP_EUNSUPPORTED, "x is %s, expected uint8, int8 or int32",
                        dp_dtype_name(x));
    k->out[0]->dtype = DP_FLOAT;
    return DP_OK;
}

static dp_status linear_infer(dp_kctx *k)
{
    quant_params q;
    dp_status st = linear_params(k, &q);
    if (st != DP_OK)
        return st;
    dp_tensor *y = k->out[0];
    y->rank = k->in[0]->rank;
    memcpy(y->dims, k->in[0]->dims, sizeof y->dims);
    return DP_OK;
}

/* QuantizeLinear or DequantizeLinear, a run of x's elements per scale. */
static dp_status linear_run(dp_kctx *k)
{
    const dp_tensor *x = k->in[0];
    dp_tensor *y = k->out[0];
    bool quantize = y->dtype != DP_FLOAT;
    quant_params q;
    dp_status st = linear_params(k, &q);
    if (st == DP_OK)
        st = quant_scales_check(k, &q);
    if (st != DP_OK)
        return st;
    int32_t lo, hi;
    quant_dtype(y->dtype, &lo, &hi);
    for (int64_t o = 0, i = 0; o < q.outer; o++)
        for (int64_t c = 0; c < q.count; c++) {
            float s = quant_scale(&q, c);
            int32_t z = quant_zero(&q, c);
            for (int64_t e = 0; e < q.inner; e++, i++) {
                if (!quantize) {
                    ((float *)y->data)[i] = (float)(dp_load_i64(x->data, x->dtype, i) - z) * s;
                    continue;
                }
                float v = x->dtype == DP_FLOAT ? ((const float *)x->data)[i]
                                               : (float)((const int32_t *)x->data)[i];
                dp_store_i64(y->data, y->dtype, i, quant_round(v / s, z, lo, hi));
            }
        }
    return DP_OK;
}

/* ---- DynamicQuantizeLinear ---- */

static dp_status dynamic_types(dp_kctx *k)
{
    if (k->in[0]->dtype != DP_FLOAT)
        return dp_kfail(k, DP_EUNSUPPORTED, "x is %s, expected float",
                        dp_dtype_name(k->in[0]->dtype));
    k->out[0]->dtype = k->out[2]->dtype = DP_UINT8;
    k->out[1]->dtype = DP_FLOAT;
    return DP_OK;
}

static dp_status dynamic_infer(dp_kctx *k)
{
    dp_tensor *y = k->out[0];
    y->rank = k->in[0]->rank;
    memcpy(y->dims, k->in[0]->dims, sizeof y->dims);
    k->out[1]->rank = k->out[2]->rank = 0;
    return DP_OK;
}

/*
 * The uint8 grid over [min(x, 0), max(x, 0)], as the ONNX reference and onnxruntime compute
 * it in float32. An all-zero x has no range: onnxruntime's scale of 1 then keeps it zero
 * rather than dividing by 0. NaNs take no part in the range.
 */
static dp_status dynamic_run(dp_kctx *k)
{
    const float *x = k->in[0]->data;
    int64_t n = dp_numel(k->in[0]);
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    float scale = hi > lo ? (hi - lo) / 255.0f : 1.0f;
    int32_t zero = quant_round((0 - lo) / scale, 0, 0, 255);
    uint8_t *y = k->out[0]->data;
    for (int64_t i = 0; i < n; i++)
        y[i] = (uint8_t)quant_round(x[i] / scale, zero, 0, 255);
    *(float *)k->out[1]->data = scale;
    *(uint8_t *)k->out[2]->data = (uint8_t)zero;
    return DP_OK;
}

static dp_status int32_types(dp_kctx *k)
{
    k->out[0]->dtype = DP_INT32;
    return DP_OK;
}

static dp_status qlinear_types(dp_kctx *k)
{
    k->out[0]->dtype = k->in[7]->dtype;
    return quant_need_dtype(k, k->out[0]->dtype, "y_zero_point");
}

const dp_op_def dp_ops_quant[] = {
    {"QuantizeLinear", 2, 3, 1, 1, quantize_types, linear_infer, linear_run},
    {"DequantizeLinear", 2, 3, 1, 1, dequantize_types, linear_infer, linear_run},
    {"DynamicQuantizeLinear", 1, 1, 3, 3, dynamic_types, dynamic_infer, dynamic_run},
    /* inputs 4 and up: the QLinear ops' scales and zero points, which the others lack */
    {"ConvInteger", 2, 4, 1, 1, int32_types, quant_conv_infer, quant_conv_run},
    {"QLinearConv", 8, 9, 1, 1, qlinear_types, quant_conv_infer, quant_conv_run},
    {"MatMulInteger", 2, 4, 1, 1, int32_types, quant_matmul_infer, quant_matmul_run},
    {"QLinearMatMul", 8, 8, 1, 1, qlinear_types, quant_matmul_infer, quant_matmul_run},
    {0},
};
