/*
 * philox.c: Philox4x32-10 with Random123's constants and key schedule (the key is bumped
 * before every round but the first), its conversion to uniform doubles and to normals, and
 * the noise of a block of columns at once.
 */
#include "philox.h"

#include <math.h>
#include <string.h>

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
 * ln u for u in (0, 1], in float: u = m 2^e with m in [sqrt(1/2), sqrt(2)), and ln m by the
 * series 2 atanh(s) = 2 (s + s^3/3 + ... + s^9/9), s = (m - 1) / (m + 1), |s| < 0.1716,
 * whose next term is below 3e-8 of the result.
 */
static inline float log_unit(float u)
{
    uint32_t bits;
    memcpy(&bits, &u, sizeof bits);
    float e = (float)(int32_t)(bits >> 23) - 127.0f;
    bits = (bits & UINT32_C(0x007fffff)) | UINT32_C(0x3f800000);
    float m;
    memcpy(&m, &bits, sizeof m);
    /* branch-free, so that loops over it vectorise: halving is exact */
    float big = m > 1.41421356f ? 1.0f : 0.0f;
    m *= 1.0f - 0.5f * big;
    e += big;
    float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
    float p = 1.0f / 9;
    p = 1.0f / 7 + s2 * p;
    p = 1.0f / 5 + s2 * p;
    p = 1.0f / 3 + s2 * p;
    return e * 0.693147181f + 2.0f * (s + s * s2 * p);
}

/*
 * sin and cos of 2 pi u for u in [0, 1), in float: the nearest quarter turn k, then Taylor
 * series of the rest x = 2 pi (u - k/4), |x| <= pi/4, to x^9 and x^10 (next terms below
 * 2e-9 and 3e-10).
 */
static inline void sincos_turn(float u, float *sin_out, float *cos_out)
{
    float k = (4.0f * u + 0x1.8p23f) - 0x1.8p23f; /* round to nearest: 0..4 */
    float x = (4.0f * u - k) * 1.57079633f, x2 = x * x;
    float ps = 1.0f / 362880;
    ps = -1.0f / 5040 + x2 * ps;
    ps = 1.0f / 120 + x2 * ps;
    ps = -1.0f / 6 + x2 * ps;
    float pc = -1.0f / 3628800;
    pc = 1.0f / 40320 + x2 * pc;
    pc = -1.0f / 720 + x2 * pc;
    pc = 1.0f / 24 + x2 * pc;
    pc = -0.5f + x2 * pc;
    float sx = x + x * x2 * ps, cx = 1.0f + x2 * pc;
    /* 2 pi u = k pi/2 + x: quarter turns swap sine and cosine and flip their signs */
    int q = (int)k & 3;
    float a = q & 1 ? cx : sx, b = q & 1 ? sx : cx;
    *sin_out = q & 2 ? -a : a;
    *cos_out = (q + 1) & 2 ? -b : b;
}

/* Box-Muller on two words of a Philox output; the conversions are signed, which vector
 * units have (unsigned ones AVX2 lacks), and exact but for u1's rounding to 24 bits. */
static inline void box_muller(uint32_t a, uint32_t b, float *z0, float *z1)
{
    float u1 = ((float)(int32_t)(a >> 1) + 0.5f) * 0x1p-31f;
    float u2 = (float)(int32_t)(b >> 8) * 0x1p-24f;
    float rad = sqrtf(-2.0f * log_unit(u1)), s, c;
    sincos_turn(u2, &s, &c);
    *z0 = rad * c;
    *z1 = rad * s;
}

