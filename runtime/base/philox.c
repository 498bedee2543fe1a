/*
 * philox.c: Philox4x32-7 with Random123's constants and key schedule (the key is bumped
 * before every round but the first), its conversion to uniform doubles and to normals, and
 * the noise of a block of columns at once.
 */
#include "philox.h"

#include <math.h>
#include <string.h>

#include "dp_base.h"
#include "simd.h"

/* Seven rounds, the fewest that Salmon et al. found to pass TestU01's BigCrush for
 * Philox4x32 (ten, Random123's default, add a margin of three rounds): the noise's draws
 * cost a quarter of a noisy inference, and three rounds were a seventh of them. */
enum { PHILOX_ROUNDS = 7 };

#define PHILOX_M0 UINT32_C(0xD2511F53)
#define PHILOX_M1 UINT32_C(0xCD9E8D57)
#define PHILOX_W0 UINT32_C(0x9E3779B9) /* golden ratio */
#define PHILOX_W1 UINT32_C(0xBB67AE85) /* sqrt(3) - 1 */

/* The rounds on n counters at once, in place: a loop over lanes that vectorises. */
static inline void philox_lanes(int n, uint32_t *restrict c0, uint32_t *restrict c1,
                                uint32_t *restrict c2, uint32_t *restrict c3, uint32_t k0,
                                uint32_t k1)
{
    for (int r = 0; r < PHILOX_ROUNDS; r++) {
        if (r > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        for (int i = 0; i < n; i++) {
            uint64_t p0 = (uint64_t)PHILOX_M0 * c0[i], p1 = (uint64_t)PHILOX_M1 * c2[i];
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[i] ^ k0;
            uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[i] ^ k1;
            c0[i] = n0;
            c1[i] = (uint32_t)p1;
            c2[i] = n2;
            c3[i] = (uint32_t)p0;
        }
    }
}

void dp_philox4x32_7(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    philox_lanes(1, &c0, &c1, &c2, &c3, key[0], key[1]);
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

static uint64_t top53(uint32_t hi, uint32_t lo) { return ((uint64_t)hi << 32 | lo) >> 11; }

double dp_philox_uniform(uint32_t hi, uint32_t lo)
{
    return (double)top53(hi, lo) * 0x1p-53;
}

/*
 * The normal quantile by segments: a word's top bit is the sign, the other 31 bits k give
 * v = (k + 1/2) 2^-31 in (0, 1] (float() rounding k + 1/2 to 24 bits, so v is exact below
 * 2^-8), and |z| = Q^-1(v / 2), Q the normal's upper tail, so that P(|z| > c) = 2 Q(c) for
 * every c the grid resolves. Segment s = 0..31 holds v = t 2^(-1-s), t in [1, 2], one per
 * binary exponent of v, and a degree-4 polynomial in x = t - 3/2 each (tools/
 * fit_normal_quantile.py: within 6.4e-5 of the quantile, a 15,000th of a standard
 * deviation, where degree 6 gave 1.5e-6 for two more multiply-adds and table lookups a
 * normal): the segments shrink with v, so the tails are as accurate as the middle, out to
 * the smallest v, 2^-32: |z| <= 6.34.
 */
static const float normal_quantile_poly[5][32] = {
    { /* x^0 */
        0x1.4649fep-2f, 0x1.c6385cp-1f, 0x1.51694cp+0f, 0x1.ad0a82p+0f,
        0x1.fcc830p+0f, 0x1.2213c6p+1f, 0x1.429fdep+1f, 0x1.60b5e0p+1f,
        0x1.7ccd86p+1f, 0x1.973d64p+1f, 0x1.b0465cp+1f, 0x1.c81a82p+1f,
        0x1.dee166p+1f, 0x1.f4baeap+1f, 0x1.04e096p+2f, 0x1.0f04f2p+2f,
        0x1.18d3aap+2f, 0x1.225486p+2f, 0x1.2b8e32p+2f, 0x1.348676p+2f,
        0x1.3d425ep+2f, 0x1.45c65cp+2f, 0x1.4e165ap+2f, 0x1.5635d4p+2f,
        0x1.5e27ecp+2f, 0x1.65ef6cp+2f, 0x1.6d8edcp+2f, 0x1.750888p+2f,
        0x1.7c5e80p+2f, 0x1.8392aep+2f, 0x1.8aa6ccp+2f, 0x1.919c72p+2f,
    },
    { /* x^1 */
        -0x1.51740cp-1f, -0x1.db6114p-2f, -0x1.7e3606p-2f, -0x1.468e12p-2f,
        -0x1.20de52p-2f, -0x1.0552e6p-2f, -0x1.e0415ap-3f, -0x1.be668ap-3f,
        -0x1.a298c8p-3f, -0x1.8b420ep-3f, -0x1.775212p-3f, -0x1.660accp-3f,
        -0x1.56e32cp-3f, -0x1.49759cp-3f, -0x1.3d7514p-3f, -0x1.32a5fap-3f,
        -0x1.28d966p-3f, -0x1.1fe9e0p-3f, -0x1.17b916p-3f, -0x1.102e2ep-3f,
        -0x1.093498p-3f, -0x1.02bb22p-3f, -0x1.f966a8p-4f, -0x1.ee21bcp-4f,
        -0x1.e39270p-4f, -0x1.d9a6a4p-4f, -0x1.d04ea4p-4f, -0x1.c77cbep-4f,
        -0x1.bf24fap-4f, -0x1.b73ccap-4f, -0x1.afbadep-4f, -0x1.a896f0p-4f,
    },
    { /* x^2 */
        0x1.1ae0dep-4f, 0x1.871d36p-4f, 0x1.77b0d2p-4f, 0x1.5cbe22p-4f,
        0x1.439f9ap-4f, 0x1.2e01f8p-4f, 0x1.1b9e16p-4f, 0x1.0be4cep-4f,
        0x1.fca674p-5f, 0x1.e4ffa8p-5f, 0x1.d0306cp-5f, 0x1.bdb890p-5f,
        0x1.ad33d0p-5f, 0x1.9e52f8p-5f, 0x1.90d6d2p-5f, 0x1.848c5cp-5f,
        0x1.794a00p-5f, 0x1.6eed84p-5f, 0x1.655a78p-5f, 0x1.5c790cp-5f,
        0x1.54351ep-5f, 0x1.4c7d98p-5f, 0x1.4543d0p-5f, 0x1.3e7b2cp-5f,
        0x1.3818bcp-5f, 0x1.3212fap-5f, 0x1.2c618ep-5f, 0x1.26fd26p-5f,
        0x1.21df44p-5f, 0x1.1d022cp-5f, 0x1.1860bep-5f, 0x1.13f66ap-5f,
    },
    { /* x^3 */
        -0x1.f4f46ep-5f, -0x1.79ab92p-5f, -0x1.55bdd8p-5f, -0x1.3b757ep-5f,
        -0x1.25d49cp-5f, -0x1.13a434p-5f, -0x1.042724p-5f, -0x1.eda094p-6f,
        -0x1.d667dap-6f, -0x1.c1fed8p-6f, -0x1.afe5e6p-6f, -0x1.9fb976p-6f,
        -0x1.912b04p-6f, -0x1.83fbf4p-6f, -0x1.77f9cep-6f, -0x1.6cfb72p-6f,
        -0x1.62df0ap-6f, -0x1.598882p-6f, -0x1.50e056p-6f, -0x1.48d2acp-6f,
        -0x1.414eacp-6f, -0x1.3a45e4p-6f, -0x1.33abe8p-6f, -0x1.2d75f8p-6f,
        -0x1.279ab4p-6f, -0x1.2211ecp-6f, -0x1.1cd468p-6f, -0x1.17dbd0p-6f,
        -0x1.13227ep-6f, -0x1.0ea36cp-6f, -0x1.0a5a20p-6f, -0x1.064292p-6f,
    },
    { /* x^4 */
        0x1.5cab00p-6f, 0x1.6cd79cp-6f, 0x1.50d406p-6f, 0x1.38a79cp-6f,
        0x1.245b4cp-6f, 0x1.1328cap-6f, 0x1.046cdep-6f, 0x1.ef5346p-7f,
        0x1.d8fd54p-7f, 0x1.c5438cp-7f, 0x1.b3b2c6p-7f, 0x1.a3f0acp-7f,
        0x1.95b590p-7f, 0x1.88c7f2p-7f, 0x1.7cf930p-7f, 0x1.72231ap-7f,
        0x1.682616p-7f, 0x1.5ee7d2p-7f, 0x1.565224p-7f, 0x1.4e524ap-7f,
        0x1.46d842p-7f, 0x1.3fd64ep-7f, 0x1.39408ep-7f, 0x1.330cb6p-7f,
        0x1.2d31c4p-7f, 0x1.27a7d2p-7f, 0x1.2267f0p-7f, 0x1.1d6bf2p-7f,
        0x1.18ae62p-7f, 0x1.142a60p-7f, 0x1.0fdb8ep-7f, 0x1.0bbe00p-7f,
    },
};

enum { QUANTILE_DEGREE = 4, QUANTILE_TOP = 157 }; /* the biased exponent of 2^30: segment 0 */

static inline float float_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* The normal of one word, in float arithmetic with Horner's steps as fused multiply-adds
 * (fmaf: one rounding each, on any machine), which normal_quantile16 repeats bit for bit. */
static inline float normal_quantile(uint32_t a)
{
    float f = (float)(int32_t)(a & UINT32_C(0x7fffffff)) + 0.5f;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    /* k + 1/2 may round up to 2^31: segment 0 with t = 2, v = 1 */
    int32_t s = QUANTILE_TOP - (int32_t)(bits >> 23);
    s = s < 0 ? 0 : s;
    float x = f * float_bits((uint32_t)(s + 97) << 23) - 1.5f; /* f 2^(s - 30) - 3/2 */
    float p = normal_quantile_poly[QUANTILE_DEGREE][s];
    for (int k = QUANTILE_DEGREE - 1; k >= 0; k--)
        p = fmaf(p, x, normal_quantile_poly[k][s]);
    memcpy(&bits, &p, sizeof bits);
    return float_bits(bits ^ (a & UINT32_C(0x80000000)));
}

void dp_philox_normal4(const uint32_t r[4], float z[4])
{
    for (int k = 0; k < 4; k++)
        z[k] = normal_quantile(r[k]);
}

void dp_noise_counter(const dp_noise_id *id, uint32_t ctr[4], uint32_t key[2])
{
    key[0] = id->seed;
    key[1] = id->layer;
    ctr[0] = id->row;
    ctr[1] = (uint32_t)id->col;
    ctr[2] = (uint32_t)(id->col >> 32 & 0xffu) | (id->tile & 0x3fffffu) << 8 |
             ((uint32_t)id->stream & 3u) << 30;
    ctr[3] = id->inference;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DP_PHILOX_AVX512 1
#include <immintrin.h>

/* hi and lo of a * m, 32 x 32 bits, in 16 lanes: AVX-512 multiplies the even lanes to 64 bits,
 * so the odd ones are swapped down first, and each half is put back in place by one masked
 * swap of neighbouring lanes (shuffles, which leave the multiplier's port to the multiplies). */
__attribute__((target("avx512f")))
static inline void mulhilo16(__m512i a, __m512i m, __m512i *hi, __m512i *lo)
{
    __m512i even = _mm512_mul_epu32(a, m);
    __m512i odd = _mm512_mul_epu32(_mm512_shuffle_epi32(a, _MM_PERM_CDAB), m);
    *lo = _mm512_mask_shuffle_epi32(even, 0xAAAA, odd, _MM_PERM_CDAB);
    *hi = _mm512_mask_shuffle_epi32(odd, 0x5555, even, _MM_PERM_CDAB);
}

/* normal_quantile on 16 words, the same bits: the segment's coefficients picked from the
 * table's 32 entries by one two-register permute each, where compilers would gather. */
__attribute__((target("avx512f")))
static inline __m512 normal_quantile16(__m512i a, const __m512 tab[2 * (QUANTILE_DEGREE + 1)])
{
    __m512i sign = _mm512_and_si512(a, _mm512_set1_epi32(INT32_MIN));
    __m512 f = _mm512_add_ps(_mm512_cvtepi32_ps(_mm512_andnot_si512(sign, a)),
                             _mm512_set1_ps(0.5f));
    __m512i s = _mm512_sub_epi32(_mm512_set1_epi32(QUANTILE_TOP),
                                 _mm512_srli_epi32(_mm512_castps_si512(f), 23));
    s = _mm512_max_epi32(s, _mm512_setzero_si512());
    __m512 scale =
        _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(s, _mm512_set1_epi32(97)), 23));
    __m512 x = _mm512_sub_ps(_mm512_mul_ps(f, scale), _mm512_set1_ps(1.5f));
    __m512 p = _mm512_permutex2var_ps(tab[2 * QUANTILE_DEGREE], s, tab[2 * QUANTILE_DEGREE + 1]);
    for (int k = QUANTILE_DEGREE - 1; k >= 0; k--)
        p = _mm512_fmadd_ps(p, x, _mm512_permutex2var_ps(tab[2 * k], s, tab[2 * k + 1]));
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(p), sign));
}

