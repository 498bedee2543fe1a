/*
 * api_contracts.c: the public API's promises beyond the docs/api.md example: status codes
 * and messages for misuse and bad data, files in and out, data-set batches, and independent
 * compilers on concurrent threads. Linked against the shared libraries, so it also checks
 * that their exports suffice.
 *
 *   api_contracts SOURCE_DIR WORK_DIR
 */
#include <dpcc/dpcc.h>
#include <dpcc/dprt.h>

#include "api_check.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char model_path[4096], work[2048], src[2048];

static void compiler_misuse(void)
{
    dpcc_compiler *c;
    CHECK(dpcc_compiler_new(&c) == DPCC_OK, "new");
    CHECK(dpcc_set_schedule(c, "sometimes") == DPCC_EUSAGE, "%s", dpcc_compiler_error(c));
    CHECK(strstr(dpcc_compiler_error(c), "sometimes") != NULL, "%s", dpcc_compiler_error(c));
    CHECK(dpcc_set_budget(c, "joules", 1) == DPCC_EUSAGE, "budget metric");
    CHECK(dpcc_set_budget(c, "top1", -1) == DPCC_EUSAGE, "negative budget");
    CHECK(dpcc_set_seeds(c, 99) == DPCC_EUSAGE, "seeds");
    CHECK(dpcc_set_schedule(c, "fixed:4") == DPCC_OK && dpcc_compiler_error(c)[0] == '\0',
          "a success clears the message: '%s'", dpcc_compiler_error(c));
    dpcc_layer_info L;
    const void *dp;
    size_t len;
    CHECK(dpcc_layer(c, 0, &L) == DPCC_EUSAGE, "layer before compiling");
    CHECK(dpcc_program(c, &dp, &len) == DPCC_EUSAGE && dp == NULL, "program before compiling");
    CHECK(dpcc_report_json(c) == NULL, "report before compiling");
    static const char junk[] = "this is not an ONNX model";
    CHECK(dpcc_compile_buffer(c, junk, sizeof junk, NULL) == DPCC_EINPUT, "%s",
          dpcc_compiler_error(c));
    CHECK(strstr(dpcc_compiler_error(c), "ONNX") != NULL, "%s", dpcc_compiler_error(c));
    CHECK(dpcc_compile_file(c, path_in(work, "no-such-model.onnx")) == DPCC_EIO, "%s",
          dpcc_compiler_error(c));
    CHECK(dpcc_set_device(c, path_in(work, "no-such-profile.json")) == DPCC_OK, "device");
    CHECK(dpcc_compile_file(c, model_path) != DPCC_OK, "a missing device profile");
    CHECK(dpcc_set_device(c, NULL) == DPCC_OK, "default device");
    /* two calibration batches for a one-input model */
    float x[28 * 28 * 2] = {0};
    dpcc_tensor two[2] = {{DPCC_FLOAT, 4, {1, 1, 28, 28}, x}, {DPCC_FLOAT, 4, {1, 1, 28, 28}, x}};
    CHECK(dpcc_set_calibration(c, two, 2) == DPCC_OK, "%s", dpcc_compiler_error(c));
    CHECK(dpcc_compile_file(c, model_path) == DPCC_EUSAGE, "%s", dpcc_compiler_error(c));
    dpcc_compiler_free(c);
}

/* --no-analog from a file, written out as .dp and C, then run as a batch from the file. */
static void file_round_trip(void)
{
    dpcc_compiler *c;
    CHECK(dpcc_compiler_new(&c) == DPCC_OK, "new");
    dpcc_set_analog(c, 0);
    CHECK(dpcc_compile_file(c, model_path) == DPCC_OK, "%s", dpcc_compiler_error(c));
    CHECK(dpcc_num_layers(c) == 5, "%d analog layers", dpcc_num_layers(c));
    CHECK(dpcc_report_json(c) == NULL, "no report without the analog stage");
    CHECK(dpcc_write_dp(c, path_in(work, "api-noanalog.dp")) == DPCC_OK, "%s",
          dpcc_compiler_error(c));
    CHECK(dpcc_write_c(c, path_in(work, "api-noanalog.c"), "fmnist") == DPCC_OK, "%s",
          dpcc_compiler_error(c));
    CHECK(dpcc_write_c(c, path_in(work, "api-bad.c"), "not an identifier") == DPCC_EUSAGE,
          "bad prefix");
    dpcc_compiler_free(c);

    dprt_model *m;
    dprt_session *s = NULL;
    CHECK(dprt_model_new(&m) == DPCC_OK, "new");
    CHECK(dprt_model_load_file(m, path_in(work, "no-such.dp")) == DPCC_EIO, "%s",
          dprt_model_error(m));
    CHECK(dprt_session_new(m, NULL, &s) == DPCC_EUSAGE && !s, "a session of nothing");
    CHECK(dprt_model_load_file(m, path_in(work, "api-noanalog.dp")) == DPCC_OK, "%s",
          dprt_model_error(m));
    CHECK(dprt_model_load_file(m, path_in(work, "api-noanalog.dp")) == DPCC_EUSAGE, "reload");
    dprt_io_info in, out;
    CHECK(dprt_model_input(m, 0, &in) == DPCC_OK && strcmp(in.name, "input") == 0
          && in.dtype == DPCC_FLOAT && in.rank == 4 && in.dims[1] == 1 && in.dims[3] == 28,
          "input 0");
    CHECK(dprt_model_output(m, 0, &out) == DPCC_OK && strcmp(out.name, "logits") == 0, "output");
    CHECK(dprt_model_input(m, 1, &in) == DPCC_EUSAGE, "input 1");
    dpcc_tensor batch, want, got;
    CHECK(dprt_tensor_read(m, path_in(src, "examples/batch_8.npy"), &batch) == DPCC_OK, "%s",
          dprt_model_error(m));
    CHECK(dprt_tensor_read(m, path_in(src, "examples/expected_batch_8/output_0.pb"), &want)
          == DPCC_OK, "%s", dprt_model_error(m));
    dprt_session_options so = {.threads = 2};
    CHECK(dprt_session_new(m, &so, &s) == DPCC_OK, "%s", dprt_model_error(m));
    dprt_run_options ideal = {.ideal = 1};
    if (s) {
        CHECK(dprt_session_output(s, 0, &got) == DPCC_EUSAGE, "outputs before a run");
        CHECK(dprt_session_run(s, &batch, 2, &ideal) == DPCC_EUSAGE, "%s", dprt_session_error(s));
        dpcc_tensor wrong = batch;
        wrong.dtype = DPCC_INT32;
        CHECK(dprt_session_run(s, &wrong, 1, &ideal) == DPCC_EINPUT, "%s", dprt_session_error(s));
        CHECK(dprt_session_run(s, &batch, 1, &ideal) == DPCC_OK, "%s", dprt_session_error(s));
        CHECK(dprt_session_output(s, 0, &got) == DPCC_OK && got.rank == 2 && got.dims[0] == 8
              && got.dims[1] == 10, "batch output %lldx%lld", (long long)got.dims[0],
              (long long)got.dims[1]);
        int bad = 0;
        for (int i = 0; got.data && want.data && i < 80; i++)
            bad += !(fabsf(((float *)got.data)[i] - ((float *)want.data)[i])
                     <= 1e-4f + 1e-3f * fabsf(((float *)want.data)[i]));
        CHECK(bad == 0, "%d of 80 batch outputs differ from PyTorch's", bad);
        CHECK(dprt_tensor_write(m, path_in(work, "api-out.npy"), &got, "logits") == DPCC_OK,
              "%s", dprt_model_error(m));
    }
    dprt_session_free(s);
    dprt_tensor_release(&batch);
    dprt_tensor_release(&want);
    dprt_model_free(m);
}

