/*
 * api_nulls.c: every function of dpcc.h and dprt.h called with each of its pointer arguments
 * NULL in turn, the others valid, against what docs/api.md promises for it: DPCC_EUSAGE with
 * a message on the handle when there is one, the documented default where NULL means one,
 * never a crash. The handles are made ready first (a compiled program, a loaded model, a
 * session that has run), so that a NULL is the only thing wrong with a call. Also the caller
 * errors that once came back as DPCC_EINTERNAL, and the budgets the tool refuses.
 *
 *   api_nulls SOURCE_DIR WORK_DIR
 */
#include <dpcc/dpcc.h>
#include <dpcc/dprt.h>

#include "api_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A refusal of a call on a live handle: DPCC_EUSAGE, and the handle says why. */
#define REFUSED(call, msg) CHECK((call) == DPCC_EUSAGE && (msg)[0], "no usage error, or no message")

static char work[2048], src[2048];

static void progress(void *ctx, const char *stage, double done)
{
}

/* The model file's bytes, for dpcc_compile_buffer (malloc'd). */
static void *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    void *buf = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0
        && (buf = malloc((size_t)n)) && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (f)
        fclose(f);
    *len = buf ? (size_t)n : 0;
    return buf;
}

/* On a compiler of its own: an input shape bound here would stop the example compiling. */
static void compiler_setters(void)
{
    dpcc_compiler *c;
    if (dpcc_compiler_new(&c) != DPCC_OK)
        abort();
    const char *e = dpcc_compiler_error(c);
    float x[28 * 28] = {0};
    int64_t dims[1] = {1};
    dpcc_tensor batch = {DPCC_FLOAT, 4, {1, 1, 28, 28}, x}, no_data = batch;
    no_data.data = NULL;

    CHECK(dpcc_compiler_new(NULL) == DPCC_EUSAGE, "new with no place for the handle");
    dpcc_compiler_free(NULL);
    CHECK(dpcc_compiler_error(NULL) != NULL, "the message of no compiler");
    CHECK(dpcc_version() != NULL, "version");

    CHECK(dpcc_set_device(NULL, "paper_shot") == DPCC_EUSAGE, "device");
    CHECK(dpcc_set_device(c, NULL) == DPCC_OK, "the default device: %s", e);
    CHECK(dpcc_set_analog(NULL, 1) == DPCC_EUSAGE, "analog");
    CHECK(dpcc_set_calibration_path(NULL, "calib.npy") == DPCC_EUSAGE, "calibration path");
    CHECK(dpcc_set_calibration_path(c, NULL) == DPCC_OK, "no calibration file: %s", e);
    CHECK(dpcc_set_calibration(NULL, &batch, 1) == DPCC_EUSAGE, "calibration");
    REFUSED(dpcc_set_calibration(c, NULL, 1), e);
    REFUSED(dpcc_set_calibration(c, &no_data, 1), e);
    /* x is exactly one batch: under ASan, reading a byte more is a report (it was) */
    CHECK(dpcc_set_calibration(c, &batch, 1) == DPCC_OK, "a batch: %s", e);
    CHECK(dpcc_set_calibration(c, NULL, 0) == DPCC_OK, "no calibration batches: %s", e);
    CHECK(dpcc_set_labels_path(NULL, "labels.npy") == DPCC_EUSAGE, "labels");
    CHECK(dpcc_set_labels_path(c, NULL) == DPCC_OK, "no labels: %s", e);
    CHECK(dpcc_set_budget(NULL, "top1", 0.1) == DPCC_EUSAGE, "budget");
    REFUSED(dpcc_set_budget(c, NULL, 0.1), e);
    CHECK(dpcc_set_schedule(NULL, "dynamic") == DPCC_EUSAGE, "schedule");
    REFUSED(dpcc_set_schedule(c, NULL), e);
    CHECK(dpcc_set_seed(NULL, 1) == DPCC_EUSAGE, "seed");
    CHECK(dpcc_set_seeds(NULL, 1) == DPCC_EUSAGE, "seeds");
    CHECK(dpcc_set_threads(NULL, 1) == DPCC_EUSAGE, "threads");
    CHECK(dpcc_set_progress(NULL, progress, c) == DPCC_EUSAGE, "progress");
    CHECK(dpcc_set_progress(c, NULL, c) == DPCC_OK, "no progress callback: %s", e);
    CHECK(dpcc_set_progress(c, progress, NULL) == DPCC_OK, "no callback context: %s", e);
    CHECK(dpcc_set_progress(c, NULL, NULL) == DPCC_OK, "neither: %s", e);
    CHECK(dpcc_set_input_shape(NULL, "input", 1, dims) == DPCC_EUSAGE, "input shape");
    REFUSED(dpcc_set_input_shape(c, NULL, 1, dims), e);
    REFUSED(dpcc_set_input_shape(c, "input", 1, NULL), e);
    CHECK(dpcc_set_input_shape(c, "scalar", 0, NULL) == DPCC_OK, "a scalar's shape: %s", e);

    /* the tool's --budget rule (dpcc --budget top1=inf, top1=2 are usage errors) */
    REFUSED(dpcc_set_budget(c, "top1", INFINITY), e);
    REFUSED(dpcc_set_budget(c, "kl", NAN), e);
    REFUSED(dpcc_set_budget(c, "top1", 2), e);
    REFUSED(dpcc_set_budget(c, "accuracy", 1.5), e);
    REFUSED(dpcc_set_budget(c, "top1=", 0.1), e);
    CHECK(dpcc_set_budget(c, "kl", 2) == DPCC_OK, "kl is no rate: %s", e);
    dpcc_compiler_free(c);
}

