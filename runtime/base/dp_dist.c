/*
 * dp_dist.c: agreement and shares over the processes of a run (dp_dist.h).
 */
#include "dp_dist.h"

#include <stdlib.h>

bool dp_dist_spread(const dp_dist *d)
{
    return d && d->size > 1;
}

bool dp_dist_leads(const dp_dist *d)
{
    return !d || d->rank == 0;
}

/* The agreed failure, on a rank that did not fail itself. */
static dp_status elsewhere(const dp_dist *d, dp_error *err)
{
    dp_fail(err, d->failed, "rank %d failed", d->failed_rank);
    err->elsewhere = true;
    return d->failed;
}

dp_status dp_dist_agree(dp_dist *d, dp_status st, dp_error *err)
{
    if (!dp_dist_spread(d))
        return st;
    if (d->failed != DP_OK)
        return st != DP_OK ? st : elsewhere(d, err);
    int64_t *bytes = malloc((size_t)d->size * sizeof *bytes);
    int32_t *all = malloc((size_t)d->size * sizeof *all);
    int rc = -1;
    if (bytes && all) {
        for (int r = 0; r < d->size; r++)
            bytes[r] = sizeof *all;
        all[d->rank] = (int32_t)st;
        rc = d->gather(d->ctx, all, bytes);
    }
    d->failed_rank = -1;
    for (int r = 0; rc == 0 && r < d->size && d->failed_rank < 0; r++)
        if (all[r] != DP_OK) {
            d->failed = (dp_status)all[r];
            d->failed_rank = r;
        }
    free(bytes);
    free(all);
    if (rc != 0) {
        d->failed = DP_EINTERNAL;
        d->failed_rank = d->rank;
        return dp_fail(err, DP_EINTERNAL, "rank %d: the ranks could not agree", d->rank);
    }
    if (d->failed == DP_OK)
        return DP_OK;
    return st != DP_OK ? st : elsewhere(d, err);
}

bool dp_dist_owns_error(const dp_dist *d)
{
    return !dp_dist_spread(d) || d->failed == DP_OK || d->failed_rank == d->rank;
}

void dp_dist_share(const dp_dist *d, int rank, int64_t n, int64_t *lo, int64_t *hi)
{
    int64_t k = dp_dist_spread(d) ? d->size : 1;
    /* rounded up, so that rank 0's block is never the empty one */
    *lo = (n * rank + k - 1) / k;
    *hi = (n * (rank + 1) + k - 1) / k;
}

dp_status dp_dist_gather(dp_dist *d, void *buf, const int64_t *bytes, dp_error *err)
{
    DP_ASSERT(d->failed == DP_OK);
    if (d->gather(d->ctx, buf, bytes) == 0)
        return DP_OK;
    d->failed = DP_EINTERNAL;
    d->failed_rank = d->rank;
    return dp_fail(err, DP_EINTERNAL, "rank %d: exchanging results between ranks failed",
                   d->rank);
}
