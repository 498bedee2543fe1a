/* kernel_util.c: helpers shared by the kernel families, and fused layers' post-processing. */
#include "kernel_util.h"
#include "simd.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

dp_status dp_read_ints(dp_kctx *k, const dp_tensor *t, int64_t *out, int max, int *n,
                       const char *what)
{
    if (!t->data)
        return DP_DYNAMIC;
    if (t->dtype != DP_INT64 && t->dtype != DP_INT32)
        return dp_kfail(k, DP_EINPUT, "%s must be int32 or int64, not %s", what,
                        dp_dtype_name(t->dtype));
    if (t->rank > 1)
        return dp_kfail(k, DP_EINPUT, "%s must be 1-D, has rank %d", what, t->rank);
    int64_t count = dp_numel(t);
    if (count > max)
        return dp_kfail(k, DP_EINPUT, "%s has %lld elements, at most %d allowed", what,
                        (long long)count, max);
    for (int64_t i = 0; i < count; i++)
        out[i] = dp_load_i64(t->data, t->dtype, i);
    *n = (int)count;
    return DP_OK;
}

typedef enum fused_act {
    ACT_RELU, ACT_LEAKY_RELU, ACT_CLIP, ACT_SIGMOID, ACT_TANH, ACT_HARD_SIGMOID, ACT_HARD_SWISH
} fused_act;

static const char *const act_names[] = {
    [ACT_RELU] = "Relu", [ACT_LEAKY_RELU] = "LeakyRelu", [ACT_CLIP] = "Clip",
    [ACT_SIGMOID] = "Sigmoid", [ACT_TANH] = "Tanh", [ACT_HARD_SIGMOID] = "HardSigmoid",
    [ACT_HARD_SWISH] = "HardSwish",
};

static int act_index(const char *op)
{
    for (int i = 0; i < (int)(sizeof act_names / sizeof act_names[0]); i++)
        if (strcmp(op, act_names[i]) == 0)
            return i;
    return -1;
}

bool dp_fused_activation_known(const char *op)
{
    return act_index(op) >= 0;
}

dp_status dp_fused_check(dp_kctx *k)
{
    static const char *const names[] = {"dp_activation", "dp_alpha", "dp_beta", "dp_min",
                                        "dp_max",        "dp_bias",  "dp_residual"};
    bool fused = false;
    for (int i = 0; i < k->n_attrs; i++) {
        const char *name = k->attrs[i].name;
        if (strncmp(name, DP_FUSED_PREFIX, strlen(DP_FUSED_PREFIX)) != 0)
            continue;
        bool known = false;
        for (size_t j = 0; j < sizeof names / sizeof names[0]; j++)
            known |= strcmp(name, names[j]) == 0;
        if (!known)
            return dp_kfail(k, DP_EINPUT, "unknown fused-layer attribute '%s'", name);
        fused = true;
    }
    if (!fused)
        return DP_OK;
    const char *act = dp_attr_string(k, "dp_activation", NULL);
    if (act && act_index(act) < 0)
        return dp_kfail(k, DP_EINPUT, "fused activation '%s' is not one of Relu, LeakyRelu, "
                        "Clip, Sigmoid, Tanh, HardSigmoid, HardSwish", act);
    /* the getters flag an attribute of the wrong kind for dp_node_types_infer to report */
    dp_attr_float(k, "dp_alpha", 0);
    dp_attr_float(k, "dp_beta", 0);
    dp_attr_float(k, "dp_min", 0);
    dp_attr_float(k, "dp_max", 0);
    dp_attr_int(k, "dp_bias", 0);
    dp_attr_int(k, "dp_residual", 0);
    if (dp_attr_find(k, "dp_bias") && strcmp(k->op, "MatMul") != 0)
        return dp_kfail(k, DP_EINPUT, "dp_bias marks a fused bias on MatMul only");
    if (dp_attr_find(k, "dp_residual") && strcmp(k->op, "Conv") != 0)
        return dp_kfail(k, DP_EINPUT, "dp_residual marks a fused residual on Conv only");
    if (k->in[0]->dtype != DP_FLOAT)
        return dp_kfail(k, DP_EUNSUPPORTED, "a fused layer computes float32 only, its input "
                        "is %s", dp_dtype_name(k->in[0]->dtype));
    return DP_OK;
}

