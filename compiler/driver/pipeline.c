/* pipeline.c: the order of the passes, and the one arena a compilation lives in. */
#include "pipeline.h"

#include "annotate.h"
#include "emit_dp.h"
#include "emit_llvm.h"
#include "tensor_io.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_MAX_MEMORY ((size_t)16 << 30)

void dpc_options_init(dpc_options *o)
{
    memset(o, 0, sizeof *o);
    o->emit = DPC_EMIT_DP;
    o->analog = true;
    dpc_analog_opts_init(&o->analog_opts);
}

void dpc_products_free(dpc_products *p)
{
    free(p->dp);
    free(p->report_json);
    memset(p, 0, sizeof *p);
}

/* Finds share/dpcc/profiles, holding DEFAULT, up to three folders above the file at path. */
static bool beside(const char *path, char *buf, size_t n)
{
    char dir[PATH_MAX], probe[PATH_MAX + 64];
    if (!path || !realpath(path, dir))
        return false;
    for (int up = 0; up < 3; up++) {
        char *slash = strrchr(dir, '/');
        if (!slash)
            return false;
        *slash = '\0';
        struct stat st;
        if (snprintf(probe, sizeof probe, "%s/share/dpcc/profiles/%s", dir,
                     DPCC_DEFAULT_PROFILE) < (int)sizeof probe
            && stat(probe, &st) == 0 && snprintf(buf, n, "%s/share/dpcc/profiles", dir) < (int)n)
            return true;
    }
    return false;
}

/*
 * An installed dpcc (or libdpcc.so) is relocatable: its profiles are found from where the
 * code itself lies (PREFIX/bin, PREFIX/lib or PREFIX/lib/ARCH), not from a path fixed at
 * build time; the build tree falls back to the source tree's profiles/.
 */
void dpc_profile_dir(char *buf, size_t n)
{
    const char *env = getenv("DPCC_PROFILE_DIR");
    if (env && *env) {
        snprintf(buf, n, "%s", env);
        return;
    }
    /* dladdr names the shared library this code is in; for an executable it may only give
     * argv[0], hence /proc/self/exe as well */
    Dl_info info;
    if (dladdr((void *)dpc_profile_dir, &info) && beside(info.dli_fname, buf, n))
        return;
    if (beside("/proc/self/exe", buf, n))
        return;
    snprintf(buf, n, "%s", DPCC_PROFILE_DIR);
}

bool dpc_is_profile_name(const char *device)
{
    size_t len = strlen(device);
    if (len == 0 || len > 64 || (len > 5 && strcmp(device + len - 5, ".json") == 0))
        return false;
    for (const char *c = device; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.')
            return false;
    return strcmp(device, ".") != 0 && strcmp(device, "..") != 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* " (bundled: a, b, c)" for a message, in order: the profiles in dir, or "" where none can
 * be read. */
static void list_profiles(const char *dir, char *buf, size_t n)
{
    enum { MAX_LISTED = 32 };
    char *names[MAX_LISTED];
    int count = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && count < MAX_LISTED && (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0 &&
            (names[count] = strndup(e->d_name, len - 5)) != NULL)
            count++;
    }
    if (d)
        closedir(d);
    qsort(names, (size_t)count, sizeof *names, cmp_names);
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < count; i++) {
        int w = used < n ? snprintf(buf + used, n - used, "%s%s", i ? ", " : " (bundled: ",
                                    names[i]) : 0;
        used += w > 0 ? (size_t)w : 0;
        free(names[i]);
    }
    if (used && used + 2 < n)
        strcat(buf, ")");
}

