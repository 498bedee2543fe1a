/*
 * pass_table.c: the IR passes by name, in the order a compilation runs them, so that the
 * driver, the tests and dpcc --dump-after share one list.
 */
#include "passes.h"

#include <string.h>

static dp_status lower_qlinear(ir_graph *g, const dpc_pass_env *env, dp_error *err)
{
    (void)env;
    return pass_lower_qlinear(g, err);
}

static dp_status weight_grid(ir_graph *g, const dpc_pass_env *env, dp_error *err)
{
    (void)env;
    return pass_weight_grid(g, err);
}

static dp_status fold_constants(ir_graph *g, const dpc_pass_env *env, dp_error *err)
{
    dp_arena scratch;
    dp_arena_init(&scratch, env->max_memory);
    dp_status st = pass_fold_constants(g, &scratch, err);
    dp_arena_free(&scratch);
    return st;
}

static dp_status eliminate_dead(ir_graph *g, const dpc_pass_env *env, dp_error *err)
{
    (void)env;
    return pass_eliminate_dead(g, err);
}

static dp_status infer_shapes(ir_graph *g, const dpc_pass_env *env, dp_error *err)
{
    (void)env;
    return pass_infer_shapes(g, err);
}

static dp_status fold_batchnorm(ir_graph *g, const dpc_pass_env *env, dp_error *err)
{
    (void)env;
    return pass_fold_batchnorm(g, err);
}

static dp_status fuse_bias(ir_graph *g, const dpc_pass_env *env, dp_error *err)
{
    (void)env;
    return pass_fuse_bias(g, err);
}

static dp_status fuse_residual(ir_graph *g, const dpc_pass_env *env, dp_error *err)
{
    (void)env;
    return pass_fuse_residual(g, err);
}

static dp_status fuse_activation(ir_graph *g, const dpc_pass_env *env, dp_error *err)
{
    (void)env;
    return pass_fuse_activation(g, err);
}

static dp_status partition_analog(ir_graph *g, const dpc_pass_env *env, dp_error *err)
{
    return pass_partition_analog(g, env->device, err);
}

/* QLinear layers become their QDQ form, and a QDQ weight's grid is read, before folding
 * turns the weights into floats. Fusion goes BN first (it rewrites the weights), then what
 * joins a layer's output in the order the layer applies it: bias, residual, activation.
 * Shapes are inferred again after it, which checks every fused layer against its kernel's
 * own rules. */
const dpc_pass dpc_passes[] = {
    {"lower-qlinear", lower_qlinear},
    {"weight-grid", weight_grid},
    {"fold-constants", fold_constants},
    {"eliminate-dead", eliminate_dead},
    {"infer-shapes", infer_shapes},
    {"fold-batchnorm", fold_batchnorm},
    {"fuse-bias", fuse_bias},
    {"fuse-residual", fuse_residual},
    {"fuse-activation", fuse_activation},
    {"eliminate-dead", eliminate_dead},
    {"infer-shapes", infer_shapes},
    {"partition-analog", partition_analog},
};
const int dpc_n_passes = (int)(sizeof dpc_passes / sizeof dpc_passes[0]);

bool dpc_pass_known(const char *name)
{
    if (strcmp(name, "all") == 0 || strcmp(name, "frontend") == 0)
        return true;
    for (int i = 0; i < dpc_n_passes; i++)
        if (strcmp(dpc_passes[i].name, name) == 0)
            return true;
    return false;
}

static void dump(const ir_graph *g, const char *after, FILE *f)
{
    fprintf(f, "; IR after %s: %d nodes\n", after, g->n_nodes);
    ir_dump(g, f);
}

dp_status dpc_run_passes(ir_graph *g, const dpc_pass_env *env, dp_error *err)
{
    const char *want = env->dump_after;
    bool all = want && strcmp(want, "all") == 0;
    if (want && env->dump && (all || strcmp(want, "frontend") == 0))
        dump(g, "frontend", env->dump);
    for (int i = 0; i < dpc_n_passes; i++) {
        dp_status st = dpc_passes[i].run(g, env, err);
        if (st != DP_OK)
            return st;
        if (want && env->dump && (all || strcmp(want, dpc_passes[i].name) == 0))
            dump(g, dpc_passes[i].name, env->dump);
    }
    return DP_OK;
}
