/*
 * elementwise.c: reference kernels for ONNX's elementwise operators: unary math and
 * activations, binary arithmetic, comparison and logic with numpy broadcasting, the variadic
 * Max/Min/Sum/Mean, Where, Clip, Cast/CastLike, Identity and Dropout.
 *
 * Each op is a table of "row" functions, one per dtype, that apply it along a contiguous run
 * of the output. A walker feeds rows the runs of a broadcast after merging the dimensions
 * every input walks alike, so same-shape and scalar operands become one long run. Rows are
 * stamped out by macros from one C expression per op and number class (float, signed,
 * unsigned, bool); <tgmath.h> makes the same expression use float math for float32.
 */
#include "dp_op.h"
#include "mt19937.h"
#include "vmath.h"

#include <float.h>
#include <string.h>
#include <tgmath.h>

typedef struct ew_ctx {
    float a, b;         /* op attributes: alpha/beta, lambd/bias, IsInf's detect flags */
    dp_dtype ta, tb;    /* operand dtypes, for Pow's mixed-type row */
} ew_ctx;

/* out[i] = op(in[0][i * step[0]], in[1][i * step[1]], ...) for i < n; steps are 0 or 1. */
typedef void (*ew_row)(void *out, const void *const *in, const int64_t *step, int64_t n,
                       const ew_ctx *c);

#define NDT (DP_BFLOAT16 + 1)

/* Saturating conversion: float to int is undefined in C outside the target's range. */
static inline int64_t f2i(double v)
{
    return v != v ? 0 : v >= 0x1p63 ? INT64_MAX : v < -0x1p63 ? INT64_MIN : (int64_t)v;
}

/* numpy/Python remainder: takes the divisor's sign. y == -1 would trap on INT64_MIN. */
static inline int64_t imod(int64_t x, int64_t y)
{
    if (y == -1)
        return 0;
    int64_t r = x % y;
    return r != 0 && (r < 0) != (y < 0) ? r + y : r;
}

/* Integer power with wrap-around; a negative exponent truncates 1/x^-e toward zero. */
static inline int64_t ipow(int64_t x, int64_t e)
{
    if (e < 0)
        return x == 1 ? 1 : x == -1 ? (e & 1 ? -1 : 1) : 0;
    uint64_t r = 1, p = (uint64_t)x;
    for (; e; e >>= 1, p *= p)
        if (e & 1)
            r *= p;
    return (int64_t)r;
}

/*
 * Dtype lists: R(op, tag, dtype, storage type, compute type, load, store, expression).
 * Half types compute in float as numpy does; integers compute in 64 bits, signed ones
 * through uint64_t where C's signed overflow would be undefined, and wrap when stored.
 */
#define BOOL_LD(v) ((v) != 0)
#define ROWS_F(R, op, E) R(op, f32, DP_FLOAT, float, float, , (float), E) ROWS_F_WIDE(R, op, E)
#define ROWS_F_WIDE(R, op, E)                                                                \
    R(op, f64, DP_DOUBLE, double, double, , (double), E)                                     \
    R(op, f16, DP_FLOAT16, uint16_t, float, dp_half_to_float, dp_float_to_half, E)           \
    R(op, bf16, DP_BFLOAT16, uint16_t, float, dp_bf16_to_float, dp_float_to_bf16, E)
#define ROWS_S(R, op, E)                                                                     \
    R(op, i8, DP_INT8, int8_t, int64_t, , (int8_t), E)                                       \
    R(op, i16, DP_INT16, int16_t, int64_t, , (int16_t), E)                                   \
    R(op, i32, DP_INT32, int32_t, int64_t, , (int32_t), E)                                   \
    R(op, i64, DP_INT64, int64_t, int64_t, , (int64_t), E)
#define ROWS_U(R, op, E)                                                                     \
    R(op, u8, DP_UINT8, uint8_t, uint64_t, , (uint8_t), E)                                   \
    R(op, u16, DP_UINT16, uint16_t, uint64_t, , (uint16_t), E)                               \
    R(op, u32, DP_UINT32, uint32_t, uint64_t, , (uint32_t), E)                               \
    R(op, u64, DP_UINT64, uint64_t, uint64_t, , (uint64_t), E)
#define ROWS_B(R, op, E) R(op, b, DP_BOOL, uint8_t, unsigned, BOOL_LD, (uint8_t), E)

#define SLOT(op, tag, dt, ...) [dt] = op##_##tag,
#define TABLE(op, ...) static const ew_row op##_rows[NDT] = {__VA_ARGS__};

/* Row templates; E reads x (and y) of compute type C and the context c. */
#define ROW1_(op, tag, T, CT, LD, OT, OST, E)                                                \
    static void op##_##tag(void *o_, const void *const *in, const int64_t *step, int64_t n, \
                           const ew_ctx *c)                                                  \
    {                                                                                        \
        typedef CT C;                                                                        \
        OT *o = o_;                                                                          \
        const T *a = in[0];                                                                  \
        (void)sizeof(C);                                                                     \
        for (int64_t i = 0; i < n; i++) {                                                    \
            C x = LD(a[i]);                                                                  \
            o[i] = OST(E);                                                                   \
        }                                                                                    \
    }
#define ROW2_(op, tag, T, CT, LD, OT, OST, E)                                                \
    static void op##_##tag(void *o_, const void *const *in, const int64_t *step, int64_t n, \
                           const ew_ctx *c)                                                  \
    {                                                                                        \
        typedef CT C;                                                                        \
        OT *o = o_;                                                                          \
        const T *a = in[0], *b = in[1];                                                      \
        (void)sizeof(C);                                                                     \
        if (step[0] && step[1]) {                                                            \
            for (int64_t i = 0; i < n; i++) {                                                \
                C x = LD(a[i]), y = LD(b[i]);                                                \
                o[i] = OST(E);                                                               \
            }                                                                                \
        } else if (step[0]) {                                                                \
            C y = LD(b[0]);                                                                  \
            for (int64_t i = 0; i < n; i++) {                                                \
                C x = LD(a[i]);                                                              \
                o[i] = OST(E);                                                               \
            }                                                                                \
        } else {                                                                             \
            C x = LD(a[0]);                                                                  \
            for (int64_t i = 0; i < n; i++) {                                                \
                C y = LD(b[i * step[1]]);                                                    \
                o[i] = OST(E);                                                               \
            }                                                                                \
        }                                                                                    \
    }
