/*
 * reduce.c: reference kernels for ONNX's reductions and the ops that work along one axis:
 * ReduceL1 ... ReduceSumSquare, ArgMax/ArgMin, Softmax/LogSoftmax/Hardmax, CumSum and TopK.
 *
 * The ten Reduce ops share one skeleton: each element is mapped (|x|, x^2, exp) and folded
 * (sum, product, max, min) into one accumulator per output, then finished (sqrt, log,
 * divide). Floats accumulate in double; integers in int64 with wrap-around, so that int64
 * sums stay exact. The axis ops view the input as [outer, d, inner] around their axis and
 * work one [d, inner] slab at a time, loaded as doubles, int64 or ordering keys.
 */
#include "kernel_util.h"
#include "simd.h"
#include "vmath.h"

#include <math.h>
#include <string.h>

/* ---- shared helpers ---- */

static bool is_numeric(dp_dtype t)
{
    return dp_dtype_is_float(t) || dp_dtype_is_integer(t);
}

static dp_status need(dp_kctx *k, bool ok)
{
    return ok ? DP_OK
              : dp_kfail(k, DP_EUNSUPPORTED, "unsupported dtype %s",
                         dp_dtype_name(k->in[0]->dtype));
}

/* Scratch for n elements of 8 bytes (at least one, so that NULL only means no memory). */
static void *scratch8(dp_kctx *k, int64_t n)
{
    return dp_scratch(k, (size_t)(n > 0 ? n : 1) * 8);
}

static dp_status no_memory(dp_kctx *k)
{
    return dp_kfail(k, DP_ENOMEM, "out of scratch memory");
}

/* Elements [off, off + n) as doubles or int64, with the dtype switch outside the loop. */
static void load_f64(const void *p, dp_dtype t, int64_t off, int64_t n, double *d)
{
    if (t == DP_FLOAT)
        for (int64_t i = 0; i < n; i++)
            d[i] = ((const float *)p)[off + i];
    else if (t == DP_DOUBLE)
        memcpy(d, (const double *)p + off, (size_t)n * sizeof *d);
    else
        for (int64_t i = 0; i < n; i++)
            d[i] = dp_load_f64(p, t, off + i);
}

static void store_f64(void *p, dp_dtype t, int64_t off, int64_t n, const double *s)
{
    if (t == DP_FLOAT)
        for (int64_t i = 0; i < n; i++)
            ((float *)p)[off + i] = (float)s[i];
    else if (t == DP_DOUBLE)
        memcpy((double *)p + off, s, (size_t)n * sizeof *s);
    else
        for (int64_t i = 0; i < n; i++)
            dp_store_f64(p, t, off + i, s[i]);
}

static void load_i64(const void *p, dp_dtype t, int64_t off, int64_t n, int64_t *d)
{
    if (t == DP_INT32)
        for (int64_t i = 0; i < n; i++)
            d[i] = ((const int32_t *)p)[off + i];
    else if (t == DP_INT64)
        memcpy(d, (const int64_t *)p + off, (size_t)n * sizeof *d);
    else
        for (int64_t i = 0; i < n; i++)
            d[i] = dp_load_i64(p, t, off + i);
}

static void store_i64(void *p, dp_dtype t, int64_t off, int64_t n, const int64_t *s)
{
    if (t == DP_INT64)
        memcpy((int64_t *)p + off, s, (size_t)n * sizeof *s);
    else
        for (int64_t i = 0; i < n; i++)
            dp_store_i64(p, t, off + i, s[i]);
}

/*
 * Keys whose int64 order is the elements' order, so that one comparison serves every dtype
 * exactly: uint64 has its sign bit flipped; floats map their bits so that
 * -inf < ... < -0 == +0 < ... < +inf < NaN (NaN sorts last, as in numpy).
 */
static void load_keys(const void *p, dp_dtype t, int64_t off, int64_t n, int64_t *key)
{
    if (dp_dtype_is_integer(t)) {
        load_i64(p, t, off, n, key);
        if (t == DP_UINT64)
            for (int64_t i = 0; i < n; i++)
                key[i] ^= INT64_MIN;
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        double v = t == DP_FLOAT ? ((const float *)p)[off + i] : dp_load_f64(p, t, off + i);
        if (v != v) {
            key[i] = INT64_MAX;
            continue;
        }
        if (v == 0)
            v = 0; /* -0 to +0 */
        int64_t b;
        memcpy(&b, &v, sizeof b);
        key[i] = b < 0 ? b ^ INT64_MAX : b;
    }
}

/* outer = dims[0:a], d = dims[a:b], inner = dims[b:], as element counts. */
static void split3(const dp_tensor *x, int a, int b, int64_t *outer, int64_t *d, int64_t *inner)
{
    *outer = *d = *inner = 1;
    for (int i = 0; i < x->rank; i++)
        *(i < a ? outer : i < b ? d : inner) *= x->dims[i];
}

