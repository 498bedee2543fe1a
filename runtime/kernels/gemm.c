/*
 * gemm.c: single-precision matrix multiply (dp_sgemm), the hot loop of Conv, ConvTranspose,
 * Gemm and MatMul.
 *
 * Blocking follows BLIS: a KC x NC block of B is packed into NR-wide column panels (kept in
 * L3), an MC x KC block of A into MR-high row panels (kept in L2), and a micro-kernel
 * multiplies one A panel by one B panel (in L1) into an MR x NR tile held in registers.
 * Panels are zero-padded to full MR/NR widths, so the micro-kernel never branches on edges
 * except when storing.
 *
 * Every element is a chain of fused multiply-adds along K, in KC blocks: the micro-kernel
 * is written three times (AVX-512, AVX2 with FMA, and portable C calling fmaf, which rounds
 * exactly as the instruction does), the fastest the CPU supports is chosen per call, and all
 * three give bit-identical results. The tile is 12 x 32: AVX-512 holds it in 24 registers,
 * two 16-float vectors of B and twelve broadcasts of A feeding 24 FMAs a step, so the two FMA
 * units, not the loads, set the pace; AVX2 takes it as four 6 x 16 quarters, each within its
 * 16 registers. Edge tiles (64 channels are five tiles and 4 rows; a 7 x 7 map is 32 columns
 * and 17) have AVX-512 kernels for their live rows and columns, which skip the padding.
 */
#include "gemm.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DP_GEMM_X86 1
#include <immintrin.h>
#endif

/* KC x NR and MR x KC panels take 32 and 12 KiB of L1; MC is a multiple of MR, NC of NR.
 * A KC x NC block of packed B (512 KiB) stays in L2 while the kernels read it: with 4096
 * columns it spilled to L3, and a 64-row product of ResNet-50's (K 256, N 3136) took 10%
 * longer. The micro-kernel prefetches its panels PREFETCH steps ahead: a weight panel's
 * first pass streams from L3 or memory, which the hardware prefetcher alone hid poorly
 * (ResNet-50 and the BERT-like encoder 5% faster). */
enum { MR = 12, NR = 32, KC = 256, MC = 144, NC = 512, HALF = 16, NARROW = 4, PANELS = 3,
       PREFETCH = 16 };
_Static_assert((int)MR == (int)DP_SGEMM_TILE_ROWS && (int)NR == (int)DP_SGEMM_TILE_COLS,
               "gemm.h names the tile");

#define UNROLL _Pragma("GCC unroll 16")

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

size_t dp_sgemm_scratch_size(int64_t M, int64_t N, int64_t K)
{
    int64_t kc = min64(K, KC);
    int64_t a = min64(round_up(M, MR), MC) * kc, b = min64(round_up(N, NR), NC) * kc;
    /* packed B starts on a 64-byte boundary after packed A */
    int64_t tiled = round_up(a, 16) + b;
    /* a matrix-vector product's contiguous vector and accumulators */
    int64_t vector = K + M + N;
    return (size_t)(tiled > vector ? tiled : vector) * sizeof(float);
}

/* Rows i0..i0+mc, columns p0..p0+kc of op(A) into MR-high panels, p-major inside. */
static void pack_a(bool ta, const float *A, int64_t lda, int64_t i0, int64_t mc, int64_t p0,
                   int64_t kc, float *dst)
{
    for (int64_t ir = 0; ir < mc; ir += MR, dst += MR * kc) {
        int64_t mr = min64(MR, mc - ir);
        if (mr < MR)
            memset(dst, 0, (size_t)(MR * kc) * sizeof(float));
        if (ta) {
            const float *src = A + p0 * lda + i0 + ir;
            for (int64_t p = 0; p < kc; p++)
                for (int64_t i = 0; i < mr; i++)
                    dst[p * MR + i] = src[p * lda + i];
        } else {
            const float *src = A + (i0 + ir) * lda + p0;
            if (mr == MR)
                for (int64_t p = 0; p < kc; p++)
                    UNROLL for (int64_t i = 0; i < MR; i++)
                        dst[p * MR + i] = src[i * lda + p];
            else
                for (int64_t i = 0; i < mr; i++)
                    for (int64_t p = 0; p < kc; p++)
                        dst[p * MR + i] = src[i * lda + p];
        }
    }
}