#define UN(op, tag, dt, T, CT, LD, ST, E) ROW1_(op, tag, T, CT, LD, T, ST, E)
#define UNB(op, tag, dt, T, CT, LD, ST, E) ROW1_(op, tag, T, CT, LD, uint8_t, (uint8_t), E)
#define BIN(op, tag, dt, T, CT, LD, ST, E) ROW2_(op, tag, T, CT, LD, T, ST, E)
#define CMP(op, tag, dt, T, CT, LD, ST, E) ROW2_(op, tag, T, CT, LD, uint8_t, (uint8_t), E)

/* An op over float types only, or over floats, signed and unsigned integers. */
#define FLOAT_OP(R, op, E) ROWS_F(R, op, E) TABLE(op, ROWS_F(SLOT, op, ))
#define NUMERIC_OP(R, op, EF, ES, EU)                                                        \
    ROWS_F(R, op, EF) ROWS_S(R, op, ES) ROWS_U(R, op, EU)                                    \
    TABLE(op, ROWS_F(SLOT, op, ) ROWS_S(SLOT, op, ) ROWS_U(SLOT, op, ))

FLOAT_OP(UN, Acos, acos(x))
FLOAT_OP(UN, Acosh, acosh(x))
FLOAT_OP(UN, Asin, asin(x))
FLOAT_OP(UN, Asinh, asinh(x))
FLOAT_OP(UN, Atan, atan(x))
FLOAT_OP(UN, Atanh, atanh(x))
FLOAT_OP(UN, Ceil, ceil(x))
FLOAT_OP(UN, Celu, fmax((C)0, x) + fmin((C)0, c->a * (exp(x / c->a) - 1)))
FLOAT_OP(UN, Cos, cos(x))
FLOAT_OP(UN, Cosh, cosh(x))
FLOAT_OP(UN, Elu, x < 0 ? c->a * (exp(x) - 1) : x)
FLOAT_OP(UN, Floor, floor(x))
FLOAT_OP(UN, HardSigmoid, fmax((C)0, fmin((C)1, c->a * x + c->b)))
FLOAT_OP(UN, HardSwish, x * fmax((C)0, fmin((C)1, x / 6 + (C)0.5)))
FLOAT_OP(UN, LeakyRelu, x < 0 ? c->a * x : x)
FLOAT_OP(UN, Log, log(x))
FLOAT_OP(UN, Reciprocal, 1 / x)
FLOAT_OP(UN, Round, nearbyint(x)) /* the default rounding mode: half to even */
FLOAT_OP(UN, Selu, x > 0 ? c->b * x : c->b * (c->a * exp(x) - c->a))
FLOAT_OP(UN, Sigmoid, 1 / (1 + exp(-x)))
FLOAT_OP(UN, Sin, sin(x))
FLOAT_OP(UN, Sinh, sinh(x))
FLOAT_OP(UN, Softplus, x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)))
FLOAT_OP(UN, Softsign, x / (1 + fabs(x)))
FLOAT_OP(UN, Sqrt, sqrt(x))
FLOAT_OP(UN, Tan, tan(x))
FLOAT_OP(UN, Tanh, tanh(x))
FLOAT_OP(UN, ThresholdedRelu, x > c->a ? x : 0)
FLOAT_OP(UNB, IsNaN, isnan(x))
FLOAT_OP(UNB, IsInf, isinf(x) && (x > 0 ? c->a != 0 : c->b != 0))

NUMERIC_OP(UN, Abs, fabs(x), x < 0 ? (C)(0 - (uint64_t)x) : x, x)
NUMERIC_OP(UN, Sign, x > 0 ? (C)1 : x < 0 ? (C)-1 : x, (C)((x > 0) - (x < 0)), (C)(x != 0))
NUMERIC_OP(UN, Shrink, x < -c->a ? x + c->b : x > c->a ? x - c->b : 0,
           x < -c->a ? f2i(x + c->b) : x > c->a ? f2i(x - c->b) : 0,
           x < -c->a ? f2i(x + c->b) : x > c->a ? f2i(x - c->b) : 0)
ROWS_F(UN, Neg, -x)
ROWS_S(UN, Neg, (C)(0 - (uint64_t)x))
TABLE(Neg, ROWS_F(SLOT, Neg, ) ROWS_S(SLOT, Neg, ))
/* float32 Erf and Exp (GELU's and Softmax's) in vector code, within 3 ulp: vmath.h */
#define VMATH_ROW(op, fn, E)                                                                 \
    static void op##_f32(void *o, const void *const *in, const int64_t *step, int64_t n,    \
                         const ew_ctx *c)                                                    \
    {                                                                                        \
        (void)step, (void)c;                                                                 \
        fn(in[0], o, n);                                                                     \
    }                                                                                        \
    ROWS_F_WIDE(UN, op, E) TABLE(op, ROWS_F(SLOT, op, ))
VMATH_ROW(Erf, dp_verf, erf(x))
VMATH_ROW(Exp, dp_vexp, exp(x))

ROWS_F(UN, Relu, x < 0 ? (C)0 : x)
ROWS_S(UN, Relu, x < 0 ? (C)0 : x)
TABLE(Relu, ROWS_F(SLOT, Relu, ) ROWS_S(SLOT, Relu, ))
ROWS_B(UN, Not, !x)
TABLE(Not, ROWS_B(SLOT, Not, ))

NUMERIC_OP(BIN, Add, x + y, (C)((uint64_t)x + (uint64_t)y), x + y)
NUMERIC_OP(BIN, Sub, x - y, (C)((uint64_t)x - (uint64_t)y), x - y)
NUMERIC_OP(BIN, Mul, x * y, (C)((uint64_t)x * (uint64_t)y), x * y)
/* Integer rows run only after check_divisor found no zero. */
NUMERIC_OP(BIN, Div, x / y, y == -1 ? (C)(0 - (uint64_t)x) : x / y, x / y)
NUMERIC_OP(BIN, Fmod, fmod(x, y), y == -1 ? 0 : x % y, x % y)
ROWS_S(BIN, Mod, imod(x, y))
ROWS_U(BIN, Mod, x % y)
TABLE(Mod, ROWS_S(SLOT, Mod, ) ROWS_U(SLOT, Mod, ))
ROWS_F(BIN, Pow, pow(x, y))
ROWS_S(BIN, Pow, ipow(x, y))
TABLE(Pow, ROWS_F(SLOT, Pow, ) ROWS_S(SLOT, Pow, ))
NUMERIC_OP(BIN, PRelu, x < 0 ? x * y : x, x < 0 ? (C)((uint64_t)x * (uint64_t)y) : x,
           ((void)y, x))
