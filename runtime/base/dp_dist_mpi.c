/*
 * dp_dist_mpi.c: dp_dist's gather as MPI_Allgatherv of bytes in place (dp_dist_mpi.h).
 */
#include "dp_dist_mpi.h"

#include <limits.h>
#include <stdlib.h>

static int mpi_gather(void *ctx, void *buf, const int64_t *bytes)
{
    MPI_Comm comm = *(MPI_Comm *)ctx;
    int size;
    MPI_Comm_size(comm, &size);
    int *counts = malloc((size_t)size * 2 * sizeof *counts), *displs = counts + size;
    if (!counts)
        return -1;
    int64_t at = 0;
    int ok = 1;
    for (int r = 0; r < size; r++) {
        /* MPI counts are ints: every rank refuses alike, having the same sizes */
        ok &= bytes[r] <= INT_MAX && at <= INT_MAX;
        counts[r] = ok ? (int)bytes[r] : 0;
        displs[r] = ok ? (int)at : 0;
        at += bytes[r];
    }
    int rc = ok ? MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs,
                                 MPI_BYTE, comm)
                : MPI_ERR_COUNT;
    free(counts);
    return rc == MPI_SUCCESS ? 0 : -1;
}

dp_status dp_dist_mpi_init(dp_dist *d, MPI_Comm comm, dp_error *err)
{
    *d = (dp_dist){.gather = mpi_gather};
    MPI_Comm *own = malloc(sizeof *own);
    if (!own)
        return dp_fail(err, DP_ENOMEM, "out of memory");
    if (MPI_Comm_dup(comm, own) != MPI_SUCCESS) {
        free(own);
        return dp_fail(err, DP_EINTERNAL, "MPI_Comm_dup failed");
    }
    MPI_Comm_rank(*own, &d->rank);
    MPI_Comm_size(*own, &d->size);
    d->ctx = own;
    return DP_OK;
}

void dp_dist_mpi_free(dp_dist *d)
{
    if (!d->ctx)
        return;
    MPI_Comm_free(d->ctx);
    free(d->ctx);
    d->ctx = NULL;
}

dp_status dp_dist_mpi_renew(dp_dist **d, MPI_Comm comm, dp_error *err)
{
    dp_dist *n = *d ? *d : malloc(sizeof *n);
    if (!n)
        return dp_fail(err, DP_ENOMEM, "out of memory");
    if (*d)
        dp_dist_mpi_free(n);
    *d = n;
    dp_status st = dp_dist_mpi_init(n, comm, err);
    if (st != DP_OK) {
        free(n);
        *d = NULL;
    }
    return st;
}

void dp_dist_mpi_delete(dp_dist *d)
{
    if (!d)
        return;
    dp_dist_mpi_free(d);
    free(d);
}