/* The fused activation's parameters, as dp_fused_activate reads them. */
typedef struct act_params {
    float alpha, beta, lo, hi;
} act_params;

/* The same expressions, in float arithmetic, as the standalone activations in
 * elementwise.c, so that fusing a layer does not change a single bit of its output. Static:
 * clang refuses to multiversion a function a header declared, as in an emitted kernel. */
DP_MULTI_TARGET
static void activate(fused_act act, float *v, int64_t n, act_params a)
{
    float alpha = a.alpha, beta = a.beta, lo = a.lo, hi = a.hi;
    switch (act) {
    case ACT_RELU:
        for (int64_t i = 0; i < n; i++)
            v[i] = v[i] < 0 ? 0 : v[i];
        break;
    case ACT_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++)
            v[i] = v[i] < 0 ? alpha * v[i] : v[i];
        break;
    case ACT_CLIP:
        /* max then min: when min > max every element becomes max, as Clip does */
        for (int64_t i = 0; i < n; i++) {
            float c = v[i] < lo ? lo : v[i];
            v[i] = c > hi ? hi : c;
        }
        break;
    case ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++)
            v[i] = 1 / (1 + expf(-v[i]));
        break;
    case ACT_TANH:
        for (int64_t i = 0; i < n; i++)
            v[i] = tanhf(v[i]);
        break;
    case ACT_HARD_SIGMOID:
        for (int64_t i = 0; i < n; i++)
            v[i] = fmaxf(0.0f, fminf(1.0f, alpha * v[i] + beta));
        break;
    case ACT_HARD_SWISH:
        for (int64_t i = 0; i < n; i++)
            v[i] = v[i] * fmaxf(0.0f, fminf(1.0f, v[i] / 6 + 0.5f));
        break;
    }
}

bool dp_fused_clamp(dp_kctx *k, float *lo, float *hi)
{
    const char *name = dp_attr_string(k, "dp_activation", NULL);
    int act = name ? act_index(name) : -1;
    *lo = -INFINITY;
    *hi = INFINITY;
    if (act == ACT_RELU)
        *lo = 0; /* v < 0 ? 0 : v, as Relu */
    else if (act == ACT_CLIP) {
        *lo = dp_attr_float(k, "dp_min", -INFINITY);
        *hi = dp_attr_float(k, "dp_max", INFINITY);
    }
    return !name || act == ACT_RELU || act == ACT_CLIP;
}

dp_status dp_fused_activate(dp_kctx *k, dp_tensor *y)
{
    const char *name = dp_attr_string(k, "dp_activation", NULL);
    if (!name)
        return DP_OK;
    int act = act_index(name);
    if (act < 0 || y->dtype != DP_FLOAT)
        return dp_kfail(k, DP_EINPUT, "cannot apply fused activation '%s' to a %s output",
                        name, dp_dtype_name(y->dtype));
    act_params a = {
        .alpha = dp_attr_float(k, "dp_alpha", act == ACT_LEAKY_RELU ? 0.01f : 0.2f),
        .beta = dp_attr_float(k, "dp_beta", 0.5f),
        .lo = dp_attr_float(k, "dp_min", -INFINITY), .hi = dp_attr_float(k, "dp_max", INFINITY)};
    activate((fused_act)act, y->data, dp_numel(y), a);
    return DP_OK;
}

/* An H x W plane (H and W even) split by the parity of its rows and columns into four
 * quarter planes, (even, even), (even, odd), (odd, even), (odd, odd), one after another:
 * element (2i + a, 2j + b) goes to quarter 2a + b at (i, j). */
void dp_split_by_parity(const float *plane, int64_t H, int64_t W, float *quarters)
{
    int64_t Wq = W / 2, n = H / 2 * Wq;
    for (int64_t r = 0; r < H; r++) {
        float *restrict even = quarters + (r & 1) * 2 * n + r / 2 * Wq, *restrict odd = even + n;
        const float *restrict row = plane + r * W;
        for (int64_t j = 0; j < Wq; j++) {
            even[j] = row[2 * j];
            odd[j] = row[2 * j + 1];
        }
    }
}

