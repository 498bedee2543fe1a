/*
 * philox.c: Philox4x32-10 with Random123's constants and key schedule (the key is bumped
 * before every round but the first), and its conversions to doubles.
 */
#include "philox.h"

#include <math.h>

enum { PHILOX_ROUNDS = 10 };

#define PHILOX_M0 UINT32_C(0xD2511F53)
#define PHILOX_M1 UINT32_C(0xCD9E8D57)
#define PHILOX_W0 UINT32_C(0x9E3779B9) /* golden ratio */
#define PHILOX_W1 UINT32_C(0xBB67AE85) /* sqrt(3) - 1 */

void dp_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < PHILOX_ROUNDS; r++) {
        if (r > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0;
        c1 = (uint32_t)p1;
        c2 = n2;
        c3 = (uint32_t)p0;
    }
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

void dp_philox_normal2(const uint32_t r[4], double z[2])
{
    const double two_pi = 6.283185307179586476925286766559;
    double u1 = (double)(top53(r[0], r[1]) + 1) * 0x1p-53;
    double u2 = dp_philox_uniform(r[2], r[3]);
    double rad = sqrt(-2.0 * log(u1)), theta = two_pi * u2;
    z[0] = rad * cos(theta);
    z[1] = rad * sin(theta);
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
