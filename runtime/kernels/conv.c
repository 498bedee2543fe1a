/*
 * conv.c: Conv and ConvTranspose on float32 over 1 to 3 spatial dimensions.
 *
 * Conv multiplies each group's weights (M/g x C/g*taps) by the im2col matrix of its input
 * (C/g*taps x output positions) with dp_sgemm. The matrix is built a chunk of output
 * positions at a time, so that it is still in cache when the SGEMM packs it and scratch
 * stays small. Three shapes skip it: pointwise convolutions (1x1 kernel, stride 1, no
 * padding), whose input already is that matrix; convolutions whose output channels each
 * read one input channel (depthwise), which run directly a row of outputs at a time; and,
 * without noise, 3x3 convolutions of stride 1 padded by 1, which run by Winograd's
 * F(2x2, 3x3) (winograd.h) on filters the session transformed once.
 *
 * ConvTranspose is Conv's adjoint: dp_sgemm gives each input position's contribution through
 * every kernel tap (W^T X), and col2im adds those into the output.
 *
 * The bias and a fused activation (kernel_util.h) that clamps (Relu, Clip) are applied as
 * each output is finished, in the product's last store, the depthwise loops' last pass or
 * Winograd's output transform;
 * any other activation runs over the finished output, bias included.
 */
#include "gemm.h"
#include "kernel_util.h"
#include "nn.h"
#include "weight_panels.h"
#include "winograd.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DP_CONV_AVX512 1
#include <immintrin.h>
#endif

/* im2col/col2im chunks hold about this many floats (512 KiB), a fraction of L2 */
enum { CHUNK_FLOATS = 1 << 17, MIN_CHUNK = 64 };

typedef struct conv_geom {
    nn_window w;
    int64_t N, C, M, group;
    int64_t Cg, Mg;        /* input and output channels per group */
    int64_t taps;          /* kernel elements per channel */
    int64_t invol, outvol; /* spatial positions of one input and one output plane */
} conv_geom;

static const dp_dtype float_only[] = {DP_FLOAT};

static dp_status conv_types(dp_kctx *k)
{
    dp_dtype t = k->in[0]->dtype;
    k->out[0]->dtype = t;
    dp_status st = nn_need_dtype(k, t, 1, float_only);
    for (int i = 1; st == DP_OK && i < k->n_in; i++)
        if (k->in[i] && k->in[i]->dtype != t)
            st = dp_kfail(k, DP_EINPUT, "input %d is %s, X is %s", i,
                          dp_dtype_name(k->in[i]->dtype), dp_dtype_name(t));
    if (st == DP_OK && (dp_in(k, 3) != NULL) != (dp_attr_int(k, "dp_residual", 0) != 0))
        st = dp_kfail(k, DP_EINPUT, "input 3 is a fused residual, given with dp_residual only");
    return st == DP_OK ? dp_fused_check(k) : st;
}
dp_status nn_Conv_types(dp_kctx *k) { return conv_types(k); }
dp_status nn_ConvTranspose_types(dp_kctx *k) { return conv_types(k); }

/* ConvTranspose's output sizes and paddings, which follow other rules than Conv's. */
static dp_status transpose_window(dp_kctx *k, const dp_tensor *x, const int64_t *kernel,
                                  nn_window *w)
{
    int nsp = x->rank - 2;
    int64_t s[NN_MAXSP], d[NN_MAXSP], op[NN_MAXSP], p[2 * NN_MAXSP];
    dp_status st = nn_attr_ints(k, "strides", nsp, 1, 1, s);
    if (st == DP_OK)
        st = nn_attr_ints(k, "dilations", nsp, 1, 1, d);
    if (st == DP_OK)
        st = nn_attr_ints(k, "output_padding", nsp, 0, 0, op);
    if (st == DP_OK)
        st = nn_attr_ints(k, "pads", 2 * nsp, 0, 0, p);
    if (st != DP_OK)
        return st;
    const int64_t *os;
    int n_os = dp_attr_ints(k, "output_shape", &os);
    /* output_shape may name the whole output (N, C, spatial) or only its spatial part */
    if (n_os == nsp + 2)
        os += 2;
    else if (n_os >= 0 && n_os != nsp)
        return dp_kfail(k, DP_EINPUT, "output_shape has %d values, expected %d", n_os, nsp);
    nn_pad_mode mode = NN_EXPLICIT;
    if ((st = nn_auto_pad(k, &mode)) != DP_OK)
        return st;

    nn_window_reset(w, nsp);
    for (int i = 0; i < nsp; i++) {
        int j = NN_MAXSP - nsp + i;
        if (kernel[i] < 1 || kernel[i] > NN_ATTR_MAX)
            return dp_kfail(k, DP_EINPUT, "kernel size %lld on spatial dimension %d is outside "
                            "[1, %d]", (long long)kernel[i], i, NN_ATTR_MAX);
        int64_t in = x->dims[2 + i], full;
        if (in < 1)
            return dp_kfail(k, DP_EINPUT, "X has size 0 on spatial dimension %d", i);
        /* the output before padding is removed: s * (in - 1) + output_padding + extent */
        if (dp_mul_i64(s[i], in - 1, &full) || full > DP_MAX_ELEMENTS)
            return dp_kfail(k, DP_EINPUT, "output size overflows on spatial dimension %d", i);
        full += op[i] + (kernel[i] - 1) * d[i] + 1;
        w->in[j] = in;
        w->k[j] = kernel[i];
        w->s[j] = s[i];
        w->d[j] = d[i];
        if (n_os >= 0 || mode == NN_SAME_UPPER || mode == NN_SAME_LOWER) {
            /* the padding that yields the requested size, SAME_UPPER putting the odd one
             * after; an output larger than the inputs reach is extended at the end, as
             * onnxruntime and the reference implementation do */
            if (n_os >= 0 && (os[i] < 0 || os[i] > DP_MAX_ELEMENTS))
                return dp_kfail(k, DP_EINPUT, "output_shape value %lld is out of range",
                                (long long)os[i]);
            w->out[j] = n_os >= 0 ? os[i] : in * s[i];
            int64_t total = full - w->out[j];
            w->pb[j] = total <= 0 ? 0 : mode == NN_SAME_UPPER ? total / 2 : total - total / 2;
            w->pe[j] = total - w->pb[j];
        } else {
            w->pb[j] = mode == NN_VALID ? 0 : p[i];
            w->pe[j] = mode == NN_VALID ? 0 : p[nsp + i];
            w->out[j] = full - w->pb[j] - w->pe[j];
            if (w->out[j] < 0)
                return dp_kfail(k, DP_EINPUT, "pads %lld + %lld exceed the output size %lld on "
                                "spatial dimension %d", (long long)w->pb[j],
                                (long long)w->pe[j], (long long)full, i);
        }
    }
    return DP_OK;
}

