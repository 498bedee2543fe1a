/*
 * api.c: the public compiler API (include/dpcc/dpcc.h) over the pipeline.
 *
 * A compiler handle holds its own copies of every option and the products of its last
 * compilation: the .dp bytes and report that dpc_compile hands back in memory, and the
 * program parsed from those bytes, which the schedule queries and the C backend read. So
 * what a caller gets (file, bytes, C) is always the one validated program, whatever the
 * order of the calls.
 */
#include "dpcc/dpcc.h"

#include "cli_args.h"
#include "pipeline.h"
#include "report.h"
#include "tensor_io.h"

#ifdef DPCC_WITH_MPI
#include "dp_dist_mpi.h"
#include "dpcc/mpi.h"
#endif

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The public tensor is the runtime's, field for field, so it is passed through as is. */
_Static_assert(sizeof(dpcc_tensor) == sizeof(dp_tensor)
               && offsetof(dpcc_tensor, dims) == offsetof(dp_tensor, dims)
               && offsetof(dpcc_tensor, data) == offsetof(dp_tensor, data)
               && DPCC_MAX_RANK == DP_MAX_RANK, "dpcc_tensor must match dp_tensor");

struct dpcc_compiler {
    dp_error err;
    dpc_options o;
    dp_arena strings;               /* copies of option strings */
    dp_arena calib_mem;             /* the in-memory calibration set, replaced as a whole */
    dp_tensor *calib;
    dpc_shape_binding *bindings;    /* malloc'd, grown as inputs are bound */
    int cap_bindings;
    dpc_products products;
    dp_program *prog;               /* parsed from products.dp */
    dp_dist *dist;                  /* dpcc_set_mpi_comm's ranks; NULL: one process */
};

const char *dpcc_version(void)
{
    return DPCC_VERSION_STRING;
}

dpcc_status dpcc_compiler_new(dpcc_compiler **out)
{
    if (!out)
        return DPCC_EUSAGE;
    dpcc_compiler *c = calloc(1, sizeof *c);
    *out = c;
    if (!c)
        return DPCC_ENOMEM;
    dpc_options_init(&c->o);
    /* a library neither draws progress bars nor prints the summary table or warnings: the
     * report carries them (degradation.met, calibration.warning) */
    c->o.analog_opts.quiet = true;
    c->o.analog_opts.no_warnings = true;
    c->o.analog_opts.progress = DPC_PROGRESS_NONE;
    c->o.analog_opts.verbose = false;
    dp_arena_init(&c->strings, 0);
    dp_arena_init(&c->calib_mem, 0);
    return DPCC_OK;
}

static void drop_results(dpcc_compiler *c)
{
    dp_program_free(c->prog);
    c->prog = NULL;
    dpc_products_free(&c->products);
}

void dpcc_compiler_free(dpcc_compiler *c)
{
    if (!c)
        return;
    drop_results(c);
    dp_arena_free(&c->strings);
    dp_arena_free(&c->calib_mem);
    free(c->bindings);
#ifdef DPCC_WITH_MPI
    dp_dist_mpi_delete(c->dist);
#endif
    free(c);
}

#ifdef DPCC_WITH_MPI
dpcc_status dpcc_set_mpi_comm(dpcc_compiler *c, MPI_Comm comm)
{
    if (!c)
        return DPCC_EUSAGE;
    dp_status st = dp_dist_mpi_renew(&c->dist, comm, &c->err);
    c->o.analog_opts.dist = c->dist;
    return (dpcc_status)st;
}
#endif

const char *dpcc_compiler_error(const dpcc_compiler *c)
{
    return c ? c->err.msg : "no compiler (NULL handle)";
}

/* Each call reports its own failure: the message of an earlier one is cleared first. A NULL
 * handle has nowhere to keep a message, so the caller answers it with DPCC_EUSAGE alone. */
static bool begin(dpcc_compiler *c)
{
    if (!c)
        return false;
    dp_error_clear(&c->err);
    return true;
}

static dpcc_status fail_usage(dpcc_compiler *c, const char *what)
{
    return (dpcc_status)dp_fail(&c->err, DP_EUSAGE, "%s", what);
}

