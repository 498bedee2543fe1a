/* fold_constants.c: evaluating at compile time what does not depend on the graph inputs. */
#include "passes.h"

#include <string.h>

static bool shape_only(const ir_node *n)
{
    return strcmp(n->op, "Shape") == 0 || strcmp(n->op, "Size") == 0;
}

static bool foldable(const ir_node *n)
{
    for (int i = 0; i < n->n_out; i++)
        if (n->out[i]->t.rank < 0 || dp_nbytes(&n->out[i]->t) > DPC_FOLD_MAX_BYTES)
            return false;
    if (shape_only(n))
        return true;
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] && !n->in[i]->t.data)
            return false;
    return true;
}

static dp_status fold(ir_graph *g, ir_node *n, dp_arena *scratch, dp_error *err)
{
    dp_tensor *ins[DP_MAX_NODE_INPUTS], *outs[DP_MAX_NODE_OUTPUTS];
    dp_kctx k;
    ir_node_kctx(n, ins, outs, &k);
    k.err = err;
    k.scratch = scratch;
    for (int i = 0; i < n->n_out; i++) {
        size_t bytes = dp_nbytes(outs[i]);
        outs[i]->data = dp_arena_alloc(g->mem, bytes ? bytes : 1);
        if (!outs[i]->data)
            return dp_fail(err, DP_ENOMEM, "out of memory folding node '%s'", n->name);
    }
    dp_status st = n->def->run(&k);
    dp_arena_reset(scratch);
    if (st != DP_OK) {
        dp_error_prefix(err, "%s", g->source ? g->source : g->name);
        return st;
    }
    for (int i = 0; i < n->n_out; i++)
        n->out[i]->producer = NULL;
    n->dead = true;
    return DP_OK;
}

dp_status pass_fold_constants(ir_graph *g, dp_arena *scratch, dp_error *err)
{
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        dp_status st = ir_infer_node(g, n, err);
        if (st == DP_OK && foldable(n))
            st = fold(g, n, scratch, err);
        if (st != DP_OK)
            return st;
    }
    ir_compact(g);
    return DP_OK;
}
