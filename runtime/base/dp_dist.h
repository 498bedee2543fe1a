/*
 * dp_dist.h: the processes one run is spread over (the MPI ranks of `mpirun -n K dpcc` or
 * `dprun`), as the library sees them: a rank, a count, and one collective, an in-place
 * gather of every rank's bytes to every rank.
 *
 * The library never includes MPI: a build with DPCC_WITH_MPI fills this record from a
 * communicator (dp_dist_mpi.h); without it, or with a NULL record, a run is one process.
 * Work is split by dp_dist_share and gathered whole on every rank, so every rank takes the
 * same decisions from the same bits, and results do not depend on the rank count.
 *
 * A failure on one rank must not leave the others waiting in a collective: each exchange is
 * preceded by dp_dist_agree on the ranks' statuses, and a rank that failed outside an
 * exchange meets the others at their next agreement (the tools agree once more at exit).
 * Once a failure is agreed, no rank enters another collective.
 *
 * Input files are rank 0's alone to read: it reads the bytes (or the tensors) and the
 * others receive them through the same gather, where only rank 0 gives bytes (a broadcast),
 * so a job needs its inputs on rank 0's node only, and a bad input fails there once.
 */
#ifndef DP_DIST_H
#define DP_DIST_H

#include "dp_arena.h"
#include "dp_base.h"
#include "dp_tensor.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct dp_dist {
    int rank, size;
    /* Every rank r's bytes[r] bytes, at offset bytes[0] + ... + bytes[r - 1] of buf, where
     * the caller's own already are; 0, or -1 when the transport fails. */
    int (*gather)(void *ctx, void *buf, const int64_t *bytes);
    void *ctx;
    /* the agreed failure (DP_OK until one) and the lowest rank that had it */
    dp_status failed;
    int failed_rank;
} dp_dist;

/* Whether d spreads work over more than one process. */
bool dp_dist_spread(const dp_dist *d);

/* Whether this rank is the one that reports (rank 0, or a single process). */
bool dp_dist_leads(const dp_dist *d);

/*
 * Every rank's status, agreed: DP_OK when all succeeded, else the status of the lowest
 * failing rank (err says which rank, on the others). A single process gets st back.
 */
dp_status dp_dist_agree(dp_dist *d, dp_status st, dp_error *err);

/* Whether this rank should print the run's error: it is the lowest failing rank. */
bool dp_dist_owns_error(const dp_dist *d);

/* The rank's share [*lo, *hi) of n items, in contiguous blocks by rank; rank 0's is never
 * empty when n > 0. */
void dp_dist_share(const dp_dist *d, int rank, int64_t n, int64_t *lo, int64_t *hi);

/* The in-place gather above, after an agreement; DP_EINTERNAL when the transport fails. */
dp_status dp_dist_gather(dp_dist *d, void *buf, const int64_t *bytes, dp_error *err);

/*
 * Every rank's status st agreed (dp_dist_agree: rank 0's failure to read is every rank's),
 * then rank 0's n bytes at p into p on every rank (n the same on every rank: a record's
 * size). A single process gets st back.
 */
dp_status dp_dist_bcast_into(dp_dist *d, dp_status st, void *p, size_t n, dp_error *err);

/*
 * The same for rank 0's *len bytes at *buf, which it keeps: another rank gets a copy in a
 * new buffer (from a, or malloc'd for the caller to free when a is NULL), 64-byte aligned
 * and zero from *len to the next multiple of 64, as dp_file_read gives; NULL on failure.
 */
dp_status dp_dist_bcast(dp_dist *d, dp_status st, dp_arena *a, unsigned char **buf,
                        size_t *len, dp_error *err);

/* The same for rank 0's tensors t[0..n): another rank's get rank 0's types, shapes and
 * data (in a). */
dp_status dp_dist_bcast_tensors(dp_dist *d, dp_status st, dp_tensor *t, int n, dp_arena *a,
                                dp_error *err);

#endif
