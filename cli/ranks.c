/*
 * ranks.c: joining and leaving an MPI job, one message for a failure (ranks.h).
 */
#include "ranks.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef DPCC_WITH_MPI
#include "dp_dist_mpi.h"

/* Whether an MPI launcher (Open MPI's, or a PMI one: MPICH, Slurm) started the process: a
 * plain run of an MPI build then starts no MPI runtime at all. */
static int launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

/* A rank other than 0: stdout to /dev/null, stderr into a temporary file until the end. */
static int hold_output(cli_ranks *r)
{
    int null = open("/dev/null", O_WRONLY);
    r->held = tmpfile();
    r->real_stderr = dup(STDERR_FILENO);
    if (null < 0 || !r->held || r->real_stderr < 0 || dup2(null, STDOUT_FILENO) < 0
        || dup2(fileno(r->held), STDERR_FILENO) < 0)
        return -1;
    close(null);
    return 0;
}

int cli_ranks_begin(cli_ranks *r, int *argc, char ***argv)
{
    *r = (cli_ranks){.real_stderr = -1};
    if (!launched())
        return 0;
    dp_error err = {0};
    if (MPI_Init(argc, argv) != MPI_SUCCESS) {
        fprintf(stderr, "error: MPI_Init failed\n");
        return dp_exit_code(DP_EINTERNAL);
    }
    dp_status st = dp_dist_mpi_init(&r->own, MPI_COMM_WORLD, &err);
    if (st != DP_OK) {
        fprintf(stderr, "error: %s\n", err.msg);
        MPI_Abort(MPI_COMM_WORLD, dp_exit_code(st));
    }
    r->dist = &r->own;
    if (r->own.rank != 0 && hold_output(r) != 0) {
        perror("error: holding a rank's output");
        MPI_Abort(MPI_COMM_WORLD, dp_exit_code(DP_EIO));
    }
    return 0;
}

int cli_ranks_end(cli_ranks *r, int rc)
{
    if (!r->dist)
        return rc;
    fflush(stdout);
    fflush(stderr);
    if (r->held && rc != 0 && dp_dist_owns_error(r->dist)) {
        char buf[4096];
        size_t n;
        rewind(r->held);
        while ((n = fread(buf, 1, sizeof buf, r->held)) > 0)
            if (write(r->real_stderr, buf, n) < 0)
                break;
    }
    if (r->held)
        fclose(r->held);
    dp_dist_mpi_free(&r->own);
    MPI_Finalize();
    return rc;
}
#else
int cli_ranks_begin(cli_ranks *r, int *argc, char ***argv)
{
    *r = (cli_ranks){.real_stderr = -1};
    return 0;
}

int cli_ranks_end(cli_ranks *r, int rc)
{
    return rc;
}
#endif

int cli_ranks_agree(cli_ranks *r, int rc)
{
    if (!r->dist)
        return rc;
    dp_error err = {0};
    /* the tools' exit statuses 0 to 5 are the statuses' own numbers, so a status agreed
     * inside the library and an exit status agreed here read alike */
    dp_dist_agree(r->dist, (dp_status)rc, &err);
    return r->dist->failed == DP_OK ? 0 : dp_exit_code(r->dist->failed);
}