/* Max and Min propagate NaN, as numpy's maximum and minimum do. */
NUMERIC_OP(BIN, Max, x > y || isnan(x) ? x : y, x > y ? x : y, x > y ? x : y)
NUMERIC_OP(BIN, Min, x < y || isnan(x) ? x : y, x < y ? x : y, x < y ? x : y)
TABLE(Sum, ROWS_F(SLOT, Add, ))
TABLE(Mean, ROWS_F(SLOT, Add, ))

NUMERIC_OP(CMP, Greater, x > y, x > y, x > y)
NUMERIC_OP(CMP, GreaterOrEqual, x >= y, x >= y, x >= y)
NUMERIC_OP(CMP, Less, x < y, x < y, x < y)
NUMERIC_OP(CMP, LessOrEqual, x <= y, x <= y, x <= y)
ROWS_F(CMP, Equal, x == y)
ROWS_S(CMP, Equal, x == y)
ROWS_U(CMP, Equal, x == y)
ROWS_B(CMP, Equal, x == y)
TABLE(Equal, ROWS_F(SLOT, Equal, ) ROWS_S(SLOT, Equal, ) ROWS_U(SLOT, Equal, )
                 ROWS_B(SLOT, Equal, ))
ROWS_B(BIN, And, x & y)
ROWS_B(BIN, Or, x | y)
ROWS_B(BIN, Xor, x ^ y)
TABLE(And, ROWS_B(SLOT, And, ))
TABLE(Or, ROWS_B(SLOT, Or, ))
TABLE(Xor, ROWS_B(SLOT, Xor, ))

/* Pow with base and exponent of different dtypes (opset 12+): float math unless both are
 * integers, then stored in the base's dtype. */
static void pow_mixed(void *o, const void *const *in, const int64_t *step, int64_t n,
                      const ew_ctx *c)
{
    bool fp = dp_dtype_is_float(c->ta) || dp_dtype_is_float(c->tb);
    for (int64_t i = 0; i < n; i++) {
        int64_t ia = i * step[0], ib = i * step[1];
        if (fp)
            dp_store_f64(o, c->ta, i, pow(dp_load_f64(in[0], c->ta, ia),
                                          dp_load_f64(in[1], c->tb, ib)));
        else
            dp_store_i64(o, c->ta, i, ipow(dp_load_i64(in[0], c->ta, ia),
                                           dp_load_i64(in[1], c->tb, ib)));
    }
}

/* Where moves elements without looking at them: one row per element size. */
#define WHERE_ROW(T)                                                                         \
    static void where_##T(void *o_, const void *const *in, const int64_t *step, int64_t n,  \
                          const ew_ctx *c)                                                   \
    {                                                                                        \
        T *o = o_;                                                                           \
        const uint8_t *cond = in[0];                                                         \
        const T *a = in[1], *b = in[2];                                                      \
        for (int64_t i = 0; i < n; i++)                                                      \
            o[i] = cond[i * step[0]] ? a[i * step[1]] : b[i * step[2]];                      \
    }
WHERE_ROW(uint8_t)
WHERE_ROW(uint16_t)
WHERE_ROW(uint32_t)
WHERE_ROW(uint64_t)

/* A walk over out's runs: the dimensions left after merging (the innermost `inner` long),
 * and each input's strides over them. */
typedef struct ew_walk {
    dp_tensor *out;
    int m, r;
    const dp_tensor *const *ins;
    ew_row row;
    const ew_ctx *c;
    int64_t dims[DP_MAX_RANK], st[3][DP_MAX_RANK];
    int64_t inner;
} ew_walk;

/* Calls row on elements e0..e1 of out (in its order), a run at a time. */
static void walk_range(const ew_walk *w, int64_t e0, int64_t e1)
{
    int64_t inner = w->inner, row = e0 / inner, col = e0 - row * inner;
    int64_t idx[DP_MAX_RANK] = {0}, off[3] = {0}, step[3];
    const void *p[3];
    size_t osz = dp_dtype_size(w->out->dtype), isz[3];
    for (int j = 0; j < w->m; j++) {
        step[j] = w->st[j][w->r - 1];
        isz[j] = dp_dtype_size(w->ins[j]->dtype);
    }
    /* row's index over the outer dimensions, and where each input is there */
    for (int d = w->r - 2; d >= 0; d--) {
        idx[d] = row % w->dims[d];
        row /= w->dims[d];
        for (int j = 0; j < w->m; j++)
            off[j] += idx[d] * w->st[j][d];
    }
    while (e0 < e1) {
        int64_t n = inner - col < e1 - e0 ? inner - col : e1 - e0;
        for (int j = 0; j < w->m; j++)
            p[j] = (const char *)w->ins[j]->data + (size_t)(off[j] + col * step[j]) * isz[j];
        w->row((char *)w->out->data + (size_t)e0 * osz, p, step, n, w->c);
        e0 += n;
        col = 0;
        for (int d = w->r - 2; d >= 0; d--) {
            for (int j = 0; j < w->m; j++)
                off[j] += w->st[j][d];
            if (++idx[d] < w->dims[d])
                break;
            for (int j = 0; j < w->m; j++)
                off[j] -= w->st[j][d] * w->dims[d];
            idx[d] = 0;
        }
    }
}

/* Elements e0..e1 of a walk: one part of it over threads. */
typedef struct ew_part {
    const ew_walk *w;
    int64_t e0, e1;
} ew_part;

static void run_ew_part(void *ctx, int i)
{
    const ew_part *t = (const ew_part *)ctx + i;
    walk_range(t->w, t->e0, t->e1);
}

