/*
 * reservoir.c: bounded-memory statistics of a layer's values for calibration (reservoir.h).
 */
#include "reservoir.h"

#include "dp_base.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t dpc_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

bool dpc_reservoir_init(dpc_reservoir *r, uint64_t seed, int64_t channels)
{
    memset(r, 0, sizeof *r);
    r->rng = seed;
    r->v = malloc(DPC_RESERVOIR * sizeof *r->v);
    if (r->v && channels > 0) {
        r->top = malloc((size_t)channels * DPC_TOP_K * sizeof *r->top);
        r->in_top = calloc((size_t)channels, sizeof *r->in_top);
        r->seen_channel = calloc((size_t)channels, sizeof *r->seen_channel);
        r->channels = channels;
    }
    if (!r->v || (channels > 0 && (!r->top || !r->in_top || !r->seen_channel))) {
        dpc_reservoir_free(r);
        return false;
    }
    return true;
}

void dpc_reservoir_free(dpc_reservoir *r)
{
    free(r->v);
    free(r->top);
    free(r->in_top);
    free(r->seen_channel);
    memset(r, 0, sizeof *r);
}

void dpc_reservoir_restart(dpc_reservoir *r)
{
    r->n = r->seen = 0;
    r->sum2 = 0;
}

void dpc_reservoir_offer(dpc_reservoir *r, float x)
{
    float a = fabsf(x);
    if (isnan(a))
        return;
    r->sum2 += (double)a * a;
    if (r->n < DPC_RESERVOIR) {
        r->v[r->n++] = a;
    } else {
        uint64_t j = dpc_splitmix64(&r->rng) % (uint64_t)(r->seen + 1);
        if (j < DPC_RESERVOIR)
            r->v[j] = a;
    }
    r->seen++;
}

void dpc_reservoir_offer_channel(dpc_reservoir *r, int64_t c, float x)
{
    float a = fabsf(x);
    if (isnan(a))
        return;
    DP_ASSERT(c >= 0 && c < r->channels);
    float *h = r->top + c * DPC_TOP_K;
    int32_t n = r->in_top[c];
    r->seen_channel[c]++;
    if (n < DPC_TOP_K) {
        int32_t i = r->in_top[c]++;
        for (; i > 0 && h[(i - 1) / 2] > a; i = (i - 1) / 2)
            h[i] = h[(i - 1) / 2];
        h[i] = a;
        return;
    }
    if (a <= h[0])
        return;
    int32_t i = 0;
    for (;;) {
        int32_t k = 2 * i + 1;
        if (k >= n)
            break;
        if (k + 1 < n && h[k + 1] < h[k])
            k++;
        if (h[k] >= a)
            break;
        h[i] = h[k];
        i = k;
    }
    h[i] = a;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

double dpc_reservoir_quantile(dpc_reservoir *r, double q)
{
    if (r->n == 0)
        return 0;
    qsort(r->v, (size_t)r->n, sizeof *r->v, cmp_float);
    int64_t k = (int64_t)ceil(q * (double)r->n) - 1;
    return r->v[k < 0 ? 0 : k >= r->n ? r->n - 1 : k];
}

double dpc_reservoir_channel_quantile(dpc_reservoir *r, int64_t c, double q)
{
    float *h = r->top + c * DPC_TOP_K;
    int32_t n = r->in_top[c];
    if (n == 0)
        return 0;
    qsort(h, (size_t)n, sizeof *h, cmp_float);
    /* the ceil(q n)-th smallest, as dpc_reservoir_quantile takes it, is the
     * (n - ceil(q n) + 1)-th largest */
    int64_t seen = r->seen_channel[c];
    int64_t from_top = seen - (int64_t)ceil(q * (double)seen) + 1;
    from_top = from_top < 1 ? 1 : from_top > n ? n : from_top;
    return h[n - from_top];
}