static dp_status axis_attr(dp_kctx *k, int64_t dflt, int *axis)
{
    int64_t v = dp_attr_int(k, "axis", dflt);
    *axis = dp_norm_axis(v, k->in[0]->rank);
    if (*axis < 0)
        return dp_kfail(k, DP_EINPUT, "axis %lld is out of range for rank %d", (long long)v,
                        k->in[0]->rank);
    return DP_OK;
}

static dp_status infer_same(dp_kctx *k)
{
    k->out[0]->rank = k->in[0]->rank;
    memcpy(k->out[0]->dims, k->in[0]->dims, sizeof k->in[0]->dims);
    return DP_OK;
}

/* ---- ReduceL1 ... ReduceSumSquare ---- */

typedef enum { R_L1, R_L2, R_LOGSUM, R_LSE, R_MAX, R_MEAN, R_MIN, R_PROD, R_SUM, R_SUMSQ } red_kind;
enum { MAP_ID, MAP_ABS, MAP_SQ, MAP_EXP };
enum { FOLD_SUM, FOLD_PROD, FOLD_MAX, FOLD_MIN };

/* exact_int: integer inputs accumulate in int64; the others need real arithmetic. */
static const struct {
    unsigned char map, fold;
    bool exact_int;
} red_ops[] = {
    [R_L1] = {MAP_ABS, FOLD_SUM, true},  [R_L2] = {MAP_SQ, FOLD_SUM, false},
    [R_LOGSUM] = {MAP_ID, FOLD_SUM, false}, [R_LSE] = {MAP_EXP, FOLD_SUM, false},
    [R_MAX] = {MAP_ID, FOLD_MAX, true},  [R_MEAN] = {MAP_ID, FOLD_SUM, true},
    [R_MIN] = {MAP_ID, FOLD_MIN, true},  [R_PROD] = {MAP_ID, FOLD_PROD, true},
    [R_SUM] = {MAP_ID, FOLD_SUM, true},  [R_SUMSQ] = {MAP_SQ, FOLD_SUM, true},
};

typedef struct red_plan {
    bool red[DP_MAX_RANK]; /* which input dims are reduced */
    bool noop;             /* noop_with_empty_axes and no axes: the output is the input */
} red_plan;

/* Axes come from an input for ReduceSum since opset 13 and for all since opset 18. */
static dp_status reduce_plan(dp_kctx *k, red_kind kind, red_plan *p)
{
    const dp_tensor *x = k->in[0], *ax = dp_in(k, 1);
    int64_t axes[DP_MAX_RANK];
    int n = 0;
    bool from_input = k->opset >= (kind == R_SUM ? 13 : 18);
    memset(p, 0, sizeof *p);
    if (from_input && dp_attr_find(k, "axes"))
        return dp_kfail(k, DP_EINPUT, "takes axes as an input at opset %d, not an attribute",
                        k->opset);
    if (from_input && ax) {
        dp_status st = dp_read_ints(k, ax, axes, DP_MAX_RANK, &n, "axes");
        if (st != DP_OK)
            return st;
    } else if (ax) {
        return dp_kfail(k, DP_EINPUT, "takes axes as an attribute at opset %d, not an input",
                        k->opset);
    } else if (!from_input) {
        const int64_t *v;
        n = dp_attr_ints(k, "axes", &v);
        if (n > DP_MAX_RANK)
            return dp_kfail(k, DP_EINPUT, "has %d axes, at most %d allowed", n, DP_MAX_RANK);
        for (int i = 0; i < n; i++)
            axes[i] = v[i];
    }
    if (n <= 0) {
        p->noop = from_input && dp_attr_int(k, "noop_with_empty_axes", 0) != 0;
        for (int d = 0; d < x->rank; d++)
            p->red[d] = !p->noop;
        return DP_OK;
    }
    for (int i = 0; i < n; i++) {
        int a = dp_norm_axis(axes[i], x->rank);
        if (a < 0)
            return dp_kfail(k, DP_EINPUT, "axis %lld is out of range for rank %d",
                            (long long)axes[i], x->rank);
        if (p->red[a])
            return dp_kfail(k, DP_EINPUT, "axis %lld is repeated", (long long)axes[i]);
        p->red[a] = true;
    }
    return DP_OK;
}

static dp_status reduce_types(dp_kctx *k)
{
    k->out[0]->dtype = k->in[0]->dtype;
    return need(k, is_numeric(k->in[0]->dtype));
}

static dp_status reduce_infer(dp_kctx *k, red_kind kind)
{
    red_plan p;
    dp_status st = reduce_plan(k, kind, &p);
    if (st != DP_OK)
        return st;
    const dp_tensor *x = k->in[0];
    dp_tensor *y = k->out[0];
    bool keep = dp_attr_int(k, "keepdims", 1) != 0;
    y->rank = 0;
    for (int d = 0; d < x->rank; d++)
        if (!p.red[d] || keep)
            y->dims[y->rank++] = p.red[d] ? 1 : x->dims[d];
    return DP_OK;
}