/* Philox and the quantile on nb blocks, block b + j % blocks of row ctr[0] + j / blocks
 * for j = 0..nb-1, a block's 16 lanes one vector, with AVX-512 integer instructions, which
 * compilers do not find on their own: the same bits, several times as fast. nb is a
 * constant where it is inlined, so that the blocks' chains of dependent multiplies
 * interleave. The counter's column field does not carry past 32 bits within a block, which
 * starts at a multiple of 16. */
__attribute__((target("avx512f"), always_inline))
static inline void philox_blocks16(int nb, const uint32_t ctr[4], const uint32_t key[2],
                                   uint64_t block, int blocks, const __m512 *tab, float *z)
{
    enum { L = DP_NOISE_BLOCK / 4 };
    _Static_assert(L == 16, "a block's lanes are one vector");
    const __m512i m0 = _mm512_set1_epi32((int)PHILOX_M0), m1 = _mm512_set1_epi32((int)PHILOX_M1);
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    _Static_assert(PHILOX_ROUNDS > 3, "the first three rounds are unrolled");
    __m512i x[4][4];
    uint32_t k0 = key[0], k1 = key[1];
    for (int j = 0; j < nb; j++) {
        /* The lanes' counters differ in word 1 alone, so that of the first three rounds'
         * six products four are the same in every lane: a scalar multiply each. */
        uint64_t field = (block + (uint64_t)(j % blocks)) * L;
        uint32_t c0 = ctr[0] + (uint32_t)(j / blocks);
        uint32_t c2 = (uint32_t)(field >> 32 & 0xffu) | (ctr[2] & ~UINT32_C(0xff));
        __m512i c1 = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)field), lane);
        /* round 1: both products scalar; word 0 takes the lanes' word 1 */
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        __m512i v0 = _mm512_xor_si512(c1, _mm512_set1_epi32((int)((uint32_t)(p1 >> 32) ^ k0)));
        uint32_t s1 = (uint32_t)p1, s2 = (uint32_t)(p0 >> 32) ^ ctr[3] ^ k1, s3 = (uint32_t)p0;
        /* round 2: word 0's product in lanes, word 2's scalar */
        __m512i hi, lo;
        mulhilo16(v0, m0, &hi, &lo);
        p1 = (uint64_t)PHILOX_M1 * s2;
        uint32_t t0 = (uint32_t)(p1 >> 32) ^ s1 ^ (k0 + PHILOX_W0), t1 = (uint32_t)p1;
        __m512i v2 = _mm512_xor_si512(hi, _mm512_set1_epi32((int)(s3 ^ (k1 + PHILOX_W1))));
        __m512i v3 = lo;
        /* round 3: word 0's product scalar, word 2's in lanes */
        p0 = (uint64_t)PHILOX_M0 * t0;
        mulhilo16(v2, m1, &hi, &lo);
        x[j][0] = _mm512_xor_si512(hi, _mm512_set1_epi32((int)(t1 ^ (k0 + 2 * PHILOX_W0))));
        x[j][1] = lo;
        x[j][2] = _mm512_xor_si512(
            v3, _mm512_set1_epi32((int)((uint32_t)(p0 >> 32) ^ (k1 + 2 * PHILOX_W1))));
        x[j][3] = _mm512_set1_epi32((int)(uint32_t)p0);
    }
    k0 += 2 * PHILOX_W0;
    k1 += 2 * PHILOX_W1;
    for (int r = 3; r < PHILOX_ROUNDS; r++) {
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
        __m512i kv0 = _mm512_set1_epi32((int)k0), kv1 = _mm512_set1_epi32((int)k1);
        for (int j = 0; j < nb; j++) {
            __m512i hi0, lo0, hi1, lo1;
            mulhilo16(x[j][0], m0, &hi0, &lo0);
            mulhilo16(x[j][2], m1, &hi1, &lo1);
            x[j][0] = _mm512_xor_si512(_mm512_xor_si512(hi1, x[j][1]), kv0);
            x[j][2] = _mm512_xor_si512(_mm512_xor_si512(hi0, x[j][3]), kv1);
            x[j][1] = lo1;
            x[j][3] = lo0;
        }
    }
    for (int j = 0; j < nb; j++)
        for (int k = 0; k < 4; k++)
            _mm512_storeu_ps(z + j * DP_NOISE_BLOCK + k * L, normal_quantile16(x[j][k], tab));
}