static dp_status conv_geometry(dp_kctx *k, bool transpose, conv_geom *g)
{
    const dp_tensor *x = k->in[0], *wt = k->in[1], *b = dp_in(k, 2);
    int nsp;
    dp_status st = nn_spatial_rank(k, x, "X", &nsp);
    if (st != DP_OK)
        return st;
    if (wt->rank != x->rank)
        return dp_kfail(k, DP_EINPUT, "W has rank %d, expected X's rank %d", wt->rank, x->rank);
    g->N = x->dims[0];
    g->C = x->dims[1];
    g->group = dp_attr_int(k, "group", 1);
    if (g->group < 1 || g->group > NN_ATTR_MAX)
        return dp_kfail(k, DP_EINPUT, "group %lld is outside [1, %d]", (long long)g->group,
                        NN_ATTR_MAX);
    if (g->C % g->group)
        return dp_kfail(k, DP_EINPUT, "group %lld does not divide X's %lld channels",
                        (long long)g->group, (long long)g->C);
    g->Cg = g->C / g->group;
    if (!transpose) {
        g->M = wt->dims[0];
        if (wt->dims[1] != g->Cg)
            return dp_kfail(k, DP_EINPUT, "W has %lld input channels, expected %lld (X's %lld "
                            "channels / group %lld)", (long long)wt->dims[1], (long long)g->Cg,
                            (long long)g->C, (long long)g->group);
        if (g->M % g->group)
            return dp_kfail(k, DP_EINPUT, "group %lld does not divide W's %lld output channels",
                            (long long)g->group, (long long)g->M);
        g->Mg = g->M / g->group;
    } else {
        if (wt->dims[0] != g->C)
            return dp_kfail(k, DP_EINPUT, "W's first dimension is %lld, expected X's %lld "
                            "channels", (long long)wt->dims[0], (long long)g->C);
        g->Mg = wt->dims[1];
        if (dp_mul_i64(g->Mg, g->group, &g->M) || g->M > DP_MAX_ELEMENTS)
            return dp_kfail(k, DP_EINPUT, "output channels overflow");
    }
    if (b && (b->rank != 1 || b->dims[0] != g->M))
        return dp_kfail(k, DP_EINPUT, "B must be 1-D with %lld elements (output channels)",
                        (long long)g->M);

    int64_t kernel[NN_MAXSP];
    const int64_t *ks;
    int n_ks = dp_attr_ints(k, "kernel_shape", &ks);
    if (n_ks >= 0 && n_ks != nsp)
        return dp_kfail(k, DP_EINPUT, "kernel_shape has %d values, expected %d", n_ks, nsp);
    for (int i = 0; i < nsp; i++) {
        kernel[i] = wt->dims[2 + i];
        if (n_ks >= 0 && ks[i] != kernel[i])
            return dp_kfail(k, DP_EINPUT, "kernel_shape[%d] is %lld but W's kernel is %lld", i,
                            (long long)ks[i], (long long)kernel[i]);
    }
    st = transpose ? transpose_window(k, x, kernel, &g->w)
                   : nn_window_init(k, x, kernel, false, &g->w);
    if (st != DP_OK)
        return st;
    g->taps = g->w.k[0] * g->w.k[1] * g->w.k[2];
    g->invol = g->w.in[0] * g->w.in[1] * g->w.in[2];
    /* ConvTranspose's attributes can ask for any output size */
    if (dp_mul_i64(g->w.out[0], g->w.out[1], &g->outvol) ||
        dp_mul_i64(g->outvol, g->w.out[2], &g->outvol) || g->outvol > DP_MAX_ELEMENTS)
        return dp_kfail(k, DP_EINPUT, "output is too large");
    return DP_OK;
}

static dp_status conv_infer(dp_kctx *k, bool transpose)
{
    conv_geom g;
    dp_status st = conv_geometry(k, transpose, &g);
    if (st != DP_OK)
        return st;
    dp_tensor *y = k->out[0];
    y->rank = k->in[0]->rank;
    y->dims[0] = g.N;
    y->dims[1] = g.M;
    for (int i = 0; i < g.w.nsp; i++)
        y->dims[2 + i] = g.w.out[NN_MAXSP - g.w.nsp + i];
    const dp_tensor *r = dp_in(k, 3);
    if (r && !dp_same_shape(r, y)) {
        char a[160], b[160];
        return dp_kfail(k, DP_EINPUT, "the fused residual is [%s], the output [%s]",
                        dp_shape_str(r, a, sizeof a), dp_shape_str(y, b, sizeof b));
    }
    return DP_OK;
}
dp_status nn_Conv_infer(dp_kctx *k) { return conv_infer(k, false); }
dp_status nn_ConvTranspose_infer(dp_kctx *k) { return conv_infer(k, true); }

static dp_status no_memory(dp_kctx *k, size_t bytes)
{
    return dp_kfail(k, DP_ENOMEM, "cannot allocate %zu bytes of scratch", bytes);
}

/* Output positions per im2col/col2im chunk for matrices of `rows` rows, a chunk's worth for
 * each of the parts its product splits into over threads. */
static int64_t chunk_size(int64_t rows, int64_t positions, int parts)
{
    int64_t n = rows > 0 ? CHUNK_FLOATS / rows : positions;
    if (n < MIN_CHUNK)
        n = MIN_CHUNK;
    n *= parts;
    return n < positions ? n : positions;
}

/*
 * Columns j0..j0+nj (output positions) of the im2col matrix of one group's input x
 * (Cg planes): row (c, t0, t1, t2) holds the input element tap t meets at each position,
 * or 0 in the padding.
 */
static void im2col(const nn_window *w, const float *x, int64_t Cg, int64_t j0, int64_t nj,
                   float *col)
{
    int64_t invol = w->in[0] * w->in[1] * w->in[2];
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t t0 = 0; t0 < w->k[0]; t0++)
            for (int64_t t1 = 0; t1 < w->k[1]; t1++)
                for (int64_t t2 = 0; t2 < w->k[2]; t2++, col += nj) {
                    int64_t off0 = t0 * w->d[0] - w->pb[0], off1 = t1 * w->d[1] - w->pb[1];
                    int64_t off2 = t2 * w->d[2] - w->pb[2], s2 = w->s[2], lo, hi;
                    nn_range(off2, s2, w->in[2], w->out[2], &lo, &hi);
                    const float *xc = x + c * invol;
                    /* runs of positions along the innermost output row */
                    for (int64_t j = j0; j < j0 + nj;) {
                        int64_t row = j / w->out[2], a = j - row * w->out[2];
                        int64_t n = w->out[2] - a < j0 + nj - j ? w->out[2] - a : j0 + nj - j;
                        int64_t i0 = row / w->out[1] * w->s[0] + off0;
                        int64_t i1 = row % w->out[1] * w->s[1] + off1;
                        /* dst[o - a] is output position o of this row */
                        float *dst = col + (j - j0);
                        if (i0 < 0 || i0 >= w->in[0] || i1 < 0 || i1 >= w->in[1]) {
                            for (int64_t o = 0; o < n; o++)
                                dst[o] = 0;
                        } else {
                            const float *src = xc + (i0 * w->in[1] + i1) * w->in[2];
                            int64_t l = lo < a ? a : lo > a + n ? a + n : lo;
                            int64_t h = hi > a + n ? a + n : hi < l ? l : hi;
                            for (int64_t o = a; o < l; o++)
                                dst[o - a] = 0;
                            if (s2 == 1)
                                memcpy(dst + (l - a), src + (l + off2),
                                       (size_t)(h - l) * sizeof(float));
                            else
                                for (int64_t o = l; o < h; o++)
                                    dst[o - a] = src[o * s2 + off2];
                            for (int64_t o = h; o < a + n; o++)
                                dst[o - a] = 0;
                        }
                        j += n;
                    }
                }
}