/* Rows p0..p0+kc, columns j0..j0+nc of op(B) into NR-wide panels, p-major inside. */
static void pack_b(bool tb, const float *B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                   int64_t nc, float *dst)
{
    for (int64_t jr = 0; jr < nc; jr += NR, dst += NR * kc) {
        int64_t nr = min64(NR, nc - jr);
        if (nr < NR)
            memset(dst, 0, (size_t)(NR * kc) * sizeof(float));
        if (tb) {
            const float *src = B + (j0 + jr) * ldb + p0;
            for (int64_t j = 0; j < nr; j++)
                for (int64_t p = 0; p < kc; p++)
                    dst[p * NR + j] = src[j * ldb + p];
        } else {
            const float *src = B + p0 * ldb + j0 + jr;
            for (int64_t p = 0; p < kc; p++)
                for (int64_t j = 0; j < nr; j++)
                    dst[p * NR + j] = src[p * ldb + j];
        }
    }
}

/* acc (MR x NR, row-major) = a panel * b panel, each element fused-multiply-added along p;
 * the b panel's rows ldb floats apart (NR where packed). */
typedef void tile_fn(int64_t kc, const float *a, const float *b, int64_t ldb, float *acc);

static void tile_portable(int64_t kc, const float *a, const float *b, int64_t ldb, float *acc)
{
    float c[MR][NR] = {{0}};
    for (int64_t p = 0; p < kc; p++, a += MR, b += ldb)
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                c[i][j] = fmaf(a[i], b[j], c[i][j]);
    memcpy(acc, c, sizeof c);
}

#ifdef DP_GEMM_X86
/* The first `rows` rows and 16 `vecs` columns of the tile, stored to c (row stride ldc) or,
 * when add, added to it; constants once inlined. */
__attribute__((target("avx512f"), always_inline))
static inline void shape_avx512(int64_t kc, const float *a, const float *b, int64_t ldb,
                                float *out, int64_t ldc, bool add, const dp_sgemm_epilogue *ep,
                                int rows, int vecs)
{
    __m512 c[MR][2];
    UNROLL for (int i = 0; i < rows; i++)
        c[i][0] = c[i][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kc; p++, a += MR, b += ldb) {
        _mm_prefetch((const char *)(b + PREFETCH * ldb), _MM_HINT_T0);
        if (vecs > 1)
            _mm_prefetch((const char *)(b + PREFETCH * ldb + 16), _MM_HINT_T0);
        _mm_prefetch((const char *)(a + PREFETCH * MR), _MM_HINT_T0);
        __m512 b0 = _mm512_loadu_ps(b), b1 = vecs > 1 ? _mm512_loadu_ps(b + 16) : b0;
        UNROLL for (int i = 0; i < rows; i++) {
            __m512 av = _mm512_set1_ps(a[i]);
            c[i][0] = _mm512_fmadd_ps(av, b0, c[i][0]);
            if (vecs > 1)
                c[i][1] = _mm512_fmadd_ps(av, b1, c[i][1]);
        }
    }
    /* the epilogue's fields read once, not after each of the stores below, which may alias
     * *ep as far as the compiler knows */
    const float *bias = ep ? ep->row_bias : NULL, *cbias = ep ? ep->col_bias : NULL;
    const float *res = ep ? ep->residual : NULL;
    int64_t ldr = ep ? ep->ldr : 0;
    __m512 lo = _mm512_set1_ps(ep ? ep->lo : 0), hi = _mm512_set1_ps(ep ? ep->hi : 0);
    UNROLL for (int i = 0; i < rows; i++) {
        float *row = out + i * ldc;
        if (add) {
            c[i][0] = _mm512_add_ps(c[i][0], _mm512_loadu_ps(row));
            if (vecs > 1)
                c[i][1] = _mm512_add_ps(c[i][1], _mm512_loadu_ps(row + 16));
        }
        if (ep)
            for (int v = 0; v < vecs; v++) {
                if (bias)
                    c[i][v] = _mm512_add_ps(c[i][v], _mm512_set1_ps(bias[i]));
                if (cbias)
                    c[i][v] = _mm512_add_ps(c[i][v], _mm512_loadu_ps(cbias + 16 * v));
                if (res)
                    c[i][v] = _mm512_add_ps(c[i][v], _mm512_loadu_ps(res + i * ldr + 16 * v));
                c[i][v] = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(c[i][v], lo, _CMP_LT_OQ),
                                               c[i][v], lo);
                c[i][v] = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(c[i][v], hi, _CMP_GT_OQ),
                                               c[i][v], hi);
            }
        _mm512_storeu_ps(row, c[i][0]);
        if (vecs > 1)
            _mm512_storeu_ps(row + 16, c[i][1]);
    }
}