/* A copy of s that lives as long as c (NULL stays NULL). */
static dpcc_status copy_string(dpcc_compiler *c, const char *s, const char **out)
{
    if (!s) {
        *out = NULL;
        return DPCC_OK;
    }
    char *copy = dp_arena_strdup(&c->strings, s);
    if (!copy)
        return (dpcc_status)dp_fail(&c->err, DP_ENOMEM, "out of memory");
    *out = copy;
    return DPCC_OK;
}

dpcc_status dpcc_set_device(dpcc_compiler *c, const char *profile_path)
{
    if (!begin(c))
        return DPCC_EUSAGE;
    return copy_string(c, profile_path, &c->o.device_path);
}

dpcc_status dpcc_set_analog(dpcc_compiler *c, int enabled)
{
    if (!begin(c))
        return DPCC_EUSAGE;
    c->o.analog = enabled != 0;
    return DPCC_OK;
}

dpcc_status dpcc_set_calibration_path(dpcc_compiler *c, const char *path)
{
    if (!begin(c))
        return DPCC_EUSAGE;
    return copy_string(c, path, &c->o.analog_opts.calib_path);
}

dpcc_status dpcc_set_calibration(dpcc_compiler *c, const dpcc_tensor *batches, int n)
{
    if (!begin(c))
        return DPCC_EUSAGE;
    if (n < 0 || (n > 0 && !batches))
        return fail_usage(c, "dpcc_set_calibration: n must be >= 0, with n batches");
    dp_arena_free(&c->calib_mem);
    dp_arena_init(&c->calib_mem, 0);
    c->calib = NULL;
    c->o.analog_opts.calib = NULL;
    c->o.analog_opts.n_calib = 0;
    if (n == 0)
        return DPCC_OK;
    dp_tensor *t = dp_arena_calloc(&c->calib_mem, (size_t)n, sizeof *t);
    if (!t)
        return (dpcc_status)dp_fail(&c->err, DP_ENOMEM, "out of memory");
    for (int k = 0; k < n; k++) {
        memcpy(&t[k], &batches[k], sizeof t[k]);
        dp_status st = dp_shape_check(&t[k], &c->err, "a calibration batch");
        if (st == DP_OK && (!t[k].data || dp_dtype_size(t[k].dtype) == 0))
            st = dp_fail(&c->err, DP_EUSAGE, "calibration batch %d has no data or an unknown "
                         "dtype (%d)", k, (int)t[k].dtype);
        if (st == DP_OK && !(t[k].data = dp_arena_memdup(&c->calib_mem, batches[k].data,
                                                         dp_nbytes(&t[k]))))
            st = dp_fail(&c->err, DP_ENOMEM, "out of memory for calibration batch %d", k);
        if (st != DP_OK)
            return (dpcc_status)st;
    }
    c->calib = t;
    c->o.analog_opts.calib = t;
    c->o.analog_opts.n_calib = n;
    return DPCC_OK;
}

dpcc_status dpcc_set_labels_path(dpcc_compiler *c, const char *path)
{
    if (!begin(c))
        return DPCC_EUSAGE;
    return copy_string(c, path, &c->o.analog_opts.labels_path);
}

dpcc_status dpcc_set_budget(dpcc_compiler *c, const char *metric, double value)
{
    if (!begin(c))
        return DPCC_EUSAGE;
    if (!metric)
        return fail_usage(c, "dpcc_set_budget: no metric");
    dp_status st = dpc_set_budget(&c->o.analog_opts, metric, strlen(metric), value, &c->err);
    if (st != DP_OK)
        dp_error_prefix(&c->err, "dpcc_set_budget %.100s=%g", metric, value);
    return (dpcc_status)st;
}

