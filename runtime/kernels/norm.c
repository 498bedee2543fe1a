/*
 * norm.c: BatchNormalization (inference, and training mode from opset 14),
 * InstanceNormalization, LayerNormalization and LRN.
 *
 * Means and variances are accumulated in double: a float sum over a large plane loses
 * digits the references keep, and the passes are memory-bound either way.
 */
#include "nn.h"

#include <math.h>
#include <string.h>

static const dp_dtype float_only[] = {DP_FLOAT};

/* Every present input after the first must have X's dtype. */
static dp_status same_dtypes(dp_kctx *k)
{
    dp_dtype t = k->in[0]->dtype;
    for (int i = 1; i < k->n_in; i++)
        if (k->in[i] && k->in[i]->dtype != t)
            return dp_kfail(k, DP_EINPUT, "input %d is %s, X is %s", i,
                            dp_dtype_name(k->in[i]->dtype), dp_dtype_name(t));
    return DP_OK;
}

static dp_status float_types(dp_kctx *k)
{
    for (int i = 0; i < k->n_out; i++)
        k->out[i]->dtype = k->in[0]->dtype;
    dp_status st = nn_need_dtype(k, k->in[0]->dtype, 1, float_only);
    return st != DP_OK ? st : same_dtypes(k);
}

static void copy_shape(dp_tensor *y, const dp_tensor *x)
{
    y->rank = x->rank;
    memcpy(y->dims, x->dims, sizeof x->dims);
}

/* ---- BatchNormalization ---- */

/* Training mode: batch statistics and running-statistics outputs (opset 14 on). */
static bool bn_training(dp_kctx *k)
{
    return k->opset >= 14 && dp_attr_int(k, "training_mode", 0);
}

dp_status nn_BatchNormalization_types(dp_kctx *k)
{
    /* opset 15 lets scale and bias (T1), mean and var (T2) differ from X: valid, unsupported */
    for (int i = 1; k->opset >= 15 && i < k->n_in; i++)
        if (k->in[i]->dtype != k->in[0]->dtype)
            return dp_kfail(k, DP_EUNSUPPORTED, "input %d is %s, X is %s: mixed dtypes are not "
                            "supported", i, dp_dtype_name(k->in[i]->dtype),
                            dp_dtype_name(k->in[0]->dtype));
    dp_status st = float_types(k);
    if (st != DP_OK)
        return st;
    if (k->n_out > 1 && !bn_training(k))
        return k->opset >= 14
                   ? dp_kfail(k, DP_EINPUT, "has %d outputs, but running_mean and running_var "
                              "exist only when training_mode is 1", k->n_out)
                   : dp_kfail(k, DP_EUNSUPPORTED, "training outputs (%d outputs) are not "
                              "supported before opset 14", k->n_out);
    if (k->n_out > 3)
        return dp_kfail(k, DP_EINPUT, "has %d outputs, expected at most 3 in training mode",
                        k->n_out);
    return DP_OK;
}

/* Statistics per channel (dims[1]), or, with opset 7-8's spatial=0, per element of a sample. */
static dp_status bn_layout(dp_kctx *k, int64_t *n, int64_t *params, int64_t *inner)
{
    const dp_tensor *x = k->in[0];
    if (x->rank < 2)
        return dp_kfail(k, DP_EINPUT, "X must be N x C x ... (rank 2 or more), has rank %d",
                        x->rank);
    bool spatial = k->opset >= 9 || dp_attr_int(k, "spatial", 1) != 0;
    *n = x->dims[0];
    *params = x->dims[1];
    *inner = 1;
    for (int i = 2; i < x->rank; i++)
        *(spatial ? inner : params) *= x->dims[i];
    static const char *const names[] = {"", "scale", "B", "input_mean", "input_var"};
    for (int i = 1; i < 5; i++)
        if (dp_numel(k->in[i]) != *params || (spatial && k->in[i]->rank != 1))
            return dp_kfail(k, DP_EINPUT, "%s must have %lld elements (%s), has %lld",
                            names[i], (long long)*params,
                            spatial ? "X's channels" : "X's sample size",
                            (long long)dp_numel(k->in[i]));
    return DP_OK;
}

dp_status nn_BatchNormalization_infer(dp_kctx *k)
{
    int64_t n, params, inner;
    dp_status st = bn_layout(k, &n, &params, &inner);
    if (st != DP_OK)
        return st;
    copy_shape(k->out[0], k->in[0]);
    for (int i = 1; i < k->n_out; i++)
        *k->out[i] = (dp_tensor){k->out[i]->dtype, 1, {params}, k->out[i]->data};
    return DP_OK;
}