/*
 * The 2-D windows whose im2col reads whole shifted planes, by their stride: 1 where the
 * padding keeps the output the input's size (ResNet's 3x3 convolutions), 2 where the input's
 * sides are even and the output's are half of them (its downsampling convolutions and its
 * 7x7 stem), whose taps read one of the input's quarter planes (dp_split_by_parity) shifted;
 * 0 for any other window.
 */
static int shifted_stride(const nn_window *w)
{
    bool ok = w->in[0] == 1 && w->k[0] == 1 && w->pb[0] == 0 && w->pe[0] == 0;
    int s = w->s[1];
    for (int j = 1; j < NN_MAXSP; j++)
        ok = ok && w->s[j] == s && w->d[j] == 1 && w->pb[j] >= 0 && w->pe[j] >= 0 &&
             (s == 1 ? w->out[j] == w->in[j]
                     : s == 2 && w->in[j] % 2 == 0 && w->out[j] == w->in[j] / 2);
    return ok ? s : 0;
}

/*
 * im2col for windows of shifted_stride s: row (c, ty, tx) is a plane the output's size (the
 * input's channel c for stride 1, one of its quarters for stride 2) shifted by dy rows and
 * dx columns, copied as one flat run over the output positions j0..j0+nj instead of a short
 * copy and two zero fills per output row. Where the source row lies outside the plane the
 * row is zero; where the source column does (col[j] + dx outside the row), the flat read
 * lands in a neighbouring row and is selected away. planes: each channel's plane, or its
 * four quarters; col: each output position's column.
 */
DP_MULTI_TARGET
static void im2col_shifted(const nn_window *w, int s, const float *planes, int64_t Cg,
                           int64_t j0, int64_t nj, const int32_t *col, float *dst)
{
    int64_t W = w->out[2], n = w->out[1] * W, j1 = j0 + nj;
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t ty = 0; ty < w->k[1]; ty++)
            for (int64_t tx = 0; tx < w->k[2]; tx++, dst += nj) {
                /* input row s i + ty - pb: for stride 2, quarter row i + dy of parity dy & 1 */
                int64_t dy = ty - w->pb[1], dx = tx - w->pb[2];
                const float *plane = planes + c * s * s * n;
                if (s == 2) {
                    plane += ((dy & 1) * 2 + (dx & 1)) * n;
                    dy = (dy - (dy & 1)) / 2;
                    dx = (dx - (dx & 1)) / 2;
                }
                int64_t shift = dy * W + dx;
                /* positions whose source row exists and whose flat read stays in the plane */
                int64_t lo = dy < 0 ? -dy * W : 0, hi = dy > 0 ? n - dy * W : n;
                lo = lo > -shift ? lo : -shift;
                hi = hi < n - shift ? hi : n - shift;
                lo = lo < j0 ? j0 : lo > j1 ? j1 : lo;
                hi = hi > j1 ? j1 : hi < lo ? lo : hi;
                const float *restrict src = plane + shift;
                float *restrict out = dst;
                for (int64_t j = j0; j < lo; j++)
                    out[j - j0] = 0;
                for (int64_t j = lo; j < hi; j++) {
                    int64_t from = col[j] + dx;
                    out[j - j0] = from >= 0 && from < W ? src[j] : 0.0f;
                }
                for (int64_t j = hi; j < j1; j++)
                    out[j - j0] = 0;
            }
}

/* yrow[o] += wv * xrow[o * s + off] for o in [lo, hi): one kernel tap along an output row. */
static inline void tap_row(float *restrict yrow, const float *restrict xrow, float wv,
                           int64_t s, int64_t off, int64_t lo, int64_t hi)
{
    if (s == 1)
        for (int64_t o = lo; o < hi; o++)
            yrow[o] += wv * xrow[o + off];
    else
        for (int64_t o = lo; o < hi; o++)
            yrow[o] += wv * xrow[o * s + off];
}

/*
 * Output columns [lo, hi) of one row of a 3x3, dilation-1 kernel whose nine taps all fall
 * inside the input rows x0..x2: one pass instead of nine, the common depthwise case.
 */
static inline void row3x3(float *restrict y, const float *restrict x0,
                          const float *restrict x1, const float *restrict x2,
                          const float *wk, float bias, int64_t s, int64_t off, int64_t lo,
                          int64_t hi)
{
    float w0 = wk[0], w1 = wk[1], w2 = wk[2], w3 = wk[3], w4 = wk[4], w5 = wk[5], w6 = wk[6],
          w7 = wk[7], w8 = wk[8];
    if (s == 1)
        for (int64_t o = lo; o < hi; o++) {
            int64_t i = o + off;
            y[o] = w0 * x0[i] + w1 * x0[i + 1] + w2 * x0[i + 2] + w3 * x1[i] + w4 * x1[i + 1] +
                   w5 * x1[i + 2] + w6 * x2[i] + w7 * x2[i + 1] + w8 * x2[i + 2] + bias;
        }
    else
        for (int64_t o = lo; o < hi; o++) {
            int64_t i = o * s + off;
            y[o] = w0 * x0[i] + w1 * x0[i + 1] + w2 * x0[i + 2] + w3 * x1[i] + w4 * x1[i + 1] +
                   w5 * x1[i + 2] + w6 * x2[i] + w7 * x2[i + 1] + w8 * x2[i + 2] + bias;
        }
}

/* row3x3's columns [lo, hi) where some taps fall outside the input row of n elements. */
static void edge3x3(float *y, const float *x0, const float *x1, const float *x2,
                    const float *wk, float bias, int64_t s, int64_t off, int64_t n, int64_t lo,
                    int64_t hi)
{
    for (int64_t o = lo; o < hi; o++) {
        float sum = 0;
        for (int t = 0; t < 9; t++) {
            int64_t i = o * s + off + t % 3;
            if (i >= 0 && i < n)
                sum += wk[t] * (t < 3 ? x0 : t < 6 ? x1 : x2)[i];
        }
        y[o] = sum + bias;
    }
}

/*
 * Output channels that each read one input channel, a row of outputs at a time: tap by tap
 * over the row in general; 3x3 rows that lie inside the input in one pass, with only their
 * edge columns summed tap by tap. span: 2 * k[2] entries, the output columns
 * [span[2t], span[2t+1]) tap t reaches.
 */