typedef struct red_ctx {
    const dp_tensor *x;
    int map, fold;
    bool ints;           /* acc and buf hold int64, else double */
    bool flip;           /* uint64 max/min: compare with the sign bit flipped */
    void *acc, *buf;     /* one accumulator per output; one input row */
    const double *shift; /* LogSumExp: per-output maximum, subtracted before exp */
} red_ctx;

/* Folds row b[0..n) into acc[0] (the row is reduced) or elementwise into acc[0..n). */
#define FOLD_ROW(T, acc, b, n, red, E)                                                       \
    do {                                                                                     \
        if (red) {                                                                           \
            T a = *(acc);                                                                    \
            for (int64_t i = 0; i < (n); i++) {                                              \
                T v = (b)[i];                                                                \
                a = (E);                                                                     \
            }                                                                                \
            *(acc) = a;                                                                      \
        } else {                                                                             \
            for (int64_t i = 0; i < (n); i++) {                                              \
                T a = (acc)[i], v = (b)[i];                                                  \
                (acc)[i] = (E);                                                              \
            }                                                                                \
        }                                                                                    \
    } while (0)

/* The sum of b[0..n) in LANES fixed lanes, combined in a fixed order: vector code, the same
 * bits on any vector unit, where one chain through the row waited on every add (LayerNorm's
 * ReduceMean in a transformer). */
DP_MULTI_TARGET
static double sum_row(const double *b, int64_t n)
{
    enum { LANES = 8 };
    double lane[LANES] = {0}, s = 0;
    int64_t full = n / LANES * LANES;
    for (int64_t i = 0; i < full; i += LANES)
        for (int l = 0; l < LANES; l++)
            lane[l] += b[i + l];
    for (int l = 0; l < LANES; l++)
        s += lane[l];
    for (int64_t i = full; i < n; i++)
        s += b[i];
    return s;
}

/* Max and min propagate NaN, as numpy's do. */
static void row_f64(const red_ctx *c, int64_t in, int64_t out, int64_t n, bool red)
{
    double *b = c->buf, *acc = (double *)c->acc + out;
    load_f64(c->x->data, c->x->dtype, in, n, b);
    if (c->map == MAP_ABS)
        for (int64_t i = 0; i < n; i++)
            b[i] = fabs(b[i]);
    else if (c->map == MAP_SQ)
        for (int64_t i = 0; i < n; i++)
            b[i] *= b[i];
    else if (c->map == MAP_EXP)
        for (int64_t i = 0; i < n; i++)
            b[i] = exp(b[i] - c->shift[out + (red ? 0 : i)]);
    switch (c->fold) {
    case FOLD_SUM:
        if (red)
            *acc += sum_row(b, n);
        else
            FOLD_ROW(double, acc, b, n, red, a + v);
        break;
    case FOLD_PROD: FOLD_ROW(double, acc, b, n, red, a * v); break;
    case FOLD_MAX: FOLD_ROW(double, acc, b, n, red, v > a || v != v ? v : a); break;
    default: FOLD_ROW(double, acc, b, n, red, v < a || v != v ? v : a); break;
    }
}

/* Arithmetic through uint64_t: wraps like the narrower types do instead of being undefined. */
static void row_i64(const red_ctx *c, int64_t in, int64_t out, int64_t n, bool red)
{
    int64_t *b = c->buf, *acc = (int64_t *)c->acc + out;
    load_i64(c->x->data, c->x->dtype, in, n, b);
    if (c->flip)
        for (int64_t i = 0; i < n; i++)
            b[i] ^= INT64_MIN;
    if (c->map == MAP_ABS && dp_dtype_is_signed(c->x->dtype))
        for (int64_t i = 0; i < n; i++)
            b[i] = b[i] < 0 ? (int64_t)(0 - (uint64_t)b[i]) : b[i];
    else if (c->map == MAP_SQ)
        for (int64_t i = 0; i < n; i++)
            b[i] = (int64_t)((uint64_t)b[i] * (uint64_t)b[i]);
    switch (c->fold) {
    case FOLD_SUM: FOLD_ROW(int64_t, acc, b, n, red, (int64_t)((uint64_t)a + (uint64_t)v)); break;
    case FOLD_PROD: FOLD_ROW(int64_t, acc, b, n, red, (int64_t)((uint64_t)a * (uint64_t)v)); break;
    case FOLD_MAX: FOLD_ROW(int64_t, acc, b, n, red, v > a ? v : a); break;
    default: FOLD_ROW(int64_t, acc, b, n, red, v < a ? v : a); break;
    }
}

/*
 * The input's dims merged into groups of consecutive reduced or kept dims (size-1 dims
 * dropped), so that the innermost group is one long row and the walk is in memory order.
 */
typedef struct red_groups {
    int n;
    int64_t size[DP_MAX_RANK], out_stride[DP_MAX_RANK];
    bool red[DP_MAX_RANK];
} red_groups;

