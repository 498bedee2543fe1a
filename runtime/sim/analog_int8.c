/*
 * analog_int8.c: the integer products of analog_int8.h.
 *
 * Layouts. The DAC writes a pass's inputs as groups of four fan-in rows: group g holds, for
 * each column q of the P rounded up to 32, the bytes of rows 4g..4g+3 in one 32-bit word
 * (byte b: row 4g + b; rows past kt and columns past P hold level 0). The weights of a pass
 * are blocks of INT8_ROWS rows: for each group, each row's four weight bytes in one word, so
 * that a row's word broadcasts against 16 columns' words in one instruction. Sums are
 * computed a block by a panel of INT8_PANEL columns at a time, in registers, and what the
 * bytes leave out (the signed DAC's offset, the +-128 weights, the +128 inputs) is added to
 * each panel's sums before their one rounding.
 */
#include "analog_int8.h"

#include <stdlib.h>
#include <string.h>

enum { INT8_ROWS = 12, INT8_PANEL = 32 };

struct dp_int8_weights {
    int64_t rows, core_cols;
    int64_t blocks;     /* ceil(rows / INT8_ROWS) */
    int64_t tile_words; /* words of one pass's weights: blocks x ceil(C / 4) x INT8_ROWS */
    int32_t *packed;    /* pass t at t * tile_words: block, group, row */
    int32_t *sums;      /* the sum of row j's weight bytes in pass t at [t rows + j] */
    /* the +-128 weights of row j in pass t: fix[fix_start[t rows + j] ..
     * fix_start[t rows + j + 1]), each 2 (input within the pass) + 1 for -128 */
    int32_t *fix_start;
    int32_t *fix;
};

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}
static int64_t groups_of(int64_t kt)
{
    return (kt + 3) / 4;
}

/* What the bytes add to each level: a signed DAC's are offset into 0..255. */
static int32_t offset_of(const dp_int8_inputs *in)
{
    return in->tops != NULL ? 128 : 0;
}

int64_t dp_int8_row_floats(int64_t P)
{
    return (P + INT8_PANEL - 1) / INT8_PANEL * INT8_PANEL;
}

size_t dp_int8_bytes_size(int64_t kc, int64_t P)
{
    return (size_t)(groups_of(kc) * dp_int8_row_floats(P)) * 4;
}

