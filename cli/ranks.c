/*
 * ranks.c: joining and leaving an MPI job, one message for a failure (ranks.h).
 */
#include "ranks.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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

/* The words of argv[1..argc), each ended by a NUL, into a malloc'd buffer. */
static unsigned char *join_args(int argc, char **argv, size_t *len)
{
    *len = 0;
    for (int i = 1; i < argc; i++)
        *len += strlen(argv[i]) + 1;
    unsigned char *buf = malloc(*len + 1), *p = buf;
    for (int i = 1; buf && i < argc; i++)
        p = (unsigned char *)stpcpy((char *)p, argv[i]) + 1;
    return buf;
}

/* Where words a (n bytes) first differ from words b (m bytes), as a message into err. */
static dp_status differs(int rank, const unsigned char *a, size_t n, const unsigned char *b,
                         size_t m, dp_error *err)
{
    size_t i = 0, at = 0;
    while (at < n && at < m && strcmp((const char *)a + at, (const char *)b + at) == 0) {
        at += strlen((const char *)a + at) + 1;
        i++;
    }
    const char *mine = at < n ? (const char *)a + at : NULL;
    const char *theirs = at < m ? (const char *)b + at : NULL;
    return dp_fail(err, DP_EUSAGE, "rank %d's command line differs from rank 0's: argument %zu "
                   "is %s%.200s%s where rank 0's is %s%.200s%s (every rank must be given the "
                   "same arguments)", rank, i + 1, mine ? "'" : "", mine ? mine : "missing",
                   mine ? "'" : "", theirs ? "'" : "", theirs ? theirs : "missing",
                   theirs ? "'" : "");
}

/* Every rank's arguments against rank 0's: ranks given different ones (mpirun's MPMD form)
 * would not agree on what to read, compute and write, and rank 0 reads for all of them. */
static dp_status same_command_line(dp_dist *d, int argc, char **argv, dp_error *err)
{
    size_t n, m;
    unsigned char *own = join_args(argc, argv, &n), *theirs = own;
    m = n;
    dp_status st = own ? DP_OK : dp_fail(err, DP_ENOMEM, "rank %d: out of memory", d->rank);
    st = dp_dist_bcast(d, st, NULL, &theirs, &m, err);
    if (st == DP_OK && d->rank != 0) {
        if (n != m || memcmp(own, theirs, n) != 0)
            st = differs(d->rank, own, n, theirs, m, err);
        free(theirs);
    }
    free(own);
    return dp_dist_agree(d, st, err);
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
    if ((st = same_command_line(r->dist, *argc, *argv, &err)) == DP_OK)
        return 0;
    if (dp_dist_owns_error(r->dist)) {
        const char *slash = strrchr((*argv)[0], '/');
        fprintf(stderr, "%s: error: %s\n", slash ? slash + 1 : (*argv)[0], err.msg);
    }
    return cli_ranks_end(r, dp_exit_code(st));
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
