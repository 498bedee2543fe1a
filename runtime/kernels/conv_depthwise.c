/*
 * conv_depthwise.c: Conv where each output channel reads one input channel (depthwise),
 * for conv.c.
 *
 * In general it runs directly, a row of outputs at a time (conv_direct). 3x3 windows padded
 * by 1 of stride 1 or 2 (MobileNet's) run a plane at a time instead, each tap one flat run
 * over the plane, with AVX-512 where the processor has it, the planes split over threads;
 * on the analog core, they go to the core a plane at a time straight from the input. The
 * fp32 paths sum each output's taps in the same order, so they give the same bits.
 */
#include "conv_ops.h"

#include <math.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DP_CONV_AVX512 1
#include <immintrin.h>
#endif

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

/* The depthwise convolution on windows other than conv_padded_3x3 ones, a row of outputs at a
 * time (conv_direct), then the residual and the clamp over the whole output. */
dp_status conv_depthwise_rows(dp_kctx *k, const conv_geom *g, const float *x, const float *wt,
                              const float *b, const dp_sgemm_epilogue *ep, float *y)
{
    size_t bytes = 2 * (size_t)g->w.k[2] * sizeof(int64_t);
    int64_t *span = dp_scratch(k, bytes);
    if (!span)
        return conv_no_memory(k, bytes);
    conv_direct(g, x, wt, b, y, span);
    int64_t all = dp_numel(k->out[0]);
    if (ep->residual || ep->lo > -INFINITY || ep->hi < INFINITY)
        dp_sgemm_finish(1, all, y, all, ep);
    return DP_OK;
}

#ifdef DP_CONV_AVX512
/* plane_3x3_avx512 numbers an output plane's positions in 32-bit lanes */
#define PLANES_AVX512_MAX (INT32_MAX - 64)

/*
 * A conv_padded_3x3 window's taps over output planes of n positions, for plane_3x3_avx512: each
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
 * conv_direct for conv_padded_3x3 windows of stride 1, a plane at a time: tap by tap over the whole
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
 * conv_direct for conv_padded_3x3 windows of stride 2, a plane at a time. Each input plane is first
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

/* Planes c0..c1 (image-major) of a depthwise convolution on conv_padded_3x3 windows: one part of
 * it split over threads. Each plane is one output channel of one image, computed alone, so
 * the split changes no result. */
typedef struct plane_part {
    const conv_geom *g;
    const float *x, *wt, *b;
    const dp_sgemm_epilogue *ep;
    float *y;
    int stride;           /* conv_shifted_stride: 1 or 2 */
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

/* The output plane's column flags for conv_padded_3x3 windows of conv_shifted_stride s
 * (dp_column_edges): left, then for stride 1 right. Made once for all of a layer's planes:
 * made per plane in the core's scratch, they took 7% of MobileNetV2's noisy run. */
static dp_status plane_edges(dp_kctx *k, const conv_geom *g, int s, int32_t **edges)
{
    int64_t n = g->outvol;
    size_t bytes = (size_t)(s == 1 ? 2 : 1) * (size_t)n * sizeof(int32_t);
    if (!(*edges = dp_scratch_raw(k, bytes)))
        return conv_no_memory(k, bytes);
    dp_column_edges(g->w.out[2], 0, n, *edges, s == 1 ? *edges + n : NULL);
    return DP_OK;
}

/* The depthwise convolution on conv_padded_3x3 windows of conv_shifted_stride s, its planes over
 * k->parallel's threads. */
dp_status conv_depthwise_planes(dp_kctx *k, const conv_geom *g, int s, const float *x,
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
        return conv_no_memory(k, quarter_bytes * (size_t)parts);
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
 * The depthwise convolution on conv_padded_3x3 windows of conv_shifted_stride s on the analog core,
 * a plane at a time straight from the input (dp_product.planes): the core quantises each
 * input element once, where the im2col matrix would repeat it for every tap.
 */
dp_status conv_depthwise_analog(dp_kctx *k, const conv_geom *g, int s, const float *x,
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
