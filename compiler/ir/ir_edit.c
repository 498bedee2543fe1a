/*
 * ir_edit.c: graph edits the passes share (ir.h declares them). Where one fails for want of
 * memory it returns NULL or false and the pass reports DP_ENOMEM naming the node.
 */
#include "ir.h"

#include <stdio.h>
#include <string.h>

/* Whether v is a float32 constant. */
bool ir_is_const_f32(const ir_value *v)
{
    return v && v->t.data && v->t.dtype == DP_FLOAT && v->t.rank >= 0;
}

/* n's attributes as the runtime's getters (dp_attr_int, ...) read them, defaults and all. */
dp_kctx ir_attr_ctx(const ir_node *n)
{
    return (dp_kctx){.node = n->name, .op = n->op, .opset = n->opset, .attrs = n->attrs,
                     .n_attrs = n->n_attrs};
}

/* The live node producing v, if v is its only output and it is the only reader of v
 * (a graph output counts as a reader): the node a fusion may fold v's reader into. */
ir_node *ir_sole_producer(const ir_graph *g, const ir_value *v)
{
    ir_node *n = v->producer;
    if (!n || n->dead || n->n_out != 1 || n->out[0] != v || ir_count_uses(g, v) != 1)
        return NULL;
    return n;
}

/* n takes over the output of next, its only reader, which is removed. */
void ir_absorb(ir_node *n, ir_node *next)
{
    for (int j = 0; j < next->n_in; j++)
        if (next->in[j])
            next->in[j]->uses--;
    n->out[0] = next->out[0];
    n->out[0]->producer = n;
    next->dead = true;
}

/* A new zero-filled float32 constant named after its node, OWNER_SUFFIX (the owner's name
 * cut short where the whole would be longer than names may be). */
ir_value *ir_const_f32(ir_graph *g, const char *owner, const char *suffix,
                                     int rank, const int64_t *dims)
{
    char name[DP_MAX_NAME + 1];
    int keep = DP_MAX_NAME - 1 - (int)strlen(suffix);
    snprintf(name, sizeof name, "%.*s_%s", keep > 0 ? keep : 0, owner, suffix);
    ir_value *v = ir_value_new(g, name, DP_FLOAT);
    if (!v)
        return NULL;
    v->t.rank = rank;
    memcpy(v->t.dims, dims, sizeof(int64_t) * (size_t)rank);
    size_t n = (size_t)dp_numel(&v->t);
    v->t.data = dp_arena_calloc(g->mem, n ? n : 1, sizeof(float));
    return v->t.data ? v : NULL;
}

/* Sets input i of n, extending its inputs (with omitted ones) as needed. */
bool ir_set_input(ir_graph *g, ir_node *n, int i, ir_value *v)
{
    if (i >= n->n_in) {
        ir_value **in = dp_arena_calloc(g->mem, (size_t)i + 2, sizeof *in);
        if (!in)
            return false;
        memcpy(in, n->in, sizeof *in * (size_t)n->n_in);
        n->in = in;
        n->n_in = i + 1;
    }
    if (n->in[i])
        n->in[i]->uses--;
    if (v)
        v->uses++;
    n->in[i] = v;
    return true;
}

/* Sets attribute a of n, replacing the one of the same name if there is one. The table is
 * copied, never written in place, so that no other holder of it sees the change. */
bool ir_set_attr(ir_graph *g, ir_node *n, dp_attr a)
{
    dp_attr *attrs = dp_arena_calloc(g->mem, (size_t)n->n_attrs + 1, sizeof *attrs);
    if (!attrs)
        return false;
    if (n->n_attrs)
        memcpy(attrs, n->attrs, sizeof *attrs * (size_t)n->n_attrs);
    int i = 0;
    while (i < n->n_attrs && strcmp(attrs[i].name, a.name) != 0)
        i++;
    attrs[i] = a;
    n->n_attrs += i == n->n_attrs;
    n->attrs = attrs;
    return true;
}