dp_tap_run dp_padded_3x3_tap(int stride, int t, int64_t W, int64_t n)
{
    int64_t dy = t / 3 - 1, dx = t % 3 - 1;
    dp_tap_run r = {.edge = dx < 0 ? -1 : 0};
    if (stride == 1) {
        r.shift = dy * W + dx;
        r.lo = dy < 0 ? W : 0;
        r.hi = dy > 0 ? n - W : n;
        /* an output whose neighbour would lie outside the plane (a corner tap's first or
         * last row position) is an edge column, selected away anyway: leaving it out of the
         * run keeps every read of [lo, hi) inside the plane, which whole-vector loads need */
        r.lo = r.lo > -r.shift ? r.lo : -r.shift;
        r.hi = r.hi < n - r.shift ? r.hi : n - r.shift;
        r.edge = dx < 0 ? -1 : dx > 0 ? 1 : 0;
    } else {
        /* input row 2i + dy is quarter row i (dy >= 0) or i - 1 (dy < 0), likewise columns;
         * column 2j + 1 always lies inside an even-wide input */
        r.quarter = (dy != 0) * 2 + (dx != 0);
        r.shift = -(dy < 0 ? W : 0) - (dx < 0);
        r.lo = (dy < 0 ? W : 0) + (dx < 0);
        r.hi = n;
    }
    return r;
}

void dp_column_edges(int64_t W, int64_t p0, int64_t n, int32_t *left, int32_t *right)
{
    /* a row of the plane at a time, one division each */
    for (int64_t i = 0; i < n;) {
        int64_t col = (p0 + i) % W, run = W - col < n - i ? W - col : n - i;
        for (int64_t k = 0; k < run; k++) {
            left[i + k] = col + k != 0;
            if (right)
                right[i + k] = col + k != W - 1;
        }
        i += run;
    }
}

/* Strided copies: dp_copy_view merges the dimensions a view walks contiguously, so most
 * copies become memcpy runs, and tiles the rest so that a transposed read stays within a few
 * cache lines. */
enum { COPY_TILE = 32 };

/* n elements of es bytes to contiguous d, from s every ss bytes; es constant per loop. */
static inline void row(char *d, const char *s, int64_t ss, int64_t n, size_t es)
{
#define ROW(SZ)                                                                              \
    for (int64_t i = 0; i < n; i++)                                                          \
        memcpy(d + i * SZ, s + i * ss, SZ);                                                  \
    break
    switch (es) {
    case 1: ROW(1);
    case 2: ROW(2);
    case 4: ROW(4);
    default: ROW(8);
    }
#undef ROW
}

void dp_copy_view(void *dst, const void *src, int rank, const int64_t *dims,
                  const int64_t *stride, size_t es)
{
    int64_t d[DP_MAX_RANK], s[DP_MAX_RANK], ds[DP_MAX_RANK];
    int n = 0;
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 0)
            return;
        if (dims[i] == 1)
            continue;
        if (n > 0 && s[n - 1] == stride[i] * dims[i]) { /* walks on with the previous dim */
            d[n - 1] *= dims[i];
            s[n - 1] = stride[i];
            continue;
        }
        d[n] = dims[i];
        s[n++] = stride[i];
    }
    if (n == 0) {
        memcpy(dst, src, es);
        return;
    }
    /* byte strides from here on: source offsets may be negative */
    int64_t e = (int64_t)es, acc = e;
    for (int i = n - 1; i >= 0; i--) {
        ds[i] = acc;
        acc *= d[i];
        s[i] *= e;
    }
    int last = n - 1, tj = -1;
    if (s[last] != e)
        for (int i = 0; i < last; i++)
            if (s[i] == e)
                tj = i; /* the dim read contiguously: tile it against the last one */
    int outer[DP_MAX_RANK], m = 0;
    for (int i = 0; i < last; i++)
        if (i != tj)
            outer[m++] = i;

    int64_t idx[DP_MAX_RANK] = {0}, so = 0, dof = 0;
    const char *sb = src;
    char *db = dst;
    for (;;) {
        const char *sp = sb + so;
        char *dp = db + dof;
        if (s[last] == e) {
            memcpy(dp, sp, (size_t)(d[last] * e));
        } else if (tj < 0) {
            row(dp, sp, s[last], d[last], es);
        } else {
            for (int64_t r0 = 0; r0 < d[tj]; r0 += COPY_TILE)
                for (int64_t c0 = 0; c0 < d[last]; c0 += COPY_TILE) {
                    int64_t rn = d[tj] - r0 < COPY_TILE ? d[tj] - r0 : COPY_TILE;
                    int64_t cn = d[last] - c0 < COPY_TILE ? d[last] - c0 : COPY_TILE;
                    for (int64_t r = r0; r < r0 + rn; r++)
                        row(dp + r * ds[tj] + c0 * e, sp + r * e + c0 * s[last], s[last], cn, es);
                }
        }
        int t = m - 1;
        for (; t >= 0; t--) {
            int a = outer[t];
            so += s[a];
            dof += ds[a];
            if (++idx[t] < d[a])
                break;
            so -= s[a] * d[a];
            dof -= ds[a] * d[a];
            idx[t] = 0;
        }
        if (t < 0)
            return;
    }
}