DP_MULTI_TARGET
static void conv_direct(const conv_geom *g, const float *x, const float *wt, const float *b,
                        float *y, int64_t *span)
{
    const nn_window *w = &g->w;
    for (int64_t t2 = 0; t2 < w->k[2]; t2++)
        nn_range(t2 * w->d[2] - w->pb[2], w->s[2], w->in[2], w->out[2], &span[2 * t2],
                 &span[2 * t2 + 1]);
    bool k3x3 = w->k[0] == 1 && w->k[1] == 3 && w->k[2] == 3 && w->d[1] == 1 && w->d[2] == 1;
    /* columns every tap of a 3x3 row reaches */
    int64_t clo = 0, chi = 0;
    if (k3x3) {
        clo = span[0] > span[4] ? span[0] : span[4];
        chi = span[5] < span[1] ? span[5] : span[1];
        chi = chi > clo ? chi : clo;
    }
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t m = 0; m < g->M; m++) {
            const float *xp = x + (n * g->C + m / g->Mg) * g->invol, *wm = wt + m * g->taps;
            float *yp = y + (n * g->M + m) * g->outvol;
            float bias = b ? b[m] : 0;
            for (int64_t o0 = 0; o0 < w->out[0]; o0++)
                for (int64_t o1 = 0; o1 < w->out[1]; o1++) {
                    float *yrow = yp + (o0 * w->out[1] + o1) * w->out[2];
                    int64_t a0, b0, a1, b1;
                    int64_t start0 = o0 * w->s[0] - w->pb[0], start1 = o1 * w->s[1] - w->pb[1];
                    nn_range(start0, w->d[0], w->in[0], w->k[0], &a0, &b0);
                    nn_range(start1, w->d[1], w->in[1], w->k[1], &a1, &b1);
                    if (k3x3 && b0 - a0 == 1 && b1 - a1 == 3) {
                        const float *x0 = xp + (start0 * w->in[1] + start1) * w->in[2];
                        const float *x1 = x0 + w->in[2], *x2 = x1 + w->in[2];
                        int64_t s = w->s[2], off = -w->pb[2];
                        row3x3(yrow, x0, x1, x2, wm, bias, s, off, clo, chi);
                        edge3x3(yrow, x0, x1, x2, wm, bias, s, off, w->in[2], 0, clo);
                        edge3x3(yrow, x0, x1, x2, wm, bias, s, off, w->in[2], chi, w->out[2]);
                        continue;
                    }
                    for (int64_t o = 0; o < w->out[2]; o++)
                        yrow[o] = 0;
                    for (int64_t t0 = a0; t0 < b0; t0++)
                        for (int64_t t1 = a1; t1 < b1; t1++) {
                            const float *xrow = xp + ((start0 + t0 * w->d[0]) * w->in[1] +
                                                      start1 + t1 * w->d[1]) * w->in[2];
                            const float *wr = wm + (t0 * w->k[1] + t1) * w->k[2];
                            for (int64_t t2 = 0; t2 < w->k[2]; t2++)
                                tap_row(yrow, xrow, wr[t2], w->s[2],
                                        t2 * w->d[2] - w->pb[2], span[2 * t2],
                                        span[2 * t2 + 1]);
                        }
                    for (int64_t o = 0; o < w->out[2]; o++)
                        yrow[o] += bias;
                }
        }
}

/* A 3x3 window padded by 1 on every side: with shifted_stride 1 (the output plane the input's
 * size, every tap a shift of the whole plane) or 2 (MobileNet's downsampling over an even
 * input, the output half of it each way), its depthwise convolution runs on whole planes. */
static bool padded_3x3(const nn_window *w)
{
    bool ok = true;
    for (int j = 1; j < NN_MAXSP; j++)
        ok = ok && w->k[j] == 3 && w->pb[j] == 1 && w->pe[j] == 1;
    return ok;
}

#ifdef DP_CONV_AVX512
/* plane_3x3_avx512 numbers an output plane's positions in 32-bit lanes */
#define PLANES_AVX512_MAX (INT32_MAX - 64)

/*
 * A padded_3x3 window's taps over output planes of n positions, for plane_3x3_avx512: each
 * tap's run in a plane of stride `stride`'s source (the input plane, or its quarters), the
 * first position every run holds and the end of the shortest, and the column flags. The
 * runs leave out the positions whose flat read would fall outside the source (stride 1: the
 * first tap at the second row's first column, the last at the last but one row's last
 * column), where the flat runs add a 0 selected by the flags: leaving a sum from +0 as it
 * is, which is never -0, gives the same bits.
 */
typedef struct planes_taps {
    dp_tap_run run[9];
    int64_t off[9];
    int64_t n, lo, hi;
    const int32_t *left, *right; /* right: NULL for stride 2, whose taps never read past */
} planes_taps;

static planes_taps planes_taps_for(int stride, int64_t W, int64_t n, const int32_t *left,
                                   const int32_t *right)
{
    planes_taps pt = {.n = n, .lo = 0, .hi = n, .left = left, .right = right};
    int64_t extent = stride == 2 ? 4 * n : n;
    for (int t = 0; t < 9; t++) {
        dp_tap_run *r = &pt.run[t];
        *r = dp_padded_3x3_tap(stride, t, W, n);
        pt.off[t] = r->quarter * n + r->shift;
        r->lo = r->lo > -pt.off[t] ? r->lo : -pt.off[t];
        r->hi = r->hi < extent - pt.off[t] ? r->hi : extent - pt.off[t];
        pt.lo = r->lo > pt.lo ? r->lo : pt.lo;
        pt.hi = r->hi < pt.hi ? r->hi : pt.hi;
    }
    return pt;
}

/* Output lanes p0.. not flagged as a row's first (left) and last (right) column. */
__attribute__((target("avx512f"), always_inline))
static inline void planes_edges(const planes_taps *pt, int64_t p0, __mmask16 live,
                                __mmask16 *not_left, __mmask16 *not_right)
{
    __m512i zero = _mm512_setzero_si512();
    *not_left = _mm512_mask_cmpneq_epi32_mask(
        live, _mm512_maskz_loadu_epi32(live, pt->left + p0), zero);
    *not_right = pt->right ? _mm512_mask_cmpneq_epi32_mask(
                                 live, _mm512_maskz_loadu_epi32(live, pt->right + p0), zero)
                           : 0;
}

/*
 * One depthwise plane yp from its source src (the input plane for stride 1, its quarters
 * for stride 2) as conv_planes_3x3 and conv_halves_3x3 compute it, with the nine taps of each
 * output summed in a register, then the epilogue: one store per output where the flat runs
 * read and wrote the plane once per tap (a 112 x 112 plane does not fit L1). Each lane adds
 * the terms the runs would have added to its output, in the same order (masked adds leave
 * the others), and the same epilogue as dp_sgemm_finish, bias always added: the same bits.
 * Where every run holds them, four vectors go together, as each output's nine adds are one
 * chain of dependent ones.
 */