dp_status nn_BatchNormalization_run(dp_kctx *k)
{
    int64_t n, params, inner;
    dp_status st = bn_layout(k, &n, &params, &inner);
    if (st != DP_OK)
        return st;
    const float *x = k->in[0]->data, *scale = k->in[1]->data, *bias = k->in[2]->data;
    const float *mean = k->in[3]->data, *var = k->in[4]->data;
    float *y = k->out[0]->data;
    double eps = dp_attr_float(k, "epsilon", 1e-5f);
    bool training = bn_training(k);
    double momentum = dp_attr_float(k, "momentum", 0.9f);
    for (int64_t c = 0; c < params; c++) {
        double m = mean[c], v = var[c];
        if (training) {
            /* the batch's own mean and (biased) variance normalise it */
            double s = 0, s2 = 0;
            for (int64_t b = 0; b < n; b++)
                for (int64_t i = 0; i < inner; i++)
                    s += x[(b * params + c) * inner + i];
            int64_t count = n * inner;
            m = count ? s / (double)count : 0;
            for (int64_t b = 0; b < n; b++)
                for (int64_t i = 0; i < inner; i++) {
                    double dev = x[(b * params + c) * inner + i] - m;
                    s2 += dev * dev;
                }
            v = count ? s2 / (double)count : 0;
            if (k->n_out > 1)
                ((float *)k->out[1]->data)[c] = (float)(mean[c] * momentum + m * (1 - momentum));
            if (k->n_out > 2)
                ((float *)k->out[2]->data)[c] = (float)(var[c] * momentum + v * (1 - momentum));
        }
        /* y = x * a + b folds (x - mean) / sqrt(var + eps) * scale + B */
        float a = (float)(scale[c] / sqrt(v + eps)), b0 = (float)(bias[c] - m * a);
        for (int64_t b = 0; b < n; b++) {
            const float *xs = x + (b * params + c) * inner;
            float *ys = y + (b * params + c) * inner;
            for (int64_t i = 0; i < inner; i++)
                ys[i] = xs[i] * a + b0;
        }
    }
    return DP_OK;
}

/* ---- InstanceNormalization ---- */

dp_status nn_InstanceNormalization_types(dp_kctx *k) { return float_types(k); }

dp_status nn_InstanceNormalization_infer(dp_kctx *k)
{
    const dp_tensor *x = k->in[0];
    if (x->rank < 2)
        return dp_kfail(k, DP_EINPUT, "input must be N x C x ... (rank 2 or more), has rank %d",
                        x->rank);
    for (int i = 1; i < 3; i++)
        if (k->in[i]->rank != 1 || k->in[i]->dims[0] != x->dims[1])
            return dp_kfail(k, DP_EINPUT, "%s must be 1-D with %lld elements (the channels)",
                            i == 1 ? "scale" : "B", (long long)x->dims[1]);
    copy_shape(k->out[0], x);
    return DP_OK;
}

dp_status nn_InstanceNormalization_run(dp_kctx *k)
{
    const dp_tensor *xt = k->in[0];
    const float *x = xt->data, *scale = k->in[1]->data, *bias = k->in[2]->data;
    float *y = k->out[0]->data;
    double eps = dp_attr_float(k, "epsilon", 1e-5f);
    int64_t C = xt->dims[1], planes = xt->dims[0] * C, vol = 1;
    for (int i = 2; i < xt->rank; i++)
        vol *= xt->dims[i];
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * vol;
        float *yp = y + p * vol;
        double s = 0, s2 = 0;
        for (int64_t i = 0; i < vol; i++)
            s += xp[i];
        double m = vol ? s / (double)vol : 0;
        for (int64_t i = 0; i < vol; i++)
            s2 += (xp[i] - m) * (xp[i] - m);
        double v = vol ? s2 / (double)vol : 0;
        float a = (float)(scale[p % C] / sqrt(v + eps)), b = (float)(bias[p % C] - m * a);
        for (int64_t i = 0; i < vol; i++)
            yp[i] = xp[i] * a + b;
    }
    return DP_OK;
}

/* ---- LayerNormalization ---- */

static const dp_dtype ln_types[] = {DP_FLOAT, DP_DOUBLE};

dp_status nn_LayerNormalization_types(dp_kctx *k)
{
    dp_dtype t = k->in[0]->dtype;
    int64_t stash = dp_attr_int(k, "stash_type", DP_FLOAT);
    k->out[0]->dtype = t;
    for (int i = 1; i < k->n_out; i++)
        k->out[i]->dtype = (dp_dtype)stash;
    dp_status st = nn_need_dtype(k, t, 2, ln_types);
    if (st == DP_OK && stash != DP_FLOAT && stash != DP_DOUBLE)
        st = dp_kfail(k, DP_EUNSUPPORTED, "stash_type %lld is not supported (float or double "
                      "only)", (long long)stash);
    return st != DP_OK ? st : same_dtypes(k);
}

