/*
 * dp_dist.c: agreement and shares over the processes of a run (dp_dist.h).
 */
#include "dp_dist.h"

#include <stdlib.h>
#include <string.h>

/* Rank 0's bytes per gather: MPI counts are ints. */
#define BCAST_CHUNK ((size_t)1 << 30)

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

/* Every rank's status st agreed, then rank 0's n bytes at p into p on every rank, in
 * chunks. */
static dp_status from_rank0(dp_dist *d, dp_status st, unsigned char *p, size_t n,
                            dp_error *err)
{
    int64_t *bytes = calloc((size_t)d->size, sizeof *bytes);
    if (!bytes && st == DP_OK)
        st = dp_fail(err, DP_ENOMEM, "rank %d: out of memory", d->rank);
    st = dp_dist_agree(d, st, err);
    for (size_t at = 0; st == DP_OK && at < n; at += BCAST_CHUNK) {
        bytes[0] = (int64_t)(n - at < BCAST_CHUNK ? n - at : BCAST_CHUNK);
        st = dp_dist_gather(d, p + at, bytes, err);
    }
    free(bytes);
    return st;
}

dp_status dp_dist_bcast_into(dp_dist *d, dp_status st, void *p, size_t n, dp_error *err)
{
    return dp_dist_spread(d) ? from_rank0(d, st, p, n, err) : st;
}

dp_status dp_dist_bcast(dp_dist *d, dp_status st, dp_arena *a, unsigned char **buf,
                        size_t *len, dp_error *err)
{
    if (!dp_dist_spread(d))
        return st;
    bool root = d->rank == 0;
    int64_t n = root ? (int64_t)*len : 0;
    if (!root) {
        *buf = NULL;
        *len = 0;
    }
    if ((st = dp_dist_bcast_into(d, st, &n, sizeof n, err)) != DP_OK)
        return st;
    /* room on every rank before the bytes are sent: a rank without it fails them all */
    unsigned char *p = *buf;
    if (!root) {
        size_t cap = ((size_t)n + 64) & ~(size_t)63;
        p = a ? dp_arena_alloc(a, cap) : aligned_alloc(64, cap);
        if (p && !a)
            memset(p + n, 0, cap - (size_t)n);
        if (!p)
            st = dp_fail(err, DP_ENOMEM, "rank %d: out of memory for %lld bytes from rank 0",
                         d->rank, (long long)n);
    }
    st = from_rank0(d, st, p, (size_t)n, err);
    if (!root) {
        if (st != DP_OK && !a)
            free(p);
        *buf = st == DP_OK ? p : NULL;
        *len = st == DP_OK ? (size_t)n : 0;
    }
    return st;
}

dp_status dp_dist_bcast_tensors(dp_dist *d, dp_status st, dp_tensor *t, int n, dp_arena *a,
                                dp_error *err)
{
    /* the types and shapes (rank 0's data pointers, replaced below), then each one's data */
    st = dp_dist_bcast_into(d, st, t, (size_t)n * sizeof *t, err);
    for (int i = 0; st == DP_OK && dp_dist_spread(d) && i < n; i++) {
        unsigned char *p = t[i].data;
        size_t len = dp_nbytes(&t[i]);
        st = dp_dist_bcast(d, DP_OK, a, &p, &len, err);
        t[i].data = p;
    }
    return st;
}
