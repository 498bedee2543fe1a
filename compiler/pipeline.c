/* pipeline.c: the order of the passes, and the one arena a compilation lives in. */
#include "pipeline.h"

#include "emit_dp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_MEMORY ((size_t)16 << 30)

void dpc_options_init(dpc_options *o)
{
    memset(o, 0, sizeof *o);
    o->emit = DPC_EMIT_DP;
    o->analog = true;
    dpc_analog_opts_init(&o->analog_opts);
}

/* $DPCC_PROFILE_DIR, or the profiles/ folder the build was configured with. */
static dp_status load_device(const dpc_options *o, dp_device *d, dp_error *err)
{
    if (o->device_path)
        return dp_device_load(o->device_path, d, err);
    const char *dir = getenv("DPCC_PROFILE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : DPCC_PROFILE_DIR, DPCC_DEFAULT_PROFILE);
    dp_status st = dp_device_load(path, d, err);
    if (st != DP_OK)
        dp_error_prefix(err, "the default device profile (set DPCC_PROFILE_DIR or --device): ");
    return st;
}

static dp_status run_passes(const dpc_options *o, const dp_device *device, ir_graph *g,
                            dp_arena *mem, dpc_summary *sum, dp_error *err)
{
    dp_arena scratch;
    dp_arena_init(&scratch, o->max_memory ? o->max_memory : DEFAULT_MAX_MEMORY);
    sum->n_nodes_in = g->n_nodes;
    dp_status st = pass_fold_constants(g, &scratch, err);
    dp_arena_free(&scratch);
    if (st == DP_OK)
        st = pass_eliminate_dead(g, err);
    if (st == DP_OK)
        st = pass_infer_shapes(g, err);
    /* fusion: BN first (it rewrites the weights), then what joins the layer's output in the
     * order the layer applies it, bias before activation */
    if (st == DP_OK)
        st = pass_fold_batchnorm(g, err);
    if (st == DP_OK)
        st = pass_fuse_bias(g, err);
    if (st == DP_OK)
        st = pass_fuse_activation(g, err);
    if (st == DP_OK)
        st = pass_eliminate_dead(g, err);
    /* checks every fused layer against its kernel's own rules */
    if (st == DP_OK)
        st = pass_infer_shapes(g, err);
    if (st == DP_OK)
        st = pass_partition_analog(g, device, err);
    if (st != DP_OK)
        return st;
    sum->n_nodes_out = g->n_nodes;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->mvm) {
            sum->n_analog++;
            sum->macs += g->nodes[i]->mvm->macs;
        }
    (void)mem;
    return DP_OK;
}

dp_status dpc_compile(const dpc_options *o, dpc_summary *sum, dp_error *err)
{
    memset(sum, 0, sizeof *sum);
    if (o->emit == DPC_EMIT_LLVM)
        return dp_fail(err, DP_EUNSUPPORTED, "--emit=llvm is not available in this build yet; "
                       "use --emit=dp or --emit=c");
    dp_arena mem;
    dp_arena_init(&mem, o->max_memory ? o->max_memory : DEFAULT_MAX_MEMORY);
    dpc_frontend_opts fo = {.bindings = o->bindings, .n_bindings = o->n_bindings};
    dpc_model *model = NULL;
    ir_graph *g = NULL;
    dp_program *prog = NULL;
    dpc_plan plan;
    dp_device *device = dp_arena_calloc(&mem, 1, sizeof *device);
    dp_status st = device ? load_device(o, device, err) : dp_fail(err, DP_ENOMEM, "out of memory");
    if (st == DP_OK)
        st = dpc_load_onnx(o->model_path, &fo, &mem, &model, &g, err);
    if (st == DP_OK)
        st = run_passes(o, device, g, &mem, sum, err);
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
        if (o->analog && sum->n_analog > 0)
            st = dpc_analog_stage(prog, &o->analog_opts, &mem, err);
    }
    /* both backends write the same lowered, calibrated and scheduled program */
    if (st == DP_OK)
        st = o->emit == DPC_EMIT_C ? dpc_emit_c(prog, o->out_path, &o->c, err)
                                   : dp_program_write(prog, o->out_path, err);
    if (prog)
        dp_program_free(prog);
    dpc_model_release(model);
    dp_arena_free(&mem);
    return st;
}
