/*
 * mt19937.c: MT19937 (Matsumoto and Nishimura, 1998) with the reference init_genrand
 * seeding and numpy's 53-bit double construction (two draws, 27 and 26 bits).
 */
#include "mt19937.h"

enum { MT_N = 624, MT_M = 397 };

void dp_mt19937_seed(dp_mt19937 *mt, uint32_t seed)
{
    mt->state[0] = seed;
    for (int i = 1; i < MT_N; i++) {
        uint32_t prev = mt->state[i - 1];
        mt->state[i] = 1812433253u * (prev ^ (prev >> 30)) + (uint32_t)i;
    }
    mt->next = MT_N;
}

static void regenerate(dp_mt19937 *mt)
{
    for (int i = 0; i < MT_N; i++) {
        uint32_t y = (mt->state[i] & 0x80000000u) | (mt->state[(i + 1) % MT_N] & 0x7fffffffu);
        mt->state[i] = mt->state[(i + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    mt->next = 0;
}

uint32_t dp_mt19937_next(dp_mt19937 *mt)
{
    if (mt->next >= MT_N)
        regenerate(mt);
    uint32_t y = mt->state[mt->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

double dp_mt19937_uniform(dp_mt19937 *mt)
{
    uint32_t a = dp_mt19937_next(mt) >> 5, b = dp_mt19937_next(mt) >> 6;
    return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}
