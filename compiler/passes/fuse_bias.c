/*
 * fuse_bias.c: moving a constant Add after an analog layer into that layer's bias.
 *
 * An Add of a constant that varies only along the output channels is the bias the layer
 * could have had: PyTorch exports nn.Linear on a 3-D input (every projection of a
 * transformer) as MatMul + Add, and some exporters split Conv's bias off the same way. As
 * part of the layer it is added on the device's digital side in the same instruction,
 * saving an elementwise pass over the activations. Conv and ConvTranspose take it as their
 * bias (summed with one they have), Gemm as its C (when it has none), MatMul with a constant
 * 2-D weight as a fused bias (kernel_util.h).
 */
#include "passes.h"

#include <string.h>

/*
 * Whether constant c, added to an output of rank out_rank (-1: unknown, then c must have
 * rank 1 or less), varies along axis only (from the end when negative), which has
 * channels elements: a scalar, or channels values laid along that axis.
 */
static bool along_axis(const dp_tensor *c, int out_rank, int axis, int64_t channels)
{
    if (out_rank < 0) {
        if (c->rank > 1 || axis != -1)
            return false;
        out_rank = 1;
    }
    if (c->rank > out_rank)
        return false;
    int a = axis < 0 ? out_rank + axis : axis;
    for (int i = 0; i < c->rank; i++)
        if (c->dims[i] != 1 && (out_rank - c->rank + i != a || c->dims[i] != channels))
            return false;
    return true;
}

/* b[i] (+)= the constant's value for channel i: a scalar repeats, a vector is one each. */
static void add_channels(float *b, const dp_tensor *c, int64_t channels)
{
    const float *v = c->data;
    bool scalar = dp_numel(c) == 1;
    for (int64_t i = 0; i < channels; i++)
        b[i] += scalar ? v[0] : v[i];
}

/* Makes n's bias (input 2) its constant bias old (if any) plus the constant c. */
static dp_status new_bias(ir_graph *g, ir_node *n, const ir_value *old, const dp_tensor *c,
                          int64_t channels, dp_error *err)
{
    ir_value *b = ir_const_f32(g, n->name, "fused_bias", 1, &channels);
    if (!b)
        return dp_fail(err, DP_ENOMEM, "out of memory fusing a bias into '%s'", n->name);
    float *bv = b->t.data;
    if (old)
        for (int64_t i = 0; i < channels; i++)
            bv[i] = ((const float *)old->t.data)[i];
    add_channels(bv, c, channels);
    if (!ir_set_input(g, n, 2, b))
        return dp_fail(err, DP_ENOMEM, "out of memory fusing a bias into '%s'", n->name);
    return DP_OK;
}

/* Moves constant c into n's bias, if n is a layer that can take it: *fused says whether. */
static dp_status fuse(ir_graph *g, ir_node *n, ir_value *c, bool *fused, dp_error *err)
{
    dp_kctx k = ir_attr_ctx(n);
    const ir_value *w = n->n_in > 1 ? n->in[1] : NULL, *bias = n->n_in > 2 ? n->in[2] : NULL;
    const dp_tensor *y = &n->out[0]->t;
    *fused = false;
    /* a fused activation runs after the bias, so the Add would come too late */
    if (!w || w->t.rank < 0 || y->dtype != DP_FLOAT || dp_attr_find(&k, "dp_activation"))
        return DP_OK;
    if (strcmp(n->op, "Conv") == 0 || strcmp(n->op, "ConvTranspose") == 0) {
        bool transpose = strcmp(n->op, "ConvTranspose") == 0;
        int64_t group = transpose ? dp_attr_int(&k, "group", 1) : 1;
        if (k.bad_attr || w->t.rank < 3 || group < 1 || w->t.dims[1] > INT64_MAX / group)
            return DP_OK;
        int64_t channels = transpose ? w->t.dims[1] * group : w->t.dims[0];
        if (!along_axis(&c->t, w->t.rank, 1, channels) ||
            (bias && (!ir_is_const_f32(bias) || bias->t.rank != 1 || bias->t.dims[0] != channels)))
            return DP_OK;
        *fused = true;
        return new_bias(g, n, bias, &c->t, channels, err);
    }
    if (strcmp(n->op, "Gemm") == 0) {
        /* C must broadcast to the M x N output, as Y's shape would */
        int64_t n_cols = w->t.rank == 2 ? w->t.dims[dp_attr_int(&k, "transB", 0) ? 0 : 1] : -1;
        const dp_tensor *ct = &c->t;
        int64_t last = ct->rank >= 1 ? ct->dims[ct->rank - 1] : 1;
        bool rows_ok = ct->rank < 2 || ct->dims[0] == 1 ||
                       (y->rank == 2 && ct->dims[0] == y->dims[0]);
        if (k.bad_attr || bias || n_cols < 0 || ct->rank > 2 || (last != 1 && last != n_cols) ||
            !rows_ok)
            return DP_OK;
        *fused = true;
        if (!ir_set_input(g, n, 2, c) ||
            (dp_attr_float(&k, "beta", 1.0f) != 1 &&
             !ir_set_attr(g, n, (dp_attr){.name = "beta", .kind = DP_ATTR_FLOAT, .f = 1.0f})))
            return dp_fail(err, DP_ENOMEM, "out of memory fusing a bias into '%s'", n->name);
        return DP_OK;
    }
    if (strcmp(n->op, "MatMul") == 0) {
        if (bias || !ir_is_const_f32(w) || w->t.rank != 2 ||
            !along_axis(&c->t, y->rank, -1, w->t.dims[1]))
            return DP_OK;
        *fused = true;
        dp_status st = new_bias(g, n, NULL, &c->t, w->t.dims[1], err);
        if (st == DP_OK &&
            !ir_set_attr(g, n, (dp_attr){.name = "dp_bias", .kind = DP_ATTR_INT, .i = 1}))
            st = dp_fail(err, DP_ENOMEM, "out of memory fusing a bias into '%s'", n->name);
        return st;
    }
    return DP_OK;
}

dp_status pass_fuse_bias(ir_graph *g, dp_error *err)
{
    ir_count_all_uses(g);
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *add = g->nodes[i];
        /* before opset 7 Add's broadcast and axis attributes align operands otherwise */
        if (add->dead || strcmp(add->op, "Add") != 0 || add->n_in != 2 || add->n_out != 1 ||
            add->n_attrs > 0 || add->out[0]->t.dtype != DP_FLOAT)
            continue;
        for (int side = 0; side < 2; side++) {
            ir_value *c = add->in[1 - side];
            ir_node *n = add->in[side] ? ir_sole_producer(g, add->in[side]) : NULL;
            bool fused = false;
            if (!n || !ir_is_const_f32(c))
                continue;
            dp_status st = fuse(g, n, c, &fused, err);
            if (st != DP_OK)
                return st;
            if (fused) {
                ir_absorb(n, add);
                break;
            }
        }
    }
    ir_compact(g);
    return DP_OK;
}
