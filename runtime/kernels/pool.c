/*
 * pool.c: AveragePool, MaxPool (with its optional Indices), GlobalAveragePool and
 * GlobalMaxPool over 1 to 3 spatial dimensions (global pools: any rank).
 *
 * A window's kernel taps that fall inside the input are found per output row (outer
 * dimensions) and per output column (innermost, precomputed once), so the loops only visit
 * real input elements. The maxima propagate NaN, as numpy's and PyTorch's do.
 */
#include "nn.h"
#include "simd.h"

#include <math.h>

typedef struct pool_plan {
    nn_window w;
    int64_t planes;         /* N * C */
    int64_t invol;
    int64_t *lo2, *hi2;     /* innermost-dimension taps of every output column */
} pool_plan;

static dp_status pool_kernel(dp_kctx *k, int nsp, int64_t *kernel)
{
    const int64_t *ks;
    int n = dp_attr_ints(k, "kernel_shape", &ks);
    if (n < 0)
        return dp_kfail(k, DP_EINPUT, "attribute 'kernel_shape' is missing");
    if (n != nsp)
        return dp_kfail(k, DP_EINPUT, "kernel_shape has %d values, expected %d (X's spatial "
                        "dimensions)", n, nsp);
    for (int i = 0; i < nsp; i++)
        kernel[i] = ks[i];
    return DP_OK;
}

static dp_status pool_window(dp_kctx *k, nn_window *w)
{
    const dp_tensor *x = k->in[0];
    int nsp;
    int64_t kernel[NN_MAXSP];
    dp_status st = nn_spatial_rank(k, x, "X", &nsp);
    if (st == DP_OK)
        st = pool_kernel(k, nsp, kernel);
    if (st != DP_OK)
        return st;
    int64_t ceil_mode = dp_attr_int(k, "ceil_mode", 0);
    if (ceil_mode != 0 && ceil_mode != 1)
        return dp_kfail(k, DP_EINPUT, "ceil_mode is %lld, expected 0 or 1", (long long)ceil_mode);
    return nn_window_init(k, x, kernel, ceil_mode != 0, w);
}

static dp_status pool_infer(dp_kctx *k)
{
    nn_window w;
    dp_status st = pool_window(k, &w);
    if (st != DP_OK)
        return st;
    const dp_tensor *x = k->in[0];
    for (int i = 0; i < k->n_out; i++) {
        dp_tensor *y = k->out[i];
        y->rank = x->rank;
        y->dims[0] = x->dims[0];
        y->dims[1] = x->dims[1];
        for (int j = 0; j < w.nsp; j++)
            y->dims[2 + j] = w.out[NN_MAXSP - w.nsp + j];
    }
    return DP_OK;
}
dp_status nn_AveragePool_infer(dp_kctx *k) { return pool_infer(k); }
dp_status nn_MaxPool_infer(dp_kctx *k) { return pool_infer(k); }

static dp_status pool_plan_init(dp_kctx *k, pool_plan *p)
{
    dp_status st = pool_window(k, &p->w);
    if (st != DP_OK)
        return st;
    const nn_window *w = &p->w;
    p->planes = k->in[0]->dims[0] * k->in[0]->dims[1];
    p->invol = w->in[0] * w->in[1] * w->in[2];
    size_t bytes = 2 * (size_t)w->out[2] * sizeof(int64_t);
    p->lo2 = dp_scratch(k, bytes);
    if (!p->lo2)
        return dp_kfail(k, DP_ENOMEM, "cannot allocate %zu bytes of scratch", bytes);
    p->hi2 = p->lo2 + w->out[2];
    for (int64_t o = 0; o < w->out[2]; o++)
        nn_range(o * w->s[2] - w->pb[2], w->d[2], w->in[2], w->k[2], &p->lo2[o], &p->hi2[o]);
    return DP_OK;
}

/*
 * Runs BODY for every output element of a pooling plan: plane pl, output index oi, window
 * start st0..st2 in each dimension, and the taps inside the input [a0, b0) x [a1, b1) x
 * [p->lo2[o2], p->hi2[o2]). Within BODY, FOR_TAPS runs STMT for each of those taps, at input
 * coordinates i0, i1, i2 and input index row + i2.
 */