dpcc_status dpcc_set_schedule(dpcc_compiler *c, const char *schedule)
{
    if (!begin(c))
        return DPCC_EUSAGE;
    dpc_analog_opts *ao = &c->o.analog_opts;
    if (schedule && strcmp(schedule, "dynamic") == 0)
        ao->schedule = DPC_SCHEDULE_DYNAMIC;
    else if (schedule && strcmp(schedule, "uniform") == 0)
        ao->schedule = DPC_SCHEDULE_UNIFORM;
    else if (schedule && strncmp(schedule, "fixed:", 6) == 0
             && dp_arg_count(schedule + 6, INT32_MAX, &ao->fixed_reps) == 0)
        ao->schedule = DPC_SCHEDULE_FIXED;
    else if (schedule && strncmp(schedule, "from:", 5) == 0 && schedule[5]) {
        dpcc_status st = copy_string(c, schedule + 5, &ao->schedule_from);
        if (st == DPCC_OK)
            ao->schedule = DPC_SCHEDULE_GIVEN;
        return st;
    } else
        return (dpcc_status)dp_fail(&c->err, DP_EUSAGE, "the schedule must be dynamic, uniform, "
                                    "fixed:N or from:FILE, not '%s'",
                                    schedule ? schedule : "(null)");
    return DPCC_OK;
}

dpcc_status dpcc_set_seed(dpcc_compiler *c, uint32_t seed)
{
    if (!begin(c))
        return DPCC_EUSAGE;
    c->o.analog_opts.seed = seed;
    return DPCC_OK;
}

dpcc_status dpcc_set_seeds(dpcc_compiler *c, int seeds)
{
    if (!begin(c))
        return DPCC_EUSAGE;
    if (seeds < 0 || seeds > DPC_MAX_RUNNERS)
        return fail_usage(c, "dpcc_set_seeds: the count must be from 0 (automatic) to 16");
    c->o.analog_opts.seeds = seeds;
    return DPCC_OK;
}

dpcc_status dpcc_set_threads(dpcc_compiler *c, int threads)
{
    if (!begin(c))
        return DPCC_EUSAGE;
    if (threads < 0 || threads > 256)
        return fail_usage(c, "dpcc_set_threads: the count must be from 0 (automatic) to 256");
    c->o.analog_opts.threads = threads;
    return DPCC_OK;
}

dpcc_status dpcc_set_progress(dpcc_compiler *c, dpcc_progress_fn fn, void *ctx)
{
    if (!begin(c))
        return DPCC_EUSAGE;
    c->o.analog_opts.progress_fn = fn;
    c->o.analog_opts.progress_ctx = ctx;
    return DPCC_OK;
}

dpcc_status dpcc_set_input_shape(dpcc_compiler *c, const char *input, int rank,
                                 const int64_t *dims)
{
    if (!begin(c))
        return DPCC_EUSAGE;
    if (!input || rank < 0 || rank > DP_MAX_RANK || (rank > 0 && !dims))
        return fail_usage(c, "dpcc_set_input_shape: needs a name and 0 to 8 dimensions");
    for (int d = 0; d < rank; d++)
        if (dims[d] < 0)
            return fail_usage(c, "dpcc_set_input_shape: dimensions must be >= 0");
    int i = 0;
    while (i < c->o.n_bindings && strcmp(c->bindings[i].name, input) != 0)
        i++;
    if (i == c->cap_bindings) {
        int cap = c->cap_bindings ? 2 * c->cap_bindings : 4;
        dpc_shape_binding *b = realloc(c->bindings, (size_t)cap * sizeof *b);
        if (!b)
            return (dpcc_status)dp_fail(&c->err, DP_ENOMEM, "out of memory");
        c->bindings = b;
        c->cap_bindings = cap;
    }
    dpc_shape_binding *b = &c->bindings[i];
    if (i == c->o.n_bindings) {
        dpcc_status st = copy_string(c, input, &b->name);
        if (st != DPCC_OK)
            return st;
        c->o.n_bindings++;
    }
    b->rank = rank;
    for (int d = 0; d < rank; d++)
        b->dims[d] = dims[d];
    c->o.bindings = c->bindings;
    return DPCC_OK;
}

/* Runs the pipeline with the model from a file (path) or memory (data), keeping the results. */
static dpcc_status compile(dpcc_compiler *c, const char *path, const void *data, size_t len,
                           const char *base_dir)
{
    drop_results(c);
    dpc_options o = c->o;
    o.model_path = path;
    o.model_data = data;
    o.model_len = len;
    o.model_base_dir = base_dir;
    o.out_path = NULL;
    o.keep = &c->products;
    dpc_summary sum;
    dp_status st = dpc_compile(&o, &sum, &c->err);
    if (st == DP_OK)
        st = dp_program_parse(c->products.dp, c->products.dp_len, &c->prog, &c->err);
    if (st != DP_OK)
        drop_results(c);
    return (dpcc_status)st;
}

