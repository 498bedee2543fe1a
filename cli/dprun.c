/*
 * dprun.c: the dprun command line: run a device program on the simulated accelerator.
 *
 *   dprun MODEL.dp -i [NAME=]INPUT ... -o OUTDIR [--ideal] [--expect DIR|FILE]...
 *
 * Inputs bind to the graph inputs in order, or by name. An input whose leading dimension is
 * a multiple of the compiled batch runs as a data set, chunk by chunk, and the outputs are
 * concatenated. Outputs are written as OUTDIR/output_K.pb (or .npy) in graph output order.
 * PROGRAM may also be a C kernel (dpcc --emit=c, built as a shared object), run through its
 * entry points the same way.
 */
#include "c_kernel.h"
#include "cli_args.h"
#include "compare.h"
#include "outputs.h"
#include "ranks.h"
#include "dataset.h"
#include "report.h"
#include "tensor_io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: dprun PROGRAM.dp|KERNEL.so -i [NAME=]INPUT ... [-o OUTDIR] [options]\n"
    "\n"
    "Runs a compiled device program, or a C kernel (dpcc --emit=c, built as a shared object:\n"
    "docs/c-backend.md). Inputs are .pb (ONNX TensorProto) or .npy files, bound\n"
    "to the graph inputs in order or by name. A leading batch dimension that is a multiple of\n"
    "the compiled one runs the whole data set. Without -o, --expect or --repeat, each output's\n"
    "name, shape and values are summarised on stdout (a classifier's top-5 classes per row).\n"
    "\n"
    "options (a value as --opt VALUE or --opt=VALUE, -iFILE; -- ends the options):\n"
    "  -i, --input [NAME=]FILE   an input tensor (repeat for each graph input)\n"
    "  -o, --output DIR          write DIR/output_K.pb for each graph output K\n"
    "  --format pb|npy           output file format (default pb)\n"
    "  --ideal                   noise-free fp32 simulation (the digital reference);\n"
    "                            without it the analog layers run on the simulated core\n"
    "  --seed S                  the device instance and its noise (default 0): the same\n"
    "                            seed gives the same outputs, bit for bit, on any --threads\n"
    "  --report FILE.json        per-layer energy, repetitions, bits and ADC clips (.dp only)\n"
    "  --expect DIR|FILE         compare outputs with references: a folder holding\n"
    "                            output_K.pb/.npy, or one file per output (repeat)\n"
    "  --rtol R, --atol A        tolerances for --expect: |got-want| <= A + R*|want|\n"
    "                            (defaults 1e-3 and 1e-5)\n"
    "  --top1 RATE               --expect by top-1 agreement instead, for noisy runs: at\n"
    "                            most RATE of the rows' largest entries (last axis) may\n"
    "                            differ from the references'\n"
    "  --repeat K                run K times and print the median and minimum time per run\n"
    "  --json                    the output summary, timing and checks as JSON on stdout\n"
    "  --strict                  an input holding NaN or infinity is an error (exit 2);\n"
    "                            without it, a warning and a count in --report\n"
    "  -j, --threads T           threads (default: the CPUs online): a lone input's matrix\n"
    "                            products, convolutions and large element-wise ops, or\n"
    "                            a data set's chunks side by side; the same results on\n"
    "                            any T (a C kernel runs on one)\n"
    "  --max-memory BYTES        limit on run-time memory (suffixes K, M, G; default 16G)\n"
    "  --version                 print the version and exit\n"
    "  -h, --help                this text\n"
    "\n"
    "exit status: 0 ok, 1 usage, 2 bad input file, 3 unsupported, 5 outputs differ from\n"
    "--expect references\n";

#define MAX_ARGS 256

typedef struct options {
    const char *program;
    const char *inputs[MAX_ARGS];
    int n_inputs;
    const char *expect[MAX_ARGS];
    int n_expect;
    const char *outdir;
    const char *format;
    bool ideal;
    uint32_t seed;
    const char *report;
    double rtol, atol;
    double top1;                 /* --top1: the rate of differing top-1 rows; < 0: unset */
    bool json;
    bool strict;                 /* --strict: non-finite inputs are an error */
    int repeat;
    int threads;
    size_t max_memory;
} options;