static dp_status load_device(const dpc_options *o, dp_device *d, dp_error *err)
{
    char dir[PATH_MAX], path[PATH_MAX + 128];
    dpc_profile_dir(dir, sizeof dir);
    if (o->device_path && !dpc_is_profile_name(o->device_path))
        return dp_device_load(o->device_path, d, err);
    if (o->device_path) {
        snprintf(path, sizeof path, "%s/%s.json", dir, o->device_path);
        struct stat st;
        if (stat(path, &st) != 0) {
            char names[512];
            list_profiles(dir, names, sizeof names);
            return dp_fail(err, DP_EUSAGE, "--device %s: no bundled profile of that name in "
                           "%s%s; give a file as a path (./%s)", o->device_path, dir, names,
                           o->device_path);
        }
        return dp_device_load(path, d, err);
    }
    snprintf(path, sizeof path, "%s/%s", dir, DPCC_DEFAULT_PROFILE);
    dp_status st = dp_device_load(path, d, err);
    if (st != DP_OK)
        dp_error_prefix(err, "the default device profile (set DPCC_PROFILE_DIR or --device)");
    return st;
}

static dp_status run_passes(const dpc_options *o, const dp_device *device, ir_graph *g,
                            dpc_summary *sum, dp_error *err)
{
    sum->n_nodes_in = g->n_nodes;
    dpc_pass_env env = {.device = device,
                        .max_memory = o->max_memory ? o->max_memory : DEFAULT_MAX_MEMORY,
                        .dump_after = o->dump_after, .dump = stderr};
    dp_status st = dpc_run_passes(g, &env, err);
    if (st != DP_OK)
        return st;
    sum->n_nodes_out = g->n_nodes;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->mvm) {
            sum->n_analog++;
            sum->macs += g->nodes[i]->mvm->macs;
        }
    return DP_OK;
}

/* The model of o, from memory or its file, into a graph in mem. */
static dp_status load_model(const dpc_options *o, const dpc_frontend_opts *fo, dp_arena *mem,
                            dpc_model **model, ir_graph **g, dp_error *err)
{
    return o->model_data ? dpc_load_onnx_buffer(o->model_data, o->model_len, o->model_path,
                                                o->model_base_dir, fo, mem, model, g, err)
                         : dpc_load_onnx(o->model_path, fo, mem, model, g, err);
}

/* What lower_batched needs of the compilation: its options and device. */
typedef struct relower_ctx {
    const dpc_options *o;
    const dp_device *device;
} relower_ctx;

/*
 * The model lowered again with every graph input's symbolic leading dimension bound to
 * `batch` (and the user's other bindings), into mem, which must outlive the program: it
 * holds the graph's names and attributes. The analog stage's runs execute it, `batch`
 * samples an inference (dpc_analog_opts.lower_batched).
 */
static dp_status lower_batched(void *ctx, const dp_program *prog, int64_t batch, dp_arena *mem,
                               dp_program **out, dp_error *err)
{
    const relower_ctx *c = ctx;
    const dpc_options *o = c->o;
    dpc_frontend_opts fo = {.bindings = o->bindings, .n_bindings = o->n_bindings,
                            .batch = batch, .dist = o->analog_opts.dist};
    dpc_model *model = NULL;
    ir_graph *g = NULL;
    dpc_plan plan;
    dp_status st = load_model(o, &fo, mem, &model, &g, err);
    dpc_pass_env env = {.device = c->device,
                        .max_memory = o->max_memory ? o->max_memory : DEFAULT_MAX_MEMORY};
    if (st == DP_OK)
        st = dpc_run_passes(g, &env, err);
    if (st == DP_OK)
        st = pass_plan_memory(g, mem, &plan, err);
    if (st == DP_OK)
        st = dpc_lower(g, &plan, out, err);
    if (st == DP_OK)
        (*out)->device = prog->device;
    dpc_model_release(model);
    return st;
}