/* X is rows x cols around the normalised axis; Scale and B broadcast to X's shape. */
static dp_status ln_layout(dp_kctx *k, int *axis, int64_t *rows, int64_t *cols)
{
    const dp_tensor *x = k->in[0];
    if (x->rank < 1)
        return dp_kfail(k, DP_EINPUT, "X must have rank 1 or more");
    int64_t a = dp_attr_int(k, "axis", -1);
    *axis = dp_norm_axis(a, x->rank);
    if (*axis < 0)
        return dp_kfail(k, DP_EINPUT, "axis %lld is outside [-%d, %d)", (long long)a, x->rank,
                        x->rank);
    *rows = *cols = 1;
    for (int i = 0; i < x->rank; i++)
        *(i < *axis ? rows : cols) *= x->dims[i];
    for (int i = 1; i < k->n_in; i++) {
        const dp_tensor *t = k->in[i];
        if (!t)
            continue;
        bool ok = t->rank <= x->rank;
        for (int j = 0; ok && j < t->rank; j++) {
            int64_t d = t->dims[t->rank - 1 - j], xd = x->dims[x->rank - 1 - j];
            ok = d == xd || d == 1;
        }
        if (!ok) {
            char a1[160], a2[160];
            return dp_kfail(k, DP_EINPUT, "%s has shape %s, which does not broadcast to X's %s",
                            i == 1 ? "Scale" : "B", dp_shape_str(t, a1, sizeof a1),
                            dp_shape_str(x, a2, sizeof a2));
        }
    }
    return DP_OK;
}

dp_status nn_LayerNormalization_infer(dp_kctx *k)
{
    int axis;
    int64_t rows, cols;
    dp_status st = ln_layout(k, &axis, &rows, &cols);
    if (st != DP_OK)
        return st;
    const dp_tensor *x = k->in[0];
    copy_shape(k->out[0], x);
    for (int i = 1; i < k->n_out; i++) {
        copy_shape(k->out[i], x);
        for (int j = axis; j < x->rank; j++)
            k->out[i]->dims[j] = 1;
    }
    return DP_OK;
}

/*
 * Offsets into a parameter broadcast to X's shape, split as the normalised block's inner
 * offsets (one per column) plus an offset per row.
 */
static void ln_offsets(const dp_tensor *x, const dp_tensor *t, int axis, int64_t cols,
                       int64_t *inner, int64_t *outer_stride)
{
    int64_t st[DP_MAX_RANK];
    dp_broadcast_strides(t, x, st);
    for (int64_t j = 0; j < cols; j++) {
        int64_t off = 0, rem = j;
        for (int d = x->rank - 1; d >= axis; d--) {
            off += rem % x->dims[d] * st[d];
            rem /= x->dims[d];
        }
        inner[j] = off;
    }
    memcpy(outer_stride, st, sizeof st);
}

static int64_t row_offset(const dp_tensor *x, const int64_t *stride, int axis, int64_t r)
{
    int64_t off = 0;
    for (int d = axis - 1; d >= 0; d--) {
        off += r % x->dims[d] * stride[d];
        r /= x->dims[d];
    }
    return off;
}

/* One row: Y = (X - mean) / sqrt(var + eps) * Scale + B; returns mean and 1/sqrt(var+eps). */
#define LN_ROW(T)                                                                            \
    static void ln_row_##T(const T *x, T *y, int64_t cols, const T *sc, const int64_t *sc_in, \
                           const T *b, const int64_t *b_in, double eps, double *mean,         \
                           double *inv)                                                       \
    {                                                                                        \
        double s = 0, s2 = 0;                                                                \
        for (int64_t j = 0; j < cols; j++)                                                   \
            s += x[j];                                                                       \
        double m = cols ? s / (double)cols : 0;                                              \
        for (int64_t j = 0; j < cols; j++)                                                   \
            s2 += (x[j] - m) * (x[j] - m);                                                   \
        double r = 1 / sqrt((cols ? s2 / (double)cols : 0) + eps);                           \
        for (int64_t j = 0; j < cols; j++)                                                   \
            y[j] = (T)((x[j] - m) * r * sc[sc_in[j]] + (b ? b[b_in[j]] : 0));               \
        *mean = m;                                                                           \
        *inv = r;                                                                            \
    }
LN_ROW(float)
LN_ROW(double)

