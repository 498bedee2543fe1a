/*
 * fuzz_cli.c: libFuzzer harness for the command lines of dpcc and dprun (cli/). The input is
 * an argument vector, its arguments separated by NUL bytes; the first is the program's name,
 * and "dprun" runs dprun, anything else dpcc. Both mains are linked in under other names
 * (testsuite/fuzz/CMakeLists.txt) and run in-process, as their main() runs them.
 *
 * The tools write wherever their arguments say, so each run happens in a folder of its own,
 * wiped and refilled with the same few files before every run: a one-layer model (m.onnx),
 * its calibrated program (p.dp), an input (x.npy) and a batch of 8 (b.npy). An argument
 * holding '/' or ".." could reach outside the folder, so such inputs are passed over.
 */
#include "fuzz_util.h"
#include "onnx_builder.h"

#include "dpcc/dpcc.h"
#include "dpcc/dprt.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <sys/stat.h>

int dpcc_cli_main(int argc, char **argv);
int dprun_cli_main(int argc, char **argv);

#define MAX_ARGV 64

typedef struct fixture {
    const char *name;
    void *data;
    size_t len;
} fixture;

static fixture fixtures[4];
static char run_dir[128];
static int home = -1; /* the folder libFuzzer started in: its corpus paths are relative */

/* The bytes of a file the setup wrote (malloc'd); aborts if it cannot. */
static void *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long n;
    void *buf;
    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0
        || !(buf = malloc((size_t)n + 1)) || fread(buf, 1, (size_t)n, f) != (size_t)n)
        abort();
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* y = x W, with x 1x4 and W 4x3: one analog layer, cheap to calibrate and to run. */
static void *make_model(size_t *len)
{
    static const int64_t xdims[2] = {1, 4}, wdims[2] = {4, 3};
    static const float w[12] = {0.5f, -1, 0.25f, 1, 0.75f, -0.5f, -0.25f, 0.5f, 1, 0.1f, -0.2f, 0.3f};
    static const char *const in[2] = {"x", "W"}, *const out[1] = {"y"};
    tb_model m;
    tb_init(&m, 13);
    tb_input(&m, "x", 1, 2, xdims);
    tb_init_f32(&m, "W", 2, wdims, w, 12);
    tb_node(&m, "MatMul", 2, in, 1, out);
    tb_output(&m, "y");
    *len = onnx__model_proto__get_packed_size(&m.model);
    void *buf = malloc(*len);
    if (!buf)
        abort();
    onnx__model_proto__pack(&m.model, buf);
    tb_free(&m);
    return buf;
}

/* The four files, made once through the public API. */
static void setup(void)
{
    static float x[4] = {0.3f, -0.7f, 1.2f, 0.05f}, b[32];
    for (int i = 0; i < 32; i++)
        b[i] = (float)((i * 7) % 11) / 5.0f - 1;
    size_t onnx_len, x_len, b_len;
    void *onnx = make_model(&onnx_len);
    dpcc_tensor tx = {DPCC_FLOAT, 2, {1, 4}, x}, tb = {DPCC_FLOAT, 2, {8, 4}, b};
    dpcc_compiler *c;
    dprt_model *m;
    const void *dp;
    size_t dp_len;
    char xpath[160], bpath[160];
    snprintf(xpath, sizeof xpath, "%s/x.npy", fuzz_dir());
    snprintf(bpath, sizeof bpath, "%s/b.npy", fuzz_dir());
    if (dpcc_compiler_new(&c) != DPCC_OK || dpcc_set_schedule(c, "fixed:1") != DPCC_OK
        || dpcc_set_seeds(c, 1) != DPCC_OK || dpcc_set_threads(c, 1) != DPCC_OK
        || dpcc_set_calibration(c, &tb, 1) != DPCC_OK
        || dpcc_compile_buffer(c, onnx, onnx_len, NULL) != DPCC_OK
        || dpcc_program(c, &dp, &dp_len) != DPCC_OK || dprt_model_new(&m) != DPCC_OK
        || dprt_tensor_write(m, xpath, &tx, "x") != DPCC_OK
        || dprt_tensor_write(m, bpath, &tb, "x") != DPCC_OK)
        abort();
    void *dp_copy = malloc(dp_len);
    if (!dp_copy)
        abort();
    memcpy(dp_copy, dp, dp_len);
    fixtures[0] = (fixture){"m.onnx", onnx, onnx_len};
    fixtures[1] = (fixture){"p.dp", dp_copy, dp_len};
    fixtures[2] = (fixture){"x.npy", slurp(xpath, &x_len), x_len};
    fixtures[3] = (fixture){"b.npy", slurp(bpath, &b_len), b_len};
    dprt_model_free(m);
    dpcc_compiler_free(c);
    snprintf(run_dir, sizeof run_dir, "%s/run", fuzz_dir());
    if ((home = open(".", O_RDONLY | O_DIRECTORY)) < 0)
        abort();
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return ftw->level > 0 ? remove(path) : 0;
}

/* The run folder as every run finds it: the fixtures and nothing else. */
static void refill(void)
{
    if ((mkdir(run_dir, 0700) != 0 && errno != EEXIST)
        || nftw(run_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        abort();
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        char path[200];
        snprintf(path, sizeof path, "%s/%s", run_dir, fixtures[i].name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(fixtures[i].data, 1, fixtures[i].len, f) != fixtures[i].len
            || fclose(f) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static char buf[8192];
    char *argv[MAX_ARGV + 1];
    int argc = 0;
    if (size == 0 || size >= sizeof buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    for (char *p = buf; p <= buf + size && argc < MAX_ARGV; p += strlen(p) + 1) {
        if (strchr(p, '/') || strstr(p, ".."))
            return 0;
        argv[argc++] = p;
    }
    argv[argc] = NULL;
    if (!run_dir[0])
        setup();
    refill();
    if (chdir(run_dir) != 0)
        abort();
    optind = 0; /* glibc: a fresh getopt_long, as in a new process */
    if (strcmp(argv[0], "dprun") == 0)
        dprun_cli_main(argc, argv);
    else
        dpcc_cli_main(argc, argv);
    fflush(NULL);
    if (fchdir(home) != 0)
        abort();
    return 0;
}