#define POOL_LOOP(p, BODY)                                                                   \
    for (int64_t pl = 0; pl < (p)->planes; pl++)                                             \
        for (int64_t o0 = 0; o0 < (p)->w.out[0]; o0++)                                       \
            for (int64_t o1 = 0; o1 < (p)->w.out[1]; o1++) {                                 \
                const nn_window *w_ = &(p)->w;                                               \
                int64_t st0 = o0 * w_->s[0] - w_->pb[0], st1 = o1 * w_->s[1] - w_->pb[1];     \
                int64_t a0, b0, a1, b1;                                                      \
                nn_range(st0, w_->d[0], w_->in[0], w_->k[0], &a0, &b0);                      \
                nn_range(st1, w_->d[1], w_->in[1], w_->k[1], &a1, &b1);                      \
                int64_t oi = (pl * w_->out[0] + o0) * w_->out[1] * w_->out[2] +              \
                             o1 * w_->out[2];                                                \
                for (int64_t o2 = 0; o2 < w_->out[2]; o2++, oi++) {                          \
                    int64_t st2 = o2 * w_->s[2] - w_->pb[2];                                 \
                    BODY                                                                     \
                }                                                                            \
            }

#define FOR_TAPS(p, STMT)                                                                    \
    for (int64_t t0 = a0; t0 < b0; t0++)                                                     \
        for (int64_t t1 = a1; t1 < b1; t1++) {                                               \
            int64_t i0 = st0 + t0 * w_->d[0], i1 = st1 + t1 * w_->d[1];                      \
            int64_t row = pl * (p)->invol + (i0 * w_->in[1] + i1) * w_->in[2];              \
            for (int64_t t2 = (p)->lo2[o2]; t2 < (p)->hi2[o2]; t2++) {                       \
                int64_t i2 = st2 + t2 * w_->d[2];                                            \
                STMT                                                                         \
            }                                                                                \
        }

/* taps of dimension j inside the padded input [-pb, in + pe) */
static int64_t padded_taps(const nn_window *w, int j, int64_t start)
{
    int64_t lo, hi;
    nn_range(start + w->pb[j], w->d[j], w->in[j] + w->pb[j] + w->pe[j], w->k[j], &lo, &hi);
    return hi - lo;
}

#define AVGPOOL(T, ACC)                                                                      \
    static void avgpool_##T(const pool_plan *p, bool include_pad, const T *x, T *y)          \
    {                                                                                        \
        POOL_LOOP(p, {                                                                       \
            ACC sum = 0;                                                                     \
            FOR_TAPS(p, sum += x[row + i2];)                                                 \
            int64_t n = include_pad ? padded_taps(w_, 0, st0) * padded_taps(w_, 1, st1) *    \
                                          padded_taps(w_, 2, st2)                            \
                                    : (b0 - a0) * (b1 - a1) * (p->hi2[o2] - p->lo2[o2]);     \
            y[oi] = n ? (T)(sum / (ACC)n) : (T)NAN;                                          \
        })                                                                                   \
    }
AVGPOOL(float, float)
AVGPOOL(double, double)

/*
 * NaN wins; otherwise the maximum, and with Indices the first of equal maxima. Without
 * Indices the loop stays branch-light, as it is what nearly every model asks for.
 */
#define MAXPOOL(T, LOWEST, NANV)                                                             \
    static void maxpool_##T(const pool_plan *p, const T *x, T *y, int64_t *ind, bool colmaj)  \
    {                                                                                        \
        if (!ind) {                                                                          \
            POOL_LOOP(p, {                                                                   \
                T best = LOWEST;                                                             \
                bool nan = false;                                                            \
                FOR_TAPS(p, {                                                                \
                    T v = x[row + i2];                                                       \
                    best = v > best ? v : best;                                              \
                    nan |= v != v;                                                           \
                })                                                                           \
                y[oi] = nan ? NANV : best;                                                   \
            })                                                                               \
            return;                                                                          \
        }                                                                                    \
        POOL_LOOP(p, {                                                                       \
            T best = LOWEST;                                                                 \
            int64_t at = -1;                                                                 \
            FOR_TAPS(p, {                                                                    \
                T v = x[row + i2];                                                           \
                if (at < 0 || v > best || (v != v && best == best)) {                        \
                    best = v;                                                                \
                    at = colmaj ? pl * p->invol + i0 + w_->in[0] * (i1 + w_->in[1] * i2)     \
                                : row + i2;                                                  \
                }                                                                            \
            })                                                                               \
            y[oi] = best;                                                                    \
            ind[oi] = at;                                                                    \
        })                                                                                   \
    }
