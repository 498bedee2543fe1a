/*
 * api_mpi.c: the MPI-only C API (include/dpcc/mpi.h) gives the bits of one process. Run
 * under mpirun: every rank compiles the example with the communicator and alone, and runs
 * the batch of 8 noisily both ways, and checks that the program bytes, the report and the
 * outputs agree; rank 0 says how it went.
 *   mpirun -n K api_mpi MODEL CALIB BATCH
 */
#include "dpcc/mpi.h"

#include "api_check.h"

#include <stdlib.h>
#include <string.h>

typedef struct result {
    void *dp;
    size_t dp_len;
    char *report;
    void *out;
    size_t out_len;
} result;

/* Compiles and runs, over comm or (comm MPI_COMM_NULL) in this process alone. */
static void compile_and_run(const char *model, const char *calib, const char *batch,
                            MPI_Comm comm, result *r)
{
    dpcc_compiler *c = NULL;
    CHECK(dpcc_compiler_new(&c) == DPCC_OK, "no compiler");
    if (comm != MPI_COMM_NULL)
        CHECK(dpcc_set_mpi_comm(c, comm) == DPCC_OK, "%s", dpcc_compiler_error(c));
    CHECK(dpcc_set_calibration_path(c, calib) == DPCC_OK, "%s", dpcc_compiler_error(c));
    CHECK(dpcc_set_seeds(c, 2) == DPCC_OK, "%s", dpcc_compiler_error(c));
    CHECK(dpcc_set_threads(c, 1) == DPCC_OK, "%s", dpcc_compiler_error(c));
    CHECK(dpcc_compile_file(c, model) == DPCC_OK, "%s", dpcc_compiler_error(c));
    const void *dp = NULL;
    CHECK(dpcc_program(c, &dp, &r->dp_len) == DPCC_OK, "%s", dpcc_compiler_error(c));
    r->dp = dp ? memcpy(malloc(r->dp_len), dp, r->dp_len) : NULL;
    const char *report = dpcc_report_json(c);
    r->report = report ? strdup(report) : NULL;

    dprt_model *m = NULL;
    dprt_session *s = NULL;
    dpcc_tensor in, out;
    CHECK(dprt_model_new(&m) == DPCC_OK, "no model");
    if (comm != MPI_COMM_NULL)
        CHECK(dprt_model_set_mpi_comm(m, comm) == DPCC_OK, "%s", dprt_model_error(m));
    CHECK(dprt_model_load_buffer(m, r->dp, r->dp_len) == DPCC_OK, "%s", dprt_model_error(m));
    CHECK(dprt_tensor_read(m, batch, &in) == DPCC_OK, "%s", dprt_model_error(m));
    dprt_session_options so = {.threads = 1};
    CHECK(dprt_session_new(m, &so, &s) == DPCC_OK, "%s", dprt_model_error(m));
    dprt_run_options ro = {.seed = 11};
    CHECK(dprt_session_run(s, &in, 1, &ro) == DPCC_OK, "%s", dprt_session_error(s));
    CHECK(dprt_session_output(s, 0, &out) == DPCC_OK, "%s", dprt_session_error(s));
    r->out_len = 4;
    for (int d = 0; d < out.rank; d++)
        r->out_len *= (size_t)out.dims[d];
    r->out = memcpy(malloc(r->out_len), out.data, r->out_len);
    dprt_tensor_release(&in);
    dprt_session_free(s);
    dprt_model_free(m);
    dpcc_compiler_free(c);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (argc != 4) {
        fprintf(stderr, "usage: mpirun -n K api_mpi MODEL CALIB BATCH\n");
        MPI_Finalize();
        return 2;
    }
    result shared = {0}, alone = {0};
    compile_and_run(argv[1], argv[2], argv[3], MPI_COMM_WORLD, &shared);
    compile_and_run(argv[1], argv[2], argv[3], MPI_COMM_NULL, &alone);
    CHECK(shared.dp_len == alone.dp_len && memcmp(shared.dp, alone.dp, alone.dp_len) == 0,
          "rank %d: the program differs from one process's", rank);
    CHECK(shared.report && alone.report && strcmp(shared.report, alone.report) == 0,
          "rank %d: the report differs from one process's", rank);
    CHECK(shared.out_len == alone.out_len && memcmp(shared.out, alone.out, alone.out_len) == 0,
          "rank %d: the outputs differ from one process's", rank);
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("api_mpi: %d failure(s)\n", total);
    free(shared.dp);
    free(shared.report);
    free(shared.out);
    free(alone.dp);
    free(alone.report);
    free(alone.out);
    MPI_Finalize();
    return total != 0;
}
