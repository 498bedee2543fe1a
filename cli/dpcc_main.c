/*
 * dpcc_main.c: the dpcc command line.
 *
 *   dpcc MODEL.onnx -o OUT.dp [--emit=dp|c|llvm] [--input-shape NAME=DIMS]...
 *   dpcc --disasm PROGRAM.dp
 *
 * Exit statuses follow docs/architecture.md: 0 ok, 1 usage, 2 bad input file, 3 unsupported,
 * 4 a --budget no schedule can meet; --help lists them.
 */
#include "cli_args.h"
#include "frontend.h"
#include "op_versions.h"
#include "outputs.h"
#include "passes.h"
#include "pipeline.h"
#include "ranks.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: dpcc MODEL.onnx -o OUTPUT [options]\n"
    "       dpcc --disasm PROGRAM.dp\n"
    "\n"
    "Compiles an ONNX model for the simulated analog optical accelerator.\n"
    "\n"
    "options (a value as --opt VALUE or --opt=VALUE, -oFILE, -j2; -- ends the options):\n"
    "  -o, --output FILE         output file (required); its suffix picks the backend\n"
    "  --emit=dp|c|llvm          backend: device program (default), C kernel, LLVM IR\n"
    "                            (.ll text, .bc bitcode, .o object; with OUT.rt.c beside)\n"
    "  --prefix NAME             --emit=c|llvm: the entry points' prefix (default: the output\n"
    "                            file's name)\n"
    "  --external-weights        --emit=c|llvm: weights in OUT.weights beside OUT, whatever\n"
    "                            their size (above 16 MiB they always are)\n"
    "  --input-shape NAME=DIMS   bind an input's shape, e.g. input=8x3x224x224; a symbolic\n"
    "                            leading dimension defaults to 1\n"
    "  --device NAME|PROFILE     a shipped device profile by name (homodyne_shot, the\n"
    "                            default; thermal_limited, paper_shot, paper_thermal) or a\n"
    "                            JSON profile's path (docs/device-profiles.md)\n"
    "  --calib PATH              calibration inputs: a .npy/.pb batch, or a folder of them\n"
    "                            (default: a small synthetic set, with a warning)\n"
    "  --budget METRIC=VALUE     degradation allowed against the noise-free network:\n"
    "                            top1 (disagreement rate, default top1=0.01), kl, mse, or\n"
    "                            accuracy (drop; needs --labels)\n"
    "  --labels FILE             integer labels of the calibration samples\n"
    "  --schedule KIND           dynamic (default), uniform, fixed:N repetitions, or\n"
    "                            from:FILE, the repetitions of a model written by --annotate\n"
    "                            (or of a --report JSON), by node name\n"
    "  --report FILE.json        write the schedule and energy report (docs/report.md)\n"
    "  --report-csv FILE.csv     the report's layers as CSV, one row each\n"
    "  --annotate FILE.onnx      write the model again, unchanged, with each analog node's\n"
    "                            repetitions, bits and energy in its metadata\n"
    "                            (docs/annotate.md)\n"
    "  --json                    the summary as JSON on stdout instead of the table on\n"
    "                            stderr (docs/report.md)\n"
    "  --seed S, --seeds K       first device instance, and how many every measurement\n"
    "                            averages (defaults 0, and enough for ~1024 noisy runs)\n"
    "  -j, --threads T           threads for the verification runs (default: all CPUs)\n"
    "  --no-analog               skip calibration and scheduling: the program can only\n"
    "                            run --ideal\n"
    "  --max-memory BYTES        limit on compile-time memory (suffixes K, M, G; default 16G)\n"
    "  --disasm FILE.dp          print a device program readably and exit\n"
    "  --list-ops                list the ONNX ops dpcc compiles and exit\n"
    "  --dump-after PASS         print the IR on stderr after each run of PASS (or \"all\",\n"
    "                            or \"frontend\" for the graph as read; dpcc --dump-after\n"
    "                            help lists the passes in order)\n"
    "  -q, --quiet               no summary, warnings or progress on stderr (progress: a bar\n"
    "                            on a terminal, else a line every 5 s with the time left)\n"
    "  -v, --verbose             log every calibration and schedule measurement\n"
    "  --version                 print the version and exit\n"
    "  -h, --help                this text\n"
    "\n"
    "exit status: 0 success; 1 wrong usage, or a file that cannot be read or written; 2 bad\n"
    "input file (malformed, truncated, out of bounds, unsafe external-data path, a --schedule\n"
    "from: that does not fit the model) or over the memory limits; 3 unsupported model\n"
    "feature; 4 a --budget no schedule can meet (the default budget gives way)\n";