#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DP_TRANSPOSE_AVX512 1
#include <immintrin.h>

/* A 16 x 16 block, dst = src^T, in registers: pairs of rows interleaved by 32 and 64 bits,
 * then 128-bit lanes gathered in two rounds, so that register 4 L + c ends up holding column
 * 4 L + c. Compilers make gathers or single stores of the plain loop. */
__attribute__((target("avx512f")))
static void transpose16_avx512(const float *src, int64_t lds, float *dst, int64_t ldd)
{
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++)
        r[i] = _mm512_loadu_ps(src + i * lds);
    /* t[2a], t[2a+1]: columns 4L, 4L+1 and 4L+2, 4L+3 of rows 2a, 2a+1 in lane L */
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    /* r[4b+c]: column 4L+c of rows 4b..4b+3 in lane L */
    for (int i = 0; i < 16; i += 4) {
        __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
        __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int c = 0; c < 4; c++) {
        /* lanes 0, 1 (u) and 2, 3 (v) of rows 0..7, then of rows 8..15 */
        __m512 u0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x44);
        __m512 v0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xEE);
        __m512 u1 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x44);
        __m512 v1 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xEE);
        _mm512_storeu_ps(dst + c * ldd, _mm512_shuffle_f32x4(u0, u1, 0x88));
        _mm512_storeu_ps(dst + (4 + c) * ldd, _mm512_shuffle_f32x4(u0, u1, 0xDD));
        _mm512_storeu_ps(dst + (8 + c) * ldd, _mm512_shuffle_f32x4(v0, v1, 0x88));
        _mm512_storeu_ps(dst + (12 + c) * ldd, _mm512_shuffle_f32x4(v0, v1, 0xDD));
    }
}
#endif

/* In 16 x 16 blocks that keep the lines of both in L1 (element by element, every store of a
 * long row went to another line: a fifth of a noisy BERT-like inference), whole blocks in
 * registers where the CPU has AVX-512. */
DP_MULTI_TARGET
void dp_transpose(const float *src, int64_t lds, int64_t rows, int64_t cols, float *dst,
                      int64_t ldd)
{
    enum { BLOCK = 16 };
#ifdef DP_TRANSPOSE_AVX512
    bool whole = __builtin_cpu_supports("avx512f");
#else
    bool whole = false;
#endif
    for (int64_t i0 = 0; i0 < rows; i0 += BLOCK)
        for (int64_t j0 = 0; j0 < cols; j0 += BLOCK) {
            int64_t i1 = i0 + BLOCK < rows ? i0 + BLOCK : rows;
            int64_t j1 = j0 + BLOCK < cols ? j0 + BLOCK : cols;
#ifdef DP_TRANSPOSE_AVX512
            if (whole && i1 - i0 == BLOCK && j1 - j0 == BLOCK) {
                transpose16_avx512(src + i0 * lds + j0, lds, dst + j0 * ldd + i0, ldd);
                continue;
            }
#endif
            for (int64_t j = j0; j < j1; j++)
                for (int64_t i = i0; i < i1; i++)
                    dst[j * ldd + i] = src[i * lds + j];
        }
}
