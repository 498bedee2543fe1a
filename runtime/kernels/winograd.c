/*
 * winograd.c: the transforms and products of Winograd's F(2x2, 3x3) (winograd.h).
 *
 * The transforms put one tile in each lane. With AVX-512 they take 16 tiles of a tile row at
 * a time straight from the planes, deinterleaving each input row's columns by parity in
 * registers and masking the padding and the row's end. Without it, a run of up to
 * WINOGRAD_RUN tiles of a tile row has its four input rows split by parity into arrays
 * first, so that each element of a tile's 4x4 block is a contiguous load across the run and
 * the compiler vectorises it; its outputs are gathered the same way before the epilogue
 * stores them. Both paths make the same operations in the same order, so the same bits.
 */
#include "winograd.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DP_WINOGRAD_AVX512 1
#include <immintrin.h>
#endif

/* tiles per run of a tile row; a chunk's transformed input and products together take about
 * WINOGRAD_CHUNK_FLOATS floats (1.5 MiB), to stay in L2 between the three steps */
enum { WINOGRAD_RUN = 64, WINOGRAD_CHUNK_FLOATS = 3 << 17 };

static int64_t winograd_min(int64_t a, int64_t b) { return a < b ? a : b; }

dp_winograd dp_winograd_plan(int64_t C, int64_t M, int64_t H, int64_t W)
{
    dp_winograd g = {.C = C, .M = M, .H = H, .W = W, .tiles_wide = (W + 1) / 2};
    g.tiles = (H + 1) / 2 * g.tiles_wide;
    /* whole register tiles of the products' columns, but for the last chunk */
    int64_t chunk = WINOGRAD_CHUNK_FLOATS / (DP_WINOGRAD_POINTS * (C + M));
    chunk = chunk / DP_SGEMM_TILE_COLS * DP_SGEMM_TILE_COLS;
    chunk = chunk > DP_SGEMM_TILE_COLS ? chunk : DP_SGEMM_TILE_COLS;
    g.chunk = winograd_min(chunk, g.tiles);
#ifdef DP_WINOGRAD_AVX512
    g.avx512 = __builtin_cpu_supports("avx512f");
#endif
    return g;
}

/* Floats of one U_xi packed, rounded to 64 bytes. */
static size_t winograd_matrix_floats(int64_t M, int64_t C)
{
    return (dp_sgemm_packed_a_size(M, C) + 63) / 64 * 16;
}

size_t dp_winograd_weights_floats(int64_t M, int64_t C)
{
    return DP_WINOGRAD_POINTS * winograd_matrix_floats(M, C);
}

void dp_winograd_pack_weights(int64_t M, int64_t C, const float *w, float *packed, float *tmp)
{
    /* a block of filters at a time into L1, then its sixteen rows out: one filter at a time,
     * sixteen stores a matrix apart missed L1 every time (20 ms for a 512 x 512 layer) */
    enum { BLOCK = 64 };
    size_t n = (size_t)M * (size_t)C, each = winograd_matrix_floats(M, C);
    float block[DP_WINOGRAD_POINTS][BLOCK];
    for (size_t i0 = 0; i0 < n; i0 += BLOCK) {
        size_t len = n - i0 < BLOCK ? n - i0 : BLOCK;
        for (size_t i = 0; i < len; i++) {
            const float *g = w + 9 * (i0 + i);
            float t[4][3];
            /* G g: its rows g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2 */
            for (int j = 0; j < 3; j++) {
                t[0][j] = g[j];
                t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                t[3][j] = g[6 + j];
            }
            /* (G g) G^T, the same on each row */
            for (int r = 0; r < 4; r++) {
                block[4 * r][i] = t[r][0];
                block[4 * r + 1][i] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
                block[4 * r + 2][i] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
                block[4 * r + 3][i] = t[r][2];
            }
        }
        for (int xi = 0; xi < DP_WINOGRAD_POINTS; xi++)
            memcpy(tmp + (size_t)xi * n + i0, block[xi], len * sizeof(float));
    }
    for (int xi = 0; xi < DP_WINOGRAD_POINTS; xi++)
        dp_sgemm_pack_a(false, M, C, tmp + (size_t)xi * n, C, packed + (size_t)xi * each);
}