MAXPOOL(float, -INFINITY, NAN)
MAXPOOL(double, -INFINITY, NAN)
MAXPOOL(int8_t, INT8_MIN, 0)
MAXPOOL(uint8_t, 0, 0)

/*
 * maxpool_float without Indices for windows over at most two dimensions, a row of outputs at
 * a time: each tap is one run along the row (strided loads, but vector ones), where the
 * general loop visits every output's taps one by one. The taps of an output come in the same
 * order, so ties between 0 and -0 resolve alike. scratch: out[2] ints.
 */
DP_MULTI_TARGET
static void maxpool_rows_float(const pool_plan *p, const float *x, float *y, int32_t *nan)
{
    const nn_window *w = &p->w;
    int64_t W = w->out[2], s = w->s[2];
    for (int64_t pl = 0; pl < p->planes; pl++)
        for (int64_t o1 = 0; o1 < w->out[1]; o1++) {
            float *restrict best = y + (pl * w->out[1] + o1) * W;
            for (int64_t o = 0; o < W; o++) {
                best[o] = -INFINITY;
                nan[o] = 0;
            }
            int64_t st1 = o1 * w->s[1] - w->pb[1], a1, b1;
            nn_range(st1, w->d[1], w->in[1], w->k[1], &a1, &b1);
            for (int64_t t1 = a1; t1 < b1; t1++) {
                const float *restrict row = x + pl * p->invol + (st1 + t1 * w->d[1]) * w->in[2];
                for (int64_t t2 = 0; t2 < w->k[2]; t2++) {
                    int64_t off = t2 * w->d[2] - w->pb[2], lo, hi;
                    nn_range(off, s, w->in[2], W, &lo, &hi);
                    for (int64_t o = lo; o < hi; o++) {
                        float v = row[o * s + off];
                        best[o] = v > best[o] ? v : best[o];
                        nan[o] |= v != v;
                    }
                }
            }
            for (int64_t o = 0; o < W; o++)
                best[o] = nan[o] ? NAN : best[o];
        }
}

static const dp_dtype avg_types[] = {DP_FLOAT, DP_DOUBLE};
static const dp_dtype max_types[] = {DP_FLOAT, DP_DOUBLE, DP_INT8, DP_UINT8};

dp_status nn_AveragePool_types(dp_kctx *k)
{
    k->out[0]->dtype = k->in[0]->dtype;
    return nn_need_dtype(k, k->in[0]->dtype, 2, avg_types);
}

dp_status nn_AveragePool_run(dp_kctx *k)
{
    pool_plan p;
    dp_status st = pool_plan_init(k, &p);
    if (st != DP_OK)
        return st;
    bool include_pad = dp_attr_int(k, "count_include_pad", 0) != 0;
    if (k->in[0]->dtype == DP_FLOAT)
        avgpool_float(&p, include_pad, k->in[0]->data, k->out[0]->data);
    else
        avgpool_double(&p, include_pad, k->in[0]->data, k->out[0]->data);
    return DP_OK;
}

dp_status nn_MaxPool_types(dp_kctx *k)
{
    k->out[0]->dtype = k->in[0]->dtype;
    if (k->n_out > 1)
        k->out[1]->dtype = DP_INT64;
    return nn_need_dtype(k, k->in[0]->dtype, 4, max_types);
}

