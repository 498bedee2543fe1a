/*
 * ranks.h: the tools as MPI ranks (docs/mpi.md). Under `mpirun -n K` every rank parses its
 * own command line, which must be rank 0's; rank 0 alone reads the input files and sends
 * the others what it read; the library shares the work out (dp_dist.h); rank 0 alone
 * prints and writes. A rank other than 0 holds back its stderr, and prints it
 * at exit only when its failure is the job's (the lowest failing rank's), so that a failure
 * gives one message; every rank exits with that failure's status. Without DPCC_WITH_MPI, or
 * when not started by an MPI launcher, the tools are one process and all this is a no-op.
 */
#ifndef DPCC_CLI_RANKS_H
#define DPCC_CLI_RANKS_H

#include "dp_dist.h"

#include <stdio.h>

typedef struct cli_ranks {
    dp_dist *dist;       /* NULL: one process */
    dp_dist own;
    int real_stderr;     /* -1, or where a held stderr goes at the end */
    FILE *held;
} cli_ranks;

/* Joins the job when an MPI launcher started the process, and checks that every rank got
 * rank 0's arguments. 0, or an exit status (the job already left: return it). */
int cli_ranks_begin(cli_ranks *r, int *argc, char ***argv);

/* Every rank's exit status rc agreed: 0, or the lowest failing rank's. */
int cli_ranks_agree(cli_ranks *r, int rc);

/* Prints the held stderr where this rank's failure is the job's, and leaves the job;
 * returns rc. */
int cli_ranks_end(cli_ranks *r, int rc);

#endif
