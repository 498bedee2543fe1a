/* eliminate_dead.c: removing nodes whose results no graph output needs. */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

/* Identity, and Dropout in inference whose mask nobody reads, forward their input. */
static bool is_pass_through(const ir_graph *g, const ir_node *n)
{
    if (strcmp(n->op, "Identity") == 0)
        return true;
    if (strcmp(n->op, "Dropout") != 0)
        return false;
    if (n->n_out > 1 && ir_count_uses(g, n->out[1]) > 0)
        return false;
    /* training_mode (opset 12+) given as a true constant keeps the node: it drops at random */
    const ir_value *mode = n->n_in > 2 ? n->in[2] : NULL;
    return !mode || (mode->t.data && !((const uint8_t *)mode->t.data)[0]);
}

static void forward_pass_through(ir_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        if (n->dead || !n->in[0] || !is_pass_through(g, n))
            continue;
        ir_value *from = n->out[0], *to = n->in[0];
        /* A graph output must keep its name and cannot be a graph input or constant alias
         * without a copy: keep the node then. */
        if (from->is_output)
            continue;
        ir_replace_uses(g, from, to);
        n->dead = true;
    }
}

dp_status pass_eliminate_dead(ir_graph *g, dp_error *err)
{
    forward_pass_through(g);
    /* Mark live values backwards from the graph outputs; nodes are in topological order. */
    for (int i = 0; i < g->n_values; i++)
        g->values[i]->index = 0;
    for (int i = 0; i < g->n_outputs; i++)
        g->outputs[i]->index = 1;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        ir_node *n = g->nodes[i];
        if (n->dead)
            continue;
        bool live = false;
        for (int j = 0; j < n->n_out; j++)
            live |= n->out[j]->index == 1;
        if (!live) {
            n->dead = true;
            continue;
        }
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j])
                n->in[j]->index = 1;
    }
    ir_compact(g);
    (void)err;
    return DP_OK;
}