static int fail(dp_status st, const dp_error *err)
{
    /* another rank's failure is that rank's to report (ranks.h) */
    if (!err->elsewhere)
        fprintf(stderr, "dpcc: error: %s%s\n", err->msg,
                st == DP_ENOMEM ? DP_ARG_MEMORY_HINT : "");
    return dp_exit_code(st);
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "dpcc: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see dpcc --help)\n");
    return dp_exit_code(DP_EUSAGE);
}

/* --budget METRIC=VALUE, by the rule dpcc_set_budget follows too */
static int parse_budget(dpc_analog_opts *ao, const char *val)
{
    const char *eq = strchr(val, '=');
    if (!eq)
        return usage_error("--budget must be top1=, kl=, mse= or accuracy= followed by a number, "
                           "not '%s'", val);
    /* text that is no number goes on as NaN, refused once the metric is known to be good */
    double value;
    if (dp_arg_nonnegative(eq + 1, &value) != 0)
        value = NAN;
    dp_error err = {0};
    if (dpc_set_budget(ao, val, (size_t)(eq - val), value, &err) == DP_OK)
        return 0;
    dp_error_prefix(&err, "--budget %s", val);
    return usage_error("%s", err.msg);
}

/* The long options without a short form, by the value getopt_long returns for each. */
enum {
    OPT_VERSION = 256, OPT_DISASM, OPT_EMIT, OPT_PREFIX, OPT_EXTERNAL_WEIGHTS, OPT_INPUT_SHAPE,
    OPT_MAX_MEMORY, OPT_JSON, OPT_NO_ANALOG, OPT_DEVICE, OPT_CALIB, OPT_LABELS, OPT_BUDGET,
    OPT_SCHEDULE, OPT_REPORT, OPT_SEED, OPT_SEEDS, OPT_ANNOTATE, OPT_LIST_OPS, OPT_REPORT_CSV,
    OPT_DUMP_AFTER
};

static const struct option long_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {"disasm", required_argument, NULL, OPT_DISASM},
    {"output", required_argument, NULL, 'o'},
    {"emit", required_argument, NULL, OPT_EMIT},
    {"prefix", required_argument, NULL, OPT_PREFIX},
    {"external-weights", no_argument, NULL, OPT_EXTERNAL_WEIGHTS},
    {"input-shape", required_argument, NULL, OPT_INPUT_SHAPE},
    {"max-memory", required_argument, NULL, OPT_MAX_MEMORY},
    {"quiet", no_argument, NULL, 'q'},
    {"json", no_argument, NULL, OPT_JSON},
    {"verbose", no_argument, NULL, 'v'},
    {"no-analog", no_argument, NULL, OPT_NO_ANALOG},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"calib", required_argument, NULL, OPT_CALIB},
    {"labels", required_argument, NULL, OPT_LABELS},
    {"budget", required_argument, NULL, OPT_BUDGET},
    {"schedule", required_argument, NULL, OPT_SCHEDULE},
    {"report", required_argument, NULL, OPT_REPORT},
    {"seed", required_argument, NULL, OPT_SEED},
    {"seeds", required_argument, NULL, OPT_SEEDS},
    {"threads", required_argument, NULL, 'j'},
    {"annotate", required_argument, NULL, OPT_ANNOTATE},
    {"list-ops", no_argument, NULL, OPT_LIST_OPS},
    {"dump-after", required_argument, NULL, OPT_DUMP_AFTER},
    {"report-csv", required_argument, NULL, OPT_REPORT_CSV},
    {NULL, 0, NULL, 0}};