size_t dp_int8_panels_size(int64_t P)
{
    return (size_t)(dp_int8_row_floats(P) / INT8_PANEL) * sizeof(int32_t);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DP_INT8_VNNI 1
#include <immintrin.h>
#endif

bool dp_int8_available(void)
{
#ifdef DP_INT8_VNNI
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vnni");
#else
    return false;
#endif
}

dp_status dp_int8_program(const float *w, int64_t M, int64_t K, int64_t C, float half,
                          dp_arena *arena, dp_int8_weights **out, dp_error *err)
{
    int64_t tiles = (K - 1) / C + 1, kc = min64(C, K), blocks = (M + INT8_ROWS - 1) / INT8_ROWS;
    int64_t fixes = 0;
    for (int64_t i = 0; i < M * K; i++)
        fixes += w[i] * half == 128.0f || w[i] * half == -128.0f;
    dp_int8_weights *a = dp_arena_calloc(arena, 1, sizeof *a);
    size_t words = 0;
    if (a != NULL
        && !dp_mul_size((size_t)(blocks * groups_of(kc) * INT8_ROWS), (size_t)tiles, &words)) {
        a->packed = dp_arena_calloc(arena, words, sizeof(int32_t));
        a->sums = dp_arena_calloc(arena, (size_t)(tiles * M), sizeof(int32_t));
        a->fix_start = dp_arena_calloc(arena, (size_t)(tiles * M + 1), sizeof(int32_t));
        a->fix = dp_arena_calloc(arena, (size_t)(fixes > 0 ? fixes : 1), sizeof(int32_t));
    }
    if (a == NULL || a->packed == NULL || a->sums == NULL || a->fix_start == NULL || a->fix == NULL
        || fixes > INT32_MAX)
        return dp_fail(err, DP_ENOMEM, "out of memory for a layer's 8-bit weights");
    a->rows = M;
    a->core_cols = C;
    a->blocks = blocks;
    a->tile_words = (int64_t)words / tiles;
    int32_t n = 0;
    for (int64_t t = 0; t < tiles; t++) {
        int64_t k0 = t * C, kt = min64(C, K - k0), G = groups_of(kt);
        int32_t *tile = a->packed + t * a->tile_words;
        for (int64_t j = 0; j < M; j++) {
            const float *row = w + j * K + k0;
            a->fix_start[t * M + j] = n;
            int32_t *word = tile + (j / INT8_ROWS) * G * INT8_ROWS + j % INT8_ROWS, sum = 0;
            for (int64_t g = 0; g < G; g++) {
                uint32_t bytes = 0;
                for (int64_t k = 4 * g; k < min64(4 * g + 4, kt); k++) {
                    float level = row[k] * half;
                    if (level == 128.0f || level == -128.0f)
                        a->fix[n++] = (int32_t)(2 * k + (level < 0));
                    level = level > 127.0f ? 127.0f : level < -127.0f ? -127.0f : level;
                    sum += (int32_t)level;
                    bytes |= (uint32_t)(uint8_t)(int8_t)level << 8 * (k % 4);
                }
                word[g * INT8_ROWS] = (int32_t)bytes;
            }
            a->sums[t * M + j] = sum;
        }
    }
    a->fix_start[tiles * M] = n;
    *out = a;
    return DP_OK;
}

#ifdef DP_INT8_VNNI
#define UNROLL _Pragma("GCC unroll 16")

/* The DAC's level on 16 lanes, the same operations in the same order as dp_level_f (signed,
 * half > 0) or dp_unsigned_level_f, without fused multiply-adds; NaN lanes are flagged in
 * *nan and their levels do not matter. */
__attribute__((target("avx512f"))) static inline __m512
level_x16(__m512 x, __m512 inv_x, __m512 levels, __m512 half, bool signed_, __mmask16 *nan)
{
    *nan |= _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    __m512 u = _mm512_mul_ps(x, inv_x);
    const __m512 magic = _mm512_set1_ps(0x1.8p23f);
    if (signed_) {
        __m512 l = _mm512_mul_ps(u, half);
        l = _mm512_max_ps(_mm512_min_ps(l, half), _mm512_sub_ps(_mm512_setzero_ps(), half));
        return _mm512_sub_ps(_mm512_add_ps(l, magic), magic);
    }
    u = _mm512_max_ps(_mm512_min_ps(u, _mm512_set1_ps(1.0f)), _mm512_setzero_ps());
    return _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(u, levels), magic), magic);
}