static void reduce_groups(const dp_tensor *x, const red_plan *p, red_groups *g)
{
    g->n = 0;
    for (int d = 0; d < x->rank; d++) {
        if (x->dims[d] == 1)
            continue;
        if (g->n && g->red[g->n - 1] == p->red[d]) {
            g->size[g->n - 1] *= x->dims[d];
        } else {
            g->size[g->n] = x->dims[d];
            g->red[g->n++] = p->red[d];
        }
    }
    if (g->n == 0) {
        g->size[0] = 1;
        g->red[0] = false;
        g->n = 1;
    }
    int64_t s = 1;
    for (int i = g->n - 1; i >= 0; i--) {
        g->out_stride[i] = g->red[i] ? 0 : s;
        if (!g->red[i])
            s *= g->size[i];
    }
}

/* Rows are folded in chunks of at most this many elements, which bounds the row buffer. */
enum { RED_CHUNK = 4096 };

/* Feeds the input to the fold row by row, tracking the output offset with an odometer. */
static void reduce_walk(const red_ctx *c, const red_groups *g)
{
    int last = g->n - 1;
    bool red = g->red[last];
    int64_t n = g->size[last], idx[DP_MAX_RANK] = {0}, out = 0, total = dp_numel(c->x);
    for (int64_t in = 0; in < total; in += n) {
        for (int64_t j = 0; j < n; j += RED_CHUNK)
            (c->ints ? row_i64 : row_f64)(c, in + j, out + (red ? 0 : j),
                                          n - j < RED_CHUNK ? n - j : RED_CHUNK, red);
        for (int i = last - 1; i >= 0; i--) {
            out += g->out_stride[i];
            if (++idx[i] < g->size[i])
                break;
            out -= g->out_stride[i] * g->size[i];
            idx[i] = 0;
        }
    }
}

/* The smallest (or largest) value of an integer dtype; uint64 is seen flipped. */
static int64_t int_limit(dp_dtype t, bool largest)
{
    switch (t) {
    case DP_INT8: return largest ? INT8_MAX : INT8_MIN;
    case DP_UINT8: return largest ? UINT8_MAX : 0;
    case DP_INT16: return largest ? INT16_MAX : INT16_MIN;
    case DP_UINT16: return largest ? UINT16_MAX : 0;
    case DP_INT32: return largest ? INT32_MAX : INT32_MIN;
    case DP_UINT32: return largest ? (int64_t)UINT32_MAX : 0;
    default: return largest ? INT64_MAX : INT64_MIN;
    }
}

/* Folds start from the empty set's value: 0, 1, or the dtype's lowest / highest value. */
static void reduce_init(const red_ctx *c, int64_t n)
{
    dp_dtype t = c->x->dtype;
    for (int64_t i = 0; i < n; i++) {
        if (c->ints)
            ((int64_t *)c->acc)[i] = c->fold == FOLD_SUM ? 0 : c->fold == FOLD_PROD ? 1
                                                         : int_limit(t, c->fold == FOLD_MIN);
        else
            ((double *)c->acc)[i] = c->fold == FOLD_SUM ? 0 : c->fold == FOLD_PROD ? 1
                                  : c->fold == FOLD_MAX ? -INFINITY : INFINITY;
    }
}

static dp_status reduce_run(dp_kctx *k, red_kind kind)
{
    const dp_tensor *x = k->in[0];
    dp_tensor *y = k->out[0];
    red_plan p;
    dp_status st = reduce_plan(k, kind, &p);
    if (st != DP_OK)
        return st;
    if (p.noop) {
        if (dp_nbytes(x))
            memcpy(y->data, x->data, dp_nbytes(x));
        return DP_OK;
    }
    int64_t nout = dp_numel(y), count = 1;
    if (nout == 0)
        return DP_OK;
    for (int d = 0; d < x->rank; d++)
        if (p.red[d])
            count *= x->dims[d];
    red_groups g;
    reduce_groups(x, &p, &g);
    dp_dtype t = x->dtype;
    red_ctx c = {.x = x, .map = red_ops[kind].map, .fold = red_ops[kind].fold,
                 .ints = dp_dtype_is_integer(t) && red_ops[kind].exact_int};
    c.flip = t == DP_UINT64 && (c.fold == FOLD_MAX || c.fold == FOLD_MIN);
    c.acc = scratch8(k, nout);
    c.buf = scratch8(k, g.size[g.n - 1] < RED_CHUNK ? g.size[g.n - 1] : RED_CHUNK);
    double *shift = kind == R_LSE ? scratch8(k, nout) : NULL;
    if (!c.acc || !c.buf || (kind == R_LSE && !shift))
        return no_memory(k);

    if (kind == R_LSE) {
        /* exp(x - max) cannot overflow; an infinite or NaN max is left for exp to carry. */
        red_ctx m = c;
        m.acc = shift;
        m.map = MAP_ID;
        m.fold = FOLD_MAX;
        reduce_init(&m, nout);
        reduce_walk(&m, &g);
        for (int64_t i = 0; i < nout; i++)
            shift[i] = isfinite(shift[i]) ? shift[i] : 0;
        c.shift = shift;
    }
    reduce_init(&c, nout);
    reduce_walk(&c, &g);

    if (c.ints) {
        int64_t *a = c.acc;
        for (int64_t i = 0; i < nout; i++) {
            if (kind == R_MEAN)
                a[i] = count == 0 ? 0
                       : t == DP_UINT64 ? (int64_t)((uint64_t)a[i] / (uint64_t)count)
                                        : a[i] / count;
            if (c.flip)
                a[i] ^= INT64_MIN;
        }
        store_i64(y->data, t, 0, nout, a);
        return DP_OK;
    }
    double *a = c.acc;
    for (int64_t i = 0; i < nout; i++) {
        switch (kind) {
        case R_L2: a[i] = sqrt(a[i]); break;
        case R_LOGSUM: a[i] = log(a[i]); break;
        case R_LSE: a[i] = log(a[i]) + shift[i]; break;
        case R_MEAN: a[i] /= (double)count; break;
        default: break;
        }
    }
    store_f64(y->data, t, 0, nout, a);
    return DP_OK;
}