dpcc_status dpcc_compile_file(dpcc_compiler *c, const char *onnx_path)
{
    if (!begin(c))
        return DPCC_EUSAGE;
    if (!onnx_path)
        return fail_usage(c, "dpcc_compile_file: no model path");
    return compile(c, onnx_path, NULL, 0, NULL);
}

dpcc_status dpcc_compile_buffer(dpcc_compiler *c, const void *data, size_t len,
                                const char *base_dir)
{
    if (!begin(c))
        return DPCC_EUSAGE;
    if (!data)
        return fail_usage(c, "dpcc_compile_buffer: no model data");
    return compile(c, "(model in memory)", data, len, base_dir);
}

static dpcc_status need_program(dpcc_compiler *c)
{
    if (!c->prog)
        return fail_usage(c, "no compiled program: compile a model first");
    return DPCC_OK;
}

int dpcc_num_layers(const dpcc_compiler *c)
{
    int n = 0;
    for (int i = 0; c && c->prog && i < c->prog->n_instrs; i++)
        n += c->prog->instrs[i].mvm != NULL;
    return n;
}

dpcc_status dpcc_layer(dpcc_compiler *c, int i, dpcc_layer_info *out)
{
    if (!begin(c))
        return DPCC_EUSAGE;
    if (!out)
        return fail_usage(c, "dpcc_layer: no place for the layer (out is NULL)");
    dpcc_status st = need_program(c);
    if (st != DPCC_OK)
        return st;
    const dp_program *p = c->prog;
    for (int k = 0, l = 0; k < p->n_instrs; k++) {
        const dp_mvm *m = p->instrs[k].mvm;
        if (!m || l++ != i)
            continue;
        dp_layer_work w = dp_mvm_work(m, m->repetitions);
        out->name = p->instrs[k].name;
        out->op = p->instrs[k].op;
        out->repetitions = m->repetitions;
        out->effective_bits = dp_mvm_effective_bits(p, m, m->repetitions);
        out->macs = m->macs;
        out->energy_j = p->device ? dp_energy_layer(p->device, &w).total : 0;
        return DPCC_OK;
    }
    return (dpcc_status)dp_fail(&c->err, DP_EUSAGE, "no analog layer %d (the program has %d)", i,
                                dpcc_num_layers(c));
}

const char *dpcc_report_json(const dpcc_compiler *c)
{
    return c && c->prog ? c->products.report_json : NULL;
}

dpcc_status dpcc_program(dpcc_compiler *c, const void **data, size_t *len)
{
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!begin(c))
        return DPCC_EUSAGE;
    if (!data || !len)
        return fail_usage(c, "dpcc_program: needs places for both the bytes and the length");
    dpcc_status st = need_program(c);
    if (st == DPCC_OK) {
        *data = c->products.dp;
        *len = c->products.dp_len;
    }
    return st;
}

dpcc_status dpcc_write_dp(dpcc_compiler *c, const char *path)
{
    if (!begin(c))
        return DPCC_EUSAGE;
    dpcc_status st = need_program(c);
    if (st != DPCC_OK)
        return st;
    if (!path)
        return fail_usage(c, "dpcc_write_dp: no path");
    dp_chunk part = {c->products.dp, c->products.dp_len};
    return (dpcc_status)dp_file_write_atomic(path, &part, 1, &c->err);
}

dpcc_status dpcc_write_c(dpcc_compiler *c, const char *path, const char *prefix)
{
    if (!begin(c))
        return DPCC_EUSAGE;
    dpcc_status st = need_program(c);
    if (st != DPCC_OK)
        return st;
    if (!path)
        return fail_usage(c, "dpcc_write_c: no path");
    if (prefix && !dpc_c_prefix_ok(prefix))
        return fail_usage(c, "dpcc_write_c: the prefix must be a C identifier of at most 64 "
                             "characters");
    dpc_c_opts co = {.prefix = prefix};
    return (dpcc_status)dpc_emit_c(c->prog, path, &co, &c->err);
}