__attribute__((target("avx512f")))
static void plane_3x3_avx512(const planes_taps *pt, const float *wm, const float *src,
                             float bias_value, const float *res, float lo, float hi, float *yp)
{
    enum { GROUP = 4 };
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                                           15);
    __m512 floor = _mm512_set1_ps(lo), ceiling = _mm512_set1_ps(hi);
    __m512 bias = _mm512_set1_ps(bias_value), w[9];
    for (int t = 0; t < 9; t++)
        w[t] = _mm512_set1_ps(wm[t]);
    int64_t n = pt->n;
    for (int64_t p0 = 0; p0 < n;) {
        __m512 acc[GROUP];
        __mmask16 live[GROUP];
        int vecs;
        if (p0 >= pt->lo && p0 + 16 * GROUP <= pt->hi) {
            __mmask16 not_left[GROUP], not_right[GROUP];
            vecs = GROUP;
            for (int v = 0; v < GROUP; v++) {
                live[v] = 0xFFFF;
                acc[v] = _mm512_setzero_ps();
                planes_edges(pt, p0 + 16 * v, live[v], &not_left[v], &not_right[v]);
            }
            for (int t = 0; t < 9; t++)
                for (int v = 0; v < GROUP; v++) {
                    __m512 term =
                        _mm512_mul_ps(w[t], _mm512_loadu_ps(src + pt->off[t] + p0 + 16 * v));
                    if (pt->run[t].edge)
                        term = _mm512_maskz_mov_ps(pt->run[t].edge < 0 ? not_left[v]
                                                                      : not_right[v],
                                                   term);
                    acc[v] = _mm512_add_ps(acc[v], term);
                }
        } else {
            __mmask16 not_left, not_right;
            vecs = 1;
            live[0] = n - p0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - p0)) - 1);
            acc[0] = _mm512_setzero_ps();
            planes_edges(pt, p0, live[0], &not_left, &not_right);
            __m512i p = _mm512_add_epi32(_mm512_set1_epi32((int32_t)p0), lane);
            for (int t = 0; t < 9; t++) {
                /* the lanes inside the tap's run: its reads stay inside the source */
                __mmask16 in =
                    live[0] &
                    _mm512_cmpge_epi32_mask(p, _mm512_set1_epi32((int32_t)pt->run[t].lo)) &
                    _mm512_cmplt_epi32_mask(p, _mm512_set1_epi32((int32_t)pt->run[t].hi));
                __m512 term =
                    _mm512_mul_ps(w[t], _mm512_maskz_loadu_ps(in, src + pt->off[t] + p0));
                if (pt->run[t].edge)
                    term = _mm512_maskz_mov_ps(pt->run[t].edge < 0 ? not_left : not_right,
                                               term);
                acc[0] = _mm512_mask_add_ps(acc[0], in, acc[0], term);
            }
        }
        for (int v = 0; v < vecs; v++, p0 += 16) {
            __m512 out = _mm512_add_ps(acc[v], bias);
            if (res)
                out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(live[v], res + p0));
            /* max(a, b) is a > b ? a : b: v < lo ? lo : v, then v > hi ? hi : v */
            out = _mm512_min_ps(ceiling, _mm512_max_ps(floor, out));
            _mm512_mask_storeu_ps(yp + p0, live[v], out);
        }
    }
}

/* conv_planes_3x3 (stride 1) or conv_halves_3x3 (stride 2, each input plane split into its
 * quarters in scratch first) on planes c0..c1 by plane_3x3_avx512. */
__attribute__((target("avx512f")))
static void conv_planes_avx512(const conv_geom *g, int s, const float *x, const float *wt,
                               const float *b, const dp_sgemm_epilogue *ep, float *y,
                               const int32_t *edges, float *scratch, int64_t c0, int64_t c1)
{
    int64_t n = g->outvol;
    planes_taps pt = planes_taps_for(s, g->w.out[2], n, edges, s == 1 ? edges + n : NULL);
    for (int64_t c = c0; c < c1; c++) {
        int64_t m = c % g->M;
        const float *xp = x + (c / g->M * g->C + m / g->Mg) * g->invol;
        if (s == 2) {
            dp_split_by_parity(xp, g->w.in[1], g->w.in[2], scratch);
            xp = scratch;
        }
        plane_3x3_avx512(&pt, wt + m * 9, xp, b ? b[m] : 0,
                         ep->residual ? ep->residual + c * ep->ldr : NULL, ep->lo, ep->hi,
                         y + c * n);
    }
}
#endif

/*
 * conv_direct for padded_3x3 windows of stride 1, a plane at a time: tap by tap over the whole
 * plane as one flat run, which vectorises however narrow its rows (MobileNet's 7 and 14 wide
 * ones run mostly scalar a row at a time). Taps one column left or right reach past a row's
 * edge into the next row; left[p] and right[p] (0 there, 1 elsewhere) select those terms away,
 * since the value read may be anything, even NaN. The sum runs in the same tap order as
 * conv_direct's, so the results are the same. edges: left, then right, a plane each.
 */

DP_MULTI_TARGET
static void conv_planes_3x3(const conv_geom *g, const float *x, const float *wt, const float *b,
                            const dp_sgemm_epilogue *ep, float *y, const int32_t *edges,
                            int64_t c0, int64_t c1)
{
    int64_t W = g->w.out[2], n = g->outvol;
    const int32_t *left = edges, *right = edges + n;
    for (int64_t c = c0; c < c1; c++) {
        int64_t m = c % g->M;
        const float *xp = x + (c / g->M * g->C + m / g->Mg) * n, *wm = wt + m * 9;
        float *restrict yp = y + c * n;
        /* tap 0 (up and left) stores 0 plus its term from the second row on, the sum
         * starting from 0 without a pass that zeroes the plane first */
        for (int64_t p = 0; p < W; p++)
            yp[p] = 0;
        for (int t = 0; t < 9; t++) {
            dp_tap_run r = dp_padded_3x3_tap(1, t, W, n);
            int64_t lo = r.lo, hi = r.hi;
            const float *restrict xs = xp + r.shift;
            const int32_t *restrict keep = r.edge < 0 ? left : right;
            float wv = wm[t];
            if (r.edge == 0)
                for (int64_t p = lo; p < hi; p++)
                    yp[p] += wv * xs[p];
            else if (t == 0)
                for (int64_t p = lo; p < hi; p++)
                    yp[p] = 0.0f + (keep[p] ? wv * xs[p] : 0.0f);
            else
                for (int64_t p = lo; p < hi; p++)
                    yp[p] += keep[p] ? wv * xs[p] : 0.0f;
        }
        float bias = b ? b[m] : 0;
        dp_sgemm_epilogue plane = dp_sgemm_epilogue_at(ep, c, 0);
        plane.row_bias = &bias;
        dp_sgemm_finish(1, n, yp, n, &plane);
    }
}

/*
 * conv_direct for padded_3x3 windows of stride 2, a plane at a time. Each input plane is first
 * split by the parity of its rows and columns into four quarter planes the output's size;
 * output (i, j) then reads quarter (row parity, column parity) at (i, j), (i - 1, j) or
 * (i, j - 1), so every tap is one flat run over the output plane, as in conv_planes_3x3,
 * instead of stride-2 loads along short rows. Taps one row up or one column left of the first
 * row or column fall in the padding: left[p] (0 in the first column) selects those away, and
 * the first row is skipped. The same tap order as conv_direct's, so the same sums.
 * left: an output plane's ints; scratch: the input plane's size in floats.
 */
