/*
 * emit_dp.c: the .dp backend: the IR, scheduled and planned, as a device program.
 *
 * Builds the tensor table (constants packed into one 64-byte aligned weight blob, planned
 * activations at their arena offsets, dynamic tensors, graph inputs) and one instruction per
 * node, analog layers carrying their MVM fields.
 */
#include "emit_dp.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN 64

static uint64_t align_up(uint64_t x)
{
    return (x + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
}

static int add_tensor(dp_program *p, ir_value *v)
{
    if (v->index >= 0)
        return v->index;
    v->index = p->n_tensors;
    p->tensors[p->n_tensors].name = v->name;
    p->tensors[p->n_tensors].t = v->t;
    p->tensors[p->n_tensors].t.data = NULL;
    return p->n_tensors++;
}

dp_status dpc_lower(ir_graph *g, const dpc_plan *plan, dp_program **out, dp_error *err)
{
    dp_program *p = calloc(1, sizeof *p);
    if (!p)
        return dp_fail(err, DP_ENOMEM, "out of memory lowering the program");
    dp_arena_init(&p->mem, 0);
    *out = p;
    dp_arena *m = &p->mem;
    p->producer = "dpcc " DP_VERSION;
    p->model_name = dp_arena_strdup(m, g->name ? g->name : "model");
    p->opset = g->opset;
    p->arena_bytes = plan->arena_bytes;
    p->tensors = dp_arena_calloc(m, (size_t)g->n_values + 1, sizeof *p->tensors);
    p->instrs = dp_arena_calloc(m, (size_t)g->n_nodes + 1, sizeof *p->instrs);
    p->inputs = dp_arena_calloc(m, (size_t)g->n_inputs + 1, sizeof *p->inputs);
    p->outputs = dp_arena_calloc(m, (size_t)g->n_outputs + 1, sizeof *p->outputs);
    if (!p->tensors || !p->instrs || !p->inputs || !p->outputs)
        return dp_fail(err, DP_ENOMEM, "out of memory lowering the program");

    for (int i = 0; i < g->n_values; i++)
        g->values[i]->index = -1;
    for (int i = 0; i < g->n_inputs; i++)
        p->inputs[p->n_inputs++] = add_tensor(p, g->inputs[i]);
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        dp_instr *ins = &p->instrs[p->n_instrs++];
        ins->op = n->op;
        ins->name = n->name;
        ins->def = n->def;
        ins->opset = n->opset;
        ins->n_in = n->n_in;
        ins->n_out = n->n_out;
        ins->in = dp_arena_calloc(m, (size_t)n->n_in + 1, sizeof *ins->in);
        ins->out = dp_arena_calloc(m, (size_t)n->n_out + 1, sizeof *ins->out);
        if (!ins->in || !ins->out)
            return dp_fail(err, DP_ENOMEM, "out of memory lowering the program");
        for (int j = 0; j < n->n_in; j++)
            ins->in[j] = n->in[j] ? add_tensor(p, n->in[j]) : -1;
        for (int j = 0; j < n->n_out; j++)
            ins->out[j] = add_tensor(p, n->out[j]);
        ins->n_attrs = n->n_attrs;
        ins->attrs = n->attrs;
        ins->mvm = n->mvm;
    }
    for (int i = 0; i < g->n_outputs; i++)
        p->outputs[p->n_outputs++] = add_tensor(p, g->outputs[i]);

    uint64_t blob = 0;
    for (int i = 0; i < g->n_values; i++) {
        ir_value *v = g->values[i];
        if (v->index < 0)
            continue;
        dp_tensor_info *ti = &p->tensors[v->index];
        ti->nbytes = ti->t.rank >= 0 ? dp_nbytes(&ti->t) : 0;
        if (v->t.data) {
            ti->storage = DP_STORE_CONST;
            ti->offset = blob;
            blob = align_up(blob + ti->nbytes);
        } else if (v->is_input) {
            ti->storage = DP_STORE_INPUT;
        } else if (plan->offset[i] != UINT64_MAX) {
            ti->storage = DP_STORE_ARENA;
            ti->offset = plan->offset[i];
        } else {
            ti->storage = DP_STORE_DYNAMIC;
            ti->t.rank = -1;
        }
    }
    unsigned char *w = dp_arena_alloc(m, blob ? blob : 1);
    if (!w)
        return dp_fail(err, DP_ENOMEM, "out of memory for %llu bytes of weights",
                       (unsigned long long)blob);
    for (int i = 0; i < g->n_values; i++) {
        ir_value *v = g->values[i];
        if (v->index >= 0 && v->t.data)
            memcpy(w + p->tensors[v->index].offset, v->t.data, p->tensors[v->index].nbytes);
    }
    p->weights = w;
    p->weights_bytes = blob;
    return DP_OK;
}