/*
 * Calls row on every innermost run of out. Dimensions of size 1 are dropped and neighbours
 * merged when every input walks them as one (contiguous, or broadcast in both), so the runs
 * are as long as the broadcast allows. Over par's threads (NULL: this one) when out is
 * large, each element computed alone, so the same bits: the inputs are read at the
 * element's own index or broadcast, never at another element's, even in place.
 */
static void walk(dp_parallel *par, dp_tensor *out, int m, const dp_tensor *const *ins,
                 ew_row row, const ew_ctx *c)
{
    /* an element costs what about EW_COST multiply-adds of a matrix product do, for the
     * threshold to split at: GELU's Erf over the BERT-like encoder's 128 x 1024 took
     * ~190 us on one thread, its Div ~30 us */
    enum { EW_COST = 16 };
    int64_t total = dp_numel(out);
    if (total == 0)
        return;
    ew_walk w = {.out = out, .m = m, .ins = ins, .row = row, .c = c};
    int64_t full[3][DP_MAX_RANK];
    for (int j = 0; j < m; j++)
        dp_broadcast_strides(ins[j], out, full[j]);
    for (int d = 0; d < out->rank; d++) {
        if (out->dims[d] == 1)
            continue;
        bool merge = w.r > 0;
        for (int j = 0; j < m && merge; j++)
            merge = w.st[j][w.r - 1] == full[j][d] * out->dims[d];
        if (merge)
            w.dims[w.r - 1] *= out->dims[d];
        else
            w.dims[w.r++] = out->dims[d];
        for (int j = 0; j < m; j++)
            w.st[j][w.r - 1] = full[j][d];
    }
    if (w.r == 0) {
        w.dims[w.r++] = 1;
        for (int j = 0; j < m; j++)
            w.st[j][0] = 0;
    }
    w.inner = w.dims[w.r - 1];
    int64_t bounds[DP_MAX_PARTS + 1], widest;
    int parts = dp_parallel_split(par, (double)total * EW_COST, total, 16, bounds, &widest);
    ew_part part[DP_MAX_PARTS];
    for (int i = 0; i < parts; i++)
        part[i] = (ew_part){.w = &w, .e0 = bounds[i], .e1 = bounds[i + 1]};
    if (parts > 1)
        par->run(par, parts, run_ew_part, part);
    else
        run_ew_part(part, 0);
}

static void copy_tensor(dp_tensor *dst, const dp_tensor *src)
{
    size_t n = dp_nbytes(src);
    if (n && dst->data != src->data)
        memmove(dst->data, src->data, n);
}

/* ---- types and infer ---- */

static dp_status need(dp_kctx *k, const ew_row *rows, dp_dtype t)
{
    if ((unsigned)t < NDT && rows[t])
        return DP_OK;
    return dp_kfail(k, DP_EUNSUPPORTED, "unsupported dtype %s", dp_dtype_name(t));
}

/* Inputs from..to-1 must be present and share one dtype (ONNX's type constraint T). */
static dp_status same_dtypes(dp_kctx *k, int from, int to)
{
    for (int i = from; i < to; i++) {
        if (!k->in[i])
            return dp_kfail(k, DP_EINPUT, "input %d is missing", i);
        if (k->in[i]->dtype != k->in[from]->dtype)
            return dp_kfail(k, DP_EINPUT, "input %d is %s, input %d is %s", from,
                            dp_dtype_name(k->in[from]->dtype), i,
                            dp_dtype_name(k->in[i]->dtype));
    }
    return DP_OK;
}

/* Operands of every input dtype in rows, all alike; the result has their dtype or bool. */
static dp_status types_rows(dp_kctx *k, const ew_row *rows, bool to_bool)
{
    dp_status st = same_dtypes(k, 0, k->n_in);
    if (st == DP_OK)
        st = need(k, rows, k->in[0]->dtype);
    k->out[0]->dtype = to_bool ? DP_BOOL : k->in[0]->dtype;
    return st;
}

static dp_status infer_same(dp_kctx *k)
{
    for (int i = 0; i < k->n_out; i++) {
        k->out[i]->rank = k->in[0]->rank;
        memcpy(k->out[i]->dims, k->in[0]->dims, sizeof k->in[0]->dims);
    }
    return DP_OK;
}

static dp_status broadcast(dp_kctx *k, const dp_tensor *const *in, int n)
{
    dp_error e = {0};
    if (dp_broadcast_shape(in, n, k->out[0], &e) != DP_OK)
        return dp_kfail(k, DP_EINPUT, "%s", e.msg);
    return DP_OK;
}

static dp_status infer_bcast(dp_kctx *k)
{
    return broadcast(k, (const dp_tensor *const *)k->in, k->n_in);
}

/*
 * A binary op's operands as numpy broadcasting sees them. Before opset 7, B broadcast only
 * with broadcast=1, its dimensions matched to A's from axis (default: A's trailing ones);
 * PRelu's slope then had one element or one per channel (axis 1). Appending 1s to B's
 * shape gives the same result under numpy's rules.
 */
static dp_status operands(dp_kctx *k, bool prelu, const dp_tensor *ops[2], dp_tensor *view)
{
    const dp_tensor *a = k->in[0], *b = k->in[1];
    ops[0] = a;
    ops[1] = b;
    if (k->opset >= 7 || (prelu ? dp_numel(b) == 1 : !dp_attr_int(k, "broadcast", 0)))
        return DP_OK;
    int64_t axis = prelu ? 1 : dp_attr_int(k, "axis", a->rank - b->rank);
    if (axis < 0 || axis > a->rank - b->rank)
        return dp_kfail(k, DP_EINPUT, "cannot broadcast input 1 to input 0 from axis %lld",
                        (long long)axis);
    *view = *b;
    view->rank = a->rank - (int)axis;
    for (int i = b->rank; i < view->rank; i++)
        view->dims[i] = 1;
    ops[1] = view;
    return DP_OK;
}

static dp_status infer_binary(dp_kctx *k)
{
    const dp_tensor *ops[2];
    dp_tensor view;
    dp_status st = operands(k, false, ops, &view);
    return st != DP_OK ? st : broadcast(k, ops, 2);
}