DP_MULTI_TARGET
static void conv_halves_3x3(const conv_geom *g, const float *x, const float *wt, const float *b,
                            const dp_sgemm_epilogue *ep, float *y, const int32_t *left,
                            float *scratch, int64_t c0, int64_t c1)
{
    int64_t H = g->w.in[1], W = g->w.in[2], Wo = W / 2, n = H / 2 * Wo;
    for (int64_t c = c0; c < c1; c++) {
        int64_t m = c % g->M;
        const float *xp = x + (c / g->M * g->C + m / g->Mg) * H * W, *wm = wt + m * 9;
        float *restrict yp = y + c * n;
        dp_split_by_parity(xp, H, W, scratch);
        /* tap 0 (up and left) stores 0 plus its term past the first row and column, the
         * sum starting from 0 without a pass that zeroes the plane first */
        for (int64_t p = 0; p <= Wo; p++)
            yp[p] = 0;
        for (int t = 0; t < 9; t++) {
            dp_tap_run r = dp_padded_3x3_tap(2, t, Wo, n);
            const float *restrict q = scratch + r.quarter * n + r.shift;
            int64_t lo = r.lo;
            float wv = wm[t];
            if (t == 0)
                for (int64_t p = lo; p < n; p++)
                    yp[p] = 0.0f + (left[p] ? wv * q[p] : 0.0f);
            else if (r.edge < 0)
                for (int64_t p = lo; p < n; p++)
                    yp[p] += left[p] ? wv * q[p] : 0.0f;
            else
                for (int64_t p = lo; p < n; p++)
                    yp[p] += wv * q[p];
        }
        float bias = b ? b[m] : 0;
        dp_sgemm_epilogue plane = dp_sgemm_epilogue_at(ep, c, 0);
        plane.row_bias = &bias;
        dp_sgemm_finish(1, n, yp, n, &plane);
    }
}

/* Planes c0..c1 (image-major) of a depthwise convolution on padded_3x3 windows: one part of
 * it split over threads. Each plane is one output channel of one image, computed alone, so
 * the split changes no result. */
typedef struct plane_part {
    const conv_geom *g;
    const float *x, *wt, *b;
    const dp_sgemm_epilogue *ep;
    float *y;
    int stride;           /* shifted_stride: 1 or 2 */
    const int32_t *edges; /* conv_planes_3x3's, or conv_halves_3x3's left */
    float *scratch;       /* stride 2: this part's quarter planes */
    int64_t c0, c1;
} plane_part;

static void run_planes(void *ctx, int i)
{
    const plane_part *t = (const plane_part *)ctx + i;
#ifdef DP_CONV_AVX512
    if (__builtin_cpu_supports("avx512f") && t->g->outvol < PLANES_AVX512_MAX) {
        conv_planes_avx512(t->g, t->stride, t->x, t->wt, t->b, t->ep, t->y, t->edges,
                           t->scratch, t->c0, t->c1);
        return;
    }
#endif
    if (t->stride == 1)
        conv_planes_3x3(t->g, t->x, t->wt, t->b, t->ep, t->y, t->edges, t->c0, t->c1);
    else
        conv_halves_3x3(t->g, t->x, t->wt, t->b, t->ep, t->y, t->edges, t->scratch, t->c0,
                        t->c1);
}

/* The output plane's column flags for padded_3x3 windows of shifted_stride s
 * (dp_column_edges): left, then for stride 1 right. Made once for all of a layer's planes:
 * made per plane in the core's scratch, they took 7% of MobileNetV2's noisy run. */
static dp_status plane_edges(dp_kctx *k, const conv_geom *g, int s, int32_t **edges)
{
    int64_t n = g->outvol;
    size_t bytes = (size_t)(s == 1 ? 2 : 1) * (size_t)n * sizeof(int32_t);
    if (!(*edges = dp_scratch_raw(k, bytes)))
        return no_memory(k, bytes);
    dp_column_edges(g->w.out[2], 0, n, *edges, s == 1 ? *edges + n : NULL);
    return DP_OK;
}

/* The depthwise convolution on padded_3x3 windows of shifted_stride s, its planes over
 * k->parallel's threads. */
static dp_status depthwise_planes(dp_kctx *k, const conv_geom *g, int s, const float *x,
                                  const float *wt, const float *b, const dp_sgemm_epilogue *ep,
                                  float *y)
{
    /* a multiply-add here costs about what DEPTHWISE_COST do in a matrix product's kernel
     * (MobileNetV2's depthwise layers run at ~8 GMAC/s, its products at ~75), which is what
     * the threshold for splitting counts in */
    enum { DEPTHWISE_COST = 8 };
    int64_t planes = g->N * g->M, n = g->outvol, bounds[DP_MAX_PARTS + 1], widest;
    int parts = dp_parallel_split(k->parallel, 9.0 * DEPTHWISE_COST * (double)planes * (double)n,
                                  planes, 1, bounds, &widest);
    size_t quarter_bytes = s == 2 ? (size_t)g->invol * sizeof(float) : 0;
    int32_t *edges;
    dp_status st = plane_edges(k, g, s, &edges);
    if (st != DP_OK)
        return st;
    float *quarters = quarter_bytes ? dp_scratch_raw(k, quarter_bytes * (size_t)parts) : NULL;
    if (quarter_bytes && !quarters)
        return no_memory(k, quarter_bytes * (size_t)parts);
    plane_part part[DP_MAX_PARTS];
    for (int i = 0; i < parts; i++)
        part[i] = (plane_part){.g = g, .x = x, .wt = wt, .b = b, .ep = ep, .y = y, .stride = s,
                               .edges = edges,
                               .scratch = quarters ? quarters + (size_t)i * (size_t)g->invol
                                                   : NULL,
                               .c0 = bounds[i], .c1 = bounds[i + 1]};
    if (parts > 1)
        k->parallel->run(k->parallel, parts, run_planes, part);
    else
        run_planes(part, 0);
    return DP_OK;
}

/*
 * The depthwise convolution on padded_3x3 windows of shifted_stride s on the analog core,
 * a plane at a time straight from the input (dp_product.planes): the core quantises each
 * input element once, where the im2col matrix would repeat it for every tap.
 */
static dp_status depthwise_analog(dp_kctx *k, const conv_geom *g, int s, const float *x,
                                  const float *wt, const float *b, const dp_sgemm_epilogue *ep,
                                  float *y)
{
    int64_t n = g->outvol;
    int32_t *edges;
    dp_status st = plane_edges(k, g, s, &edges);
    if (st != DP_OK)
        return st;
    for (int64_t c = 0; c < g->N * g->M; c++) {
        int64_t m = c % g->M;
        dp_analog_planes in = {.x = x + (c / g->M * g->C + m) * g->invol, .H = g->w.in[1],
                               .W = g->w.in[2], .stride = s, .left = edges,
                               .right = s == 1 ? edges + n : NULL};
        dp_sgemm_epilogue plane = dp_sgemm_epilogue_at(ep, c, 0);
        plane.row_bias = b ? b + m : NULL;
        dp_product pr = {.M = 1, .N = g->outvol, .K = 9, .alpha = 1, .A = wt + m * 9,
                         .lda = 9, .C = y + c * g->outvol, .ldc = g->outvol,
                         .weights_in_a = true, .weights_fixed = true, .channel0 = m,
                         .vector0 = c / g->M * g->outvol, .epilogue = &plane, .planes = &in};
        if ((st = dp_kernel_product(k, &pr)) != DP_OK)
            return st;
    }
    return DP_OK;
}

/* One step of a chunk of Winograd's convolution, on a range of its channels or points. */
typedef struct winograd_part {
    const dp_winograd *g;
    int step; /* 0: transform the input, 1: the products, 2: the outputs */
    const float *x, *u;
    float *v, *p, *y;
    const dp_sgemm_epilogue *ep;
    int64_t t0, nt, lo, hi;
    void *scratch;
} winograd_part;