/* The options of the analog stage, and --device: 0, or the usage error's exit status. */
static int analog_option(dpc_options *o, int opt, const char *val)
{
    dpc_analog_opts *ao = &o->analog_opts;
    uint64_t seed;
    if (opt == OPT_DEVICE)
        o->device_path = val;
    else if (opt == OPT_CALIB)
        ao->calib_path = val;
    else if (opt == OPT_LABELS)
        ao->labels_path = val;
    else if (opt == OPT_REPORT)
        ao->report_path = val;
    else if (opt == OPT_REPORT_CSV)
        ao->report_csv_path = val;
    else if (opt == OPT_ANNOTATE)
        o->annotate_path = val;
    else if (opt == OPT_BUDGET)
        return parse_budget(ao, val);
    else if (opt == OPT_SCHEDULE) {
        if (strcmp(val, "dynamic") == 0)
            ao->schedule = DPC_SCHEDULE_DYNAMIC;
        else if (strcmp(val, "uniform") == 0)
            ao->schedule = DPC_SCHEDULE_UNIFORM;
        else if (strncmp(val, "fixed:", 6) == 0 && dp_arg_count(val + 6, INT32_MAX, &ao->fixed_reps) == 0)
            ao->schedule = DPC_SCHEDULE_FIXED;
        else if (strncmp(val, "from:", 5) == 0 && val[5]) {
            ao->schedule = DPC_SCHEDULE_GIVEN;
            ao->schedule_from = val + 5;
        } else
            return usage_error("--schedule must be dynamic, uniform, fixed:N or from:FILE, not "
                               "'%s'", val);
    } else if (opt == OPT_SEED) {
        if (dp_arg_u64(val, &seed) != 0 || seed > UINT32_MAX)
            return usage_error("--seed needs an integer from 0 to 4294967295, not '%s'", val);
        ao->seed = (uint32_t)seed;
    } else if (opt == OPT_SEEDS) {
        if (dp_arg_count(val, DPC_MAX_RUNNERS, &ao->seeds) != 0)
            return usage_error("--seeds needs a count from 1 to 16, not '%s'", val);
    }
    return 0;
}

typedef struct op_list {
    const char *names[1024];
    size_t n;
} op_list;

static void collect_op(const dp_op_def *op, void *ctx)
{
    op_list *l = ctx;
    if (l->n < sizeof l->names / sizeof l->names[0])
        l->names[l->n++] = op->name;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* --list-ops: the registry's ops in order, each with the opsets and versions it runs, the
 * ones the optical core can run marked. */
static int list_ops(void)
{
    static op_list l;
    dp_op_each(collect_op, &l);
    qsort(l.names, l.n, sizeof l.names[0], cmp_names);
    printf("ONNX ops dpcc compiles (domain ai.onnx, model opsets %d to %d). Each op runs with\n"
           "the semantics of its latest version at or below the model's opset; \"analog\"\n"
           "marks those the optical core runs (float32), the rest run digitally.\n"
           "%-22s %-8s %s\n", DPC_MIN_OPSET, DPC_MAX_OPSET, "op", "opsets", "versions");
    for (size_t i = 0; i < l.n; i++) {
        const dpc_op_versions *v = dpc_op_versions_find(l.names[i]);
        char opsets[16] = "?", versions[64] = "?";
        if (v) {
            snprintf(opsets, sizeof opsets, "%d-%d", v->since[0], dpc_op_versions_last(v));
            size_t used = 0;
            for (int k = 0; k < DPC_MAX_OP_VERSIONS && v->since[k] && used < sizeof versions; k++)
                used += (size_t)snprintf(versions + used, sizeof versions - used, "%s%d",
                                         k ? ", " : "", v->since[k]);
        }
        if (dpc_is_analog_op(l.names[i]))
            printf("%-22s %-8s %-24s analog\n", l.names[i], opsets, versions);
        else
            printf("%-22s %-8s %s\n", l.names[i], opsets, versions);
    }
    return fflush(stdout) == 0 ? 0 : dp_exit_code(DP_EIO);
}

/* --dump-after help: the passes in the order they run. */
static void list_passes(FILE *f)
{
    fputs("the IR passes, in the order they run (--dump-after NAME, all or frontend):\n", f);
    for (int i = 0; i < dpc_n_passes; i++)
        fprintf(f, "  %d %s\n", i + 1, dpc_passes[i].name);
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int disasm(const char *path, dp_dist *dist)
{
    dp_error err = {0};
    dp_program *prog;
    dp_status st = dp_program_read_dist(dist, path, &prog, &err);
    if (st != DP_OK)
        return fail(st, &err);
    dp_program_disasm(prog, stdout);
    dp_program_free(prog);
    return 0;
}

static void print_summary(const dpc_options *o, const dpc_summary *s)
{
    fprintf(stderr, "dpcc: %s -> %s: %d nodes (%d after folding), %d analog layers, %.3g MMACs, "
            "activations %.1f KiB planned (%.1f KiB unshared), weights %.1f KiB\n",
            o->model_path, o->out_path, s->n_nodes_in, s->n_nodes_out, s->n_analog,
            (double)s->macs / 1e6, (double)s->arena_bytes / 1024, (double)s->naive_bytes / 1024,
            (double)s->weights_bytes / 1024);
}

/* --json: the compile summary, and the report when the analog stage ran (docs/report.md). */
static int print_json(const dpc_options *o, const dpc_summary *s)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "schema_version", DP_REPORT_SCHEMA_VERSION);
    cJSON_AddStringToObject(root, "dpcc_version", DP_VERSION);
    cJSON_AddStringToObject(root, "model", o->model_path);
    cJSON_AddStringToObject(root, "output", o->out_path);
    cJSON *c = cJSON_AddObjectToObject(root, "compile");
    cJSON_AddNumberToObject(c, "nodes", s->n_nodes_in);
    cJSON_AddNumberToObject(c, "nodes_after_folding", s->n_nodes_out);
    cJSON_AddNumberToObject(c, "analog_layers", s->n_analog);
    cJSON_AddNumberToObject(c, "macs", (double)s->macs);
    cJSON_AddNumberToObject(c, "activation_bytes", (double)s->arena_bytes);
    cJSON_AddNumberToObject(c, "activation_bytes_unshared", (double)s->naive_bytes);
    cJSON_AddNumberToObject(c, "weights_bytes", (double)s->weights_bytes);
    cJSON *report = s->report_json ? cJSON_Parse(s->report_json) : cJSON_CreateNull();
    cJSON_AddItemToObject(root, "report", report);
    char *text = report ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        fprintf(stderr, "dpcc: error: out of memory printing the summary\n");
        return dp_exit_code(DP_ENOMEM);
    }
    int rc = puts(text) < 0 || fflush(stdout) != 0 ? dp_exit_code(DP_EIO) : 0;
    if (rc)
        fprintf(stderr, "dpcc: error: cannot write the summary: %s\n", strerror(errno));
    free(text);
    return rc;
}