/* Compiles the example from memory (no analog stage: fast) and checks the results' calls. */
static void compiler_results(dpcc_compiler *c, const void *onnx, size_t len, const void **dp,
                             size_t *dp_len)
{
    const char *e = dpcc_compiler_error(c);
    const char *model = path_in(src, "examples/fmnist_cnn.onnx");
    CHECK(dpcc_compile_file(NULL, model) == DPCC_EUSAGE, "compile a file");
    REFUSED(dpcc_compile_file(c, NULL), e);
    CHECK(dpcc_compile_buffer(NULL, onnx, len, src) == DPCC_EUSAGE, "compile a buffer");
    REFUSED(dpcc_compile_buffer(c, NULL, len, src), e);
    CHECK(dpcc_set_analog(c, 0) == DPCC_OK, "%s", e);
    CHECK(dpcc_compile_buffer(c, onnx, len, NULL) == DPCC_OK, "no base folder needed: %s", e);

    dpcc_layer_info L;
    CHECK(dpcc_num_layers(NULL) == 0, "the layers of no compiler");
    CHECK(dpcc_num_layers(c) == 5, "%d layers", dpcc_num_layers(c));
    CHECK(dpcc_layer(NULL, 0, &L) == DPCC_EUSAGE, "layer");
    REFUSED(dpcc_layer(c, 0, NULL), e);
    CHECK(dpcc_layer(c, 0, &L) == DPCC_OK, "%s", e);
    CHECK(dpcc_report_json(NULL) == NULL, "the report of no compiler");

    const void *bytes = &bytes;
    size_t n = 1;
    CHECK(dpcc_program(NULL, &bytes, &n) == DPCC_EUSAGE && !bytes && n == 0, "program");
    bytes = &bytes;
    REFUSED(dpcc_program(c, &bytes, NULL), e);
    CHECK(bytes == NULL, "the bytes are cleared on failure");
    REFUSED(dpcc_program(c, NULL, &n), e);
    CHECK(n == 0, "the length is cleared on failure");

    const char *out = path_in(work, "api-nulls.dp");
    CHECK(dpcc_write_dp(NULL, out) == DPCC_EUSAGE, "write_dp");
    REFUSED(dpcc_write_dp(c, NULL), e);
    CHECK(dpcc_write_c(NULL, path_in(work, "api-nulls.c"), "k") == DPCC_EUSAGE, "write_c");
    REFUSED(dpcc_write_c(c, NULL, "k"), e);
    CHECK(dpcc_write_c(c, path_in(work, "api-nulls.c"), NULL) == DPCC_OK, "prefix from the "
          "file's name: %s", e);
    CHECK(dpcc_program(c, dp, dp_len) == DPCC_OK, "%s", e);
}

static void runtime_model(dprt_model *m, const void *dp, size_t len)
{
    const char *e = dprt_model_error(m);
    dprt_io_info io;
    CHECK(dprt_version() != NULL, "version");
    CHECK(dprt_model_new(NULL) == DPCC_EUSAGE, "new with no place for the handle");
    dprt_model_free(NULL);
    CHECK(dprt_model_error(NULL) != NULL, "the message of no model");
    CHECK(dprt_model_load_file(NULL, path_in(work, "api-nulls.dp")) == DPCC_EUSAGE, "load");
    REFUSED(dprt_model_load_file(m, NULL), e);
    CHECK(dprt_model_load_buffer(NULL, dp, len) == DPCC_EUSAGE, "load a buffer");
    REFUSED(dprt_model_load_buffer(m, NULL, len), e);
    CHECK(dprt_model_load_buffer(m, dp, len) == DPCC_OK, "%s", e);

    CHECK(dprt_model_num_inputs(NULL) == 0 && dprt_model_num_outputs(NULL) == 0
          && dprt_model_num_analog_layers(NULL) == 0, "the counts of no model");
    CHECK(dprt_model_input(NULL, 0, &io) == DPCC_EUSAGE, "input");
    REFUSED(dprt_model_input(m, 0, NULL), e);
    CHECK(dprt_model_output(NULL, 0, &io) == DPCC_EUSAGE, "output");
    REFUSED(dprt_model_output(m, 0, NULL), e);
}

