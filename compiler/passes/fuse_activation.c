/*
 * fuse_activation.c: moving the activation after an analog layer into that layer.
 *
 * A device's digital post-processing unit applies the activation to each result as it
 * leaves the ADC, and the emitted C kernel is one function per layer: in both the
 * activation belongs to the layer's instruction, not to an elementwise pass of its own over
 * memory. The fused layer carries it as dp_activation and its parameters (kernel_util.h),
 * which the Conv, ConvTranspose, Gemm and MatMul kernels apply to their output.
 */
#include "kernel_util.h"
#include "passes.h"

#include <float.h>
#include <string.h>

static bool is_analog(const ir_node *n)
{
    static const char *const ops[] = {"Conv", "ConvTranspose", "Gemm", "MatMul"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(n->op, ops[i]) == 0)
            return true;
    return false;
}

/* Clip's bound input i (opset 11 on) as *v: false unless absent or a float32 scalar. */
static bool clip_bound(const ir_node *act, int i, bool *present, float *v)
{
    const ir_value *b = i < act->n_in ? act->in[i] : NULL;
    *present = b != NULL;
    if (!b)
        return true;
    if (!ir_is_const_f32(b) || dp_numel(&b->t) != 1)
        return false;
    *v = *(const float *)b->t.data;
    return true;
}

/*
 * The fused attributes that make a layer apply act, in attrs[0..*n); false when act's
 * parameters are not constants. Defaults are those of the ONNX operators.
 */
static bool activation_attrs(const ir_node *act, dp_attr *attrs, int *n)
{
    dp_kctx k = ir_attr_ctx(act);
    *n = 0;
    attrs[(*n)++] = (dp_attr){.name = "dp_activation", .kind = DP_ATTR_STRING, .s = act->op};
    if (strcmp(act->op, "LeakyRelu") == 0 || strcmp(act->op, "HardSigmoid") == 0) {
        bool hard = strcmp(act->op, "HardSigmoid") == 0;
        attrs[(*n)++] = (dp_attr){.name = "dp_alpha", .kind = DP_ATTR_FLOAT,
                                  .f = dp_attr_float(&k, "alpha", hard ? 0.2f : 0.01f)};
        if (hard)
            attrs[(*n)++] = (dp_attr){.name = "dp_beta", .kind = DP_ATTR_FLOAT,
                                      .f = dp_attr_float(&k, "beta", 0.5f)};
    } else if (strcmp(act->op, "Clip") == 0) {
        bool has[2] = {true, true};
        float bound[2] = {0, 0};
        if (act->opset < 11) {
            bound[0] = dp_attr_float(&k, "min", -FLT_MAX);
            bound[1] = dp_attr_float(&k, "max", FLT_MAX);
        } else if (!clip_bound(act, 1, &has[0], &bound[0]) ||
                   !clip_bound(act, 2, &has[1], &bound[1])) {
            return false;
        }
        static const char *const names[2] = {"dp_min", "dp_max"};
        for (int i = 0; i < 2; i++)
            if (has[i])
                attrs[(*n)++] = (dp_attr){.name = names[i], .kind = DP_ATTR_FLOAT,
                                          .f = bound[i]};
    }
    return !k.bad_attr;
}

dp_status pass_fuse_activation(ir_graph *g, dp_error *err)
{
    ir_count_all_uses(g);
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *act = g->nodes[i], *n;
        dp_attr attrs[3];
        int n_attrs;
        if (act->dead || !dp_fused_activation_known(act->op) || act->n_in < 1 ||
            act->n_out != 1 || !act->in[0] || act->in[0]->t.dtype != DP_FLOAT ||
            !(n = ir_sole_producer(g, act->in[0])) || !is_analog(n))
            continue;
        dp_kctx k = ir_attr_ctx(n);
        if (dp_attr_find(&k, "dp_activation") || !activation_attrs(act, attrs, &n_attrs))
            continue;
        for (int j = 0; j < n_attrs; j++)
            if (!ir_set_attr(g, n, attrs[j]))
                return dp_fail(err, DP_ENOMEM, "out of memory fusing '%s' into '%s'",
                               act->name, n->name);
        ir_absorb(n, act);
    }
    ir_compact(g);
    return DP_OK;
}