/* --emit's value, or else the output's suffix, chooses the backend. */
static int choose_emit(dpc_options *o, const char *emit)
{
    if (emit) {
        if (strcmp(emit, "dp") == 0)
            o->emit = DPC_EMIT_DP;
        else if (strcmp(emit, "c") == 0)
            o->emit = DPC_EMIT_C;
        else if (strcmp(emit, "llvm") == 0)
            o->emit = DPC_EMIT_LLVM;
        else
            return usage_error("--emit must be dp, c or llvm, not '%s'", emit);
    } else if (has_suffix(o->out_path, ".c")) {
        o->emit = DPC_EMIT_C;
    } else if (has_suffix(o->out_path, ".ll") || has_suffix(o->out_path, ".bc")
               || has_suffix(o->out_path, ".o")) {
        o->emit = DPC_EMIT_LLVM;
    }
    return 0;
}

/* Compiles o and says how it went: the summary, its JSON (--json), or nothing (-q). */
static int compile_and_report(dpc_options *o, bool quiet, dp_error *err)
{
    /* --json: stdout carries the summary, so stderr stays for warnings and errors */
    o->analog_opts.quiet = quiet || o->json;
    o->analog_opts.no_warnings = quiet;
    o->analog_opts.progress = quiet || o->json ? DPC_PROGRESS_NONE
                              : isatty(STDERR_FILENO) ? DPC_PROGRESS_BAR : DPC_PROGRESS_LINES;
    dpc_summary sum;
    int rc = 0;
    dp_status st = dpc_compile(o, &sum, err);
    if (st != DP_OK)
        rc = fail(st, err);
    else if (o->json)
        rc = print_json(o, &sum);
    else if (!quiet)
        print_summary(o, &sum);
    free(sum.report_json);
    return rc;
}

