/*
 * nn.c: the neural-network kernel family's table (convolutions, matrix products, pooling,
 * normalisation) and the window geometry its Conv and pooling kernels share.
 *
 * The kernels live in conv.c (and the files conv_ops.h names), matmul.c, einsum.c, pool.c and
 * norm.c; gemm.c holds the SGEMM they are built on.
 */
#include "nn.h"

#include <string.h>

dp_status nn_attr_ints(dp_kctx *k, const char *name, int n, int64_t lo, int64_t dflt,
                       int64_t *vals)
{
    const int64_t *v;
    int count = dp_attr_ints(k, name, &v);
    if (count < 0) {
        for (int i = 0; i < n; i++)
            vals[i] = dflt;
        return DP_OK;
    }
    if (count != n)
        return dp_kfail(k, DP_EINPUT, "attribute '%s' has %d values, expected %d", name, count,
                        n);
    for (int i = 0; i < n; i++) {
        if (v[i] < lo || v[i] > NN_ATTR_MAX)
            return dp_kfail(k, DP_EINPUT, "attribute '%s' value %lld is outside [%lld, %d]",
                            name, (long long)v[i], (long long)lo, NN_ATTR_MAX);
        vals[i] = v[i];
    }
    return DP_OK;
}

dp_status nn_auto_pad(dp_kctx *k, nn_pad_mode *mode)
{
    static const char *const names[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
    const char *ap = dp_attr_string(k, "auto_pad", "NOTSET");
    for (int i = 0; i < 4; i++)
        if (strcmp(ap, names[i]) == 0) {
            *mode = (nn_pad_mode)i;
            return DP_OK;
        }
    return dp_kfail(k, DP_EINPUT,
                    "auto_pad is '%s', expected NOTSET, SAME_UPPER, SAME_LOWER or VALID", ap);
}

dp_status nn_spatial_rank(dp_kctx *k, const dp_tensor *x, const char *what, int *nsp)
{
    if (x->rank < 3)
        return dp_kfail(k, DP_EINPUT, "%s must be N x C x D1 x ... (rank 3 or more), has rank %d",
                        what, x->rank);
    if (x->rank > 2 + NN_MAXSP)
        return dp_kfail(k, DP_EUNSUPPORTED, "%s has %d spatial dimensions, at most %d are "
                        "supported", what, x->rank - 2, NN_MAXSP);
    *nsp = x->rank - 2;
    return DP_OK;
}

void nn_window_reset(nn_window *w, int nsp)
{
    w->nsp = nsp;
    for (int j = 0; j < NN_MAXSP; j++) {
        w->in[j] = w->out[j] = w->k[j] = w->s[j] = w->d[j] = 1;
        w->pb[j] = w->pe[j] = 0;
    }
}

dp_status nn_window_init(dp_kctx *k, const dp_tensor *x, const int64_t *kernel,
                         bool ceil_mode, nn_window *w)
{
    int nsp = x->rank - 2;
    int64_t s[NN_MAXSP], d[NN_MAXSP], p[2 * NN_MAXSP];
    dp_status st = nn_attr_ints(k, "strides", nsp, 1, 1, s);
    if (st == DP_OK)
        st = nn_attr_ints(k, "dilations", nsp, 1, 1, d);
    if (st == DP_OK)
        st = nn_attr_ints(k, "pads", 2 * nsp, 0, 0, p);
    nn_pad_mode mode = NN_EXPLICIT;
    if (st == DP_OK)
        st = nn_auto_pad(k, &mode);
    if (st != DP_OK)
        return st;

    nn_window_reset(w, nsp);
    for (int i = 0; i < nsp; i++) {
        int j = NN_MAXSP - nsp + i;
        if (kernel[i] < 1 || kernel[i] > NN_ATTR_MAX)
            return dp_kfail(k, DP_EINPUT, "kernel size %lld on spatial dimension %d is outside "
                            "[1, %d]", (long long)kernel[i], i, NN_ATTR_MAX);
        int64_t in = x->dims[2 + i], extent = (kernel[i] - 1) * d[i] + 1;
        w->in[j] = in;
        w->k[j] = kernel[i];
        w->s[j] = s[i];
        w->d[j] = d[i];
        if (mode == NN_SAME_UPPER || mode == NN_SAME_LOWER) {
            /* the output covers ceil(in / stride) positions; the padding needed for that
             * is split evenly, the odd one going after (SAME_UPPER) or before (SAME_LOWER) */
            w->out[j] = (in + s[i] - 1) / s[i];
            int64_t total = (w->out[j] - 1) * s[i] + extent - in;
            if (total < 0)
                total = 0;
            w->pb[j] = mode == NN_SAME_UPPER ? total / 2 : total - total / 2;
            w->pe[j] = total - w->pb[j];
            continue;
        }
        if (mode == NN_EXPLICIT) {
            w->pb[j] = p[i];
            w->pe[j] = p[nsp + i];
        }
        int64_t span = in + w->pb[j] + w->pe[j] - extent;
        if (span < 0)
            return dp_kfail(k, DP_EINPUT, "kernel extent %lld (size %lld, dilation %lld) exceeds "
                            "the padded input size %lld on spatial dimension %d",
                            (long long)extent, (long long)kernel[i], (long long)d[i],
                            (long long)(in + w->pb[j] + w->pe[j]), i);
        if (ceil_mode) {
            w->out[j] = (span + s[i] - 1) / s[i] + 1;
            /* as PyTorch and the ONNX reference: the last window must start inside the
             * input or its leading padding, not in the trailing padding */
            if ((w->out[j] - 1) * s[i] >= in + w->pb[j])
                w->out[j]--;
        } else {
            w->out[j] = span / s[i] + 1;
        }
    }
    return DP_OK;
}

dp_status nn_need_dtype(dp_kctx *k, dp_dtype t, int n, const dp_dtype *ok)
{
    for (int i = 0; i < n; i++)
        if (t == ok[i])
            return DP_OK;
    return dp_kfail(k, DP_EUNSUPPORTED, "unsupported dtype %s", dp_dtype_name(t));
}

#define DEF(op, min_in, max_in, min_out, max_out)                                            \
    {#op, min_in, max_in, min_out, max_out, nn_##op##_types, nn_##op##_infer, nn_##op##_run}

const dp_op_def dp_ops_nn[] = {
    DEF(Conv, 2, 4, 1, 1), /* input 3: a fused residual (kernel_util.h) */
    DEF(ConvTranspose, 2, 3, 1, 1),
    DEF(Gemm, 2, 3, 1, 1),
    DEF(MatMul, 2, 3, 1, 1), /* input 2: a fused bias (kernel_util.h) */
    DEF(Einsum, 1, -1, 1, 1),
    DEF(AveragePool, 1, 1, 1, 1),
    DEF(MaxPool, 1, 1, 1, 2),
    DEF(GlobalAveragePool, 1, 1, 1, 1),
    DEF(GlobalMaxPool, 1, 1, 1, 1),
    DEF(BatchNormalization, 5, 5, 1, 5),
    DEF(InstanceNormalization, 3, 3, 1, 1),
    DEF(LayerNormalization, 2, 3, 1, 3),
    DEF(LRN, 1, 1, 1, 1),
    {0},
};