/* A report handed back in memory feeds a later compilation's schedule (from:FILE). */
static void schedule_from_report(void)
{
    dpcc_compiler *c;
    CHECK(dpcc_compiler_new(&c) == DPCC_OK, "new");
    dpcc_set_schedule(c, "fixed:3");
    dpcc_set_seeds(c, 1);
    CHECK(dpcc_compile_file(c, model_path) == DPCC_OK, "%s", dpcc_compiler_error(c));
    const char *report = dpcc_report_json(c);
    const char *path = path_in(work, "api-report.json");
    FILE *f = report ? fopen(path, "w") : NULL;
    CHECK(f != NULL, "no report, or cannot write %s", path);
    if (!f) {
        dpcc_compiler_free(c);
        return;
    }
    fputs(report, f);
    fclose(f);
    char from[4200];
    snprintf(from, sizeof from, "from:%s", path);
    CHECK(dpcc_set_schedule(c, from) == DPCC_OK, "%s", dpcc_compiler_error(c));
    CHECK(dpcc_compile_file(c, model_path) == DPCC_OK, "%s", dpcc_compiler_error(c));
    dpcc_layer_info L;
    for (int i = 0; i < dpcc_num_layers(c); i++)
        CHECK(dpcc_layer(c, i, &L) == DPCC_OK && L.repetitions == 3 && L.energy_j > 0,
              "layer %d: N %d", i, L.repetitions);
    dpcc_compiler_free(c);
}

/* Compilers share nothing: two threads compile at once and get the same program. */
typedef struct job {
    void *dp;
    size_t len;
    dpcc_status st;
} job;

static void *compile_job(void *arg)
{
    job *j = arg;
    dpcc_compiler *c;
    const void *dp;
    if ((j->st = dpcc_compiler_new(&c)) != DPCC_OK)
        return NULL;
    dpcc_set_schedule(c, "fixed:2");
    dpcc_set_seeds(c, 1);
    dpcc_set_threads(c, 1);
    if ((j->st = dpcc_compile_file(c, model_path)) == DPCC_OK
        && (j->st = dpcc_program(c, &dp, &j->len)) == DPCC_OK && (j->dp = malloc(j->len)))
        memcpy(j->dp, dp, j->len);
    dpcc_compiler_free(c);
    return NULL;
}

static void concurrent_compilers(void)
{
    job jobs[2] = {{0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, compile_job, &jobs[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK(jobs[0].st == DPCC_OK && jobs[1].st == DPCC_OK, "statuses %d %d", jobs[0].st,
          jobs[1].st);
    CHECK(jobs[0].dp && jobs[1].dp && jobs[0].len == jobs[1].len
          && memcmp(jobs[0].dp, jobs[1].dp, jobs[0].len) == 0, "different programs");
    free(jobs[0].dp);
    free(jobs[1].dp);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: api_contracts SOURCE_DIR WORK_DIR\n");
        return 1;
    }
    snprintf(src, sizeof src, "%s", argv[1]);
    snprintf(work, sizeof work, "%s", argv[2]);
    snprintf(model_path, sizeof model_path, "%s/examples/fmnist_cnn.onnx", src);
    compiler_misuse();
    file_round_trip();
    schedule_from_report();
    concurrent_compilers();
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    else
        printf("api_contracts: all checks passed\n");
    return failures != 0;
}
