/*
 * reservoir.h: the statistics calibration keeps of one layer's values (reservoir.c): a
 * fixed-size uniform sample of |x| for a layer-wide quantile, and per output channel the
 * DPC_TOP_K largest |x| for a high quantile per channel, in memory that does not grow with
 * the calibration set.
 */
#ifndef DPCC_RESERVOIR_H
#define DPCC_RESERVOIR_H

#include <stdbool.h>
#include <stdint.h>

enum { DPC_RESERVOIR = 65536, DPC_TOP_K = 32 };

typedef struct dpc_reservoir {
    float *v;                /* the sample, DPC_RESERVOIR long; NULL: not in use */
    int64_t n, seen;         /* values in the sample, and offered since the restart */
    uint64_t rng;
    double sum2;             /* of every value offered */
    bool negative;           /* the caller's: some input was below zero */
    /* per output channel: the largest |x| as a min-heap of up to DPC_TOP_K, and how many seen */
    int64_t channels;        /* 0: the layer's geometry is unknown, one scale for the layer */
    float *top;              /* channels x DPC_TOP_K */
    int32_t *in_top;
    int64_t *seen_channel;
} dpc_reservoir;

/* The seeded generator of the sampling (and of the synthetic calibration data). */
uint64_t dpc_splitmix64(uint64_t *state);

/* An empty reservoir drawing from seed, with `channels` channel heaps (0: none). false:
 * out of memory (r is then freed). */
bool dpc_reservoir_init(dpc_reservoir *r, uint64_t seed, int64_t channels);
void dpc_reservoir_free(dpc_reservoir *r);
/* Forgets the layer-wide sample and its sums (the channel heaps stay). */
void dpc_reservoir_restart(dpc_reservoir *r);

/* |x| into the sample (Algorithm R); NaN is ignored. */
void dpc_reservoir_offer(dpc_reservoir *r, float x);
/* |x| into channel c's heap of its largest values; NaN is ignored. */
void dpc_reservoir_offer_channel(dpc_reservoir *r, int64_t c, float x);

/* The q-quantile of the sample (the ceil(q n)-th smallest); 0 for an empty one. Sorts it. */
double dpc_reservoir_quantile(dpc_reservoir *r, double q);
/* Channel c's q-quantile from its largest values: exact while they reach that far down
 * (up to about (DPC_TOP_K - 1) / (1 - q) values), else the least of them; 0 for a channel
 * that saw nothing. */
double dpc_reservoir_channel_quantile(dpc_reservoir *r, int64_t c, double q);

#endif