/* The full tile, and for panels with at most 8 or 4 live rows or HALF live columns, the
 * part of it that holds them. */
#define SHAPE_KERNEL(name, rows, vecs)                                                           \
    __attribute__((target("avx512f"))) static void name(int64_t kc, const float *a,              \
                                                        const float *b, int64_t ldb, float *acc) \
    {                                                                                            \
        shape_avx512(kc, a, b, ldb, acc, NR, false, NULL, rows, vecs);                           \
    }
SHAPE_KERNEL(tile_avx512, MR, 2)
SHAPE_KERNEL(half_avx512, MR, 1)
SHAPE_KERNEL(rows8_avx512, 8, 2)
SHAPE_KERNEL(rows8_half_avx512, 8, 1)
SHAPE_KERNEL(rows4_avx512, 4, 2)
SHAPE_KERNEL(rows4_half_avx512, 4, 1)
#undef SHAPE_KERNEL

__attribute__((target("avx512f")))
static void full_avx512(int64_t kc, const float *a, const float *b, int64_t ldb, float *c,
                        int64_t ldc, bool add, const dp_sgemm_epilogue *ep)
{
    shape_avx512(kc, a, b, ldb, c, ldc, add, ep, MR, 2);
}

__attribute__((target("avx2,fma")))
static void tile_avx2(int64_t kc, const float *a, const float *b, int64_t ldb, float *acc)
{
    for (int h = 0; h < MR; h += MR / 2)
        for (int q = 0; q < NR; q += 16) {
            __m256 c[MR / 2][2];
            UNROLL for (int i = 0; i < MR / 2; i++)
                c[i][0] = c[i][1] = _mm256_setzero_ps();
            const float *ap = a + h, *bp = b + q;
            for (int64_t p = 0; p < kc; p++, ap += MR, bp += ldb) {
                __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
                UNROLL for (int i = 0; i < MR / 2; i++) {
                    __m256 av = _mm256_broadcast_ss(ap + i);
                    c[i][0] = _mm256_fmadd_ps(av, b0, c[i][0]);
                    c[i][1] = _mm256_fmadd_ps(av, b1, c[i][1]);
                }
            }
            UNROLL for (int i = 0; i < MR / 2; i++) {
                _mm256_storeu_ps(acc + (h + i) * NR + q, c[i][0]);
                _mm256_storeu_ps(acc + (h + i) * NR + q + 8, c[i][1]);
            }
        }
}

/*
 * The first NARROW columns only of `panels` (at most PANELS) consecutive tiles down A, the
 * twelve rows of each in one vector: a product a column or two wide (a small feature map, a
 * padded vector) would otherwise compute sixteen columns to keep one or two. Several panels
 * at once because one panel's NARROW columns are as many chains of dependent FMAs, too few
 * to keep the FMA units busy. The panels' columns past the product's are zero padding, so
 * all NARROW are computed; acc + k MR NR gets panel k's in the tile's layout.
 *
 * Each step loads sixteen floats where twelve are the panel's (lanes 12..15, the next
 * step's, are never stored): a masked load that crosses a cache line, as half of these do,
 * tripled the kernel's time. Only the last step, whose extra lanes may lie past the
 * buffer, is masked.
 */