/* Floats from one point's matrix of `rows` x nt to the next: a line more than the matrix, so
 * that the sixteen are not a multiple of 4 KiB apart, where the transforms' sixteen streams
 * of loads or stores all fell in one set of L1 (ResNet-50's first stage: 48 KiB apart). */
static int64_t winograd_pitch(int64_t rows, int64_t nt)
{
    return rows * nt + 16;
}

size_t dp_winograd_input_floats(const dp_winograd *g)
{
    return (size_t)(DP_WINOGRAD_POINTS * winograd_pitch(g->C, g->chunk));
}

size_t dp_winograd_product_floats(const dp_winograd *g)
{
    return (size_t)(DP_WINOGRAD_POINTS * winograd_pitch(g->M, g->chunk));
}

/*
 * Input row r (0 outside the plane) at the columns tiles a..a+n meet, split by parity:
 * odd[s] is column 2 (a + s) - 1, even[s] column 2 (a + s), for s in 0..n, so that tile a + s
 * reads odd[s], even[s], odd[s + 1], even[s + 1].
 */
static void winograd_split_row(const float *x, int64_t H, int64_t W, int64_t r, int64_t a,
                               int64_t n, float *restrict odd, float *restrict even)
{
    if (r < 0 || r >= H) {
        for (int64_t s = 0; s <= n; s++)
            odd[s] = even[s] = 0.0f;
        return;
    }
    /* s in lo..hi reads columns 2 (a + s) - 1 and 2 (a + s), both inside the row */
    const float *row = x + r * W + 2 * a;
    int64_t lo = a == 0 ? 1 : 0, hi = winograd_min(n + 1, W / 2 - a);
    hi = hi > lo ? hi : lo;
    for (int64_t s = 0; s < lo; s++) {
        odd[s] = 0.0f;
        even[s] = row[0];
    }
    for (int64_t s = lo; s < hi; s++) {
        odd[s] = row[2 * s - 1];
        even[s] = row[2 * s];
    }
    for (int64_t s = hi; s <= n; s++) {
        int64_t col = 2 * (a + s) - 1;
        odd[s] = col < W ? row[2 * s - 1] : 0.0f;
        even[s] = col + 1 < W ? row[2 * s] : 0.0f;
    }
}

/* V = B^T d B for a run of n tiles, V's element xi of tile s to out[xi][s], with
 * B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. Into arrays of its own, where the
 * vectoriser need not prove sixteen runs of V apart. */
DP_MULTI_TARGET
static void winograd_input_run(const float (*odd)[WINOGRAD_RUN + 1],
                               const float (*even)[WINOGRAD_RUN + 1], int64_t n,
                               float (*out)[WINOGRAD_RUN])
{
    for (int64_t s = 0; s < n; s++) {
        float d[4][4], t[4][4];
        for (int i = 0; i < 4; i++) {
            d[i][0] = odd[i][s];
            d[i][1] = even[i][s];
            d[i][2] = odd[i][s + 1];
            d[i][3] = even[i][s + 1];
        }
        for (int j = 0; j < 4; j++) {
            t[0][j] = d[0][j] - d[2][j];
            t[1][j] = d[1][j] + d[2][j];
            t[2][j] = d[2][j] - d[1][j];
            t[3][j] = d[1][j] - d[3][j];
        }
        for (int i = 0; i < 4; i++) {
            out[4 * i + 0][s] = t[i][0] - t[i][2];
            out[4 * i + 1][s] = t[i][1] + t[i][2];
            out[4 * i + 2][s] = t[i][2] - t[i][1];
            out[4 * i + 3][s] = t[i][1] - t[i][3];
        }
    }
}

