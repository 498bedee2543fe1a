/* pipeline.c: the order of the passes, and the one arena a compilation lives in. */
#include "pipeline.h"

#include "emit_dp.h"

#include <string.h>

#define DEFAULT_MAX_MEMORY ((size_t)16 << 30)

void dpc_options_init(dpc_options *o)
{
    memset(o, 0, sizeof *o);
    o->emit = DPC_EMIT_DP;
    /* Until device profiles select it, the core of the default shot-noise-limited machine:
     * 128 x 128, 8-bit converters (analog-model.md section 2). */
    o->core = (dpc_core){.rows = 128, .cols = 128, .dac_bits = 8, .weight_bits = 8, .adc_bits = 8};
}

static dp_status run_passes(const dpc_options *o, ir_graph *g, dp_arena *mem, dpc_summary *sum,
                            dp_error *err)
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
    if (st == DP_OK)
        st = pass_partition_analog(g, &o->core, err);
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
    if (o->emit != DPC_EMIT_DP)
        return dp_fail(err, DP_EUNSUPPORTED, "--emit=%s is not available in this build yet; "
                       "use --emit=dp", o->emit == DPC_EMIT_C ? "c" : "llvm");
    dp_arena mem;
    dp_arena_init(&mem, o->max_memory ? o->max_memory : DEFAULT_MAX_MEMORY);
    dpc_frontend_opts fo = {.bindings = o->bindings, .n_bindings = o->n_bindings};
    dpc_model *model = NULL;
    ir_graph *g = NULL;
    dp_program *prog = NULL;
    dpc_plan plan;
    dp_status st = dpc_load_onnx(o->model_path, &fo, &mem, &model, &g, err);
    if (st == DP_OK)
        st = run_passes(o, g, &mem, sum, err);
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
        st = dp_program_write(prog, o->out_path, err);
    }
    if (prog)
        dp_program_free(prog);
    dpc_model_release(model);
    dp_arena_free(&mem);
    return st;
}