static void run_winograd(void *ctx, int i)
{
    const winograd_part *t = (const winograd_part *)ctx + i;
    if (t->step == 0)
        dp_winograd_input(t->g, t->x, t->t0, t->nt, t->lo, t->hi, t->v);
    else if (t->step == 1)
        dp_winograd_products(t->g, t->u, t->v, t->nt, (int)t->lo, (int)t->hi, t->p, t->scratch);
    else
        dp_winograd_output(t->g, t->p, t->t0, t->nt, t->lo, t->hi, t->ep, t->y);
}

/*
 * The filters transformed for Winograd's F(2x2, 3x3) (winograd.h) where it takes this
 * convolution, else NULL: noise-free, one group, padded_3x3 windows of stride 1, and the
 * filters the program's constants (transformed once per session). Fewer than 16 channels
 * either way leave too little to save to pay for the transforms.
 */
static const float *winograd_weights(dp_kctx *k, const conv_geom *g, const float *wt)
{
    enum { MIN_CHANNELS = 16 };
    if (k->analog || !k->panels || g->group != 1 || !padded_3x3(&g->w) ||
        shifted_stride(&g->w) != 1 || g->C < MIN_CHANNELS || g->M < MIN_CHANNELS)
        return NULL;
    return dp_weight_panels_winograd(k->panels, g->M, g->C, wt);
}

/* The convolution by Winograd's F(2x2, 3x3) with the transformed filters u, a chunk of tiles
 * at a time, each step split over k->parallel's threads. */
static dp_status winograd_conv(dp_kctx *k, const conv_geom *cg, const float *x, const float *u,
                               const dp_sgemm_epilogue *ep, float *y)
{
    dp_winograd g = dp_winograd_plan(cg->C, cg->M, cg->w.in[1], cg->w.in[2]);
    double macs = (double)DP_WINOGRAD_POINTS * (double)(g.M * g.C * g.chunk);
    int64_t bounds[DP_MAX_PARTS + 1], widest;
    int most = dp_parallel_split(k->parallel, macs, DP_WINOGRAD_POINTS, 1, bounds, &widest);
    size_t each = (dp_sgemm_scratch_size(g.M, g.chunk, g.C) + 63) / 64 * 64;
    size_t v_bytes = dp_winograd_input_floats(&g) * sizeof(float);
    size_t p_bytes = dp_winograd_product_floats(&g) * sizeof(float);
    /* each written in full before it is read */
    float *v = dp_scratch_raw(k, v_bytes), *p = dp_scratch_raw(k, p_bytes);
    char *scratch = dp_scratch_raw(k, each * (size_t)most);
    if (!v || !p || !scratch)
        return no_memory(k, v_bytes + p_bytes + each * (size_t)most);
    winograd_part part[DP_MAX_PARTS];
    for (int64_t n = 0; n < cg->N; n++) {
        dp_sgemm_epilogue image = *ep;
        if (image.residual)
            image.residual += n * g.M * cg->outvol;
        for (int64_t t0 = 0; t0 < g.tiles; t0 += g.chunk) {
            int64_t nt = g.tiles - t0 < g.chunk ? g.tiles - t0 : g.chunk;
            for (int step = 0; step < 3; step++) {
                int64_t items = step == 0 ? g.C : step == 1 ? DP_WINOGRAD_POINTS : g.M;
                int parts = dp_parallel_split(k->parallel, macs, items, 1, bounds, &widest);
                for (int i = 0; i < parts; i++)
                    part[i] = (winograd_part){.g = &g, .step = step,
                                              .x = x + n * g.C * cg->invol, .u = u, .v = v,
                                              .p = p, .y = y + n * g.M * cg->outvol,
                                              .ep = &image, .t0 = t0, .nt = nt,
                                              .lo = bounds[i], .hi = bounds[i + 1],
                                              .scratch = scratch + each * (size_t)i};
                if (parts > 1)
                    k->parallel->run(k->parallel, parts, run_winograd, part);
                else
                    run_winograd(part, 0);
            }
        }
    }
    return DP_OK;
}

dp_status nn_Conv_run(dp_kctx *k)
{
    conv_geom g;
    dp_status st = conv_geometry(k, false, &g);
    if (st != DP_OK)
        return st;
    const float *x = k->in[0]->data, *wt = k->in[1]->data;
    const float *b = dp_in(k, 2) ? dp_in(k, 2)->data : NULL;
    float *y = k->out[0]->data;
    if (g.N == 0 || g.M == 0 || g.outvol == 0)
        return DP_OK;
    /* the bias, a fused residual and an activation that clamps go with the last pass over
     * each output; the residual is laid out as the output */
    const float *res = dp_in(k, 3) ? dp_in(k, 3)->data : NULL;
    dp_sgemm_epilogue ep = {.ldr = g.outvol};
    bool clamp = dp_fused_clamp(k, &ep.lo, &ep.hi);
    bool bounded = ep.lo > -INFINITY || ep.hi < INFINITY, finish = b || res || bounded;
    int planar = padded_3x3(&g.w) ? shifted_stride(&g.w) : 0;
    if (g.Cg == 1 && g.Mg == 1 && planar && k->analog && k->analog->takes_planes) {
        ep.residual = res;
        if ((st = depthwise_analog(k, &g, planar, x, wt, b, &ep, y)) != DP_OK)
            return st;
        return clamp ? DP_OK : dp_fused_activate(k, k->out[0]);
    }
    /* the direct depthwise loop multiplies in fp32: on the core it is a product like any */
    if (g.Cg == 1 && !k->analog) {
        ep.residual = res;
        if (planar) {
            if ((st = depthwise_planes(k, &g, planar, x, wt, b, &ep, y)) != DP_OK)
                return st;
        } else {
            size_t bytes = 2 * (size_t)g.w.k[2] * sizeof(int64_t);
            int64_t *span = dp_scratch(k, bytes);
            if (!span)
                return no_memory(k, bytes);
            conv_direct(&g, x, wt, b, y, span);
            int64_t all = dp_numel(k->out[0]);
            if (res || bounded)
                dp_sgemm_finish(1, all, y, all, &ep);
        }
        return clamp ? DP_OK : dp_fused_activate(k, k->out[0]);
    }
    const float *u = winograd_weights(k, &g, wt);
    if (u) {
        ep.row_bias = b;
        ep.residual = res;
        if ((st = winograd_conv(k, &g, x, u, &ep, y)) != DP_OK)
            return st;
        return clamp ? DP_OK : dp_fused_activate(k, k->out[0]);
    }
    const nn_window *w = &g.w;
    bool pointwise = true;
    for (int j = 0; j < NN_MAXSP; j++)
        pointwise = pointwise && w->k[j] == 1 && w->s[j] == 1 && w->pb[j] == 0 && w->pe[j] == 0;
    int64_t K = g.Cg * g.taps;
    int64_t nj = pointwise ? g.outvol
                           : chunk_size(K, g.outvol, k->parallel ? k->parallel->threads : 1);
    int shifted = pointwise ? 0 : shifted_stride(w);
    size_t gemm_bytes = dp_sgemm_scratch_size(g.Mg, nj, K);
    size_t col_bytes = pointwise ? 0 : (size_t)(K * nj) * sizeof(float);
    size_t where_bytes = shifted ? (size_t)g.outvol * sizeof(int32_t) : 0;
    size_t quarter_bytes = shifted == 2 ? (size_t)(g.Cg * g.invol) * sizeof(float) : 0;
    /* each written in full before it is read: packed panels, matrix rows, planes */
    void *gemm_scratch = dp_scratch_raw(k, gemm_bytes);
    float *col = col_bytes ? dp_scratch_raw(k, col_bytes) : NULL;
    int32_t *column = where_bytes ? dp_scratch_raw(k, where_bytes) : NULL;
    float *quarters = quarter_bytes ? dp_scratch_raw(k, quarter_bytes) : NULL;
    if (!gemm_scratch || (col_bytes && !col) || (where_bytes && !column) ||
        (quarter_bytes && !quarters))
        return no_memory(k, gemm_bytes + col_bytes + where_bytes + quarter_bytes);
    /* row by row, without a division per position */
    for (int64_t j = 0; shifted && j < g.outvol; j += w->out[2])
        for (int64_t c = 0; c < w->out[2]; c++)
            column[j + c] = (int32_t)c;

    for (int64_t n = 0; n < g.N; n++)
        for (int64_t gi = 0; gi < g.group; gi++) {
            const float *xg = x + (n * g.C + gi * g.Cg) * g.invol, *wg = wt + gi * g.Mg * K;
            float *yg = y + (n * g.M + gi * g.Mg) * g.outvol;
            ep.row_bias = b ? b + gi * g.Mg : NULL;
            for (int64_t c = 0; shifted == 2 && c < g.Cg; c++)
                dp_split_by_parity(xg + c * g.invol, w->in[1], w->in[2], quarters + c * g.invol);
            dp_product pr = {.M = g.Mg, .K = K, .alpha = 1, .A = wg, .lda = K,
                             .ldc = g.outvol, .weights_in_a = true, .weights_fixed = true,
                             .channel0 = gi * g.Mg, .scratch = gemm_scratch,
                             .epilogue = finish ? &ep : NULL};
            for (int64_t j0 = 0; j0 < g.outvol; j0 += nj) {
                int64_t len = g.outvol - j0 < nj ? g.outvol - j0 : nj;
                if (shifted)
                    im2col_shifted(w, shifted, shifted == 2 ? quarters : xg, g.Cg, j0, len,
                                   column, col);
                else if (!pointwise)
                    im2col(w, xg, g.Cg, j0, len, col);
                pr.N = len;
                pr.B = pointwise ? xg + j0 : col;
                pr.ldb = pointwise ? g.invol : len;
                pr.C = yg + j0;
                pr.vector0 = n * g.outvol + j0;
                ep.residual = res ? res + (n * g.M + gi * g.Mg) * g.outvol + j0 : NULL;
                if ((st = dp_kernel_product(k, &pr)) != DP_OK)
                    return st;
            }
        }
    return clamp ? DP_OK : dp_fused_activate(k, k->out[0]);
}