static void runtime_tensors(dprt_model *m, dpcc_tensor *x)
{
    const char *e = dprt_model_error(m);
    const char *in = path_in(src, "examples/input_0.npy");
    dpcc_tensor t;
    memset(&t, 0xff, sizeof t);
    CHECK(dprt_tensor_read(NULL, in, &t) == DPCC_EUSAGE && t.data == NULL, "read, and a "
          "release-safe tensor");
    REFUSED(dprt_tensor_read(m, NULL, &t), e);
    REFUSED(dprt_tensor_read(m, in, NULL), e);
    dprt_tensor_release(NULL);
    CHECK(dprt_tensor_read(m, in, x) == DPCC_OK, "%s", e);

    const char *out = path_in(work, "api-nulls.npy");
    dpcc_tensor no_data = *x, bad_type = *x;
    no_data.data = NULL;
    bad_type.dtype = (dpcc_dtype)99;
    CHECK(dprt_tensor_write(NULL, out, x, "x") == DPCC_EUSAGE, "write");
    REFUSED(dprt_tensor_write(m, NULL, x, "x"), e);
    REFUSED(dprt_tensor_write(m, out, NULL, "x"), e);
    REFUSED(dprt_tensor_write(m, out, &no_data, "x"), e);
    CHECK(dprt_tensor_write(m, path_in(work, "api-nulls.pb"), x, NULL) == DPCC_OK, "a .pb with "
          "no name: %s", e);
    /* the caller's mistake, not "a bug in dpcc" (DPCC_EINTERNAL) */
    REFUSED(dprt_tensor_write(m, out, &bad_type, "x"), e);
}

static void runtime_session(dprt_model *m, const dpcc_tensor *x)
{
    const char *e = dprt_model_error(m);
    dprt_session_options so = {.threads = 1};
    dprt_session *s = (dprt_session *)(void *)&so, *t = NULL; /* s: cleared on failure */
    CHECK(dprt_session_new(NULL, &so, &s) == DPCC_EUSAGE && !s, "session of no model");
    REFUSED(dprt_session_new(m, &so, NULL), e);
    REFUSED(dprt_session_new(m, NULL, NULL), e);
    CHECK(dprt_session_new(m, NULL, &t) == DPCC_OK, "default options: %s", e);
    dprt_session_free(t);
    dprt_session_free(NULL);
    CHECK(dprt_session_error(NULL) != NULL, "the message of no session");
    CHECK(dprt_session_new(m, &so, &s) == DPCC_OK, "%s", e);
    if (!s)
        return;
    const char *se = dprt_session_error(s);
    dprt_run_options ideal = {.ideal = 1};
    dpcc_tensor no_data = *x, y;
    no_data.data = NULL;
    CHECK(dprt_session_run(NULL, x, 1, &ideal) == DPCC_EUSAGE, "run");
    REFUSED(dprt_session_run(s, NULL, 1, &ideal), se);
    CHECK(dprt_session_run(s, &no_data, 1, &ideal) == DPCC_EINPUT && se[0], "an input with no "
          "data is bad data");
    /* options NULL: noisy with seed 0, which a program without the analog stage refuses */
    CHECK(dprt_session_run(s, x, 1, NULL) == DPCC_EINPUT && strstr(se, "calibrat"), "%s", se);
    CHECK(dprt_session_run(s, x, 1, &ideal) == DPCC_OK, "%s", se);
    CHECK(dprt_session_output(NULL, 0, &y) == DPCC_EUSAGE, "output");
    REFUSED(dprt_session_output(s, 0, NULL), se);
    CHECK(dprt_session_output(s, 0, &y) == DPCC_OK && y.rank == 2, "%s", se);
    dprt_session_free(s);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: api_nulls SOURCE_DIR WORK_DIR\n");
        return 1;
    }
    snprintf(src, sizeof src, "%s", argv[1]);
    snprintf(work, sizeof work, "%s", argv[2]);
    size_t len, dp_len = 0;
    void *onnx = slurp(path_in(src, "examples/fmnist_cnn.onnx"), &len);
    dpcc_compiler *c;
    dprt_model *m;
    if (!onnx || dpcc_compiler_new(&c) != DPCC_OK || dprt_model_new(&m) != DPCC_OK) {
        fprintf(stderr, "api_nulls: cannot read the example model or make the handles\n");
        return 1;
    }
    const void *dp = NULL;
    dpcc_tensor x = {0};
    compiler_setters();
    compiler_results(c, onnx, len, &dp, &dp_len);
    if (dp) {
        runtime_model(m, dp, dp_len);
        runtime_tensors(m, &x);
        if (x.data)
            runtime_session(m, &x);
    }
    dprt_tensor_release(&x);
    dprt_model_free(m);
    dpcc_compiler_free(c);
    free(onnx);
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    else
        printf("api_nulls: all checks passed\n");
    return failures != 0;
}