/* PRelu's slope broadcasts to X, never the other way. */
static dp_status infer_prelu(dp_kctx *k)
{
    const dp_tensor *ops[2];
    dp_tensor view;
    dp_status st = operands(k, true, ops, &view);
    if (st == DP_OK)
        st = broadcast(k, ops, 2);
    if (st == DP_OK && !dp_same_shape(k->out[0], k->in[0]))
        return dp_kfail(k, DP_EINPUT, "slope does not broadcast to the input's shape");
    return st;
}

/* ---- run drivers ---- */

static dp_status run_unary(dp_kctx *k, const ew_row *rows, ew_ctx c)
{
    dp_status st = need(k, rows, k->in[0]->dtype);
    if (st != DP_OK)
        return st;
    walk(k->parallel, k->out[0], 1, (const dp_tensor *[]){k->in[0]}, rows[k->in[0]->dtype], &c);
    return DP_OK;
}

/* Walks the operands with the op's row for their dtype, or with row when rows is NULL. */
static dp_status run_binary(dp_kctx *k, bool prelu, const ew_row *rows, ew_row row,
                            const ew_ctx *c)
{
    const dp_tensor *ops[2];
    dp_tensor view;
    dp_status st = operands(k, prelu, ops, &view);
    if (st == DP_OK && rows)
        st = need(k, rows, k->in[0]->dtype);
    if (st != DP_OK)
        return st;
    walk(k->parallel, k->out[0], 2, ops, rows ? rows[k->in[0]->dtype] : row, c);
    return DP_OK;
}

/* Integer division by zero has no defined result: refuse it rather than trap. */
static dp_status check_divisor(dp_kctx *k)
{
    const dp_tensor *b = k->in[1];
    if (!dp_dtype_is_integer(b->dtype) || dp_numel(k->out[0]) == 0)
        return DP_OK;
    int64_t n = dp_numel(b);
    for (int64_t i = 0; i < n; i++)
        if (dp_load_i64(b->data, b->dtype, i) == 0)
            return dp_kfail(k, DP_EINPUT, "integer division by zero");
    return DP_OK;
}

static float attr_or(dp_kctx *k, const char *name, float dflt)
{
    return name ? dp_attr_float(k, name, dflt) : dflt;
}