__attribute__((target("avx512f"), always_inline))
static inline void narrow_step(const float *a, const float *b, int64_t stride, int panels,
                               __mmask16 rows, __m512 c[PANELS][NARROW])
{
    __m512 bj[NARROW];
    UNROLL for (int j = 0; j < NARROW; j++)
        bj[j] = _mm512_set1_ps(b[j]);
    UNROLL for (int k = 0; k < panels; k++) {
        __m512 av = _mm512_maskz_loadu_ps(rows, a + k * stride);
        UNROLL for (int j = 0; j < NARROW; j++)
            c[k][j] = _mm512_fmadd_ps(av, bj[j], c[k][j]);
    }
}

__attribute__((target("avx512f"), always_inline))
static inline void narrow_shape(int64_t kc, const float *a, const float *b, float *acc,
                                int panels)
{
    __m512 c[PANELS][NARROW];
    UNROLL for (int k = 0; k < panels; k++)
        UNROLL for (int j = 0; j < NARROW; j++)
            c[k][j] = _mm512_setzero_ps();
    int64_t stride = MR * kc, p = 0;
    for (; p + 1 < kc; p++, a += MR, b += NR)
        narrow_step(a, b, stride, panels, 0xFFFF, c);
    narrow_step(a, b, stride, panels, (1u << MR) - 1, c);
    /* unrolled, as the loops above: indexing c by a variable would keep it in memory, and
     * GCC then stores every accumulator on every step */
    float col[16];
    UNROLL for (int k = 0; k < panels; k++)
        UNROLL for (int j = 0; j < NARROW; j++) {
            _mm512_storeu_ps(col, c[k][j]);
            for (int i = 0; i < MR; i++)
                acc[k * MR * NR + i * NR + j] = col[i];
        }
}

__attribute__((target("avx512f")))
static void narrow_avx512(int64_t kc, const float *a, int panels, const float *b, float *acc)
{
    if (panels >= 3)
        narrow_shape(kc, a, b, acc, 3);
    else if (panels == 2)
        narrow_shape(kc, a, b, acc, 2);
    else
        narrow_shape(kc, a, b, acc, 1);
}
#endif

/* c (MR x NR, row stride ldc) = the product of a panel and b panel, or c plus it when add,
 * then the epilogue ep (if not NULL), its biases and residual starting at the tile. */
typedef void full_fn(int64_t kc, const float *a, const float *b, int64_t ldb, float *c,
                     int64_t ldc, bool add, const dp_sgemm_epilogue *ep);

/* The narrow part of `panels` tiles: see narrow_avx512. */
typedef void narrow_fn(int64_t kc, const float *a, int panels, const float *b, float *acc);

/*
 * The kernels this CPU runs fastest: shape[r][h] for tiles with at most 4, 8 or MR live rows
 * (r = 0, 1, 2) and HALF or NR live columns (h = 0, 1), narrow (if not NULL) for at most
 * NARROW columns. Where a CPU has one kernel, every shape is the full tile. full (if not
 * NULL) writes a whole tile straight into C, skipping the copy through acc: the same sums.
 */
typedef struct kernels {
    tile_fn *shape[3][2];
    narrow_fn *narrow;
    full_fn *full;
} kernels;

static kernels one_kernel(tile_fn *tile)
{
    return (kernels){{{tile, tile}, {tile, tile}, {tile, tile}}, NULL, NULL};
}

static kernels fastest_kernels(void)
{
#ifdef DP_GEMM_X86
    if (__builtin_cpu_supports("avx512f"))
        return (kernels){{{rows4_half_avx512, rows4_avx512},
                          {rows8_half_avx512, rows8_avx512},
                          {half_avx512, tile_avx512}},
                         narrow_avx512, full_avx512};
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return one_kernel(tile_avx2);
#endif
    return one_kernel(tile_portable);
}

static tile_fn *const *shapes_for(const kernels *ks, int64_t mr)
{
    return ks->shape[mr <= 4 ? 0 : mr <= 8 ? 1 : 2];
}

/*
 * The live parts (mr[k] x nr) of `panels` tiles, panel k at a + k MR kc into acc + k MR NR,
 * by the smallest kernels that cover them: HALF columns and NARROW more cost less than the
 * full width. More than one panel only where the narrow kernel runs. The b panel's rows are
 * ldb floats apart, NR (packed) wherever nr < NR.
 */