#define REDUCE(op, kind)                                                                     \
    static dp_status op##_infer(dp_kctx *k) { return reduce_infer(k, kind); }                \
    static dp_status op##_run(dp_kctx *k) { return reduce_run(k, kind); }
REDUCE(ReduceL1, R_L1)
REDUCE(ReduceL2, R_L2)
REDUCE(ReduceLogSum, R_LOGSUM)
REDUCE(ReduceLogSumExp, R_LSE)
REDUCE(ReduceMax, R_MAX)
REDUCE(ReduceMean, R_MEAN)
REDUCE(ReduceMin, R_MIN)
REDUCE(ReduceProd, R_PROD)
REDUCE(ReduceSum, R_SUM)
REDUCE(ReduceSumSquare, R_SUMSQ)

/* ---- ArgMax, ArgMin ---- */

/* Index of the largest (or smallest) of key[j * stride], j < n; ties go to the first or last. */
static int64_t arg_best(const int64_t *key, int64_t n, int64_t stride, bool max, bool last)
{
    int64_t best = 0;
    for (int64_t j = 1; j < n; j++) {
        int64_t v = key[j * stride], b = key[best * stride];
        if ((max ? v > b : v < b) || (last && v == b))
            best = j;
    }
    return best;
}

static dp_status arg_types(dp_kctx *k)
{
    k->out[0]->dtype = DP_INT64;
    return need(k, is_numeric(k->in[0]->dtype));
}

static dp_status arg_infer(dp_kctx *k)
{
    const dp_tensor *x = k->in[0];
    dp_tensor *y = k->out[0];
    int a;
    dp_status st = axis_attr(k, 0, &a);
    if (st != DP_OK)
        return st;
    bool keep = dp_attr_int(k, "keepdims", 1) != 0;
    y->rank = 0;
    for (int d = 0; d < x->rank; d++)
        if (d != a || keep)
            y->dims[y->rank++] = d == a ? 1 : x->dims[d];
    if (x->dims[a] == 0 && dp_numel(y) > 0)
        return dp_kfail(k, DP_EINPUT, "axis %d is empty: no index to return", a);
    return DP_OK;
}

static dp_status arg_run(dp_kctx *k, bool max)
{
    const dp_tensor *x = k->in[0];
    int64_t *y = k->out[0]->data, outer, d, inner;
    int a;
    dp_status st = axis_attr(k, 0, &a);
    if (st != DP_OK)
        return st;
    bool last = dp_attr_int(k, "select_last_index", 0) != 0;
    split3(x, a, a + 1, &outer, &d, &inner);
    if (dp_numel(k->out[0]) == 0)
        return DP_OK;
    int64_t *key = scratch8(k, d * inner);
    if (!key)
        return no_memory(k);
    for (int64_t o = 0; o < outer; o++) {
        load_keys(x->data, x->dtype, o * d * inner, d * inner, key);
        for (int64_t i = 0; i < inner; i++)
            y[o * inner + i] = arg_best(key + i, d, inner, max, last);
    }
    return DP_OK;
}

static dp_status ArgMax_run(dp_kctx *k) { return arg_run(k, true); }
static dp_status ArgMin_run(dp_kctx *k) { return arg_run(k, false); }

/* ---- Softmax, LogSoftmax, Hardmax ---- */

typedef enum { SM_SOFT, SM_LOG, SM_HARD } sm_kind;

/*
 * Before opset 13 the input is coerced to 2-D at axis (default 1): the op runs over all of
 * dims[axis:]. From opset 13 it runs over the one dim axis (default -1).
 */
