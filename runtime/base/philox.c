/*
 * philox.c: Philox4x32-10 with Random123's constants and key schedule (the key is bumped
 * before every round but the first), its conversion to uniform doubles and to normals, and
 * the noise of a block of columns at once.
 */
#include "philox.h"

#include <string.h>

#include "dp_base.h"
#include "simd.h"

enum { PHILOX_ROUNDS = 10 };

#define PHILOX_M0 UINT32_C(0xD2511F53)
#define PHILOX_M1 UINT32_C(0xCD9E8D57)
#define PHILOX_W0 UINT32_C(0x9E3779B9) /* golden ratio */
#define PHILOX_W1 UINT32_C(0xBB67AE85) /* sqrt(3) - 1 */

/* Ten rounds on n counters at once, in place: a loop over lanes that vectorises. */
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

void dp_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
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
 * binary exponent of v, and a degree-6 polynomial in x = t - 3/2 each (tools/
 * fit_normal_quantile.py: within 1.5e-6 of the quantile in float): the segments shrink with
 * v, so the tails are as accurate as the middle, out to the smallest v, 2^-32: |z| <= 6.34.
 */
static const float normal_quantile_poly[7][32] = {
    { /* x^0 */
        0x1.464962p-2f, 0x1.c63812p-1f, 0x1.516928p+0f, 0x1.ad0a62p+0f,
        0x1.fcc812p+0f, 0x1.2213b8p+1f, 0x1.429fd0p+1f, 0x1.60b5d4p+1f,
        0x1.7ccd7ap+1f, 0x1.973d58p+1f, 0x1.b04650p+1f, 0x1.c81a78p+1f,
        0x1.dee15cp+1f, 0x1.f4bae0p+1f, 0x1.04e092p+2f, 0x1.0f04ecp+2f,
        0x1.18d3a6p+2f, 0x1.225482p+2f, 0x1.2b8e2ep+2f, 0x1.348672p+2f,
        0x1.3d425ap+2f, 0x1.45c658p+2f, 0x1.4e1656p+2f, 0x1.5635d0p+2f,
        0x1.5e27e8p+2f, 0x1.65ef68p+2f, 0x1.6d8ed8p+2f, 0x1.750884p+2f,
        0x1.7c5e7cp+2f, 0x1.8392aap+2f, 0x1.8aa6c8p+2f, 0x1.919c6ep+2f,
    },
    { /* x^1 */
        -0x1.518f48p-1f, -0x1.db8f6ap-2f, -0x1.7e60c6p-2f, -0x1.46b5e0p-2f,
        -0x1.2103a0p-2f, -0x1.057618p-2f, -0x1.e0841ap-3f, -0x1.bea620p-3f,
        -0x1.a2d596p-3f, -0x1.8b7c62p-3f, -0x1.778a34p-3f, -0x1.6640f4p-3f,
        -0x1.571788p-3f, -0x1.49a858p-3f, -0x1.3da650p-3f, -0x1.32d5d6p-3f,
        -0x1.2907fep-3f, -0x1.20174cp-3f, -0x1.17e56ap-3f, -0x1.10597ep-3f,
        -0x1.095ef2p-3f, -0x1.02e49ap-3f, -0x1.f9b7e6p-4f, -0x1.ee7164p-4f,
        -0x1.e3e098p-4f, -0x1.d9f362p-4f, -0x1.d09a08p-4f, -0x1.c7c6dcp-4f,
        -0x1.bf6de0p-4f, -0x1.b78488p-4f, -0x1.b00180p-4f, -0x1.a8dc84p-4f,
    },
    { /* x^2 */
        0x1.1bae00p-4f, 0x1.87e25ep-4f, 0x1.78675cp-4f, 0x1.5d686ep-4f,
        0x1.443f92p-4f, 0x1.2e9920p-4f, 0x1.1c2da0p-4f, 0x1.0c6db4p-4f,
        0x1.fdac8cp-5f, 0x1.e5fb5cp-5f, 0x1.d122d2p-5f, 0x1.bea294p-5f,
        0x1.ae1638p-5f, 0x1.9f2e70p-5f, 0x1.91abf0p-5f, 0x1.855ba0p-5f,
        0x1.7a13dcp-5f, 0x1.6fb25cp-5f, 0x1.661aa6p-5f, 0x1.5d34dcp-5f,
        0x1.54ecdap-5f, 0x1.4d317ep-5f, 0x1.45f41cp-5f, 0x1.3f2810p-5f,
        0x1.38c268p-5f, 0x1.32b998p-5f, 0x1.2d0548p-5f, 0x1.279e20p-5f,
        0x1.227da2p-5f, 0x1.1d9e0ap-5f, 0x1.18fa3ap-5f, 0x1.148d9ep-5f,
    },
    { /* x^3 */
        -0x1.d52ee8p-5f, -0x1.5ea49ep-5f, -0x1.3ccd4ep-5f, -0x1.243e70p-5f,
        -0x1.1010f0p-5f, -0x1.fe3908p-6f, -0x1.e15eb0p-6f, -0x1.c889eep-6f,
        -0x1.b2f096p-6f, -0x1.9ff7a4p-6f, -0x1.8f276ep-6f, -0x1.8022aep-6f,
        -0x1.729fe6p-6f, -0x1.666484p-6f, -0x1.5b415ap-6f, -0x1.510ffap-6f,
        -0x1.47b0d0p-6f, -0x1.3f09a8p-6f, -0x1.370492p-6f, -0x1.2f8f10p-6f,
        -0x1.28996ap-6f, -0x1.221632p-6f, -0x1.1bf9d6p-6f, -0x1.163a52p-6f,
        -0x1.10cef2p-6f, -0x1.0bb014p-6f, -0x1.06d706p-6f, -0x1.023ddep-6f,
        -0x1.fbbebep-7f, -0x1.f36dbep-7f, -0x1.eb8066p-7f, -0x1.e3ef40p-7f,
    },
    { /* x^4 */
        0x1.3634cep-6f, 0x1.47e066p-6f, 0x1.2e9a58p-6f, 0x1.18b93ep-6f,
        0x1.065cb6p-6f, 0x1.eda2fcp-7f, 0x1.d3060cp-7f, 0x1.bbfd42p-7f,
        0x1.a7d8f4p-7f, 0x1.961216p-7f, 0x1.863fecp-7f, 0x1.781056p-7f,
        0x1.6b4242p-7f, 0x1.5fa17ep-7f, 0x1.5503c4p-7f, 0x1.4b4674p-7f,
        0x1.424cf6p-7f, 0x1.39ff74p-7f, 0x1.3249e4p-7f, 0x1.2b1b50p-7f,
        0x1.246542p-7f, 0x1.1e1b4ep-7f, 0x1.1832bep-7f, 0x1.12a246p-7f,
        0x1.0d61c6p-7f, 0x1.086a20p-7f, 0x1.03b50ep-7f, 0x1.fe7a0cp-8f,
        0x1.f5fa30p-8f, 0x1.ede1c4p-8f, 0x1.e628e8p-8f, 0x1.dec892p-8f,
    },
    { /* x^5 */
        -0x1.c9806ap-7f, -0x1.852ef4p-7f, -0x1.671f7cp-7f, -0x1.4e4a3ep-7f,
        -0x1.396662p-7f, -0x1.27a060p-7f, -0x1.185536p-7f, -0x1.0b0818p-7f,
        -0x1.feb2d6p-8f, -0x1.e9fed2p-8f, -0x1.d7812ep-8f, -0x1.c6df50p-8f,
        -0x1.b7d104p-8f, -0x1.aa1c20p-8f, -0x1.9d9142p-8f, -0x1.920978p-8f,
        -0x1.876470p-8f, -0x1.7d871cp-8f, -0x1.745ab0p-8f, -0x1.6bcbc8p-8f,
        -0x1.63c9d4p-8f, -0x1.5c4692p-8f, -0x1.5535a6p-8f, -0x1.4e8c54p-8f,
        -0x1.484136p-8f, -0x1.424c0ap-8f, -0x1.3ca588p-8f, -0x1.374738p-8f,
        -0x1.322b5cp-8f, -0x1.2d4cd0p-8f, -0x1.28a6fep-8f, -0x1.2435c4p-8f,
    },
    { /* x^6 */
        0x1.c34672p-8f, 0x1.b1b8ccp-8f, 0x1.9191bep-8f, 0x1.76a6acp-8f,
        0x1.5fed9ap-8f, 0x1.4c8722p-8f, 0x1.3bc736p-8f, 0x1.2d2a4ap-8f,
        0x1.204b6ap-8f, 0x1.14dc7cp-8f, 0x1.0aa074p-8f, 0x1.016706p-8f,
        0x1.f21324p-9f, 0x1.e2d1c2p-9f, 0x1.d4d6e2p-9f, 0x1.c7f874p-9f,
        0x1.bc137cp-9f, 0x1.b10a9ep-9f, 0x1.a6c508p-9f, 0x1.9d2d9ap-9f,
        0x1.94323ap-9f, 0x1.8bc34ap-9f, 0x1.83d344p-9f, 0x1.7c565cp-9f,
        0x1.75423cp-9f, 0x1.6e8dccp-9f, 0x1.683104p-9f, 0x1.6224c2p-9f,
        0x1.5c62aap-9f, 0x1.56e514p-9f, 0x1.51a6e2p-9f, 0x1.4ca386p-9f,
    },
};

enum { QUANTILE_DEGREE = 6, QUANTILE_TOP = 157 }; /* the biased exponent of 2^30: segment 0 */

static inline float float_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* The normal of one word, in plain float arithmetic (products and sums rounded one at a
 * time, no fused multiply-add), which normal_quantile16 repeats bit for bit. */
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
        p = p * x + normal_quantile_poly[k][s];
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
        p = _mm512_add_ps(_mm512_mul_ps(p, x),
                          _mm512_permutex2var_ps(tab[2 * k], s, tab[2 * k + 1]));
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
    __m512i x[4][4];
    for (int j = 0; j < nb; j++) {
        uint64_t field = (block + (uint64_t)(j % blocks)) * L;
        x[j][0] = _mm512_set1_epi32((int)(ctr[0] + (uint32_t)(j / blocks)));
        x[j][1] = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)field), lane);
        x[j][2] = _mm512_set1_epi32((int)((uint32_t)(field >> 32 & 0xffu) |
                                          (ctr[2] & ~UINT32_C(0xff))));
        x[j][3] = _mm512_set1_epi32((int)ctr[3]);
    }
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < PHILOX_ROUNDS; r++) {
        if (r > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
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