static void run_tiles(const kernels *ks, int64_t kc, const float *a, const float *b,
                      int64_t ldb, float *acc, int panels, const int64_t *mr, int64_t nr)
{
    if (ks->narrow && nr <= NARROW) {
        ks->narrow(kc, a, panels, b, acc);
    } else if (ks->narrow && nr > HALF && nr <= HALF + NARROW) {
        for (int k = 0; k < panels; k++)
            shapes_for(ks, mr[k])[0](kc, a + k * MR * kc, b, ldb, acc + k * MR * NR);
        ks->narrow(kc, a, panels, b + HALF, acc + HALF);
    } else {
        shapes_for(ks, mr[0])[nr > HALF](kc, a, b, ldb, acc);
    }
}

/*
 * y[i * incy] = alpha * sum_p X(i, p) * v[p] + beta * y[i * incy] for i < n, where X is
 * either p-contiguous (X(i, p) = x[i * ldx + p]) or i-contiguous (X(i, p) = x[p * ldx + i]);
 * acc: n floats. A matrix-vector product through the tiled path would waste all but one
 * row or column of every tile and pack a matrix it reads only once.
 */
DP_MULTI_TARGET
static void gemv(bool p_contiguous, int64_t n, int64_t K, float alpha, const float *x,
                 int64_t ldx, const float *v, float beta, float *y, int64_t incy, float *acc)
{
    enum { LANES = 8 };
    if (p_contiguous) {
        /* fixed lanes keep the summation order, and so the result, independent of the
         * vector width; ROWS rows at a time read that many streams of x at once, which a
         * product too large for the caches (a classifier's weights) needs to reach the
         * memory's pace */
        enum { ROWS = 4 };
        for (int64_t i0 = 0; i0 < n; i0 += ROWS) {
            int rows = n - i0 < ROWS ? (int)(n - i0) : ROWS;
            float lane[ROWS][LANES] = {{0}};
            int64_t p = 0;
            for (; p + LANES <= K; p += LANES)
                for (int r = 0; r < rows; r++)
                    for (int l = 0; l < LANES; l++)
                        lane[r][l] += x[(i0 + r) * ldx + p + l] * v[p + l];
            for (int r = 0; r < rows; r++) {
                for (int64_t q = p, l = 0; q < K; q++, l++)
                    lane[r][l] += x[(i0 + r) * ldx + q] * v[q];
                float s = 0;
                for (int l = 0; l < LANES; l++)
                    s += lane[r][l];
                acc[i0 + r] = s;
            }
        }
    } else {
        memset(acc, 0, (size_t)n * sizeof(float));
        /* four rows per pass over acc, added in the same order as one at a time */
        int64_t p = 0;
        for (; p + 4 <= K; p += 4) {
            const float *r0 = x + p * ldx, *r1 = r0 + ldx, *r2 = r1 + ldx, *r3 = r2 + ldx;
            float v0 = v[p], v1 = v[p + 1], v2 = v[p + 2], v3 = v[p + 3];
            for (int64_t i = 0; i < n; i++)
                acc[i] = acc[i] + r0[i] * v0 + r1[i] * v1 + r2[i] * v2 + r3[i] * v3;
        }
        for (; p < K; p++) {
            const float *row = x + p * ldx, vp = v[p];
            for (int64_t i = 0; i < n; i++)
                acc[i] += row[i] * vp;
        }
    }
    for (int64_t i = 0; i < n; i++)
        y[i * incy] = beta == 0 ? alpha * acc[i] : alpha * acc[i] + beta * y[i * incy];
}

/* dp_sgemm_finish's loop, static so that the C backend's one source, which calls the public
 * name before defining it, can still clone it per instruction set */
DP_MULTI_TARGET
static void finish(int64_t mr, int64_t nr, float *c, int64_t ldc, float lo, float hi,
                   const float *bias, const float *cbias, const float *res, int64_t ldr)
{
    for (int64_t i = 0; i < mr; i++) {
        float *row = c + i * ldc, b = bias ? bias[i] : 0;
        const float *r = res ? res + i * ldr : NULL;
        for (int64_t j = 0; j < nr; j++) {
            float v = bias ? row[j] + b : row[j];
            v = cbias ? v + cbias[j] : v;
            v = r ? v + r[j] : v;
            v = v < lo ? lo : v;
            row[j] = v > hi ? hi : v;
        }
    }
}