static dp_status sm_layout(dp_kctx *k, int64_t *outer, int64_t *d, int64_t *inner)
{
    bool v13 = k->opset >= 13;
    int a;
    dp_status st = axis_attr(k, v13 ? -1 : 1, &a);
    if (st == DP_OK)
        split3(k->in[0], a, v13 ? a + 1 : k->in[0]->rank, outer, d, inner);
    return st;
}

static dp_status sm_types(dp_kctx *k)
{
    k->out[0]->dtype = k->in[0]->dtype;
    return need(k, dp_dtype_is_float(k->in[0]->dtype));
}

static dp_status sm_infer(dp_kctx *k)
{
    int64_t outer, d, inner;
    dp_status st = sm_layout(k, &outer, &d, &inner);
    return st == DP_OK ? infer_same(k) : st;
}

/*
 * The transformer hot path: float32 rows along the last axis, no conversion. The maximum and
 * the sum run in LANES fixed lanes, combined in a fixed order, so that they vectorise and
 * give the same bits on any vector unit; one chain through the row waited on each step.
 */
DP_MULTI_TARGET
static void softmax_row_f32(const float *x, float *y, int64_t n, bool log_out)
{
    enum { LANES = 16 };
    float most[LANES];
    for (int l = 0; l < LANES; l++)
        most[l] = x[0];
    int64_t full = n / LANES * LANES;
    for (int64_t i = 0; i < full; i += LANES)
        for (int l = 0; l < LANES; l++)
            most[l] = x[i + l] > most[l] ? x[i + l] : most[l];
    float m = most[0];
    for (int l = 1; l < LANES; l++)
        m = most[l] > m ? most[l] : m;
    for (int64_t i = full; i < n; i++)
        m = x[i] > m ? x[i] : m;
    /* the exponentials go through y (never x: outputs are not computed in place) */
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] - m;
    dp_vexp(y, y, n);
    double part[LANES] = {0}, s = 0;
    for (int64_t i = 0; i < full; i += LANES)
        for (int l = 0; l < LANES; l++)
            part[l] += y[i + l];
    for (int l = 0; l < LANES; l++)
        s += part[l];
    for (int64_t i = full; i < n; i++)
        s += y[i];
    if (log_out) {
        float ls = (float)log(s);
        for (int64_t i = 0; i < n; i++)
            y[i] = (x[i] - m) - ls;
        return;
    }
    float r = (float)(1 / s);
    for (int64_t i = 0; i < n; i++)
        y[i] *= r;
}

/* One [d, inner] slab in doubles, the loops running along inner so they stay contiguous. */
static void softmax_slab(double *b, int64_t d, int64_t inner, double *mx, double *sum,
                         bool log_out)
{
    for (int64_t i = 0; i < inner; i++) {
        mx[i] = b[i];
        sum[i] = 0;
    }
    for (int64_t j = 1; j < d; j++)
        for (int64_t i = 0; i < inner; i++)
            mx[i] = b[j * inner + i] > mx[i] ? b[j * inner + i] : mx[i];
    for (int64_t j = 0; j < d; j++)
        for (int64_t i = 0; i < inner; i++) {
            double *v = &b[j * inner + i];
            *v = log_out ? *v - mx[i] : exp(*v - mx[i]);
            sum[i] += log_out ? exp(*v) : *v;
        }
    for (int64_t i = 0; i < inner; i++)
        sum[i] = log_out ? log(sum[i]) : 1 / sum[i];
    for (int64_t j = 0; j < d; j++)
        for (int64_t i = 0; i < inner; i++)
            b[j * inner + i] = log_out ? b[j * inner + i] - sum[i] : b[j * inner + i] * sum[i];
}

static dp_status sm_run(dp_kctx *k, sm_kind kind)
{
    const dp_tensor *x = k->in[0];
    dp_tensor *y = k->out[0];
    int64_t outer, d, inner;
    dp_status st = sm_layout(k, &outer, &d, &inner);
    if (st != DP_OK || dp_numel(x) == 0)
        return st;
    int64_t slab = d * inner;
    if (kind != SM_HARD && x->dtype == DP_FLOAT && inner == 1) {
        for (int64_t o = 0; o < outer; o++)
            softmax_row_f32((const float *)x->data + o * d, (float *)y->data + o * d, d,
                            kind == SM_LOG);
        return DP_OK;
    }
    if (kind == SM_HARD) {
        /* One-hot of the first maximum; all-zero bits are 0.0 in every float dtype. */
        int64_t *key = scratch8(k, slab);
        if (!key)
            return no_memory(k);
        memset(y->data, 0, dp_nbytes(y));
        for (int64_t o = 0; o < outer; o++) {
            load_keys(x->data, x->dtype, o * slab, slab, key);
            for (int64_t i = 0; i < inner; i++)
                dp_store_f64(y->data, y->dtype,
                             o * slab + arg_best(key + i, d, inner, true, false) * inner + i, 1);
        }
        return DP_OK;
    }
    double *b = scratch8(k, slab), *mx = scratch8(k, inner), *sum = scratch8(k, inner);
    if (!b || !mx || !sum)
        return no_memory(k);
    for (int64_t o = 0; o < outer; o++) {
        load_f64(x->data, x->dtype, o * slab, slab, b);
        softmax_slab(b, d, inner, mx, sum, kind == SM_LOG);
        store_f64(y->data, y->dtype, o * slab, slab, b);
    }
    return DP_OK;
}