__attribute__((target("avx512f"))) bool dp_int8_dac(const float *X, int64_t ldx, int64_t kt,
                                                    int64_t P, float inv_x, float levels,
                                                    float half, dp_int8_inputs *in, float *xn)
{
    int64_t Pp = dp_int8_row_floats(P);
    bool signed_ = in->tops != NULL;
    DP_ASSERT(!signed_ || half > 0);
    const __m512 iv = _mm512_set1_ps(inv_x), lv = _mm512_set1_ps(levels), hv = _mm512_set1_ps(half),
                 top = _mm512_set1_ps(128.0f);
    const __m512i off = _mm512_set1_epi32(offset_of(in)), ceiling = _mm512_set1_epi32(255);
    if (signed_)
        memset(in->panel_tops, 0, dp_int8_panels_size(P));
    __mmask16 nan = 0;
    for (int64_t g = 0; g < groups_of(kt); g++) {
        int rows = (int)min64(4, kt - 4 * g);
        const float *x = X + 4 * g * ldx;
        int32_t *dst = (int32_t *)(void *)(in->bytes + g * Pp * 4);
        for (int64_t q = 0; q < Pp; q += 16) {
            __mmask16 m = q + 16 <= P ? (__mmask16)0xFFFF
                          : q < P     ? (__mmask16)((1u << (P - q)) - 1)
                                      : 0;
            __m512i word = _mm512_setzero_si512(), top_word = _mm512_setzero_si512();
            __m512 sq = _mm512_setzero_ps();
            for (int b = 0; b < 4; b++) {
                /* absent rows and columns hold level 0, byte offset */
                __m512 l = b < rows ? level_x16(_mm512_maskz_loadu_ps(m, x + b * ldx + q), iv, lv,
                                                hv, signed_, &nan)
                                    : _mm512_setzero_ps();
                l = _mm512_maskz_mov_ps(m, l);
                __m512i byte =
                    _mm512_min_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(l), off), ceiling);
                word = _mm512_or_si512(word, _mm512_slli_epi32(byte, 8 * b));
                sq = _mm512_add_ps(sq, _mm512_mul_ps(l, l));
                if (signed_) {
                    __mmask16 at_top = _mm512_cmp_ps_mask(l, top, _CMP_EQ_OQ);
                    in->panel_tops[q / INT8_PANEL] += __builtin_popcount(at_top);
                    top_word = _mm512_or_si512(
                        top_word, _mm512_maskz_mov_epi32(at_top, _mm512_set1_epi32(1 << 8 * b)));
                }
            }
            _mm512_storeu_si512(dst + q, word);
            if (signed_)
                _mm512_storeu_si512((int32_t *)(void *)(in->tops + g * Pp * 4) + q, top_word);
            /* the first group's squares start the sums */
            if (xn && m)
                _mm512_mask_storeu_ps(
                    xn + q, m, g == 0 ? sq : _mm512_add_ps(_mm512_maskz_loadu_ps(m, xn + q), sq));
        }
    }
    return nan == 0;
}

/* acc = a block's G groups of weights times a panel of bytes (groups ldb bytes apart). */
__attribute__((target("avx512f,avx512vnni"))) static void
block_vnni(int64_t G, const int32_t *a, const uint8_t *b, int64_t ldb,
           int32_t acc[INT8_ROWS][INT8_PANEL])
{
    __m512i c[INT8_ROWS][2];
    UNROLL for (int i = 0; i < INT8_ROWS; i++) c[i][0] = c[i][1] = _mm512_setzero_si512();
    for (int64_t g = 0; g < G; g++, a += INT8_ROWS, b += ldb) {
        __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64);
        UNROLL for (int i = 0; i < INT8_ROWS; i++)
        {
            __m512i av = _mm512_set1_epi32(a[i]);
            c[i][0] = _mm512_dpbusd_epi32(c[i][0], b0, av);
            c[i][1] = _mm512_dpbusd_epi32(c[i][1], b1, av);
        }
    }
    UNROLL for (int i = 0; i < INT8_ROWS; i++)
    {
        _mm512_store_si512(acc[i], c[i][0]);
        _mm512_store_si512(acc[i] + 16, c[i][1]);
    }
}

/*
 * Row j's sums over the panel of columns q0.. (a0, a1: the bytes' products) with what the
 * bytes leave out, times scale, into s: the signed DAC's offset times the row's byte sum, and
 * the +-1 the +-128 weights lack times their inputs (the +128 inputs' 1 times the weights is
 * the caller's product of tops). In registers: scalar updates of the sums stalled each
 * vector load of them that followed.
 */