static int fail(dp_status st, const dp_error *err)
{
    /* another rank's failure is that rank's to report (ranks.h) */
    if (!err->elsewhere)
        fprintf(stderr, "dprun: error: %s%s\n", err->msg,
                st == DP_ENOMEM ? DP_ARG_MEMORY_HINT : "");
    return dp_exit_code(st);
}

/* Failures while preparing or running a loaded program come from its contents (an
 * instruction's shapes, an uncalibrated analog layer): name the file, as the loader does. */
static void name_program(const char *path, dp_error *err)
{
    if (!strstr(err->msg, path))
        dp_error_prefix(err, "%s", path);
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "dprun: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see dprun --help)\n");
    return dp_exit_code(DP_EUSAGE);
}

/* The long options without a short form, by the value getopt_long returns for each. */
enum {
    OPT_VERSION = 256, OPT_EXPECT, OPT_RTOL, OPT_ATOL, OPT_REPEAT, OPT_SEED, OPT_REPORT,
    OPT_FORMAT, OPT_MAX_MEMORY, OPT_IDEAL, OPT_TOP1, OPT_JSON, OPT_STRICT
};

static const struct option long_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {"input", required_argument, NULL, 'i'},
    {"output", required_argument, NULL, 'o'},
    {"expect", required_argument, NULL, OPT_EXPECT},
    {"rtol", required_argument, NULL, OPT_RTOL},
    {"atol", required_argument, NULL, OPT_ATOL},
    {"repeat", required_argument, NULL, OPT_REPEAT},
    {"seed", required_argument, NULL, OPT_SEED},
    {"report", required_argument, NULL, OPT_REPORT},
    {"threads", required_argument, NULL, 'j'},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"max-memory", required_argument, NULL, OPT_MAX_MEMORY},
    {"ideal", no_argument, NULL, OPT_IDEAL},
    {"top1", required_argument, NULL, OPT_TOP1},
    {"json", no_argument, NULL, OPT_JSON},
    {"strict", no_argument, NULL, OPT_STRICT},
    {NULL, 0, NULL, 0}};

/* What parse_args returns for --help and --version: all done, exit 0. It returns rather than
 * exits so that the command line runs in-process too (testsuite/fuzz/fuzz_cli.c). */
#define PARSED_DONE (-1)