#ifdef DP_WINOGRAD_AVX512
/* Lanes e of a 16-float load from column b that fall inside a row of W. */
static __mmask16 winograd_inside(int64_t b, int64_t W)
{
    int64_t lo = b < 0 ? -b : 0, hi = W - b < 16 ? W - b : 16;
    return hi <= lo ? 0 : (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* The first n lanes. */
static __mmask16 winograd_lanes(int64_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

/*
 * dp_winograd_input's transform for tiles a..a+n of tile row ty of the plane xc, 16 tiles to
 * a register: each input row's 32 columns those tiles meet, loaded with the padding masked
 * to zero, deinterleaved by parity into the 4x4 blocks' columns. The same operations as
 * winograd_input_run, so the same bits. Tile s's V_xi to v[xi * stride + s].
 */
__attribute__((target("avx512f")))
static void winograd_input_avx512(const float *xc, int64_t H, int64_t W, int64_t ty, int64_t a,
                                  int64_t n, float *v, int64_t stride)
{
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                            28, 30);
    const __m512i odds = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27,
                                           29, 31);
    for (int64_t s = 0; s < n; s += 16) {
        /* column of lane 0's d[i][0]: tile a + s starts one left of 2 (a + s) */
        int64_t b = 2 * (a + s) - 1;
        __mmask16 in0 = winograd_inside(b, W), in1 = winograd_inside(b + 16, W);
        __mmask16 in2 = winograd_inside(b + 2, W), in3 = winograd_inside(b + 18, W);
        __m512 d[4][4], t[4][4];
        for (int i = 0; i < 4; i++) {
            int64_t r = 2 * ty - 1 + i;
            if (r < 0 || r >= H) {
                for (int j = 0; j < 4; j++)
                    d[i][j] = _mm512_setzero_ps();
                continue;
            }
            const float *row = xc + r * W;
            __m512 lo = _mm512_maskz_loadu_ps(in0, row + b);
            __m512 hi = _mm512_maskz_loadu_ps(in1, row + b + 16);
            d[i][0] = _mm512_permutex2var_ps(lo, evens, hi);
            d[i][1] = _mm512_permutex2var_ps(lo, odds, hi);
            lo = _mm512_maskz_loadu_ps(in2, row + b + 2);
            hi = _mm512_maskz_loadu_ps(in3, row + b + 18);
            d[i][2] = _mm512_permutex2var_ps(lo, evens, hi);
            d[i][3] = _mm512_permutex2var_ps(lo, odds, hi);
        }
        for (int j = 0; j < 4; j++) {
            t[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
            t[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
            t[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
            t[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
        }
        __mmask16 keep = winograd_lanes(n - s);
        for (int i = 0; i < 4; i++) {
            float *o = v + 4 * i * stride + s;
            _mm512_mask_storeu_ps(o, keep, _mm512_sub_ps(t[i][0], t[i][2]));
            _mm512_mask_storeu_ps(o + stride, keep, _mm512_add_ps(t[i][1], t[i][2]));
            _mm512_mask_storeu_ps(o + 2 * stride, keep, _mm512_sub_ps(t[i][2], t[i][1]));
            _mm512_mask_storeu_ps(o + 3 * stride, keep, _mm512_sub_ps(t[i][1], t[i][3]));
        }
    }
}
#endif

void dp_winograd_input(const dp_winograd *g, const float *x, int64_t t0, int64_t nt, int64_t c0,
                       int64_t c1, float *v)
{
    int64_t tw = g->tiles_wide, stride = winograd_pitch(g->C, nt);
    float odd[4][WINOGRAD_RUN + 1], even[4][WINOGRAD_RUN + 1];
    float out[DP_WINOGRAD_POINTS][WINOGRAD_RUN];
    for (int64_t c = c0; c < c1; c++) {
        const float *xc = x + c * g->H * g->W;
        for (int64_t t = t0; t < t0 + nt;) {
            int64_t ty = t / tw, tx = t - ty * tw;
            int64_t n = winograd_min(winograd_min(tw - tx, t0 + nt - t), WINOGRAD_RUN);
            float *dst = v + c * nt + (t - t0);
            t += n;
#ifdef DP_WINOGRAD_AVX512
            if (g->avx512) {
                winograd_input_avx512(xc, g->H, g->W, ty, tx, n, dst, stride);
                continue;
            }
#endif
            for (int i = 0; i < 4; i++)
                winograd_split_row(xc, g->H, g->W, 2 * ty - 1 + i, tx, n, odd[i], even[i]);
            winograd_input_run(odd, even, n, out);
            for (int xi = 0; xi < DP_WINOGRAD_POINTS; xi++)
                memcpy(dst + xi * stride, out[xi], (size_t)n * sizeof(float));
        }
    }
}

void dp_winograd_products(const dp_winograd *g, const float *u, const float *v, int64_t nt,
                          int xi0, int xi1, float *p, void *scratch)
{
    size_t each = winograd_matrix_floats(g->M, g->C);
    for (int xi = xi0; xi < xi1; xi++)
        dp_sgemm_packed(false, false, g->M, nt, g->C, 1.0f, NULL, g->C, u + (size_t)xi * each,
                        v + xi * winograd_pitch(g->C, nt), nt, NULL, 0.0f,
                        p + xi * winograd_pitch(g->M, nt), nt, NULL,
                        scratch);
}

/* Y = A^T P A for a run of n tiles, P's element xi of tile s at p[xi * stride + s], with
 * A^T = [1 1 1 0; 0 1 -1 -1]: tile s's outputs to top[2 s], top[2 s + 1] and the same in
 * bottom, the row below. */
DP_MULTI_TARGET
static void winograd_output_run(const float *restrict p, int64_t stride, int64_t n,
                                float *restrict top, float *restrict bottom)
{
    for (int64_t s = 0; s < n; s++) {
        float q[4][4], r[2][4];
        for (int xi = 0; xi < DP_WINOGRAD_POINTS; xi++)
            q[xi / 4][xi % 4] = p[xi * stride + s];
        for (int j = 0; j < 4; j++) {
            r[0][j] = q[0][j] + q[1][j] + q[2][j];
            r[1][j] = q[1][j] - q[2][j] - q[3][j];
        }
        top[2 * s] = r[0][0] + r[0][1] + r[0][2];
        top[2 * s + 1] = r[0][1] - r[0][2] - r[0][3];
        bottom[2 * s] = r[1][0] + r[1][1] + r[1][2];
        bottom[2 * s + 1] = r[1][1] - r[1][2] - r[1][3];
    }
}

/* n outputs of one row to y: plus the bias (if any) and the residual (if any), clamped to
 * [lo, hi], in dp_sgemm_finish's order. */
DP_MULTI_TARGET
static void winograd_store(const float *val, int64_t n, const float *bias, const float *res,
                           float lo, float hi, float *y)
{
    for (int64_t j = 0; j < n; j++) {
        float v = bias ? val[j] + *bias : val[j];
        v = res ? v + res[j] : v;
        v = v < lo ? lo : v;
        y[j] = v > hi ? hi : v;
    }
}

#ifdef DP_WINOGRAD_AVX512
/* The first n of 32 outputs of one row (two registers, lo and hi) to y as winograd_store
 * stores them: the same operations, so the same bits. */
__attribute__((target("avx512f")))
static void winograd_store_avx512(__m512 lo, __m512 hi, int64_t n, const float *bias,
                                  const float *res, float lo_bound, float hi_bound, float *y)
{
    __mmask16 first = winograd_lanes(n), second = winograd_lanes(n - 16 > 0 ? n - 16 : 0);
    __m512 floor = _mm512_set1_ps(lo_bound), ceiling = _mm512_set1_ps(hi_bound);
    if (bias) {
        lo = _mm512_add_ps(lo, _mm512_set1_ps(*bias));
        hi = _mm512_add_ps(hi, _mm512_set1_ps(*bias));
    }
    if (res) {
        lo = _mm512_add_ps(lo, _mm512_maskz_loadu_ps(first, res));
        hi = _mm512_add_ps(hi, _mm512_maskz_loadu_ps(second, res + 16));
    }
    /* max(a, b) is a > b ? a : b: v < lo ? lo : v, then v > hi ? hi : v */
    lo = _mm512_min_ps(ceiling, _mm512_max_ps(floor, lo));
    hi = _mm512_min_ps(ceiling, _mm512_max_ps(floor, hi));
    _mm512_mask_storeu_ps(y, first, lo);
    _mm512_mask_storeu_ps(y + 16, second, hi);
}

/*
 * dp_winograd_output's transform for n tiles from tile tx of tile row ty, 16 tiles to a
 * register, their outputs interleaved into each row's 32 columns. The same operations as
 * winograd_output_run, so the same bits. P_xi of tile s at p[xi * stride + s].
 */
__attribute__((target("avx512f")))
static void winograd_output_avx512(const dp_winograd *g, const float *p, int64_t stride,
                                   int64_t ty, int64_t tx, int64_t n, const float *bias,
                                   const float *res, float lo, float hi, float *y)
{
    const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22,
                                            7, 23);
    const __m512i second = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14,
                                             30, 15, 31);
    int64_t W = g->W;
    for (int64_t s = 0; s < n; s += 16) {
        __mmask16 keep = winograd_lanes(n - s);
        __m512 q[4][4], r[2][4];
        for (int xi = 0; xi < DP_WINOGRAD_POINTS; xi++)
            q[xi / 4][xi % 4] = _mm512_maskz_loadu_ps(keep, p + xi * stride + s);
        for (int j = 0; j < 4; j++) {
            r[0][j] = _mm512_add_ps(_mm512_add_ps(q[0][j], q[1][j]), q[2][j]);
            r[1][j] = _mm512_sub_ps(_mm512_sub_ps(q[1][j], q[2][j]), q[3][j]);
        }
        int64_t col = 2 * (tx + s), cols = winograd_min(2 * (n - s), W - col);
        for (int k = 0; k < 2 && 2 * ty + k < g->H; k++) {
            __m512 even = _mm512_add_ps(_mm512_add_ps(r[k][0], r[k][1]), r[k][2]);
            __m512 odd = _mm512_sub_ps(_mm512_sub_ps(r[k][1], r[k][2]), r[k][3]);
            int64_t at = (2 * ty + k) * W + col;
            winograd_store_avx512(_mm512_permutex2var_ps(even, first, odd),
                                  _mm512_permutex2var_ps(even, second, odd), cols, bias,
                                  res ? res + at : NULL, lo, hi, y + at);
        }
    }
}
#endif

void dp_winograd_output(const dp_winograd *g, const float *p, int64_t t0, int64_t nt,
                        int64_t m0, int64_t m1, const dp_sgemm_epilogue *ep, float *y)
{
    int64_t tw = g->tiles_wide, H = g->H, W = g->W, plane = H * W;
    float top[2 * WINOGRAD_RUN], bottom[2 * WINOGRAD_RUN];
    for (int64_t m = m0; m < m1; m++) {
        const float *bias = ep->row_bias ? ep->row_bias + m : NULL;
        const float *res = ep->residual ? ep->residual + m * ep->ldr : NULL;
        float *ym = y + m * plane;
        for (int64_t t = t0; t < t0 + nt;) {
            int64_t ty = t / tw, tx = t - ty * tw;
#ifdef DP_WINOGRAD_AVX512
            if (g->avx512) {
                int64_t n = winograd_min(tw - tx, t0 + nt - t);
                winograd_output_avx512(g, p + m * nt + (t - t0), winograd_pitch(g->M, nt), ty,
                                       tx, n, bias, res, ep->lo, ep->hi, ym);
                t += n;
                continue;
            }
#endif
            int64_t n = winograd_min(winograd_min(tw - tx, t0 + nt - t), WINOGRAD_RUN);
            winograd_output_run(p + m * nt + (t - t0), winograd_pitch(g->M, nt), n, top, bottom);
            int64_t at = 2 * ty * W + 2 * tx, cols = winograd_min(2 * n, W - 2 * tx);
            winograd_store(top, cols, bias, res ? res + at : NULL, ep->lo, ep->hi, ym + at);
            if (2 * ty + 1 < H)
                winograd_store(bottom, cols, bias, res ? res + at + W : NULL, ep->lo, ep->hi,
                               ym + at + W);
            t += n;
        }
    }
}