/* Unary ops with up to two float attributes (NULL name: the value is fixed). */
#define UNARY(op, pa, da, pb, db)                                                            \
    static dp_status op##_types(dp_kctx *k) { return types_rows(k, op##_rows, false); }    \
    static dp_status op##_run(dp_kctx *k)                                                   \
    {                                                                                        \
        ew_ctx c = {.a = attr_or(k, pa, da), .b = attr_or(k, pb, db)};                       \
        return run_unary(k, op##_rows, c);                                                   \
    }
UNARY(Abs, NULL, 0, NULL, 0)
UNARY(Acos, NULL, 0, NULL, 0)
UNARY(Acosh, NULL, 0, NULL, 0)
UNARY(Asin, NULL, 0, NULL, 0)
UNARY(Asinh, NULL, 0, NULL, 0)
UNARY(Atan, NULL, 0, NULL, 0)
UNARY(Atanh, NULL, 0, NULL, 0)
UNARY(Ceil, NULL, 0, NULL, 0)
UNARY(Celu, "alpha", 1, NULL, 0)
UNARY(Cos, NULL, 0, NULL, 0)
UNARY(Cosh, NULL, 0, NULL, 0)
UNARY(Elu, "alpha", 1, NULL, 0)
UNARY(Erf, NULL, 0, NULL, 0)
UNARY(Exp, NULL, 0, NULL, 0)
UNARY(Floor, NULL, 0, NULL, 0)
UNARY(HardSigmoid, "alpha", 0.2f, "beta", 0.5f)
UNARY(HardSwish, NULL, 0, NULL, 0)
UNARY(LeakyRelu, "alpha", 0.01f, NULL, 0)
UNARY(Log, NULL, 0, NULL, 0)
UNARY(Neg, NULL, 0, NULL, 0)
UNARY(Not, NULL, 0, NULL, 0)
UNARY(Reciprocal, NULL, 0, NULL, 0)
UNARY(Relu, NULL, 0, NULL, 0)
UNARY(Round, NULL, 0, NULL, 0)
UNARY(Selu, "alpha", 1.67326319217681884765625f, "gamma", 1.05070102214813232421875f)
UNARY(Shrink, "lambd", 0.5f, "bias", 0)
UNARY(Sigmoid, NULL, 0, NULL, 0)
UNARY(Sign, NULL, 0, NULL, 0)
UNARY(Sin, NULL, 0, NULL, 0)
UNARY(Sinh, NULL, 0, NULL, 0)
UNARY(Softplus, NULL, 0, NULL, 0)
UNARY(Softsign, NULL, 0, NULL, 0)
UNARY(Sqrt, NULL, 0, NULL, 0)
UNARY(Tan, NULL, 0, NULL, 0)
UNARY(Tanh, NULL, 0, NULL, 0)
UNARY(ThresholdedRelu, "alpha", 1, NULL, 0)

static dp_status IsNaN_types(dp_kctx *k) { return types_rows(k, IsNaN_rows, true); }
static dp_status IsNaN_run(dp_kctx *k) { return run_unary(k, IsNaN_rows, (ew_ctx){0}); }
static dp_status IsInf_types(dp_kctx *k) { return types_rows(k, IsInf_rows, true); }
static dp_status IsInf_run(dp_kctx *k)
{
    ew_ctx c = {.a = (float)dp_attr_int(k, "detect_positive", 1),
                .b = (float)dp_attr_int(k, "detect_negative", 1)};
    return run_unary(k, IsInf_rows, c);
}

#define BINARY(op, to_bool)                                                                  \
    static dp_status op##_types(dp_kctx *k) { return types_rows(k, op##_rows, to_bool); } \
    static dp_status op##_run(dp_kctx *k)                                                   \
    {                                                                                        \
        return run_binary(k, false, op##_rows, NULL, &(ew_ctx){0});                          \
    }
BINARY(Add, false)
BINARY(Sub, false)
BINARY(Mul, false)
BINARY(And, true)
BINARY(Or, true)
BINARY(Xor, true)
BINARY(Equal, true)
BINARY(Greater, true)
BINARY(GreaterOrEqual, true)
BINARY(Less, true)
BINARY(LessOrEqual, true)

static dp_status PRelu_types(dp_kctx *k) { return types_rows(k, PRelu_rows, false); }
static dp_status PRelu_run(dp_kctx *k)
{
    return run_binary(k, true, PRelu_rows, NULL, &(ew_ctx){0});
}

static dp_status Div_types(dp_kctx *k) { return types_rows(k, Div_rows, false); }
static dp_status Div_run(dp_kctx *k)
{
    dp_status st = check_divisor(k);
    return st != DP_OK ? st : run_binary(k, false, Div_rows, NULL, &(ew_ctx){0});
}

/* fmod=0 is the integer remainder with the divisor's sign; floats must ask for fmod=1. */
static const ew_row *mod_rows(dp_kctx *k)
{
    return dp_attr_int(k, "fmod", 0) ? Fmod_rows : Mod_rows;
}
static dp_status Mod_types(dp_kctx *k)
{
    if (!dp_attr_int(k, "fmod", 0) && dp_dtype_is_float(k->in[0]->dtype))
        return dp_kfail(k, DP_EINPUT, "fmod must be 1 for %s inputs",
                        dp_dtype_name(k->in[0]->dtype));
    return types_rows(k, mod_rows(k), false);
}
static dp_status Mod_run(dp_kctx *k)
{
    dp_status st = check_divisor(k);
    return st != DP_OK ? st : run_binary(k, false, mod_rows(k), NULL, &(ew_ctx){0});
}

/* Pow: the exponent may have its own numeric dtype from opset 12; the result is the base's. */
static dp_status Pow_types(dp_kctx *k)
{
    dp_dtype te = k->in[1]->dtype;
    k->out[0]->dtype = k->in[0]->dtype;
    if (!dp_dtype_is_float(te) && !dp_dtype_is_integer(te))
        return dp_kfail(k, DP_EUNSUPPORTED, "unsupported exponent dtype %s", dp_dtype_name(te));
    return need(k, Pow_rows, k->in[0]->dtype);
}
static dp_status Pow_run(dp_kctx *k)
{
    dp_dtype tx = k->in[0]->dtype, te = k->in[1]->dtype;
    int64_t n = dp_numel(k->in[0]);
    if (tx == DP_FLOAT && te == DP_FLOAT && dp_numel(k->in[1]) == 1 &&
        ((const float *)k->in[1]->data)[0] == 2.0f && dp_numel(k->out[0]) == n) {
        /* a square (LayerNorm's variance): x * x is correctly rounded, and far cheaper than
         * powf, which is within an ulp of it */
        const float *x = k->in[0]->data;
        float *y = k->out[0]->data;
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] * x[i];
        return DP_OK;
    }
    if (tx == te)
        return run_binary(k, false, Pow_rows, NULL, &(ew_ctx){0});
    return run_binary(k, false, NULL, pow_mixed, &(ew_ctx){.ta = tx, .tb = te});
}

/* Max, Min, Sum, Mean: a left fold over any number of broadcast operands. */
static dp_status run_fold(dp_kctx *k, const ew_row *rows)
{
    dp_status st = need(k, rows, k->in[0]->dtype);
    if (st != DP_OK)
        return st;
    dp_tensor *out = k->out[0];
    ew_row row = rows[k->in[0]->dtype];
    ew_ctx c = {0};
    /* Start from an input the output overwrites in place, if any, before it is lost. */
    int first = 0;
    for (int i = 1; i < k->n_in; i++)
        if (k->in[i]->data == out->data && dp_numel(out) > 0)
            first = i;
    if (k->n_in == 1)
        copy_tensor(out, k->in[0]);
    for (int i = 0, done = 0; i < k->n_in; i++) {
        if (i == first)
            continue;
        walk(NULL, out, 2, (const dp_tensor *[]){done++ ? out : k->in[first], k->in[i]}, row,
             &c);
    }
    return DP_OK;
}
#define FOLD(op)                                                                             \
    static dp_status op##_types(dp_kctx *k) { return types_rows(k, op##_rows, false); }    \
    static dp_status op##_run(dp_kctx *k) { return run_fold(k, op##_rows); }
FOLD(Max)
FOLD(Min)
FOLD(Sum)
static dp_status Mean_types(dp_kctx *k) { return types_rows(k, Mean_rows, false); }
static dp_status Mean_run(dp_kctx *k)
{
    dp_status st = run_fold(k, Mean_rows);
    dp_tensor *out = k->out[0];
    int64_t n = dp_numel(out);
    if (st != DP_OK)
        return st;
    if (out->dtype == DP_FLOAT)
        for (float *o = out->data; n-- > 0; o++)
            *o /= (float)k->n_in;
    else
        for (int64_t i = 0; i < n; i++)
            dp_store_f64(out->data, out->dtype, i,
                         dp_load_f64(out->data, out->dtype, i) / k->n_in);
    return DP_OK;
}

static dp_status Where_types(dp_kctx *k)
{
    dp_dtype t = k->in[1]->dtype;
    if (k->in[0]->dtype != DP_BOOL)
        return dp_kfail(k, DP_EINPUT, "condition is %s, not bool", dp_dtype_name(k->in[0]->dtype));
    k->out[0]->dtype = t;
    dp_status st = same_dtypes(k, 1, 3);
    if (st == DP_OK && dp_dtype_size(t) == 0)
        return dp_kfail(k, DP_EUNSUPPORTED, "unsupported dtype %s", dp_dtype_name(t));
    return st;
}
static dp_status Where_run(dp_kctx *k)
{
    static const ew_row rows[9] = {[1] = where_uint8_t, [2] = where_uint16_t,
                                   [4] = where_uint32_t, [8] = where_uint64_t};
    size_t size = dp_dtype_size(k->in[1]->dtype);
    if (size >= sizeof rows / sizeof rows[0] || !rows[size])
        return dp_kfail(k, DP_EUNSUPPORTED, "unsupported dtype %s",
                        dp_dtype_name(k->in[1]->dtype));
    ew_ctx c = {0};
    walk(NULL, k->out[0], 3, (const dp_tensor *[]){k->in[0], k->in[1], k->in[2]}, rows[size],
         &c);
    return DP_OK;
}

/* Clip's bounds: float attributes before opset 11 (default: float's range), then optional
 * scalar inputs of the input's dtype. */
static dp_status Clip_types(dp_kctx *k)
{
    dp_dtype t = k->in[0]->dtype;
    k->out[0]->dtype = t;
    if (k->opset < 11 && !dp_dtype_is_float(t))
        return dp_kfail(k, DP_EUNSUPPORTED, "unsupported dtype %s before opset 11",
                        dp_dtype_name(t));
    for (int i = 1; i < k->n_in; i++)
        if (k->in[i] && k->in[i]->dtype != t)
            return dp_kfail(k, DP_EINPUT, "bound is %s, input is %s",
                            dp_dtype_name(k->in[i]->dtype), dp_dtype_name(t));
    return need(k, Max_rows, t);
}
static dp_status Clip_infer(dp_kctx *k)
{
    for (int i = 1; i < k->n_in; i++)
        if (k->in[i] && dp_numel(k->in[i]) != 1)
            return dp_kfail(k, DP_EINPUT, "bound %d is not a scalar", i);
    return infer_same(k);
}
static dp_status Clip_run(dp_kctx *k)
{
    const dp_tensor *x = k->in[0], *bound[2] = {dp_in(k, 1), dp_in(k, 2)};
    dp_tensor *y = k->out[0], attr[2];
    uint64_t buf[2];
    dp_status st = need(k, Max_rows, x->dtype);
    if (st != DP_OK)
        return st;
    if (k->opset < 11) {
        float v[2] = {dp_attr_float(k, "min", -FLT_MAX), dp_attr_float(k, "max", FLT_MAX)};
        for (int i = 0; i < 2; i++) {
            attr[i] = (dp_tensor){x->dtype, 0, {0}, &buf[i]};
            dp_store_f64(&buf[i], x->dtype, 0, v[i]);
            bound[i] = &attr[i];
        }
    }
    if (x->dtype == DP_FLOAT) {
        float lo = bound[0] ? *(const float *)bound[0]->data : -INFINITY;
        float hi = bound[1] ? *(const float *)bound[1]->data : INFINITY;
        const float *a = x->data;
        float *o = y->data;
        for (int64_t i = 0, n = dp_numel(x); i < n; i++) {
            float v = a[i] < lo ? lo : a[i];
            o[i] = v > hi ? hi : v;
        }
        return DP_OK;
    }
    /* max then min: when min > max every element becomes max, as the spec asks */
    ew_ctx c = {0};
    copy_tensor(y, x);
    if (bound[0])
        walk(NULL, y, 2, (const dp_tensor *[]){y, bound[0]}, Max_rows[x->dtype], &c);
    if (bound[1])
        walk(NULL, y, 2, (const dp_tensor *[]){y, bound[1]}, Min_rows[x->dtype], &c);
    return DP_OK;
}

static dp_status Identity_types(dp_kctx *k)
{
    k->out[0]->dtype = k->in[0]->dtype;
    if (dp_dtype_size(k->in[0]->dtype) == 0)
        return dp_kfail(k, DP_EUNSUPPORTED, "unsupported dtype %s",
                        dp_dtype_name(k->in[0]->dtype));
    return DP_OK;
}
static dp_status Identity_run(dp_kctx *k)
{
    copy_tensor(k->out[0], k->in[0]);
    return DP_OK;
}

/*
 * Dropout at inference passes data through and its mask (bool from opset 10) is all ones.
 * Training mode (opset 12+) keeps each element when a uniform draw is at least the ratio
 * and scales the kept ones by 1/(1-ratio). The draws come from MT19937 seeded with the
 * node's seed attribute (0 when absent, so runs repeat) in numpy's RandomState order: the
 * ONNX reference outputs were made that way, and a user's seeded model gets the same mask.
 */
static bool dropout_is_training(dp_kctx *k)
{
    const dp_tensor *t = dp_in(k, 2);
    return k->opset >= 12 && t && t->data && dp_numel(t) > 0 && dp_load_i64(t->data, t->dtype, 0);
}
static dp_status dropout_ratio(dp_kctx *k, double *ratio)
{
    const dp_tensor *r = dp_in(k, 1);
    *ratio = 0.5;
    if (r && r->data) {
        if (dp_numel(r) != 1)
            return dp_kfail(k, DP_EINPUT, "ratio has %lld elements, expected 1",
                            (long long)dp_numel(r));
        *ratio = dp_load_f64(r->data, r->dtype, 0);
    }
    if (!(*ratio >= 0 && *ratio < 1))
        return dp_kfail(k, DP_EINPUT, "ratio %g is outside [0, 1)", *ratio);
    return DP_OK;
}
static dp_status Dropout_types(dp_kctx *k)
{
    dp_dtype t = k->in[0]->dtype;
    k->out[0]->dtype = t;
    if (k->n_out > 1)
        k->out[1]->dtype = k->opset >= 10 ? DP_BOOL : t;
    if (!dp_dtype_is_float(t))
        return dp_kfail(k, DP_EUNSUPPORTED, "unsupported dtype %s", dp_dtype_name(t));
    return DP_OK;
}
static dp_status Dropout_run(dp_kctx *k)
{
    dp_tensor *y = k->out[0], *m = k->n_out > 1 ? k->out[1] : NULL;
    const dp_tensor *x = k->in[0];
    double ratio = 0;
    if (dropout_is_training(k)) {
        dp_status st = dropout_ratio(k, &ratio);
        if (st != DP_OK)
            return st;
    }
    if (ratio == 0) {
        copy_tensor(y, x);
        for (int64_t i = 0, n = m ? dp_numel(m) : 0; i < n; i++)
            dp_store_i64(m->data, m->dtype, i, 1);
        return DP_OK;
    }
    int64_t seed = dp_attr_int(k, "seed", 0);
    if (seed < 0 || seed > (int64_t)UINT32_MAX)
        return dp_kfail(k, DP_EINPUT, "seed %lld is outside [0, 2^32)", (long long)seed);
    dp_mt19937 mt;
    dp_mt19937_seed(&mt, (uint32_t)seed);
    double scale = (float)(1.0 / (1.0 - ratio));
    for (int64_t i = 0, n = dp_numel(x); i < n; i++) {
        bool keep = dp_mt19937_uniform(&mt) >= ratio;
        dp_store_f64(y->data, y->dtype, i, keep ? dp_load_f64(x->data, x->dtype, i) * scale : 0);
        if (m)
            dp_store_i64(m->data, m->dtype, i, keep);
    }
    return DP_OK;
}

/*
 * A double rounded to float "to odd" (inexact results get the lowest mantissa bit set), so
 * that rounding it again to half or bfloat16 gives the correctly rounded direct conversion.
 */
static float round_odd(double d)
{
    float f = (float)d;
    if (isnan(f) || isinf(f) || (double)f == d)
        return f;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if (fabs((double)f) > fabs(d))
        u--;
    u |= 1;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Cast as numpy's astype: integers convert exactly through int64, floats to integers
 * truncate (saturating where C would be undefined), every rounding is done once. */
static void convert(void *dst, dp_dtype td, const void *src, dp_dtype ts, int64_t n)
{
    bool fs = dp_dtype_is_float(ts), fd = dp_dtype_is_float(td);
    if (td == ts)
        memcpy(dst, src, (size_t)n * dp_dtype_size(td));
    else if (!fs && !fd)
        for (int64_t i = 0; i < n; i++)
            dp_store_i64(dst, td, i, dp_load_i64(src, ts, i));
    else if (!fs && td == DP_FLOAT)
        for (int64_t i = 0; i < n; i++)
            ((float *)dst)[i] = ts == DP_UINT64 ? (float)((const uint64_t *)src)[i]
                                                : (float)dp_load_i64(src, ts, i);
    else if (td == DP_FLOAT16 || td == DP_BFLOAT16)
        for (int64_t i = 0; i < n; i++)
            dp_store_f64(dst, td, i, round_odd(dp_load_f64(src, ts, i)));
    else
        for (int64_t i = 0; i < n; i++)
            dp_store_f64(dst, td, i, dp_load_f64(src, ts, i));
}

static dp_status cast_types(dp_kctx *k, dp_dtype to)
{
    dp_dtype from = k->in[0]->dtype;
    k->out[0]->dtype = to;
    if (from == DP_STRING || to == DP_STRING)
        return dp_kfail(k, DP_EUNSUPPORTED, "casts from or to string are not supported");
    if (dp_dtype_size(from) == 0 || dp_dtype_size(to) == 0)
        return dp_kfail(k, DP_EUNSUPPORTED, "unsupported cast from dtype %d to dtype %d",
                        (int)from, (int)to);
    return DP_OK;
}
static dp_status Cast_types(dp_kctx *k)
{
    if (!dp_attr_find(k, "to"))
        return dp_kfail(k, DP_EINPUT, "attribute 'to' is missing");
    return cast_types(k, (dp_dtype)dp_attr_int(k, "to", 0));
}
static dp_status CastLike_types(dp_kctx *k) { return cast_types(k, k->in[1]->dtype); }
static dp_status Cast_run(dp_kctx *k)
{
    const dp_tensor *x = k->in[0];
    dp_tensor *y = k->out[0];
    if (dp_numel(x) > 0)
        convert(y->data, y->dtype, x->data, x->dtype, dp_numel(x));
    return DP_OK;
}

#define UNARY_DEF(op) {#op, 1, 1, 1, 1, op##_types, infer_same, op##_run}
#define BINARY_DEF(op) {#op, 2, 2, 1, 1, op##_types, infer_binary, op##_run}
#define FOLD_DEF(op) {#op, 1, -1, 1, 1, op##_types, infer_bcast, op##_run}

const dp_op_def dp_ops_elementwise[] = {
    UNARY_DEF(Abs), UNARY_DEF(Acos), UNARY_DEF(Acosh), UNARY_DEF(Asin), UNARY_DEF(Asinh),
    UNARY_DEF(Atan), UNARY_DEF(Atanh), UNARY_DEF(Ceil), UNARY_DEF(Celu), UNARY_DEF(Cos),
    UNARY_DEF(Cosh), UNARY_DEF(Elu), UNARY_DEF(Erf), UNARY_DEF(Exp), UNARY_DEF(Floor),
    UNARY_DEF(HardSigmoid), UNARY_DEF(HardSwish), UNARY_DEF(IsInf), UNARY_DEF(IsNaN),
    UNARY_DEF(LeakyRelu), UNARY_DEF(Log), UNARY_DEF(Neg), UNARY_DEF(Not),
    UNARY_DEF(Reciprocal), UNARY_DEF(Relu), UNARY_DEF(Round), UNARY_DEF(Selu),
    UNARY_DEF(Shrink), UNARY_DEF(Sigmoid), UNARY_DEF(Sign), UNARY_DEF(Sin), UNARY_DEF(Sinh),
    UNARY_DEF(Softplus), UNARY_DEF(Softsign), UNARY_DEF(Sqrt), UNARY_DEF(Tan),
    UNARY_DEF(Tanh), UNARY_DEF(ThresholdedRelu), UNARY_DEF(Identity), UNARY_DEF(Cast),
    BINARY_DEF(Add), BINARY_DEF(Sub), BINARY_DEF(Mul), BINARY_DEF(Div), BINARY_DEF(Mod),
    BINARY_DEF(Pow), BINARY_DEF(And), BINARY_DEF(Or), BINARY_DEF(Xor), BINARY_DEF(Equal),
    BINARY_DEF(Greater), BINARY_DEF(GreaterOrEqual), BINARY_DEF(Less),
    BINARY_DEF(LessOrEqual),
    FOLD_DEF(Max), FOLD_DEF(Min), FOLD_DEF(Sum), FOLD_DEF(Mean),
    {"PRelu", 2, 2, 1, 1, PRelu_types, infer_prelu, PRelu_run},
    {"CastLike", 2, 2, 1, 1, CastLike_types, infer_same, Cast_run},
    {"Where", 3, 3, 1, 1, Where_types, infer_bcast, Where_run},
    {"Clip", 1, 3, 1, 1, Clip_types, Clip_infer, Clip_run},
    {"Dropout", 1, 3, 1, 2, Dropout_types, infer_same, Dropout_run},
    {0},
};
