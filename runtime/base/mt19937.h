/*
 * mt19937.h: the Mersenne Twister, seeded and sampled the way numpy's legacy RandomState
 * does, so that seeded random ops (training-mode Dropout) reproduce reference outputs that
 * were computed with numpy. Not for the analog noise model, which needs a counter-based
 * generator.
 */
#ifndef DP_MT19937_H
#define DP_MT19937_H

#include <stdint.h>

typedef struct dp_mt19937 {
    uint32_t state[624];
    int next;
} dp_mt19937;

/* As numpy.random.seed(seed) for an integer seed below 2^32. */
void dp_mt19937_seed(dp_mt19937 *mt, uint32_t seed);
uint32_t dp_mt19937_next(dp_mt19937 *mt);
/* As RandomState.random_sample(): a double in [0, 1) with 53 random bits. */
double dp_mt19937_uniform(dp_mt19937 *mt);

#endif