static int compile_main(int argc, char **argv, dp_dist *dist)
{
    dpc_options o;
    dpc_options_init(&o);
    o.analog_opts.dist = dist;
    dp_arena args;
    dp_arena_init(&args, 0);
    dpc_shape_binding *bindings = dp_arena_calloc(&args, (size_t)argc + 1, sizeof *bindings);
    const char *emit = NULL;
    bool quiet = false;
    dp_error err = {0};
    int rc = 0;

    /* getopt_long: --opt value and --opt=value, -j1 and -ofile, -- ends the options, and the
     * model may stand anywhere; the messages are dpcc's own */
    opterr = 0;
    int opt;
    while (rc == 0 && (opt = getopt_long(argc, argv, ":ho:j:qv", long_options, NULL)) != -1) {
        const char *val = optarg;
        switch (opt) {
        case 'h':
            fputs(usage, stdout);
            goto done;
        case OPT_VERSION:
            printf("dpcc %s\n", DP_VERSION);
            goto done;
        case OPT_DISASM:
            rc = disasm(val, dist);
            goto done;
        case OPT_LIST_OPS:
            rc = list_ops();
            goto done;
        case 'o':
            o.out_path = val;
            break;
        case OPT_EMIT:
            emit = val;
            break;
        case OPT_PREFIX:
            if (!dpc_c_prefix_ok(val))
                rc = usage_error("--prefix needs a C identifier of at most 64 characters, not "
                                 "'%s'", val);
            o.c.prefix = val;
            break;
        case OPT_EXTERNAL_WEIGHTS:
            o.c.external_weights = true;
            break;
        case OPT_INPUT_SHAPE: {
            dp_status st = dpc_parse_binding(val, &args, &bindings[o.n_bindings], &err);
            if (st != DP_OK)
                rc = fail(st, &err);
            o.n_bindings++;
            break;
        }
        case OPT_MAX_MEMORY:
            if (dp_arg_bytes(val, &o.max_memory) != 0)
                rc = usage_error("--max-memory needs a byte count such as 4G, not '%s'", val);
            break;
        case 'q':
            quiet = true;
            break;
        case OPT_JSON:
            o.json = true;
            break;
        case OPT_DUMP_AFTER:
            if (strcmp(val, "help") == 0) {
                list_passes(stdout);
                goto done;
            }
            if (!dpc_pass_known(val)) {
                list_passes(stderr);
                rc = usage_error("--dump-after names no pass: '%s' (the passes are above)", val);
            }
            o.dump_after = val;
            break;
        case 'v':
            o.analog_opts.verbose = true;
            break;
        case OPT_NO_ANALOG:
            o.analog = false;
            break;
        case 'j':
            if (dp_arg_count(val, 256, &o.analog_opts.threads) != 0)
                rc = usage_error("-j needs a thread count from 1 to 256, not '%s'", val);
            break;
        case ':':
            rc = usage_error("%s needs a value", argv[optind - 1]);
            break;
        case '?': {
            char msg[700];
            dp_arg_refused(argv[optind - 1], optopt, long_options, msg, sizeof msg);
            rc = usage_error("%s", msg);
            break;
        }
        default:
            rc = analog_option(&o, opt, val);
        }
    }
    for (int i = optind; rc == 0 && i < argc; i++) {
        if (!o.model_path)
            o.model_path = argv[i];
        else
            rc = usage_error("more than one model given ('%s')", argv[i]);
    }
    if (rc)
        goto done;
    if (!o.model_path || !o.out_path) {
        rc = usage_error("%s", !o.model_path ? "no model given" : "no output given (-o FILE)");
        goto done;
    }
    if ((rc = choose_emit(&o, emit)) != 0)
        goto done;
    if ((o.annotate_path || o.analog_opts.schedule == DPC_SCHEDULE_GIVEN) && !o.analog) {
        rc = usage_error("%s needs the analog stage: drop --no-analog",
                         o.annotate_path ? "--annotate" : "--schedule from:");
        goto done;
    }
    o.bindings = bindings;
    rc = compile_and_report(&o, quiet, &err);
done:
    dp_arena_free(&args);
    return rc;
}

/* Every output of the run (the program, --report, --report-csv, --annotate, a C kernel's
 * weights) appears together after everything succeeded, or none does; a signal leaves no
 * temporary behind (runtime/io/outputs.h). Under mpirun, every rank compiles and agrees on
 * the outcome, and rank 0 alone writes (ranks.h). */
int main(int argc, char **argv)
{
    cli_ranks ranks;
    int rc = cli_ranks_begin(&ranks, &argc, &argv);
    if (rc)
        return rc;
    dp_outputs_guard_signals();
    dp_outputs_defer();
    rc = cli_ranks_agree(&ranks, compile_main(argc, argv, ranks.dist));
    if (rc != 0) {
        dp_outputs_discard();
        return cli_ranks_end(&ranks, rc);
    }
    dp_error err = {0};
    dp_status st = dp_outputs_commit(&err);
    return cli_ranks_end(&ranks, cli_ranks_agree(&ranks, st == DP_OK ? 0 : fail(st, &err)));
}
