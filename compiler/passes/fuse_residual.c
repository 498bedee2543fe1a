/*
 * fuse_residual.c: moving the Add that closes a residual branch into the Conv that ends it.
 *
 * A ResNet or MobileNetV2 block ends in a Conv whose output is added to the block's input
 * (or its projection); in ResNet a Relu follows. The device's digital post-processing unit
 * adds a second operand to each result as it leaves the ADC, as it adds the bias: fused, the
 * Add is no pass over the activations of its own, and the Relu then fuses into the same
 * Conv (fuse_activation.c). The Conv takes the other operand as input 3 with dp_residual
 * (kernel_util.h), and its kernel adds it after the bias, as the Add did.
 */
#include "passes.h"

#include <string.h>

/* Whether a and b are known and the same shape: the Add would not broadcast. */
static bool same_shape(const dp_tensor *a, const dp_tensor *b)
{
    if (a->rank < 0 || a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

/* The Conv that the Add's operand on side alone reads and that can take the other as its
 * residual, or NULL. */
static ir_node *residual_conv(const ir_graph *g, const ir_node *add, int side)
{
    ir_value *mine = add->in[side], *other = add->in[1 - side];
    ir_node *conv = mine ? ir_sole_producer(g, mine) : NULL;
    if (!conv || !other || strcmp(conv->op, "Conv") != 0 || other->t.dtype != DP_FLOAT ||
        !same_shape(&mine->t, &other->t) || !same_shape(&mine->t, &add->out[0]->t))
        return NULL;
    /* an activation runs after the residual, so a fused one would come too early */
    dp_kctx k = ir_attr_ctx(conv);
    if (dp_attr_find(&k, "dp_activation") || dp_attr_find(&k, "dp_residual"))
        return NULL;
    return conv;
}

dp_status pass_fuse_residual(ir_graph *g, dp_error *err)
{
    ir_count_all_uses(g);
    bool moved = false;
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *add = g->nodes[i];
        /* before opset 7 Add's broadcast and axis attributes align operands otherwise */
        if (add->dead || strcmp(add->op, "Add") != 0 || add->n_in != 2 || add->n_out != 1 ||
            add->n_attrs > 0 || add->out[0]->t.dtype != DP_FLOAT)
            continue;
        int side = 0;
        ir_node *conv = residual_conv(g, add, side);
        if (!conv)
            conv = residual_conv(g, add, side = 1);
        if (!conv)
            continue;
        if (!ir_set_input(g, conv, 3, add->in[1 - side]) ||
            !ir_set_attr(g, conv, (dp_attr){.name = "dp_residual", .kind = DP_ATTR_INT, .i = 1}))
            return dp_fail(err, DP_ENOMEM, "out of memory fusing '%s' into '%s'", add->name,
                           conv->name);
        ir_absorb(conv, add);
        moved = true;
    }
    ir_compact(g);
    /* the residual may come from a node after the Conv (ResNet's projection of the block's
     * input is exported after its branch): reorder so that it is computed first */
    return moved ? ir_toposort(g, err) : DP_OK;
}