/* noise_normals with AVX-512, the quantile's table in registers */
__attribute__((target("avx512f")))
static void noise_normals_avx512(const uint32_t ctr[4], const uint32_t key[2], uint64_t block,
                                 int blocks, int rows, float *z)
{
    __m512 tab[2 * (QUANTILE_DEGREE + 1)];
    for (int k = 0; k <= QUANTILE_DEGREE; k++) {
        tab[2 * k] = _mm512_loadu_ps(normal_quantile_poly[k]);
        tab[2 * k + 1] = _mm512_loadu_ps(normal_quantile_poly[k] + 16);
    }
    switch (blocks * rows) {
    case 1: philox_blocks16(1, ctr, key, block, blocks, tab, z); break;
    case 2: philox_blocks16(2, ctr, key, block, blocks, tab, z); break;
    case 3: philox_blocks16(3, ctr, key, block, blocks, tab, z); break;
    default:
        DP_ASSERT(blocks * rows == 4);
        philox_blocks16(4, ctr, key, block, blocks, tab, z);
    }
}
#endif

/* dp_noise_normals_rows's work, in a static function: clang refuses to multiversion a
 * function a header declared and code before it called, as in an emitted kernel's one
 * source. */
DP_MULTI_TARGET
static void noise_normals(const uint32_t ctr[4], const uint32_t key[2], uint64_t block,
                          int blocks, int rows, float z[restrict DP_NOISE_SPAN])
{
    enum { L = DP_NOISE_BLOCK / 4, LANES = DP_NOISE_SPAN / 4 };
#ifdef DP_PHILOX_AVX512
    if (__builtin_cpu_supports("avx512f")) {
        noise_normals_avx512(ctr, key, block, blocks, rows, z);
        return;
    }
#endif
    uint32_t c0[LANES], c1[LANES], c2[LANES], c3[LANES];
    uint32_t fixed2 = ctr[2] & ~UINT32_C(0xff);
    int lanes = blocks * L;
    for (int r = 0; r < rows; r++) {
        for (int i = 0; i < lanes; i++) {
            uint64_t field = block * L + (uint64_t)i;
            c0[i] = ctr[0] + (uint32_t)r;
            c1[i] = (uint32_t)field;
            c2[i] = (uint32_t)(field >> 32 & 0xffu) | fixed2;
            c3[i] = ctr[3];
        }
        philox_lanes(lanes, c0, c1, c2, c3, key[0], key[1]);
        /* word k of lane i is column k L + i of its block: four contiguous runs */
        float *zr = z + r * blocks * DP_NOISE_BLOCK;
        for (int b = 0; b < blocks; b++) {
            const uint32_t *w[4] = {c0 + b * L, c1 + b * L, c2 + b * L, c3 + b * L};
            for (int k = 0; k < 4; k++)
                for (int i = 0; i < L; i++)
                    zr[b * DP_NOISE_BLOCK + k * L + i] = normal_quantile(w[k][i]);
        }
    }
}

void dp_noise_normals_rows(const dp_noise_id *id, int rows, int n, float z[restrict DP_NOISE_SPAN])
{
    uint32_t ctr[4], key[2];
    dp_noise_counter(id, ctr, key);
    int blocks = (int)(id->col % DP_NOISE_BLOCK + (uint64_t)n - 1) / DP_NOISE_BLOCK + 1;
    DP_ASSERT(rows >= 1 && blocks * rows <= DP_NOISE_SPAN / DP_NOISE_BLOCK);
    noise_normals(ctr, key, id->col / DP_NOISE_BLOCK, blocks, rows, z);
}

void dp_noise_normals(const dp_noise_id *id, int n, float z[restrict DP_NOISE_SPAN])
{
    dp_noise_normals_rows(id, 1, n, z);
}