/*
 * Adds columns j0..j0+nj (input positions) of one group's contribution matrix into its
 * output planes y: row (m, t0, t1, t2) holds what tap t of output channel m receives from
 * each input position.
 */
static void col2im(const nn_window *w, const float *col, int64_t Mg, int64_t j0, int64_t nj,
                   float *y)
{
    int64_t outvol = w->out[0] * w->out[1] * w->out[2];
    for (int64_t m = 0; m < Mg; m++)
        for (int64_t t0 = 0; t0 < w->k[0]; t0++)
            for (int64_t t1 = 0; t1 < w->k[1]; t1++)
                for (int64_t t2 = 0; t2 < w->k[2]; t2++, col += nj) {
                    int64_t off0 = t0 * w->d[0] - w->pb[0], off1 = t1 * w->d[1] - w->pb[1];
                    int64_t off2 = t2 * w->d[2] - w->pb[2], s2 = w->s[2], lo, hi;
                    nn_range(off2, s2, w->out[2], w->in[2], &lo, &hi);
                    float *ym = y + m * outvol;
                    for (int64_t j = j0; j < j0 + nj;) {
                        int64_t row = j / w->in[2], a = j - row * w->in[2];
                        int64_t n = w->in[2] - a < j0 + nj - j ? w->in[2] - a : j0 + nj - j;
                        int64_t o0 = row / w->in[1] * w->s[0] + off0;
                        int64_t o1 = row % w->in[1] * w->s[1] + off1;
                        if (o0 >= 0 && o0 < w->out[0] && o1 >= 0 && o1 < w->out[1]) {
                            float *dst = ym + (o0 * w->out[1] + o1) * w->out[2];
                            const float *src = col + (j - j0);
                            int64_t l = lo < a ? a : lo, h = hi > a + n ? a + n : hi;
                            for (int64_t i = l; i < h; i++)
                                dst[i * s2 + off2] += src[i - a];
                        }
                        j += n;
                    }
                }
}

dp_status nn_ConvTranspose_run(dp_kctx *k)
{
    conv_geom g;
    dp_status st = conv_geometry(k, true, &g);
    if (st != DP_OK)
        return st;
    const float *x = k->in[0]->data, *wt = k->in[1]->data;
    const float *b = dp_in(k, 2) ? dp_in(k, 2)->data : NULL;
    float *y = k->out[0]->data;
    if (g.N == 0 || g.M == 0 || g.outvol == 0)
        return DP_OK;
    int64_t rows = g.Mg * g.taps;
    int64_t nj = chunk_size(rows, g.invol, 1);
    size_t gemm_bytes = dp_sgemm_scratch_size(rows, nj, g.Cg);
    size_t col_bytes = (size_t)(rows * nj) * sizeof(float);
    void *gemm_scratch = dp_scratch(k, gemm_bytes);
    float *col = dp_scratch(k, col_bytes);
    if (!gemm_scratch || !col)
        return no_memory(k, gemm_bytes + col_bytes);

    for (int64_t n = 0; n < g.N; n++) {
        float *yn = y + n * g.M * g.outvol;
        for (int64_t c = 0; c < g.M; c++)
            for (int64_t i = 0; i < g.outvol; i++)
                yn[c * g.outvol + i] = b ? b[c] : 0;
        for (int64_t gi = 0; gi < g.group; gi++) {
            const float *xg = x + (n * g.C + gi * g.Cg) * g.invol, *wg = wt + gi * g.Cg * rows;
            for (int64_t j0 = 0; j0 < g.invol; j0 += nj) {
                int64_t len = g.invol - j0 < nj ? g.invol - j0 : nj;
                dp_product pr = {.ta = true, .M = rows, .N = len, .K = g.Cg, .alpha = 1,
                                 .A = wg, .lda = rows, .B = xg + j0, .ldb = g.invol, .C = col,
                                 .ldc = len, .weights_in_a = true, .weights_fixed = true,
                                 .channel0 = gi * rows, .vector0 = n * g.invol + j0,
                                 .scratch = gemm_scratch};
                if ((st = dp_kernel_product(k, &pr)) != DP_OK)
                    return st;
                col2im(&g.w, col, g.Mg, j0, len, yn + gi * g.Mg * g.outvol);
            }
        }
    }
    return dp_fused_activate(k, k->out[0]);
}