void dp_sgemm_finish(int64_t mr, int64_t nr, float *c, int64_t ldc, const dp_sgemm_epilogue *ep)
{
    finish(mr, nr, c, ldc, ep->lo, ep->hi, ep->row_bias, ep->col_bias, ep->residual, ep->ldr);
}

/* The mc x nc block of C = alpha * (A block * B block) + beta * C, tile by tile, then the
 * epilogue ep (if not NULL), its biases and residual starting at the block. B's panels come
 * packed from pb or, where bd is not NULL, whole ones from bd itself (rows ldb apart). */
DP_MULTI_TARGET
static void macro_kernel(const kernels *ks, int64_t mc, int64_t nc, int64_t kc,
                         const float *pa, const float *pb, const float *bd, int64_t ldb,
                         float *C, int64_t ldc, float alpha, float beta,
                         const dp_sgemm_epilogue *ep)
{
    float acc[PANELS][MR * NR];
    for (int64_t jr = 0; jr < nc; jr += NR) {
        int64_t nr = min64(NR, nc - jr);
        bool in_place = bd && nr == NR;
        const float *b = in_place ? bd + jr : pb + jr * kc;
        int64_t stride = in_place ? ldb : NR;
        bool narrow = nr <= NARROW || (nr > HALF && nr <= HALF + NARROW);
        int64_t step = ks->narrow && narrow ? PANELS * MR : MR;
        for (int64_t ir = 0; ir < mc; ir += step) {
            int panels = (int)min64(step, mc - ir + MR - 1) / MR;
            int64_t mr[PANELS] = {min64(MR, mc - ir)};
            for (int k = 1; k < panels; k++)
                mr[k] = min64(MR, mc - ir - k * MR);
            float *c = C + ir * ldc + jr;
            dp_sgemm_epilogue tile;
            if (ks->full && mr[0] == MR && nr == NR && alpha == 1 &&
                (beta == 0 || beta == 1)) {
                if (ep)
                    tile = dp_sgemm_epilogue_at(ep, ir, jr);
                ks->full(kc, pa + ir * kc, b, stride, c, ldc, beta == 1, ep ? &tile : NULL);
                continue;
            }
            run_tiles(ks, kc, pa + ir * kc, b, stride, acc[0], panels, mr, nr);
            for (int k = 0; k < panels; k++, c += MR * ldc) {
                const float *t = acc[k];
                /* beta == 0 must not read C, which may be uninitialised */
                if (beta == 0) {
                    for (int64_t i = 0; i < mr[k]; i++)
                        for (int64_t j = 0; j < nr; j++)
                            c[i * ldc + j] = alpha * t[i * NR + j];
                } else {
                    for (int64_t i = 0; i < mr[k]; i++)
                        for (int64_t j = 0; j < nr; j++)
                            c[i * ldc + j] = alpha * t[i * NR + j] + beta * c[i * ldc + j];
                }
                if (ep) {
                    tile = dp_sgemm_epilogue_at(ep, ir + k * MR, jr);
                    dp_sgemm_finish(mr[k], nr, c, ldc, &tile);
                }
            }
        }
    }
}

/* Where block (jc, pc) of a B packed by dp_sgemm_pack_b starts: the blocks before it in
 * column order are full NC wide (NC is a multiple of NR). */
static int64_t packed_b_offset(int64_t K, int64_t N, int64_t jc, int64_t pc)
{
    return jc * K + pc * round_up(min64(NC, N - jc), NR);
}

/*
 * The blocked product of M, N > 1 (K > 0). A's MC x KC blocks and B's KC x NC blocks come
 * from packed_a and packed_b (laid out by dp_sgemm_pack_a and _b) where given, and are
 * packed here into scratch where not. Where M fits one block of rows, B's whole tiles are
 * read where they lie: each is read by that one block only, so packing it would be one more
 * pass over B for nothing (a 64-channel product of ResNet-50: 0.85 -> 0.80 ms).
 */
