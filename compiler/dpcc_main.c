/*
 * dpcc_main.c: the dpcc command line.
 *
 *   dpcc MODEL.onnx -o OUT.dp [--emit=dp|c|llvm] [--input-shape NAME=DIMS]...
 *   dpcc --disasm PROGRAM.dp
 *
 * Exit statuses follow architecture.md: 0 ok, 1 usage, 2 bad input file, 3 unsupported.
 */
#include "cli_args.h"
#include "pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: dpcc MODEL.onnx -o OUTPUT [options]\n"
    "       dpcc --disasm PROGRAM.dp\n"
    "\n"
    "Compiles an ONNX model for the simulated analog optical accelerator.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE         output file (required); its suffix picks the backend\n"
    "  --emit=dp|c|llvm          backend: device program (default), C kernel, LLVM IR\n"
    "  --input-shape NAME=DIMS   bind an input's shape, e.g. input=8x3x224x224; a symbolic\n"
    "                            leading dimension defaults to 1\n"
    "  --max-memory BYTES        limit on compile-time memory (suffixes K, M, G; default 16G)\n"
    "  --disasm FILE.dp          print a device program readably and exit\n"
    "  -q, --quiet               no summary on stderr\n"
    "  --version                 print the version and exit\n"
    "  -h, --help                this text\n";

static int fail(dp_status st, const dp_error *err)
{
    fprintf(stderr, "dpcc: error: %s\n", err->msg);
    return dp_exit_code(st);
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "dpcc: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see dpcc --help)\n");
    return dp_exit_code(DP_EUSAGE);
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int disasm(const char *path)
{
    dp_error err = {0};
    dp_program *prog;
    dp_status st = dp_program_read(path, &prog, &err);
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

int main(int argc, char **argv)
{
    dpc_options o;
    dpc_options_init(&o);
    dp_arena args;
    dp_arena_init(&args, 0);
    dpc_shape_binding *bindings = dp_arena_calloc(&args, (size_t)argc + 1, sizeof *bindings);
    const char *emit = NULL;
    bool quiet = false;
    dp_error err = {0};
    int rc = 0;

    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            goto done;
        } else if (strcmp(a, "--version") == 0) {
            printf("dpcc %s\n", DP_VERSION);
            goto done;
        } else if (strcmp(a, "--disasm") == 0) {
            if (!val)
                rc = usage_error("%s needs a file", a);
            else
                rc = disasm(val);
            goto done;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (!val)
                rc = usage_error("%s needs a file", a);
            o.out_path = val;
            i++;
        } else if (strncmp(a, "--emit=", 7) == 0) {
            emit = a + 7;
        } else if (strcmp(a, "--input-shape") == 0 || strncmp(a, "--input-shape=", 14) == 0) {
            const char *text = a[13] == '=' ? a + 14 : val;
            if (!text) {
                rc = usage_error("%s needs NAME=DIMS", a);
                break;
            }
            if (a[13] != '=')
                i++;
            dp_status st = dpc_parse_binding(text, &args, &bindings[o.n_bindings], &err);
            if (st != DP_OK)
                rc = fail(st, &err);
            o.n_bindings++;
        } else if (strcmp(a, "--max-memory") == 0) {
            if (!val || dp_arg_bytes(val, &o.max_memory) != 0)
                rc = usage_error("--max-memory needs a byte count such as 4G, not '%s'",
                                 val ? val : "");
            i++;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (a[0] == '-' && a[1]) {
            rc = usage_error("unknown option '%s'", a);
        } else if (!o.model_path) {
            o.model_path = a;
        } else {
            rc = usage_error("more than one model given ('%s')", a);
        }
    }
    if (rc)
        goto done;
    if (!o.model_path || !o.out_path) {
        rc = usage_error("%s", !o.model_path ? "no model given" : "no output given (-o FILE)");
        goto done;
    }
    if (emit) {
        if (strcmp(emit, "dp") == 0)
            o.emit = DPC_EMIT_DP;
        else if (strcmp(emit, "c") == 0)
            o.emit = DPC_EMIT_C;
        else if (strcmp(emit, "llvm") == 0)
            o.emit = DPC_EMIT_LLVM;
        else {
            rc = usage_error("--emit must be dp, c or llvm, not '%s'", emit);
            goto done;
        }
    } else if (has_suffix(o.out_path, ".c")) {
        o.emit = DPC_EMIT_C;
    } else if (has_suffix(o.out_path, ".ll") || has_suffix(o.out_path, ".bc")) {
        o.emit = DPC_EMIT_LLVM;
    }
    o.bindings = bindings;
    dpc_summary sum;
    dp_status st = dpc_compile(&o, &sum, &err);
    if (st != DP_OK)
        rc = fail(st, &err);
    else if (!quiet)
        print_summary(&o, &sum);
done:
    dp_arena_free(&args);
    return rc;
}