dp_status nn_LayerNormalization_run(dp_kctx *k)
{
    int axis;
    int64_t rows, cols;
    dp_status st = ln_layout(k, &axis, &rows, &cols);
    if (st != DP_OK)
        return st;
    const dp_tensor *x = k->in[0], *sc = k->in[1], *bt = dp_in(k, 2);
    double eps = dp_attr_float(k, "epsilon", 1e-5f);
    size_t bytes = 2 * (size_t)cols * sizeof(int64_t);
    int64_t *sc_in = dp_scratch(k, bytes), *b_in = sc_in + cols;
    int64_t sc_st[DP_MAX_RANK], b_st[DP_MAX_RANK] = {0};
    if (!sc_in)
        return dp_kfail(k, DP_ENOMEM, "cannot allocate %zu bytes of scratch", bytes);
    ln_offsets(x, sc, axis, cols, sc_in, sc_st);
    if (bt)
        ln_offsets(x, bt, axis, cols, b_in, b_st);
    for (int64_t r = 0; r < rows; r++) {
        int64_t so = row_offset(x, sc_st, axis, r), bo = bt ? row_offset(x, b_st, axis, r) : 0;
        double mean, inv;
        if (x->dtype == DP_FLOAT)
            ln_row_float((const float *)x->data + r * cols, (float *)k->out[0]->data + r * cols,
                         cols, (const float *)sc->data + so, sc_in,
                         bt ? (const float *)bt->data + bo : NULL, b_in, eps, &mean, &inv);
        else
            ln_row_double((const double *)x->data + r * cols,
                          (double *)k->out[0]->data + r * cols, cols,
                          (const double *)sc->data + so, sc_in,
                          bt ? (const double *)bt->data + bo : NULL, b_in, eps, &mean, &inv);
        if (k->n_out > 1)
            dp_store_f64(k->out[1]->data, k->out[1]->dtype, r, mean);
        if (k->n_out > 2)
            dp_store_f64(k->out[2]->data, k->out[2]->dtype, r, inv);
    }
    return DP_OK;
}

/* ---- LRN ---- */

dp_status nn_LRN_types(dp_kctx *k) { return float_types(k); }

static dp_status lrn_size(dp_kctx *k, int64_t *size)
{
    *size = dp_attr_int(k, "size", 0);
    if (!dp_attr_find(k, "size"))
        return dp_kfail(k, DP_EINPUT, "attribute 'size' is missing");
    if (*size < 1 || *size > NN_ATTR_MAX)
        return dp_kfail(k, DP_EINPUT, "size %lld is not positive", (long long)*size);
    return DP_OK;
}

dp_status nn_LRN_infer(dp_kctx *k)
{
    int64_t size;
    dp_status st = lrn_size(k, &size);
    if (st != DP_OK)
        return st;
    if (k->in[0]->rank < 2)
        return dp_kfail(k, DP_EINPUT, "X must be N x C x ... (rank 2 or more), has rank %d",
                        k->in[0]->rank);
    copy_shape(k->out[0], k->in[0]);
    return DP_OK;
}

dp_status nn_LRN_run(dp_kctx *k)
{
    int64_t size;
    dp_status st = lrn_size(k, &size);
    if (st != DP_OK)
        return st;
    const dp_tensor *xt = k->in[0];
    const float *x = xt->data;
    float *y = k->out[0]->data;
    float alpha = dp_attr_float(k, "alpha", 1e-4f), beta = dp_attr_float(k, "beta", 0.75f);
    float bias = dp_attr_float(k, "bias", 1.0f), scale = alpha / (float)size;
    int64_t N = xt->dims[0], C = xt->dims[1], vol = 1;
    for (int i = 2; i < xt->rank; i++)
        vol *= xt->dims[i];
    float *sq = dp_scratch(k, (size_t)vol * sizeof(float));
    if (!sq && vol)
        return dp_kfail(k, DP_ENOMEM, "cannot allocate %zu bytes of scratch",
                        (size_t)vol * sizeof(float));
    /* channels c - floor((size-1)/2) .. c + ceil((size-1)/2), clipped to [0, C) */
    int64_t before = (size - 1) / 2, after = size - 1 - before;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            int64_t lo = c - before < 0 ? 0 : c - before;
            int64_t hi = c + after >= C ? C - 1 : c + after;
            for (int64_t i = 0; i < vol; i++)
                sq[i] = 0;
            for (int64_t c2 = lo; c2 <= hi; c2++) {
                const float *xc = x + (n * C + c2) * vol;
                for (int64_t i = 0; i < vol; i++)
                    sq[i] += xc[i] * xc[i];
            }
            const float *xc = x + (n * C + c) * vol;
            float *yc = y + (n * C + c) * vol;
            for (int64_t i = 0; i < vol; i++)
                yc[i] = xc[i] / powf(bias + scale * sq[i], beta);
        }
    return DP_OK;
}
