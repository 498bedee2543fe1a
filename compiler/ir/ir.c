/* ir.c: building, ordering and editing the graph IR. */
#include "ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ir_graph *ir_graph_new(dp_arena *mem)
{
    ir_graph *g = dp_arena_alloc(mem, sizeof *g);
    if (g)
        g->mem = mem;
    return g;
}

/* Grows an arena-held pointer array; the old copy is simply abandoned in the arena. */
static int grow(dp_arena *mem, void ***items, int n, int *cap)
{
    if (n < *cap)
        return 0;
    int ncap = *cap ? *cap * 2 : 16;
    void **p = dp_arena_calloc(mem, (size_t)ncap, sizeof *p);
    if (!p)
        return -1;
    if (n)
        memcpy(p, *items, (size_t)n * sizeof *p);
    *items = p;
    *cap = ncap;
    return 0;
}

ir_value *ir_value_new(ir_graph *g, const char *name, dp_dtype dtype)
{
    if (grow(g->mem, (void ***)&g->values, g->n_values, &g->cap_values) != 0)
        return NULL;
    ir_value *v = dp_arena_alloc(g->mem, sizeof *v);
    if (!v)
        return NULL;
    v->name = dp_arena_strdup(g->mem, name ? name : "");
    v->t.dtype = dtype;
    v->t.rank = -1;
    v->index = -1;
    g->values[g->n_values++] = v;
    return v;
}

ir_node *ir_node_new(ir_graph *g, const char *op, const char *name, int n_in, int n_out)
{
    if (grow(g->mem, (void ***)&g->nodes, g->n_nodes, &g->cap_nodes) != 0)
        return NULL;
    ir_node *n = dp_arena_alloc(g->mem, sizeof *n);
    if (!n)
        return NULL;
    n->op = dp_arena_strdup(g->mem, op);
    n->name = dp_arena_strdup(g->mem, name ? name : "");
    n->def = dp_op_find(op);
    n->opset = g->opset;
    n->n_in = n_in;
    n->n_out = n_out;
    n->in = dp_arena_calloc(g->mem, (size_t)n_in + 1, sizeof *n->in);
    n->out = dp_arena_calloc(g->mem, (size_t)n_out + 1, sizeof *n->out);
    if (!n->op || !n->name || !n->in || !n->out)
        return NULL;
    g->nodes[g->n_nodes++] = n;
    return n;
}

static int append(dp_arena *mem, ir_value ***list, int *n, ir_value *v)
{
    ir_value **p = dp_arena_calloc(mem, (size_t)*n + 1, sizeof *p);
    if (!p)
        return -1;
    if (*n)
        memcpy(p, *list, (size_t)*n * sizeof *p);
    p[(*n)++] = v;
    *list = p;
    return 0;
}

int ir_graph_add_input(ir_graph *g, ir_value *v)
{
    v->is_input = true;
    return append(g->mem, &g->inputs, &g->n_inputs, v);
}

int ir_graph_add_output(ir_graph *g, ir_value *v)
{
    v->is_output = true;
    return append(g->mem, &g->outputs, &g->n_outputs, v);
}

void ir_compact(ir_graph *g)
{
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i]->dead)
            g->nodes[k++] = g->nodes[i];
    g->n_nodes = k;
    g->uses_counted = false;
}

void ir_count_all_uses(ir_graph *g)
{
    for (int i = 0; i < g->n_values; i++)
        g->values[i]->uses = g->values[i]->is_output ? 1 : 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = g->nodes[i];
        for (int j = 0; !n->dead && j < n->n_in; j++)
            if (n->in[j])
                n->in[j]->uses++;
    }
    g->uses_counted = true;
}

int ir_count_uses(const ir_graph *g, const ir_value *v)
{
    if (g->uses_counted)
        return v->uses;
    int uses = v->is_output ? 1 : 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = g->nodes[i];
        if (n->dead)
            continue;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] == v)
                uses++;
    }
    return uses;
}

void ir_replace_uses(ir_graph *g, ir_value *from, ir_value *to)
{
    g->uses_counted = false; /* callers of this one scan */
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        if (n->dead)
            continue;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] == from)
                n->in[j] = to;
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == from)
            g->outputs[i] = to;
}

/* The ready list of ir_toposort: a binary min-heap of node indices. */
static void heap_push(int *h, int *n, int v)
{
    int i = (*n)++;
    for (; i > 0 && h[(i - 1) / 2] > v; i = (i - 1) / 2)
        h[i] = h[(i - 1) / 2];
    h[i] = v;
}

static int heap_pop(int *h, int *n)
{
    int top = h[0], v = h[--*n], i = 0;
    for (;;) {
        int k = 2 * i + 1;
        if (k >= *n)
            break;
        if (k + 1 < *n && h[k + 1] < h[k])
            k++;
        if (h[k] >= v)
            break;
        h[i] = h[k];
        i = k;
    }
    if (*n > 0)
        h[i] = v;
    return top;
}

/*
 * The nodes that read an output of node k, as a CSR table: cons[first[k]..first[k + 1]) (first
 * and pending zeroed, cons as long as the inputs); pending[i]: how many of node i's inputs
 * some node produces. Sets each value's index to its producer, -1 for none, and fails on an
 * input that nothing (no node, initializer or graph input) provides.
 */
