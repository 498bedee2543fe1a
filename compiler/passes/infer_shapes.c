/* infer_shapes.c: dtype and shape inference with each op's own rules (dp_op_def.infer). */
#include "passes.h"

dp_status ir_infer_node(ir_graph *g, ir_node *n, dp_error *err)
{
    dp_tensor *ins[DP_MAX_NODE_INPUTS], *outs[DP_MAX_NODE_OUTPUTS];
    dp_kctx k;
    ir_node_kctx(n, ins, outs, &k);
    k.err = err;
    dp_status st = dp_node_types_infer(n->def, &k);
    if (st == DP_DYNAMIC)
        return DP_OK;
    if (st != DP_OK)
        dp_error_prefix(err, "%s", g->source ? g->source : g->name);
    return st;
}

dp_status pass_infer_shapes(ir_graph *g, dp_error *err)
{
    for (int i = 0; i < g->n_nodes; i++) {
        dp_status st = ir_infer_node(g, g->nodes[i], err);
        if (st != DP_OK)
            return st;
    }
    return DP_OK;
}
