/*
 * plan_memory.c: offsets for every activation in one arena, reusing dead values' memory.
 *
 * A value is live from the node that defines it to its last reader (graph outputs: to the
 * end). Values are placed largest first at the lowest offset that overlaps no placed value
 * whose lifetime intersects theirs: the classic greedy-by-size heuristic, which lands
 * within a few percent of the lower bound on CNNs and transformers.
 */
#include "passes.h"

#include <stdlib.h>

#define ALIGN 64

typedef struct interval {
    int value;              /* index in g->values */
    int first, last;        /* node indices */
    uint64_t size, offset;
} interval;

static int by_size_desc(const void *a, const void *b)
{
    const interval *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return x->first - y->first;
}

static int by_offset(const void *a, const void *b)
{
    const interval *const *x = a, *const *y = b;
    return (*x)->offset < (*y)->offset ? -1 : (*x)->offset > (*y)->offset;
}

dp_status pass_plan_memory(ir_graph *g, dp_arena *mem, dpc_plan *plan, dp_error *err)
{
    plan->offset = dp_arena_calloc(mem, (size_t)g->n_values + 1, sizeof *plan->offset);
    interval *iv = calloc((size_t)g->n_values + 1, sizeof *iv);
    const interval **placed = calloc((size_t)g->n_values + 1, sizeof *placed);
    if (!plan->offset || !iv || !placed) {
        free(iv);
        free(placed);
        return dp_fail(err, DP_ENOMEM, "out of memory planning memory");
    }
    for (int i = 0; i < g->n_values; i++) {
        plan->offset[i] = UINT64_MAX;
        g->values[i]->index = i;
    }
    /* first[] = defining node, last[] = last reader; -1 when not an arena value */
    int n_iv = 0;
    int *slot = calloc((size_t)g->n_values + 1, sizeof *slot);
    if (!slot) {
        free(iv);
        free(placed);
        return dp_fail(err, DP_ENOMEM, "out of memory planning memory");
    }
    for (int i = 0; i < g->n_values; i++)
        slot[i] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        for (int j = 0; j < n->n_out; j++) {
            ir_value *v = n->out[j];
            if (v->t.rank < 0 || v->t.data || v->is_input)
                continue;
            uint64_t size = ((uint64_t)dp_nbytes(&v->t) + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
            iv[n_iv] = (interval){.value = v->index, .first = i, .last = v->is_output ? g->n_nodes : i,
                                  .size = size ? size : ALIGN};
            slot[v->index] = n_iv++;
        }
        for (int j = 0; j < n->n_in; j++) {
            ir_value *v = n->in[j];
            if (v && slot[v->index] >= 0 && iv[slot[v->index]].last < i)
                iv[slot[v->index]].last = i;
        }
    }
    free(slot);
    qsort(iv, (size_t)n_iv, sizeof *iv, by_size_desc);
    uint64_t peak = 0, naive = 0;
    for (int i = 0; i < n_iv; i++) {
        int n_conf = 0;
        for (int j = 0; j < i; j++)
            if (iv[j].first <= iv[i].last && iv[i].first <= iv[j].last)
                placed[n_conf++] = &iv[j];
        qsort(placed, (size_t)n_conf, sizeof *placed, by_offset);
        uint64_t off = 0;
        for (int j = 0; j < n_conf; j++) {
            if (placed[j]->offset >= off + iv[i].size)
                break;
            if (placed[j]->offset + placed[j]->size > off)
                off = placed[j]->offset + placed[j]->size;
        }
        iv[i].offset = off;
        plan->offset[iv[i].value] = off;
        if (off + iv[i].size > peak)
            peak = off + iv[i].size;
        naive += iv[i].size;
    }
    plan->arena_bytes = peak;
    plan->naive_bytes = naive;
    free(iv);
    free(placed);
    return DP_OK;
}