static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->rtol = 1e-3;
    o->atol = 1e-5;
    o->repeat = 1;
    o->top1 = -1;
    o->format = "pb";
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = cpus < 1 ? 1 : cpus > 256 ? 256 : (int)cpus;
    /* getopt_long: --opt value and --opt=value, -ifile, -- ends the options, and the
     * program may stand anywhere; the messages are dprun's own */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":hi:o:j:", long_options, NULL)) != -1) {
        const char *val = optarg;
        switch (opt) {
        case 'h':
            fputs(usage, stdout);
            return PARSED_DONE;
        case OPT_VERSION:
            printf("dprun %s\n", DP_VERSION);
            return PARSED_DONE;
        case 'i':
            if (o->n_inputs == MAX_ARGS)
                return usage_error("more than %s inputs", "256");
            o->inputs[o->n_inputs++] = val;
            break;
        case 'o':
            o->outdir = val;
            break;
        case OPT_EXPECT:
            if (o->n_expect == MAX_ARGS)
                return usage_error("more than %s --expect files", "256");
            o->expect[o->n_expect++] = val;
            break;
        case OPT_RTOL:
        case OPT_ATOL:
            if (dp_arg_nonnegative(val, opt == OPT_RTOL ? &o->rtol : &o->atol) != 0)
                return usage_error("tolerance must be a non-negative number, not '%s'", val);
            break;
        case OPT_REPEAT:
            if (dp_arg_count(val, 1000000, &o->repeat) != 0)
                return usage_error("--repeat needs a count from 1 to 1000000, not '%s'", val);
            break;
        case OPT_SEED: {
            uint64_t seed;
            if (dp_arg_u64(val, &seed) != 0 || seed > UINT32_MAX)
                return usage_error("--seed needs an integer from 0 to 4294967295, not '%s'", val);
            o->seed = (uint32_t)seed;
            break;
        }
        case OPT_REPORT:
            o->report = val;
            break;
        case 'j':
            if (dp_arg_count(val, 256, &o->threads) != 0)
                return usage_error("--threads needs a count from 1 to 256, not '%s'", val);
            break;
        case OPT_FORMAT:
            if (strcmp(val, "pb") != 0 && strcmp(val, "npy") != 0)
                return usage_error("--format must be pb or npy, not '%s'", val);
            o->format = val;
            break;
        case OPT_MAX_MEMORY:
            if (dp_arg_bytes(val, &o->max_memory) != 0)
                return usage_error("--max-memory needs a byte count such as 4G, not '%s'", val);
            break;
        case OPT_IDEAL:
            o->ideal = true;
            break;
        case OPT_TOP1:
            if (dp_arg_nonnegative(val, &o->top1) != 0 || o->top1 > 1)
                return usage_error("--top1 needs a rate from 0 to 1, not '%s'", val);
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_STRICT:
            o->strict = true;
            break;
        case ':':
            return usage_error("%s needs a value", argv[optind - 1]);
        default: {
            char msg[700];
            dp_arg_refused(argv[optind - 1], optopt, long_options, msg, sizeof msg);
            return usage_error("%s", msg);
        }
        }
    }
    for (int i = optind; i < argc; i++) {
        if (o->program)
            return usage_error("more than one program given ('%s')", argv[i]);
        o->program = argv[i];
    }
    if (!o->program)
        return usage_error("%s", "no program given");
    if (o->top1 >= 0 && o->n_expect == 0)
        return usage_error("%s", "--top1 checks outputs against --expect references: give them");
    return 0;
}

/* Binds each -i argument to a graph input: by name when NAME= matches one, else in order. */
/*
 * ONNX releases before 1.14 wrote bfloat16 tensors as uint16 TensorProtos holding the bits
 * (numpy has no bfloat16), and the backend suite's data is of that vintage. A uint16 tensor
 * where the program has bfloat16 is read as those bits; nothing else changes type.
 */
static void adopt_bfloat16_bits(dp_tensor *t, int program_dtype)
{
    if (t->dtype == DP_UINT16 && program_dtype == DP_BFLOAT16)
        t->dtype = DP_BFLOAT16;
}

/* -i NAME=PATH where the program has no input NAME (and no file is called NAME=PATH). */
static dp_status unknown_input(const dp_program *p, const char *arg, int name_len, dp_error *err)
{
    char names[600] = "";
    size_t used = 0;
    for (int k = 0; k < p->n_inputs && used < sizeof names; k++) {
        int w = snprintf(names + used, sizeof names - used, "%s'%.100s'", k ? ", " : "",
                         p->tensors[p->inputs[k]].name);
        used += w > 0 ? (size_t)w : 0;
    }
    return dp_fail(err, DP_EUSAGE, "-i %.300s: the program has no input '%.*s' (its inputs: %s)",
                   arg, name_len > 200 ? 200 : name_len, arg, names);
}

/*
 * An input holding NaN or infinity: --ideal carries them into the outputs, the analog core
 * clips an infinity to its DAC's full scale and spreads a NaN through every product it
 * enters, so the outputs mean little either way. A warning (an error under --strict) naming
 * the first bad value; *count adds the input's non-finite values for --report.
 */
static dp_status check_finite_input(const options *o, const char *name, const char *path,
                                    const dp_tensor *t, int64_t *count, dp_error *err)
{
    char what[200];
    int64_t n = dp_describe_nonfinite(t, what, sizeof what);
    if (n == 0)
        return DP_OK;
    *count += n;
    if (o->strict)
        return dp_fail(err, DP_EINPUT, "input '%.200s' (%.200s): %s (--strict)", name, path,
                       what);
    fprintf(stderr, "dprun: warning: input '%.200s' (%.200s): %s; the outputs computed from them "
            "are not meaningful (--strict makes this an error)\n", name, path, what);
    return DP_OK;
}