__attribute__((target("avx512f"))) static void
finish_row(const dp_int8_weights *w, int64_t t, int64_t j, const dp_int8_inputs *in, bool tops,
           int64_t ldb, int64_t q0, __m512i a0, __m512i a1, __m512 scale, float *s)
{
    const __m512i off = _mm512_set1_epi32(offset_of(in)), byte = _mm512_set1_epi32(0xff);
    if (offset_of(in)) {
        __m512i sum = _mm512_mullo_epi32(off, _mm512_set1_epi32(w->sums[t * w->rows + j]));
        a0 = _mm512_sub_epi32(a0, sum);
        a1 = _mm512_sub_epi32(a1, sum);
    }
    for (int32_t f = w->fix_start[t * w->rows + j]; f < w->fix_start[t * w->rows + j + 1]; f++) {
        int32_t k = w->fix[f] >> 1;
        int64_t at = (k / 4) * ldb + q0 * 4;
        __m128i shift = _mm_cvtsi32_si128(8 * (k % 4));
        __m512i x0 =
            _mm512_and_si512(_mm512_srl_epi32(_mm512_loadu_si512(in->bytes + at), shift), byte);
        __m512i x1 = _mm512_and_si512(
            _mm512_srl_epi32(_mm512_loadu_si512(in->bytes + at + 64), shift), byte);
        if (tops) {
            /* a +128 input's level is its byte + 1 - offset */
            x0 = _mm512_add_epi32(
                x0,
                _mm512_and_si512(_mm512_srl_epi32(_mm512_loadu_si512(in->tops + at), shift), byte));
            x1 = _mm512_add_epi32(
                x1, _mm512_and_si512(
                        _mm512_srl_epi32(_mm512_loadu_si512(in->tops + at + 64), shift), byte));
        }
        x0 = _mm512_sub_epi32(x0, off);
        x1 = _mm512_sub_epi32(x1, off);
        if (w->fix[f] & 1) {
            a0 = _mm512_sub_epi32(a0, x0);
            a1 = _mm512_sub_epi32(a1, x1);
        } else {
            a0 = _mm512_add_epi32(a0, x0);
            a1 = _mm512_add_epi32(a1, x1);
        }
    }
    _mm512_storeu_ps(s, _mm512_mul_ps(_mm512_cvtepi32_ps(a0), scale));
    _mm512_storeu_ps(s + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(a1), scale));
}

/*
 * The +128 inputs of a panel: their bytes are 1 short, so their weights' bytes times the
 * panel's tops are added. Few inputs (rows of the pass) hold any (about 1 in 10^4 values
 * sits at the top of the DAC's range), so the product takes only those rows: the tops'
 * words and the weights' bytes of those inputs regrouped four to a word, one group where a
 * whole pass's product would take up to 64.
 */
typedef struct panel_tops {
    int32_t inputs, groups; /* the inputs that hold a top, their groups */
    int32_t k[256];         /* those inputs */
    int32_t words[64][INT8_PANEL] __attribute__((aligned(64))); /* their tops, regrouped */
} panel_tops;

/* The panel at column q0's inputs that hold a top, and their tops regrouped. */
__attribute__((target("avx512f"))) static void find_tops(const uint8_t *tops, int64_t G,
                                                         int64_t ldb, int64_t q0, panel_tops *pt)
{
    int n = 0;
    for (int64_t g = 0; g < G; g++) {
        const uint8_t *at = tops + g * ldb + q0 * 4;
        uint32_t any = (uint32_t)_mm512_reduce_or_epi32(
            _mm512_or_si512(_mm512_loadu_si512(at), _mm512_loadu_si512(at + 64)));
        for (int b = 0; b < 4; b++)
            if (any >> 8 * b & 0xff)
                pt->k[n++] = (int32_t)(4 * g + b);
    }
    pt->inputs = n;
    pt->groups = (n + 3) / 4;
    const __m512i byte = _mm512_set1_epi32(0xff);
    for (int c = 0; c < pt->groups; c++)
        for (int h = 0; h < INT8_PANEL; h += 16) {
            __m512i word = _mm512_setzero_si512();
            for (int s = 0; s < 4 && 4 * c + s < n; s++) {
                int32_t k = pt->k[4 * c + s];
                __m512i v = _mm512_loadu_si512(tops + (k / 4) * ldb + (q0 + h) * 4);
                v = _mm512_and_si512(_mm512_srli_epi32(v, (unsigned)(8 * (k % 4))), byte);
                word = _mm512_or_si512(word, _mm512_slli_epi32(v, (unsigned)(8 * s)));
            }
            _mm512_store_si512(pt->words[c] + h, word);
        }
}

/* The weight bytes of a block (rows' words a, INT8_ROWS a group) of the inputs pt holds,
 * regrouped as pt's words are. */
