/*
 * dp_dist_mpi.h: a dp_dist over an MPI communicator (built with DPCC_WITH_MPI only). The
 * only place besides the tools' main() and the MPI-only public header that sees MPI.
 */
#ifndef DP_DIST_MPI_H
#define DP_DIST_MPI_H

#include "dp_dist.h"

#include <mpi.h>

/* Fills d for a duplicate of comm (so that the library's messages never meet the
 * caller's); free it with dp_dist_mpi_free. */
dp_status dp_dist_mpi_init(dp_dist *d, MPI_Comm comm, dp_error *err);
void dp_dist_mpi_free(dp_dist *d);

/* The C API's: *d (malloc'd on first use) made again for comm, or freed and NULL when that
 * fails; dp_dist_mpi_delete frees it (NULL is fine). */
dp_status dp_dist_mpi_renew(dp_dist **d, MPI_Comm comm, dp_error *err);
void dp_dist_mpi_delete(dp_dist *d);

#endif