/* The inputs -i names, by graph input; sources[k] is graph input k's file. Only a rank
 * that reads (rank 0) reads the files: the others bind the names alike and receive the
 * tensors (dp_dist_bcast_tensors). */
static dp_status load_inputs(const options *o, const dp_program *p, bool reads, dp_arena *mem,
                             dp_tensor *in, const char **sources, int64_t *nonfinite,
                             dp_error *err)
{
    bool bound[MAX_ARGS] = {false};
    int next = 0;
    if (o->n_inputs != p->n_inputs)
        return dp_fail(err, DP_EUSAGE, "the program has %d inputs, %d given with -i",
                       p->n_inputs, o->n_inputs);
    for (int i = 0; i < o->n_inputs; i++) {
        const char *arg = o->inputs[i], *path = arg, *eq = strchr(arg, '=');
        int slot = -1;
        if (eq) {
            for (int k = 0; k < p->n_inputs; k++) {
                const char *name = p->tensors[p->inputs[k]].name;
                if (strlen(name) == (size_t)(eq - arg) && strncmp(name, arg, (size_t)(eq - arg)) == 0)
                    slot = k;
            }
            if (slot >= 0)
                path = eq + 1;
            else if (reads && access(arg, F_OK) != 0)
                return unknown_input(p, arg, (int)(eq - arg), err);
        }
        if (slot < 0) {
            while (next < p->n_inputs && bound[next])
                next++;
            slot = next;
        }
        if (slot >= p->n_inputs || bound[slot])
            return dp_fail(err, DP_EUSAGE, "-i %s: input '%s' is bound twice", arg,
                           slot < p->n_inputs ? p->tensors[p->inputs[slot]].name : "?");
        bound[slot] = true;
        sources[slot] = path;
        if (!reads)
            continue;
        dp_status st = dp_tensor_read(path, mem, &in[slot], NULL, err);
        if (st != DP_OK)
            return st;
        adopt_bfloat16_bits(&in[slot], p->tensors[p->inputs[slot]].t.dtype);
        st = check_finite_input(o, p->tensors[p->inputs[slot]].name, path, &in[slot], nonfinite,
                                err);
        if (st != DP_OK)
            return st;
    }
    return DP_OK;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Runs the data set o->repeat times, timing each run, on the runner or the kernel. */
/* The wall time of the runs, for --repeat and --json. */
typedef struct timing {
    int runs;
    double min_ms, median_ms;
} timing;

static dp_status run_all(const options *o, dp_runner *r, dpr_kernel *k, const dp_program *p,
                         const dp_tensor *in, int64_t chunks, dp_arena *mem, dp_tensor *out,
                         timing *t, dp_error *err)
{
    double *times = dp_arena_calloc(mem, (size_t)o->repeat, sizeof *times);
    if (!times)
        return dp_fail(err, DP_ENOMEM, "out of memory");
    for (int run = 0; run < o->repeat; run++) {
        double t0 = now_ms();
        dp_status st = k ? dpr_kernel_run(k, p, in, chunks, mem, out, err)
                         : dp_runner_run(r, in, chunks, 0, mem, out, err);
        if (st != DP_OK)
            return st;
        times[run] = now_ms() - t0;
    }
    qsort(times, (size_t)o->repeat, sizeof *times, cmp_double);
    *t = (timing){o->repeat, times[0], times[o->repeat / 2]};
    if (o->repeat > 1 && !o->json)
        fprintf(stderr, "dprun: %d runs, median %.3f ms, min %.3f ms per run of %lld chunk(s)\n",
                o->repeat, t->median_ms, t->min_ms, (long long)chunks);
    return DP_OK;
}

/* Share of a layer's ADC conversions that may clip before dprun warns. Calibration sets the
 * full scales at the 99.99th percentile of its samples, but a new value exceeds the largest
 * of n samples one time in n + 1: the bundled example, calibrated on 64 images, clips 3.8%
 * of its classifier's conversions on 8 others. A tenth is beyond what a small calibration
 * set explains; inputs unlike the calibration data clip far more (a model calibrated on
 * synthetic inputs, fed the backend suite's data, clipped 100%). */
#define CLIP_WARNING 0.1

/*
 * A noisy run whose ADCs clip far more often than calibration planned gives outputs that may
 * look plausible and be wrong (a synthetic-calibrated model fed real data can saturate to
 * constant outputs): say so, with the worst layer, where the counts would otherwise sit
 * unseen in --report.
 */
static void warn_if_clipped(const dp_program *p, const dp_runner *r)
{
    int over = 0, worst = -1;
    double worst_rate = 0;
    for (int i = 0; i < p->n_instrs; i++) {
        if (!p->instrs[i].mvm)
            continue;
        dp_adc_counts c = dp_runner_adc_counts(r, i);
        double rate = c.conversions ? (double)c.clipped / (double)c.conversions : 0;
        if (rate <= CLIP_WARNING)
            continue;
        over++;
        if (rate > worst_rate) {
            worst_rate = rate;
            worst = i;
        }
    }
    if (over)
        fprintf(stderr, "dprun: warning: %d analog layer%s clipped more than %g%% of their ADC "
                "conversions, '%s' the most (%.1f%%): the inputs reach beyond the ranges the "
                "program was calibrated for, so the outputs may be distorted; compile with "
                "--calib data like these inputs (--report has every layer's count)\n", over,
                over == 1 ? "" : "s", 100 * CLIP_WARNING,
                p->instrs[worst].name ? p->instrs[worst].name : p->instrs[worst].op,
                100 * worst_rate);
}

/* The program's energy at its schedule, with the ADC counts this run measured. */
static dp_status write_report(const options *o, const dp_program *p, const dp_runner *r,
                              int64_t chunks, int64_t nonfinite, dp_arena *mem, dp_error *err)
{
    dp_report rep;
    dp_status st = dp_report_from_program(p, mem, &rep, err);
    if (st != DP_OK)
        return st;
    rep.inferences = chunks * o->repeat;
    rep.nonfinite_inputs = nonfinite;
    for (int i = 0, l = 0; i < p->n_instrs; i++)
        if (p->instrs[i].mvm)
            rep.layers[l++].counts = dp_runner_adc_counts(r, i);
    return dp_report_write(&rep, o->report, err);
}

static dp_status write_outputs(const options *o, const dp_program *p, const dp_tensor *out,
                               dp_error *err)
{
    if (mkdir(o->outdir, 0777) != 0 && errno != EEXIST)
        return dp_fail(err, DP_EIO, "%s: cannot create the output folder: %s", o->outdir,
                       strerror(errno));
    for (int i = 0; i < p->n_outputs; i++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/output_%d.%s", o->outdir, i, o->format) >= (int)sizeof path)
            return dp_fail(err, DP_EUSAGE, "%s: output path too long", o->outdir);
        dp_status st = dp_tensor_write(path, &out[i], p->tensors[p->outputs[i]].name, err);
        if (st != DP_OK)
            return st;
    }
    return DP_OK;
}

/* The reference for output k: DIR/output_k.pb or .npy, or the k-th --expect file. */
static dp_status expected_path(const options *o, int k, char *path, size_t n, dp_error *err)
{
    struct stat st;
    if (o->n_expect == 1 && stat(o->expect[0], &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(path, n, "%s/output_%d.pb", o->expect[0], k);
        if (stat(path, &st) != 0)
            snprintf(path, n, "%s/output_%d.npy", o->expect[0], k);
        return DP_OK;
    }
    if (k >= o->n_expect)
        return dp_fail(err, DP_EUSAGE, "--expect gives %d files, the program has more outputs",
                       o->n_expect);
    snprintf(path, n, "%s", o->expect[k]);
    return DP_OK;
}

/* Rows of a classifier-shaped output (the last axis its classes) shown in a summary. */
#define SUMMARY_ROWS 8

static bool classifier_shaped(const dp_tensor *t)
{
    return dp_dtype_is_float(t->dtype) && t->rank >= 1 && t->dims[t->rank - 1] >= 2 &&
           dp_numel(t) > 0;
}

/* The five largest entries of row r, in order, into top (class indices); returns how many. */
static int top5(const dp_tensor *t, int64_t r, int64_t top[5])
{
    int64_t cols = t->dims[t->rank - 1];
    int n = 0;
    for (int64_t c = 0; c < cols; c++) {
        double v = dp_load_f64(t->data, t->dtype, r * cols + c);
        if (isnan(v))
            continue;
        int at = n < 5 ? n++ : 5;
        while (at > 0 && dp_load_f64(t->data, t->dtype, r * cols + top[at - 1]) < v) {
            if (at < 5)
                top[at] = top[at - 1];
            at--;
        }
        if (at < 5)
            top[at] = c;
    }
    return n;
}

/* An output's range and mean, for the summaries. */
typedef struct value_stats {
    int64_t n;
    double lo, hi, mean;
} value_stats;

static value_stats stats_of(const dp_tensor *t)
{
    value_stats s = {dp_numel(t), INFINITY, -INFINITY, 0};
    double sum = 0;
    for (int64_t j = 0; j < s.n; j++) {
        double v = dp_load_f64(t->data, t->dtype, j);
        s.lo = v < s.lo ? v : s.lo;
        s.hi = v > s.hi ? v : s.hi;
        sum += v;
    }
    s.mean = s.n ? sum / (double)s.n : 0;
    return s;
}

/* Without -o or --expect, what ran: each output's type, shape, range and mean, and for a
 * classifier's rows the five largest classes. */
static void print_summary(const dp_program *p, const dp_tensor *out)
{
    for (int i = 0; i < p->n_outputs; i++) {
        const dp_tensor *t = &out[i];
        char shape[160];
        value_stats st = stats_of(t);
        int64_t n = st.n;
        printf("output %d '%s': %s[%s]", i, p->tensors[p->outputs[i]].name,
               dp_dtype_name(t->dtype), dp_shape_str(t, shape, sizeof shape));
        if (n)
            printf(", min %.6g, max %.6g, mean %.6g", st.lo, st.hi, st.mean);
        putchar('\n');
        if (!classifier_shaped(t))
            continue;
        int64_t cols = t->dims[t->rank - 1], rows = n / cols;
        for (int64_t r = 0; r < rows && r < SUMMARY_ROWS; r++) {
            int64_t top[5];
            int m = top5(t, r, top);
            printf("  row %lld: top-%d", (long long)r, m);
            for (int c = 0; c < m; c++)
                printf("%s %lld (%.4g)", c ? "," : "", (long long)top[c],
                       dp_load_f64(t->data, t->dtype, r * cols + top[c]));
            putchar('\n');
        }
        if (rows > SUMMARY_ROWS)
            printf("  (%d of %lld rows shown)\n", SUMMARY_ROWS, (long long)rows);
    }
}

/* --json: the program, the run's settings and timing, and each output's summary. */
static int print_json(const options *o, const dp_program *p, const dp_tensor *out,
                      int64_t chunks, const timing *t, dp_status checked)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "program", o->program);
    cJSON_AddStringToObject(root, "mode", o->ideal ? "ideal" : "noisy");
    cJSON_AddNumberToObject(root, "seed", o->seed);
    cJSON_AddNumberToObject(root, "chunks", (double)chunks);
    cJSON *tm = cJSON_AddObjectToObject(root, "timing");
    cJSON_AddNumberToObject(tm, "runs", t->runs);
    cJSON_AddNumberToObject(tm, "min_ms", t->min_ms);
    cJSON_AddNumberToObject(tm, "median_ms", t->median_ms);
    if (o->n_expect)
        cJSON_AddBoolToObject(root, "expect_ok", checked == DP_OK);
    cJSON *outs = cJSON_AddArrayToObject(root, "outputs");
    for (int i = 0; outs && i < p->n_outputs; i++) {
        const dp_tensor *x = &out[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToArray(outs, e);
        cJSON_AddStringToObject(e, "name", p->tensors[p->outputs[i]].name);
        cJSON_AddStringToObject(e, "dtype", dp_dtype_name(x->dtype));
        cJSON *dims = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < x->rank; d++)
            cJSON_AddItemToArray(dims, cJSON_CreateNumber((double)x->dims[d]));
        value_stats st = stats_of(x);
        int64_t n = st.n;
        if (n && isfinite(st.lo) && isfinite(st.hi) && isfinite(st.mean)) {
            cJSON_AddNumberToObject(e, "min", st.lo);
            cJSON_AddNumberToObject(e, "max", st.hi);
            cJSON_AddNumberToObject(e, "mean", st.mean);
        }
        if (!classifier_shaped(x))
            continue;
        int64_t cols = x->dims[x->rank - 1], rows = n / cols;
        cJSON *tops = cJSON_AddArrayToObject(e, "top5");
        for (int64_t r = 0; r < rows; r++) {
            int64_t top[5];
            int m = top5(x, r, top);
            cJSON *row = cJSON_CreateArray();
            cJSON_AddItemToArray(tops, row);
            for (int c = 0; c < m; c++)
                cJSON_AddItemToArray(row, cJSON_CreateNumber((double)top[c]));
        }
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    int rc = !text || puts(text) < 0 || fflush(stdout) != 0;
    free(text);
    if (rc)
        fprintf(stderr, "dprun: error: cannot print the JSON summary\n");
    return rc ? dp_exit_code(DP_EIO) : 0;
}

static dp_status check_expected(const options *o, const dp_program *p, const dp_tensor *out,
                                dp_arena *mem, dp_error *err)
{
    int64_t bad = 0;
    for (int i = 0; i < p->n_outputs; i++) {
        char path[4096];
        dp_tensor want;
        dp_status st = expected_path(o, i, path, sizeof path, err);
        if (st == DP_OK)
            st = dp_tensor_read(path, mem, &want, NULL, err);
        if (st != DP_OK)
            return st;
        adopt_bfloat16_bits(&want, out[i].dtype);
        const char *name = p->tensors[p->outputs[i]].name;
        bool by_top1 = o->top1 >= 0 && dp_dtype_is_float(out[i].dtype);
        bad += by_top1 ? dpr_compare_top1(i, name, &out[i], &want, o->top1)
                       : dpr_compare(i, name, &out[i], &want, o->rtol, o->atol);
    }
    if (bad)
        return dp_fail(err, DP_EMISMATCH, "outputs differ from the references in %lld element(s)",
                       (long long)bad);
    return DP_OK;
}

static int run_main(int argc, char **argv, dp_dist *dist)
{
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == PARSED_DONE ? 0 : rc;
    dp_error err = {0};
    dp_arena mem;
    dp_arena_init(&mem, o.max_memory);
    dp_program *prog = NULL;
    dp_runner *r = NULL;
    /* rank 0 reads the inputs (ranks.h): its look at the program's magic number too */
    bool leads = dp_dist_leads(dist), so = leads && dpr_is_shared_object(o.program);
    dp_status st = dp_dist_bcast_into(dist, DP_OK, &so, sizeof so, &err);
    dpr_kernel kern = {0}, *k = so ? &kern : NULL;
    dp_tensor *in = NULL, *out = NULL;
    const char **sources = NULL;
    int64_t chunks = 1, nonfinite = 0;
    timing t = {0};
    if (st == DP_OK)
        st = k ? dpr_kernel_load(o.program, k, &mem, &prog, &err)
               : dp_program_read_dist(dist, o.program, &prog, &err);
    /* The format allows a program without outputs, but running one would succeed and write
     * nothing: dpcc never makes one, so such a file is damaged. */
    if (st == DP_OK && prog->n_outputs == 0)
        st = dp_fail(&err, DP_EINPUT, "%s: the program has no graph outputs", o.program);
    if (st == DP_OK && k && o.report)
        st = dp_fail(&err, DP_EUSAGE, "--report needs a .dp program: a C kernel keeps no counts");
    if (st == DP_OK) {
        in = dp_arena_calloc(&mem, (size_t)prog->n_inputs + 1, sizeof *in);
        out = dp_arena_calloc(&mem, (size_t)prog->n_outputs + 1, sizeof *out);
        sources = dp_arena_calloc(&mem, (size_t)prog->n_inputs + 1, sizeof *sources);
        if (!in || !out || !sources)
            st = dp_fail(&err, DP_ENOMEM, "out of memory");
    }
    if (st == DP_OK)
        st = load_inputs(&o, prog, leads, &mem, in, sources, &nonfinite, &err);
    if (in)
        st = dp_dist_bcast_tensors(dist, st, in, prog->n_inputs, &mem, &err);
    if (st == DP_OK)
        st = dp_dataset_chunks(prog, in, sources, &chunks, &err);
    dp_status loaded = st; /* from here on, failures are the program's */
    if (st == DP_OK && k) {
        st = dpr_kernel_open(k, o.seed, o.ideal, &err);
    } else if (st == DP_OK) {
        dp_runner_opts ro = {.session = {.max_memory = o.max_memory}, .threads = o.threads,
                             .dist = dist};
        st = dp_runner_new(prog, &ro, &r, &err);
    }
    if (st == DP_OK && !k && !o.ideal) {
        dp_analog_config cfg = {.seed = o.seed};
        st = dp_runner_set_analog(r, &cfg, &err);
    }
    if (st == DP_OK)
        st = run_all(&o, r, k, prog, in, chunks, &mem, out, &t, &err);
    /* every rank has every output: rank 0 alone reports and writes them (ranks.h) */
    if (st == DP_OK && r && !o.ideal && leads)
        warn_if_clipped(prog, r);
    if (loaded == DP_OK && st != DP_OK)
        name_program(o.program, &err);
    if (st == DP_OK && o.outdir && leads)
        st = write_outputs(&o, prog, out, &err);
    if (st == DP_OK && o.report && leads)
        st = write_report(&o, prog, r, chunks, nonfinite, &mem, &err);
    if (st == DP_OK && o.n_expect && leads)
        st = check_expected(&o, prog, out, &mem, &err);
    /* the summary stands in for -o and --expect when neither is given; --json always */
    if ((st == DP_OK || st == DP_EMISMATCH) && o.json)
        rc = print_json(&o, prog, out, chunks, &t, st);
    else if (st == DP_OK && !o.outdir && !o.n_expect && o.repeat == 1)
        print_summary(prog, out);
    if (rc == 0)
        rc = st == DP_OK ? 0 : fail(st, &err);
    dp_runner_free(r);
    if (k) /* the kernel's skeleton program lives in mem */
        dpr_kernel_close(k);
    else if (prog)
        dp_program_free(prog);
    dp_arena_free(&mem);
    return rc;
}

/* The outputs and --report appear together once all are written, or none does (they stay
 * when only --expect fails: they are what was computed); a signal leaves no temporary
 * behind (runtime/io/outputs.h). Under mpirun, every rank runs its share and agrees on the
 * outcome, and rank 0 alone writes (ranks.h). */
int main(int argc, char **argv)
{
    cli_ranks ranks;
    int rc = cli_ranks_begin(&ranks, &argc, &argv);
    if (rc)
        return rc;
    dp_outputs_guard_signals();
    dp_outputs_defer();
    rc = cli_ranks_agree(&ranks, run_main(argc, argv, ranks.dist));
    if (rc != 0 && rc != dp_exit_code(DP_EMISMATCH)) {
        dp_outputs_discard();
        return cli_ranks_end(&ranks, rc);
    }
    dp_error err = {0};
    dp_status st = dp_outputs_commit(&err);
    return cli_ranks_end(&ranks, cli_ranks_agree(&ranks, st == DP_OK ? rc : fail(st, &err)));
}