dp_status nn_MaxPool_run(dp_kctx *k)
{
    pool_plan p;
    dp_status st = pool_plan_init(k, &p);
    if (st != DP_OK)
        return st;
    int64_t order = dp_attr_int(k, "storage_order", 0);
    if (order != 0 && order != 1)
        return dp_kfail(k, DP_EINPUT, "storage_order is %lld, expected 0 or 1", (long long)order);
    int64_t *ind = k->n_out > 1 && k->out[1] ? k->out[1]->data : NULL;
    const void *x = k->in[0]->data;
    void *y = k->out[0]->data;
    switch (k->in[0]->dtype) {
    case DP_FLOAT:
        if (!ind && p.w.in[0] == 1 && p.w.k[0] == 1) {
            size_t bytes = (size_t)p.w.out[2] * sizeof(int32_t);
            int32_t *nan = dp_scratch(k, bytes);
            if (!nan)
                return dp_kfail(k, DP_ENOMEM, "cannot allocate %zu bytes of scratch", bytes);
            maxpool_rows_float(&p, x, y, nan);
        } else {
            maxpool_float(&p, x, y, ind, order == 1);
        }
        break;
    case DP_DOUBLE:
        maxpool_double(&p, x, y, ind, order == 1);
        break;
    case DP_INT8:
        maxpool_int8_t(&p, x, y, ind, order == 1);
        break;
    default:
        maxpool_uint8_t(&p, x, y, ind, order == 1);
        break;
    }
    return DP_OK;
}

/* Global pools reduce every dimension after N and C to size 1. */
static dp_status global_infer(dp_kctx *k)
{
    const dp_tensor *x = k->in[0];
    if (x->rank < 2)
        return dp_kfail(k, DP_EINPUT, "X must be N x C x ... (rank 2 or more), has rank %d",
                        x->rank);
    dp_tensor *y = k->out[0];
    *y = (dp_tensor){y->dtype, x->rank, {x->dims[0], x->dims[1]}, y->data};
    for (int i = 2; i < x->rank; i++)
        y->dims[i] = 1;
    return DP_OK;
}
dp_status nn_GlobalAveragePool_infer(dp_kctx *k) { return global_infer(k); }
dp_status nn_GlobalMaxPool_infer(dp_kctx *k) { return global_infer(k); }

static dp_status global_types(dp_kctx *k)
{
    k->out[0]->dtype = k->in[0]->dtype;
    return nn_need_dtype(k, k->in[0]->dtype, 2, avg_types);
}
dp_status nn_GlobalAveragePool_types(dp_kctx *k) { return global_types(k); }
dp_status nn_GlobalMaxPool_types(dp_kctx *k) { return global_types(k); }

#define GLOBAL_POOLS(T)                                                                      \
    static void global_avg_##T(const T *x, T *y, int64_t planes, int64_t vol)                 \
    {                                                                                        \
        for (int64_t p = 0; p < planes; p++) {                                               \
            double sum = 0;                                                                  \
            for (int64_t i = 0; i < vol; i++)                                                \
                sum += x[p * vol + i];                                                       \
            y[p] = vol ? (T)(sum / (double)vol) : (T)NAN;                                    \
        }                                                                                    \
    }                                                                                        \
    static void global_max_##T(const T *x, T *y, int64_t planes, int64_t vol)                 \
    {                                                                                        \
        for (int64_t p = 0; p < planes; p++) {                                               \
            T best = vol ? x[p * vol] : (T)NAN;                                              \
            for (int64_t i = 1; i < vol && best == best; i++)                                \
                if (x[p * vol + i] > best || x[p * vol + i] != x[p * vol + i])               \
                    best = x[p * vol + i];                                                   \
            y[p] = best;                                                                     \
        }                                                                                    \
    }
GLOBAL_POOLS(float)
GLOBAL_POOLS(double)

static void global_run(dp_kctx *k, bool max)
{
    const dp_tensor *x = k->in[0];
    int64_t planes = x->dims[0] * x->dims[1], vol = 1;
    for (int i = 2; i < x->rank; i++)
        vol *= x->dims[i];
    if (x->dtype == DP_FLOAT)
        (max ? global_max_float : global_avg_float)(x->data, k->out[0]->data, planes, vol);
    else
        (max ? global_max_double : global_avg_double)(x->data, k->out[0]->data, planes, vol);
}
dp_status nn_GlobalAveragePool_run(dp_kctx *k)
{
    global_run(k, false);
    return DP_OK;
}
dp_status nn_GlobalMaxPool_run(dp_kctx *k)
{
    global_run(k, true);
    return DP_OK;
}
