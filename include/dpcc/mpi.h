/*
 * dpcc/mpi.h: the C API over MPI ranks, for a build with DPCC_WITH_MPI only (docs/mpi.md);
 * dpcc.h and dprt.h never include MPI.
 *
 * Given a communicator, the calls that measure or run a data set become collectives over
 * it: every rank of comm makes the same calls with the same options (each its own
 * handle), the work is shared out, and every rank gets the results, the bits of one
 * process. The files the compiler's settings name (the model of dpcc_compile_file, the
 * calibration set, labels, device profile and schedule) are read by rank 0 alone, and the
 * others receive the bytes: they need not see the files. A failure on any rank fails the
 * call on every rank (the others' message names the rank that failed) rather than leave
 * them waiting. The library duplicates comm: its
 * messages never meet the caller's.
 */
#ifndef DPCC_MPI_H
#define DPCC_MPI_H

#include <mpi.h>

#include "dpcc/dpcc.h"
#include "dpcc/dprt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dpcc_compile_file and dpcc_compile_buffer share calibration, sensitivity and the
 * schedule's measurements out over comm. */
dpcc_status dpcc_set_mpi_comm(dpcc_compiler *c, MPI_Comm comm);

/* Sessions made from m after this share a data set's inferences out over comm. */
dpcc_status dprt_model_set_mpi_comm(dprt_model *m, MPI_Comm comm);

#ifdef __cplusplus
}
#endif

#endif