static void tiled(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                  int64_t lda, const float *packed_a, const float *B, int64_t ldb,
                  const float *packed_b, float beta, float *C, int64_t ldc,
                  const dp_sgemm_epilogue *ep, void *scratch)
{
    kernels ks = fastest_kernels();
    int64_t kmax = min64(K, KC);
    float *pa = scratch;
    float *pb = pa + round_up(min64(round_up(M, MR), MC) * kmax, 16);
    bool in_place = !packed_b && !tb && M <= MC;
    for (int64_t jc = 0; jc < N; jc += NC) {
        int64_t nc = min64(NC, N - jc);
        for (int64_t pc = 0; pc < K; pc += KC) {
            int64_t kc = min64(KC, K - pc);
            /* later K blocks add to what the first one stored */
            float b = pc == 0 ? beta : 1.0f;
            const float *bp = pb, *bd = NULL;
            int64_t whole = nc / NR * NR;
            if (packed_b) {
                bp = packed_b + packed_b_offset(K, N, jc, pc);
            } else if (in_place) {
                bd = B + pc * ldb + jc;
                if (whole < nc)
                    pack_b(tb, B, ldb, pc, kc, jc + whole, nc - whole, pb + whole * kc);
            } else {
                pack_b(tb, B, ldb, pc, kc, jc, nc, pb);
            }
            for (int64_t ic = 0; ic < M; ic += MC) {
                int64_t mc = min64(MC, M - ic);
                const float *ap = pa;
                if (packed_a)
                    ap = packed_a + pc * round_up(M, MR) + ic * kc;
                else
                    pack_a(ta, A, lda, ic, mc, pc, kc, pa);
                /* the epilogue goes with the last K block, when the sums are complete */
                dp_sgemm_epilogue block;
                bool last = ep && pc + kc == K;
                if (last)
                    block = dp_sgemm_epilogue_at(ep, ic, jc);
                macro_kernel(&ks, mc, nc, kc, ap, bp, bd, ldb, C + ic * ldc + jc, ldc, alpha,
                             b, last ? &block : NULL);
            }
        }
    }
}

void dp_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
              int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
              void *scratch)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++)
                C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j];
        return;
    }
    if (M == 1 || N == 1) {
        /* the vector operand, made contiguous */
        float *v = scratch;
        const float *vec = M == 1 ? A : B;
        int64_t inc = M == 1 ? (ta ? lda : 1) : (tb ? 1 : ldb);
        for (int64_t p = 0; p < K; p++)
            v[p] = vec[p * inc];
        if (M == 1)
            gemv(tb, N, K, alpha, B, ldb, v, beta, C, 1, v + K);
        else
            gemv(!ta, M, K, alpha, A, lda, v, beta, C, ldc, v + K);
        return;
    }
    tiled(ta, tb, M, N, K, alpha, A, lda, NULL, B, ldb, NULL, beta, C, ldc, NULL, scratch);
}

size_t dp_sgemm_packed_a_size(int64_t M, int64_t K)
{
    return (size_t)(round_up(M, MR) * K) * sizeof(float);
}

size_t dp_sgemm_packed_b_size(int64_t K, int64_t N)
{
    return (size_t)(round_up(N, NR) * K) * sizeof(float);
}

void dp_sgemm_pack_a(bool ta, int64_t M, int64_t K, const float *A, int64_t lda, float *packed)
{
    for (int64_t pc = 0; pc < K; pc += KC)
        pack_a(ta, A, lda, 0, M, pc, min64(KC, K - pc), packed + pc * round_up(M, MR));
}

void dp_sgemm_pack_b(bool tb, int64_t K, int64_t N, const float *B, int64_t ldb, float *packed)
{
    for (int64_t jc = 0; jc < N; jc += NC)
        for (int64_t pc = 0; pc < K; pc += KC)
            pack_b(tb, B, ldb, pc, min64(KC, K - pc), jc, min64(NC, N - jc),
                   packed + packed_b_offset(K, N, jc, pc));
}

void dp_sgemm_packed(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *packed_a, const float *B,
                     int64_t ldb, const float *packed_b, float beta, float *C, int64_t ldc,
                     const dp_sgemm_epilogue *ep, void *scratch)
{
    tiled(ta, tb, M, N, K, alpha, A, lda, packed_a, B, ldb, packed_b, beta, C, ldc, ep, scratch);
}