dp_status dpc_compile(const dpc_options *o, dpc_summary *sum, dp_error *err)
{
    memset(sum, 0, sizeof *sum);
#ifndef DPCC_WITH_LLVM
    /* refused before any work: the stub says why */
    if (o->emit == DPC_EMIT_LLVM)
        return dpc_emit_llvm(NULL, o->out_path, &o->c, err);
#endif
    dp_arena mem;
    dp_arena_init(&mem, o->max_memory ? o->max_memory : DEFAULT_MAX_MEMORY);
    /* over several ranks, rank 0 alone reads the inputs and the others receive them: the
     * model once, for the compile, the batched lowering and --annotate */
    dp_dist *dist = o->analog_opts.dist;
    dpc_options from_rank0;
    unsigned char *file = NULL;
    char folder[PATH_MAX];
    dp_status st = DP_OK;
    if (dp_dist_spread(dist) && !o->model_data) {
        from_rank0 = *o;
        st = dp_file_read_dist(dist, o->model_path, NULL, DPC_MAX_MODEL_FILE, &file,
                               &from_rank0.model_len, err);
        dpc_model_folder(o->model_path, folder, sizeof folder);
        from_rank0.model_data = file;
        from_rank0.model_base_dir = folder;
        o = &from_rank0;
    }
    dpc_frontend_opts fo = {.bindings = o->bindings, .n_bindings = o->n_bindings, .dist = dist};
    dpc_model *model = NULL;
    ir_graph *g = NULL;
    dp_program *prog = NULL;
    dpc_plan plan;
    dp_device *device = dp_arena_calloc(&mem, 1, sizeof *device);
    if (st == DP_OK)
        st = !device               ? dp_fail(err, DP_ENOMEM, "out of memory")
             : dp_dist_leads(dist) ? load_device(o, device, err)
                                   : DP_OK;
    /* a rank without a device has failed, and the agreement before the bytes stops them */
    st = dp_dist_bcast_into(dist, st, device, sizeof *device, err);
    if (st == DP_OK)
        st = load_model(o, &fo, &mem, &model, &g, err);
    if (st == DP_OK)
        st = run_passes(o, device, g, sum, err);
    if (st == DP_OK)
        st = pass_plan_memory(g, &mem, &plan, err);
    if (st == DP_OK)
        st = dpc_lower(g, &plan, &prog, err);
    if (st == DP_OK) {
        sum->arena_bytes = plan.arena_bytes;
        sum->naive_bytes = plan.naive_bytes;
        sum->weights_bytes = prog->weights_bytes;
        dpc_model_release(model); /* the weights now live in the program's blob */
        model = NULL;
        prog->device = device;
        dpc_analog_opts ao = o->analog_opts;
        relower_ctx relower = {.o = o, .device = device};
        ao.lower_batched = lower_batched;
        ao.lower_ctx = &relower;
        if (o->keep)
            ao.report_json = &o->keep->report_json;
        else if (o->json || o->annotate_path)
            ao.report_json = &sum->report_json;
        if (o->analog && sum->n_analog > 0) {
            st = dpc_analog_stage(prog, &ao, &mem, err);
            /* a failure deep in calibration should still say which model it was */
            if (st != DP_OK && o->model_path)
                dp_error_prefix(err, "%s", o->model_path);
        }
    }
    /* the schedule is final here: what --annotate records is what the program holds */
    /* over several ranks, rank 0 alone writes files */
    bool leads = dp_dist_leads(dist);
    if (st == DP_OK && o->annotate_path && leads)
        st = dpc_annotate_onnx(o->model_path, o->model_data, o->model_len, o->annotate_path,
                               o->keep ? o->keep->report_json : sum->report_json, err);
    if (!o->json || st != DP_OK) {
        free(sum->report_json);
        sum->report_json = NULL;
    } else if (o->keep && o->keep->report_json
               && !(sum->report_json = strdup(o->keep->report_json))) {
        st = dp_fail(err, DP_ENOMEM, "out of memory for the report");
    }
    if (st == DP_OK && o->keep)
        st = dp_program_pack(prog, &o->keep->dp, &o->keep->dp_len, err);
    /* both backends write the same lowered, calibrated and scheduled program */
    if (st == DP_OK && o->out_path && leads)
        st = o->emit == DPC_EMIT_C      ? dpc_emit_c(prog, o->out_path, &o->c, err)
             : o->emit == DPC_EMIT_LLVM ? dpc_emit_llvm(prog, o->out_path, &o->c, err)
                                        : dp_program_write(prog, o->out_path, err);
    if (prog)
        dp_program_free(prog);
    dpc_model_release(model);
    dp_arena_free(&mem);
    free(file);
    return st;
}
