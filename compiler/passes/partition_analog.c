/*
 * partition_analog.c: choosing the layers that run on the optical core and tiling them.
 *
 * Every matrix product is analog (analog-model.md section 1): Conv, ConvTranspose, Gemm and
 * MatMul, activation x activation MatMuls (attention) included, except empty ones (no
 * fan-in, no outputs: valid ONNX, nothing to compute optically). A layer whose fan-in K
 * exceeds the core's C inputs is split into ceil(K / C) partial products, and its outputs
 * into ceil(outputs / R) row tiles. A layer with a quantized model's weight grid gets the
 * modulators' full scales that hold it (weight_grid.c).
 */
#include "passes.h"

#include <string.h>

static int64_t prod(const int64_t *d, int n)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        p *= d[i];
    return p;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return b > 0 ? (a + b - 1) / b : 0;
}

/* Fan-in, outputs and MACs of one analog node; false when the shapes are not known. */
static bool geometry(ir_node *n, int64_t *fan_in, int64_t *outputs, int64_t *macs, int *weight_input)
{
    const dp_tensor *a = &n->in[0]->t, *b = n->n_in > 1 && n->in[1] ? &n->in[1]->t : NULL;
    const dp_tensor *y = &n->out[0]->t;
    if (!b || a->rank < 0 || b->rank < 0 || y->rank < 0)
        return false;
    *weight_input = n->in[1]->t.data ? 1 : -1;
    if (strcmp(n->op, "Conv") == 0) {
        if (b->rank < 2)
            return false;
        *fan_in = prod(b->dims + 1, b->rank - 1);
        *outputs = b->dims[0];
        *macs = dp_numel(y) * *fan_in;
    } else if (strcmp(n->op, "ConvTranspose") == 0) {
        if (b->rank < 2 || a->rank < 2)
            return false;
        int64_t k = prod(b->dims + 2, b->rank - 2);
        int64_t group = 1;
        for (int i = 0; i < n->n_attrs; i++)
            if (strcmp(n->attrs[i].name, "group") == 0 && n->attrs[i].kind == DP_ATTR_INT)
                group = n->attrs[i].i > 0 ? n->attrs[i].i : 1;
        *fan_in = b->dims[0] / group;
        *outputs = b->dims[1] * group * k;
        *macs = dp_numel(a) * b->dims[1] * k;
    } else if (strcmp(n->op, "Gemm") == 0) {
        if (a->rank != 2 || b->rank != 2)
            return false;
        int64_t trans_b = 0;
        for (int i = 0; i < n->n_attrs; i++)
            if (strcmp(n->attrs[i].name, "transB") == 0 && n->attrs[i].kind == DP_ATTR_INT)
                trans_b = n->attrs[i].i;
        *fan_in = trans_b ? b->dims[1] : b->dims[0];
        *outputs = trans_b ? b->dims[0] : b->dims[1];
        *macs = dp_numel(y) * *fan_in;
    } else { /* MatMul, numpy semantics: 1-D operands are promoted */
        *fan_in = a->rank >= 1 ? a->dims[a->rank - 1] : 1;
        *outputs = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
        *macs = dp_numel(y) * *fan_in;
    }
    return true;
}

bool dpc_is_analog_op(const char *op)
{
    static const char *const analog_ops[] = {"Conv", "ConvTranspose", "Gemm", "MatMul"};
    for (size_t k = 0; k < sizeof analog_ops / sizeof analog_ops[0]; k++)
        if (strcmp(op, analog_ops[k]) == 0)
            return true;
    return false;
}

dp_status pass_partition_analog(ir_graph *g, const dp_device *device, dp_error *err)
{
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        /* the simulated core computes in float32: other types stay digital */
        if (!dpc_is_analog_op(n->op) || n->out[0]->t.dtype != DP_FLOAT)
            continue;
        dp_mvm *m = dp_arena_alloc(g->mem, sizeof *m);
        if (!m)
            return dp_fail(err, DP_ENOMEM, "out of memory partitioning '%s'", n->name);
        m->core_rows = device->rows;
        m->core_cols = device->cols;
        m->repetitions = 1;
        m->dac_bits = device->dac_bits;
        m->weight_bits = device->weight_bits;
        m->adc_bits = device->adc_bits;
        m->weight_input = -1;
        int wi;
        if (geometry(n, &m->fan_in, &m->outputs, &m->macs, &wi)) {
            if (m->macs == 0)
                continue;
            m->weight_input = wi;
            m->row_tiles = ceil_div(m->outputs, device->rows);
            m->col_tiles = ceil_div(m->fan_in, device->cols);
            dp_status st = dpc_weight_scales(n, device->weight_bits, g->mem, m, err);
            if (st != DP_OK)
                return st;
        }
        n->mvm = m;
    }
    return DP_OK;
}