__attribute__((target("avx512f"))) static void regroup_weights(const int32_t *a,
                                                               const panel_tops *pt, int32_t *out)
{
    const __m512i byte = _mm512_set1_epi32(0xff);
    const __mmask16 rows = (__mmask16)((1u << INT8_ROWS) - 1);
    for (int c = 0; c < pt->groups; c++) {
        __m512i word = _mm512_setzero_si512();
        for (int s = 0; s < 4 && 4 * c + s < pt->inputs; s++) {
            int32_t k = pt->k[4 * c + s];
            __m512i v = _mm512_maskz_loadu_epi32(rows, a + (k / 4) * INT8_ROWS);
            v = _mm512_and_si512(_mm512_srli_epi32(v, (unsigned)(8 * (k % 4))), byte);
            word = _mm512_or_si512(word, _mm512_slli_epi32(v, (unsigned)(8 * s)));
        }
        _mm512_mask_storeu_epi32(out + c * INT8_ROWS, rows, word);
    }
}

__attribute__((target("avx512f,avx512vnni"))) void
dp_int8_product(const dp_int8_weights *w, int64_t t, int64_t kt, const dp_int8_inputs *in,
                int64_t P, float scale, float *S, int64_t lds)
{
    DP_ASSERT(lds >= dp_int8_row_floats(P) && kt <= w->core_cols && kt <= 256);
    int64_t ldb = dp_int8_row_floats(P) * 4, G = groups_of(kt);
    const int32_t *tile = w->packed + t * w->tile_words;
    const __m512 sv = _mm512_set1_ps(scale);
    int32_t acc[INT8_ROWS][INT8_PANEL] __attribute__((aligned(64)));
    int32_t more[INT8_ROWS][INT8_PANEL] __attribute__((aligned(64)));
    int32_t weights[64 * INT8_ROWS + 16];
    panel_tops pt;
    for (int64_t q0 = 0; q0 < P; q0 += INT8_PANEL) {
        pt.groups = 0;
        if (in->tops != NULL && in->panel_tops[q0 / INT8_PANEL] > 0)
            find_tops(in->tops, G, ldb, q0, &pt);
        for (int64_t blk = 0; blk < w->blocks; blk++) {
            const int32_t *a = tile + blk * G * INT8_ROWS;
            block_vnni(G, a, in->bytes + q0 * 4, ldb, acc);
            if (pt.groups > 0) {
                regroup_weights(a, &pt, weights);
                block_vnni(pt.groups, weights, (const uint8_t *)pt.words[0], INT8_PANEL * 4, more);
            }
            int64_t rows = min64(INT8_ROWS, w->rows - blk * INT8_ROWS);
            for (int64_t i = 0; i < rows; i++) {
                __m512i a0 = _mm512_load_si512(acc[i]), a1 = _mm512_load_si512(acc[i] + 16);
                if (pt.groups > 0) {
                    a0 = _mm512_add_epi32(a0, _mm512_load_si512(more[i]));
                    a1 = _mm512_add_epi32(a1, _mm512_load_si512(more[i] + 16));
                }
                int64_t j = blk * INT8_ROWS + i;
                finish_row(w, t, j, in, pt.groups > 0, ldb, q0, a0, a1, sv, S + j * lds + q0);
            }
        }
    }
}
#else
bool dp_int8_dac(const float *X, int64_t ldx, int64_t kt, int64_t P, float inv_x, float levels,
                 float half, dp_int8_inputs *in, float *xn)
{
    (void)X, (void)ldx, (void)kt, (void)P, (void)inv_x, (void)levels, (void)half, (void)in;
    (void)xn;
    DP_ASSERT(!"dp_int8_available() is false here");
    return false;
}

void dp_int8_product(const dp_int8_weights *w, int64_t t, int64_t kt, const dp_int8_inputs *in,
                     int64_t P, float scale, float *S, int64_t lds)
{
    (void)w, (void)t, (void)kt, (void)in, (void)P, (void)scale, (void)S, (void)lds;
    DP_ASSERT(!"dp_int8_available() is false here");
}
#endif