static dp_status Softmax_run(dp_kctx *k) { return sm_run(k, SM_SOFT); }
static dp_status LogSoftmax_run(dp_kctx *k) { return sm_run(k, SM_LOG); }
static dp_status Hardmax_run(dp_kctx *k) { return sm_run(k, SM_HARD); }

/* ---- CumSum ---- */

/* The axis input: a scalar (or one-element 1-D) int32/int64 tensor. */
static dp_status cumsum_axis(dp_kctx *k, int *axis)
{
    int64_t v;
    int n;
    dp_status st = dp_read_ints(k, k->in[1], &v, 1, &n, "axis");
    if (st != DP_OK)
        return st;
    if (n != 1)
        return dp_kfail(k, DP_EINPUT, "axis must hold one value, has none");
    *axis = dp_norm_axis(v, k->in[0]->rank);
    if (*axis < 0)
        return dp_kfail(k, DP_EINPUT, "axis %lld is out of range for rank %d", (long long)v,
                        k->in[0]->rank);
    return DP_OK;
}

static dp_status cumsum_types(dp_kctx *k)
{
    k->out[0]->dtype = k->in[0]->dtype;
    return need(k, is_numeric(k->in[0]->dtype));
}

/* The shape never depends on the axis: check it only when it is known. */
static dp_status cumsum_infer(dp_kctx *k)
{
    int a;
    dp_status st = cumsum_axis(k, &a);
    return st == DP_OK || st == DP_DYNAMIC ? infer_same(k) : st;
}

/* Running sums down a [d, inner] slab, in place; exclusive sums lag one row behind. */
#define CUMSUM_SLAB(T, b, acc, d, inner, rev, excl)                                          \
    do {                                                                                     \
        for (int64_t i = 0; i < (inner); i++)                                                \
            (acc)[i] = 0;                                                                    \
        for (int64_t s = 0; s < (d); s++) {                                                  \
            T *row = (b) + ((rev) ? (d) - 1 - s : s) * (inner);                              \
            for (int64_t i = 0; i < (inner); i++) {                                          \
                T v = row[i];                                                                \
                row[i] = (excl) ? (acc)[i] : (acc)[i] + v;                                   \
                (acc)[i] += v;                                                               \
            }                                                                                \
        }                                                                                    \
    } while (0)

static dp_status CumSum_run(dp_kctx *k)
{
    const dp_tensor *x = k->in[0];
    dp_tensor *y = k->out[0];
    int a = 0;
    dp_status st = cumsum_axis(k, &a);
    if (st != DP_OK)
        return st;
    int64_t outer, d, inner;
    split3(x, a, a + 1, &outer, &d, &inner);
    bool rev = dp_attr_int(k, "reverse", 0) != 0, excl = dp_attr_int(k, "exclusive", 0) != 0;
    bool ints = dp_dtype_is_integer(x->dtype);
    int64_t slab = d * inner;
    void *b = scratch8(k, slab), *acc = scratch8(k, inner);
    if (!b || !acc)
        return no_memory(k);
    for (int64_t o = 0; o < outer && slab > 0; o++) {
        if (ints) {
            /* uint64_t: wraps where int64_t would overflow */
            load_i64(x->data, x->dtype, o * slab, slab, b);
            CUMSUM_SLAB(uint64_t, (uint64_t *)b, (uint64_t *)acc, d, inner, rev, excl);
            store_i64(y->data, y->dtype, o * slab, slab, b);
        } else {
            load_f64(x->data, x->dtype, o * slab, slab, b);
            CUMSUM_SLAB(double, (double *)b, (double *)acc, d, inner, rev, excl);
            store_f64(y->data, y->dtype, o * slab, slab, b);
        }
    }
    return DP_OK;
}

/* ---- TopK ---- */

/* The axis and k: an attribute before opset 10, then a one-element int64 input. */
static dp_status topk_params(dp_kctx *k, int *axis, int64_t *kv)
{
    const dp_tensor *t = dp_in(k, 1);
    dp_status st = axis_attr(k, -1, axis);
    if (st != DP_OK)
        return st;
    if (k->opset < 10) {
        if (t)
            return dp_kfail(k, DP_EINPUT, "takes k as an attribute at opset %d, not an input",
                            k->opset);
        if (!dp_attr_find(k, "k"))
            return dp_kfail(k, DP_EINPUT, "attribute 'k' is missing");
        *kv = dp_attr_int(k, "k", 0);
    } else {
        int n;
        if (!t)
            return dp_kfail(k, DP_EINPUT, "input K is missing");
        st = dp_read_ints(k, t, kv, 1, &n, "K");
        if (st != DP_OK)
            return st;
        if (n != 1)
            return dp_kfail(k, DP_EINPUT, "K must hold one value, has none");
    }
    int64_t dim = k->in[0]->dims[*axis];
    if (*kv < 0 || *kv > dim)
        return dp_kfail(k, DP_EINPUT, "k = %lld is outside 0..%lld (dimension %d)",
                        (long long)*kv, (long long)dim, *axis);
    return DP_OK;
}