void dp_philox_normal4(const uint32_t r[4], float z[4])
{
    box_muller(r[0], r[1], &z[0], &z[1]);
    box_muller(r[2], r[3], &z[2], &z[3]);
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

/* philox_lanes with AVX-512 integer instructions, which compilers do not find on their own:
 * the same bits, three times as fast. */
__attribute__((target("avx512f")))
static void philox_lanes_avx512(int n, uint32_t *c0, uint32_t *c1, uint32_t *c2, uint32_t *c3,
                                uint32_t k0, uint32_t k1)
{
    const __m512i m0 = _mm512_set1_epi32((int)PHILOX_M0), m1 = _mm512_set1_epi32((int)PHILOX_M1);
    for (int i = 0; i < n; i += 16) {
        __mmask16 live = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512i x0 = _mm512_maskz_loadu_epi32(live, c0 + i);
        __m512i x1 = _mm512_maskz_loadu_epi32(live, c1 + i);
        __m512i x2 = _mm512_maskz_loadu_epi32(live, c2 + i);
        __m512i x3 = _mm512_maskz_loadu_epi32(live, c3 + i);
        uint32_t a = k0, b = k1;
        for (int r = 0; r < PHILOX_ROUNDS; r++) {
            if (r > 0) {
                a += PHILOX_W0;
                b += PHILOX_W1;
            }
            __m512i hi0, lo0, hi1, lo1;
            mulhilo16(x0, m0, &hi0, &lo0);
            mulhilo16(x2, m1, &hi1, &lo1);
            x0 = _mm512_xor_si512(_mm512_xor_si512(hi1, x1), _mm512_set1_epi32((int)a));
            x2 = _mm512_xor_si512(_mm512_xor_si512(hi0, x3), _mm512_set1_epi32((int)b));
            x1 = lo1;
            x3 = lo0;
        }
        _mm512_mask_storeu_epi32(c0 + i, live, x0);
        _mm512_mask_storeu_epi32(c1 + i, live, x1);
        _mm512_mask_storeu_epi32(c2 + i, live, x2);
        _mm512_mask_storeu_epi32(c3 + i, live, x3);
    }
}
#endif

/* dp_noise_normals's work, in a static function: clang refuses to multiversion a function
 * a header declared and code before it called, as in an emitted kernel's one source. */
DP_MULTI_TARGET
static void noise_normals(const uint32_t ctr[4], const uint32_t key[2], uint64_t block,
                          int blocks, float z[restrict DP_NOISE_SPAN])
{
    enum { L = DP_NOISE_BLOCK / 4, LANES = DP_NOISE_SPAN / 4 };
    uint32_t c0[LANES], c1[LANES], c2[LANES], c3[LANES];
    uint32_t fixed2 = ctr[2] & ~UINT32_C(0xff);
    int lanes = blocks * L;
    for (int i = 0; i < lanes; i++) {
        uint64_t field = block * L + (uint64_t)i;
        c0[i] = ctr[0];
        c1[i] = (uint32_t)field;
        c2[i] = (uint32_t)(field >> 32 & 0xffu) | fixed2;
        c3[i] = ctr[3];
    }
#ifdef DP_PHILOX_AVX512
    if (__builtin_cpu_supports("avx512f"))
        philox_lanes_avx512(lanes, c0, c1, c2, c3, key[0], key[1]);
    else
#endif
        philox_lanes(lanes, c0, c1, c2, c3, key[0], key[1]);
    /* word k of lane i is column k L + i of its block: four contiguous runs. The blocks are
     * independent, so out-of-order cores overlap their long chains of dependent steps. */
    for (int b = 0; b < blocks; b++) {
        const uint32_t *r0 = c0 + b * L, *r1 = c1 + b * L, *r2 = c2 + b * L, *r3 = c3 + b * L;
        float *zb = z + b * DP_NOISE_BLOCK;
        for (int i = 0; i < L; i++) {
            box_muller(r0[i], r1[i], &zb[i], &zb[L + i]);
            box_muller(r2[i], r3[i], &zb[2 * L + i], &zb[3 * L + i]);
        }
    }
}

void dp_noise_normals(const dp_noise_id *id, int n, float z[restrict DP_NOISE_SPAN])
{
    uint32_t ctr[4], key[2];
    dp_noise_counter(id, ctr, key);
    int blocks = (int)(id->col % DP_NOISE_BLOCK + (uint64_t)n - 1) / DP_NOISE_BLOCK + 1;
    noise_normals(ctr, key, id->col / DP_NOISE_BLOCK, blocks, z);
}
