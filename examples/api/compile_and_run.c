/*
 * compile_and_run.c: the example of docs/api.md. Compiles an ONNX model held in memory with
 * in-memory calibration data, prints its analog schedule and energy, loads the compiled
 * program into the runtime, runs it ideal and noisy, and checks the ideal outputs against
 * reference outputs.
 *
 *   compile_and_run MODEL.onnx CALIB.npy INPUT.npy EXPECTED.pb [OUT.dp]
 *
 * Build: cc compile_and_run.c $(pkg-config --cflags --libs dpcc)
 * Exit status: 0 when the outputs match, 1 on any failure.
 */
#include <dpcc/dpcc.h>
#include <dpcc/dprt.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole of a file, malloc'd: the model as an application might hold it. */
static void *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    void *buf = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0
        && (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (f)
        fclose(f);
    *len = (size_t)n;
    return buf;
}

static int64_t numel(const dpcc_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->rank; d++)
        n *= t->dims[d];
    return n;
}

/* Float outputs within atol + rtol * |want| of the references. */
static int matches(const dpcc_tensor *got, const dpcc_tensor *want, double rtol, double atol)
{
    if (got->dtype != DPCC_FLOAT || want->dtype != DPCC_FLOAT || numel(got) != numel(want))
        return 0;
    const float *g = got->data, *w = want->data;
    for (int64_t i = 0; i < numel(got); i++)
        if (!(fabs((double)g[i] - w[i]) <= atol + rtol * fabs((double)w[i])))
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODEL.onnx CALIB.npy INPUT.npy EXPECTED.pb [OUT.dp]\n", argv[0]);
        return 1;
    }
    int ok = 0;
    dpcc_compiler *cc = NULL;
    dprt_model *model = NULL;
    dprt_session *session = NULL;
    dpcc_tensor calib = {0}, input = {0}, expected = {0};
    size_t onnx_len = 0;
    void *onnx = read_file(argv[1], &onnx_len);
    if (!onnx) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    printf("dpcc %s, dprt %s\n", dpcc_version(), dprt_version());

    /* A model handle also reads tensor files (and holds their errors). */
    if (dprt_model_new(&model) != DPCC_OK || dpcc_compiler_new(&cc) != DPCC_OK)
        goto out;
    if (dprt_tensor_read(model, argv[2], &calib) != DPCC_OK
        || dprt_tensor_read(model, argv[3], &input) != DPCC_OK
        || dprt_tensor_read(model, argv[4], &expected) != DPCC_OK) {
        fprintf(stderr, "error: %s\n", dprt_model_error(model));
        goto out;
    }

    /* Compile: the default device, a fixed schedule of 8 repetitions (quick; "dynamic"
     * searches for the cheapest one meeting the budget), calibrated on the batch given. */
    if (dpcc_set_calibration(cc, &calib, 1) != DPCC_OK
        || dpcc_set_schedule(cc, "fixed:8") != DPCC_OK
        || dpcc_set_budget(cc, "top1", 0.05) != DPCC_OK
        || dpcc_set_seeds(cc, 1) != DPCC_OK
        || dpcc_compile_buffer(cc, onnx, onnx_len, NULL) != DPCC_OK) {
        fprintf(stderr, "compile error: %s\n", dpcc_compiler_error(cc));
        goto out;
    }
    for (int i = 0; i < dpcc_num_layers(cc); i++) {
        dpcc_layer_info L;
        if (dpcc_layer(cc, i, &L) == DPCC_OK)
            printf("layer %-24s %-6s N=%-3d %.2f bits %.3g J\n", L.name, L.op, L.repetitions,
                   L.effective_bits, L.energy_j);
    }
    const char *report = dpcc_report_json(cc);
    if (!report || !strstr(report, "\"total_energy_j\"")) {
        fprintf(stderr, "error: no energy report\n");
        goto out;
    }
    printf("report: %zu bytes of JSON\n", strlen(report));
    if (argc > 5 && dpcc_write_dp(cc, argv[5]) != DPCC_OK) {
        fprintf(stderr, "error: %s\n", dpcc_compiler_error(cc));
        goto out;
    }

    /* Load the program straight from the compiler's memory and describe it. */
    const void *dp;
    size_t dp_len;
    if (dpcc_program(cc, &dp, &dp_len) != DPCC_OK || dprt_model_load_buffer(model, dp, dp_len) != DPCC_OK
        || dprt_session_new(model, NULL, &session) != DPCC_OK) {
        fprintf(stderr, "error: %s\n", dprt_model_error(model));
        goto out;
    }
    for (int i = 0; i < dprt_model_num_inputs(model); i++) {
        dprt_io_info io;
        dprt_model_input(model, i, &io);
        printf("input %d '%s': rank %d, dtype %d\n", i, io.name, io.rank, (int)io.dtype);
    }

    /* Ideal: the noise-free reference, which must match the model's own outputs. */
    dpcc_tensor out;
    dprt_run_options ideal = {.ideal = 1};
    if (dprt_session_run(session, &input, 1, &ideal) != DPCC_OK
        || dprt_session_output(session, 0, &out) != DPCC_OK) {
        fprintf(stderr, "run error: %s\n", dprt_session_error(session));
        goto out;
    }
    if (!matches(&out, &expected, 1e-3, 1e-4)) {
        fprintf(stderr, "error: ideal outputs differ from %s\n", argv[4]);
        goto out;
    }
    printf("ideal outputs match %s\n", argv[4]);

    /* Noisy: one simulated device instance per seed; the same seed gives the same bits. */
    float first[16] = {0};
    for (int run = 0; run < 2; run++) {
        dprt_run_options noisy = {.ideal = 0, .seed = 7};
        if (dprt_session_run(session, &input, 1, &noisy) != DPCC_OK
            || dprt_session_output(session, 0, &out) != DPCC_OK) {
            fprintf(stderr, "run error: %s\n", dprt_session_error(session));
            goto out;
        }
        size_t n = (size_t)numel(&out) < 16 ? (size_t)numel(&out) : 16;
        if (run == 0)
            memcpy(first, out.data, n * sizeof(float));
        else if (memcmp(first, out.data, n * sizeof(float)) != 0) {
            fprintf(stderr, "error: seed 7 gave different outputs twice\n");
            goto out;
        }
    }
    printf("noisy outputs (seed 7): %.4f %.4f %.4f ...\n", first[0], first[1], first[2]);
    ok = 1;
out:
    dprt_session_free(session); /* sessions before their model */
    dprt_model_free(model);
    dpcc_compiler_free(cc);
    dprt_tensor_release(&calib);
    dprt_tensor_release(&input);
    dprt_tensor_release(&expected);
    free(onnx);
    return ok ? 0 : 1;
}