static dp_status topk_types(dp_kctx *k)
{
    k->out[0]->dtype = k->in[0]->dtype;
    k->out[1]->dtype = DP_INT64;
    return need(k, is_numeric(k->in[0]->dtype));
}

static dp_status topk_infer(dp_kctx *k)
{
    int a;
    int64_t kv;
    dp_status st = topk_params(k, &a, &kv);
    if (st != DP_OK)
        return st;
    for (int i = 0; i < 2; i++) {
        dp_tensor *y = k->out[i];
        y->rank = k->in[0]->rank;
        memcpy(y->dims, k->in[0]->dims, sizeof y->dims);
        y->dims[a] = kv;
    }
    return DP_OK;
}

/*
 * Stable merge sort of idx[0..n) by key[idx], descending or ascending: equal keys keep
 * their index order, so ties go to the lower index.
 */
static void sort_idx(int64_t *idx, int64_t *tmp, const int64_t *key, int64_t n, bool desc)
{
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi) {
                int64_t a = key[idx[i]], b = key[idx[j]];
                tmp[o++] = (desc ? b > a : b < a) ? idx[j++] : idx[i++];
            }
            while (i < mid)
                tmp[o++] = idx[i++];
            while (j < hi)
                tmp[o++] = idx[j++];
        }
        memcpy(idx, tmp, (size_t)n * sizeof *idx);
    }
}

/* Output order is always sorted: sorted=0 leaves the order open, so sorted order is valid. */
static dp_status TopK_run(dp_kctx *k)
{
    const dp_tensor *x = k->in[0];
    int a;
    int64_t kv, outer, d, inner;
    dp_status st = topk_params(k, &a, &kv);
    if (st != DP_OK)
        return st;
    split3(x, a, a + 1, &outer, &d, &inner);
    if (kv == 0 || outer * inner == 0)
        return DP_OK;
    bool desc = dp_attr_int(k, "largest", 1) != 0;
    size_t es = dp_dtype_size(x->dtype);
    int64_t *slab = scratch8(k, d * inner), *key = scratch8(k, d), *idx = scratch8(k, d),
            *tmp = scratch8(k, d);
    if (!slab || !key || !idx || !tmp)
        return no_memory(k);
    char *vals = k->out[0]->data;
    int64_t *inds = k->out[1]->data;
    for (int64_t o = 0; o < outer; o++) {
        load_keys(x->data, x->dtype, o * d * inner, d * inner, slab);
        for (int64_t i = 0; i < inner; i++) {
            for (int64_t j = 0; j < d; j++) {
                key[j] = slab[j * inner + i];
                idx[j] = j;
            }
            sort_idx(idx, tmp, key, d, desc);
            for (int64_t r = 0; r < kv; r++) {
                int64_t dst = (o * kv + r) * inner + i;
                memcpy(vals + dst * es, (const char *)x->data + ((o * d + idx[r]) * inner + i) * es,
                       es);
                inds[dst] = idx[r];
            }
        }
    }
    return DP_OK;
}

#define REDUCE_DEF(op) {#op, 1, 2, 1, 1, reduce_types, op##_infer, op##_run}
#define SM_DEF(op) {#op, 1, 1, 1, 1, sm_types, sm_infer, op##_run}

const dp_op_def dp_ops_reduce[] = {
    REDUCE_DEF(ReduceL1), REDUCE_DEF(ReduceL2), REDUCE_DEF(ReduceLogSum),
    REDUCE_DEF(ReduceLogSumExp), REDUCE_DEF(ReduceMax), REDUCE_DEF(ReduceMean),
    REDUCE_DEF(ReduceMin), REDUCE_DEF(ReduceProd), REDUCE_DEF(ReduceSum),
    REDUCE_DEF(ReduceSumSquare),
    {"ArgMax", 1, 1, 1, 1, arg_types, arg_infer, ArgMax_run},
    {"ArgMin", 1, 1, 1, 1, arg_types, arg_infer, ArgMin_run},
    SM_DEF(Softmax), SM_DEF(LogSoftmax), SM_DEF(Hardmax),
    {"CumSum", 2, 2, 1, 1, cumsum_types, cumsum_infer, CumSum_run},
    {"TopK", 1, 2, 2, 2, topk_types, topk_infer, TopK_run},
    {0},
};