static dp_status list_consumers(ir_graph *g, int *first, int *cons, int *pending, dp_error *err)
{
    int n = g->n_nodes;
    for (int i = 0; i < g->n_values; i++)
        g->values[i]->index = -1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < g->nodes[i]->n_out; j++)
            if (g->nodes[i]->out[j])
                g->nodes[i]->out[j]->index = i;
    for (int i = 0; i < n; i++) {
        ir_node *nd = g->nodes[i];
        for (int j = 0; j < nd->n_in; j++) {
            ir_value *v = nd->in[j];
            if (!v)
                continue;
            if (v->index < 0) {
                if (v->t.data || v->is_input)
                    continue;
                return dp_fail(err, DP_EINPUT,
                               "node '%s' (%s) input '%s' is not produced by any node, "
                               "initializer or graph input", nd->name, nd->op, v->name);
            }
            first[v->index + 1]++;
            pending[i]++;
        }
    }
    for (int i = 0; i < n; i++)
        first[i + 1] += first[i];
    int *fill = calloc((size_t)n, sizeof *fill);
    if (!fill)
        return dp_fail(err, DP_ENOMEM, "out of memory ordering %d nodes", n);
    for (int i = 0; i < n; i++) {
        ir_node *nd = g->nodes[i];
        for (int j = 0; j < nd->n_in; j++) {
            ir_value *v = nd->in[j];
            if (v && v->index >= 0)
                cons[first[v->index] + fill[v->index]++] = i;
        }
    }
    free(fill);
    return DP_OK;
}

/*
 * Kahn's algorithm over value producers. Values carry a scratch index for the node that
 * produces them, and the ready list is a heap, so the sort is O(E + V log V).
 */
dp_status ir_toposort(ir_graph *g, dp_error *err)
{
    int n = g->n_nodes;
    if (n == 0)
        return DP_OK;
    int *pending = calloc((size_t)n, sizeof *pending);
    int *order = calloc((size_t)n, sizeof *order);
    int *ready = calloc((size_t)n, sizeof *ready);
    int *first = calloc((size_t)n + 1, sizeof *first);
    int total = 0;
    for (int i = 0; i < n; i++)
        total += g->nodes[i]->n_in;
    int *cons = calloc((size_t)total + 1, sizeof *cons);
    dp_status st = DP_OK;
    if (!pending || !order || !ready || !first || !cons) {
        st = dp_fail(err, DP_ENOMEM, "out of memory ordering %d nodes", n);
        goto out;
    }
    if ((st = list_consumers(g, first, cons, pending, err)) != DP_OK)
        goto out;
    /* Taking the least ready index first keeps the original order where it is already
     * valid. */
    int n_ready = 0, n_done = 0;
    for (int i = 0; i < n; i++)
        if (pending[i] == 0)
            heap_push(ready, &n_ready, i);
    while (n_ready > 0) {
        int k = heap_pop(ready, &n_ready);
        order[n_done++] = k;
        for (int c = first[k]; c < first[k + 1]; c++)
            if (--pending[cons[c]] == 0)
                heap_push(ready, &n_ready, cons[c]);
    }
    if (n_done < n) {
        for (int i = 0; i < n; i++)
            if (pending[i] > 0) {
                st = dp_fail(err, DP_EINPUT, "the graph has a cycle through node '%s' (%s)",
                             g->nodes[i]->name, g->nodes[i]->op);
                goto out;
            }
    }
    ir_node **sorted = dp_arena_calloc(g->mem, (size_t)n, sizeof *sorted);
    if (!sorted) {
        st = dp_fail(err, DP_ENOMEM, "out of memory ordering %d nodes", n);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        sorted[i] = g->nodes[order[i]];
        pending[order[i]] = i; /* now each node's new position */
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < sorted[i]->n_in; j++)
            DP_ASSERT(!sorted[i]->in[j] || sorted[i]->in[j]->index < 0 ||
                      pending[sorted[i]->in[j]->index] < i);
    g->nodes = sorted;
    g->cap_nodes = n;
out:
    free(pending);
    free(order);
    free(ready);
    free(first);
    free(cons);
    return st;
}

void ir_node_kctx(ir_node *n, dp_tensor **ins, dp_tensor **outs, dp_kctx *k)
{
    for (int i = 0; i < n->n_in; i++)
        ins[i] = n->in[i] ? &n->in[i]->t : NULL;
    for (int i = 0; i < n->n_out; i++)
        outs[i] = &n->out[i]->t;
    memset(k, 0, sizeof *k);
    k->node = n->name;
    k->op = n->op;
    k->opset = n->opset;
    k->attrs = n->attrs;
    k->n_attrs = n->n_attrs;
    k->in = ins;
    k->n_in = n->n_in;
    k->out = outs;
    k->n_out = n->n_out;
}

void ir_dump(const ir_graph *g, FILE *f)
{
    char buf[160];
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = g->nodes[i];
        fprintf(f, "%4d %s%s '%s' (", i, n->mvm ? "analog " : "", n->op, n->name);
        for (int j = 0; j < n->n_in; j++)
            fprintf(f, "%s%s", j ? ", " : "", n->in[j] ? n->in[j]->name : "-");
        fprintf(f, ") -> ");
        for (int j = 0; j < n->n_out; j++)
            fprintf(f, "%s%s %s[%s]", j ? ", " : "", n->out[j]->name,
                    dp_dtype_name(n->out[j]->t.dtype), dp_shape_str(&n->out[j]->t, buf, sizeof buf));
        fputc('\n', f);
    }
}
