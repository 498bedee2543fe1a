/*
 * lower_qlinear.c: QLinearConv and QLinearMatMul as the QDQ form of the same layer.
 *
 * A QLinear node is an integer layer with its scales and zero points as inputs: y = Q(layer(
 * DQ(x), DQ(w)) + B x_s w_s, y_s, y_zp). Written that way (DequantizeLinear of its input and
 * weights, the float Conv or MatMul, QuantizeLinear of its output) it is a float matrix
 * product the partitioner puts on the optical core, and the passes that read a QDQ model's
 * grids (weight_grid.c, and calibration's DAC and ADC ranges) read this one's: its analog
 * layer holds the model's input, weight and output grids as a QDQ model's does. The float
 * product of the dequantized values equals the integer sum times x_s w_s up to fp32 rounding
 * (about 2^-24 of the sum), so QuantizeLinear rounds as onnxruntime's requantisation does
 * except at values that close to a tie.
 *
 * Only where the model states its grids: constant scales and zero points, per tensor for the
 * input and output, per tensor or per output channel (Conv) or column (MatMul) for the
 * weights, and a constant bias; any other QLinear node stays as it is, an integer kernel run
 * digitally.
 */
#include "passes.h"

#include <stdio.h>
#include <string.h>

/* The opset whose DequantizeLinear and QuantizeLinear take per-axis scales. */
#define PER_AXIS_OPSET 13

/* NODE_SUFFIX into name (DP_MAX_NAME + 1 bytes), the node's name cut short as needed. */
static const char *name_after(const ir_node *n, const char *suffix, char *name)
{
    int keep = DP_MAX_NAME - 1 - (int)strlen(suffix);
    snprintf(name, DP_MAX_NAME + 1, "%.*s_%s", keep > 0 ? keep : 0, n->name, suffix);
    return name;
}

/* A new value named NODE_SUFFIX of type t, or NULL when out of memory. */
static ir_value *derived(ir_graph *g, const ir_node *n, const char *suffix, dp_dtype t)
{
    char name[DP_MAX_NAME + 1];
    return ir_value_new(g, name_after(n, suffix, name), t);
}

/* y = OP(x, s, z) along axis (per tensor where s has one value), as a new node. */
static bool quant_node(ir_graph *g, const ir_node *n, const char *op, const char *suffix,
                       ir_value *x, ir_value *s, ir_value *z, int64_t axis, ir_value *y)
{
    char name[DP_MAX_NAME + 1];
    ir_node *q = ir_node_new(g, op, name_after(n, suffix, name), 3, 1);
    if (!q || !y)
        return false;
    q->opset = g->opset > PER_AXIS_OPSET ? g->opset : PER_AXIS_OPSET;
    q->in[0] = x;
    q->in[1] = s;
    q->in[2] = z;
    q->out[0] = y;
    y->producer = q;
    return ir_set_attr(g, q, (dp_attr){.name = "axis", .kind = DP_ATTR_INT, .i = axis});
}

/* A constant of one value. */
static bool scalar(const ir_value *v)
{
    return v && v->t.data && v->t.rank >= 0 && dp_numel(&v->t) == 1;
}

/* Whether a QLinearConv's B (if any) is a constant int32 of one value per output, and the
 * scales that make it a float are constants. */
static bool bias_known(const ir_node *n, int64_t outputs)
{
    const ir_value *b = n->n_in > 8 ? n->in[8] : NULL;
    return !b || (b->t.data && b->t.dtype == DP_INT32 && b->t.rank == 1 &&
                  b->t.dims[0] == outputs && n->in[1]->t.data && n->in[4]->t.data);
}

/* The float bias B x_s w_s_j of a QLinearConv's B (bias_known), as a new constant; NULL when
 * out of memory. */
static ir_value *float_bias(ir_graph *g, const ir_node *n, int64_t outputs)
{
    const ir_value *b = n->in[8], *xs = n->in[1], *ws = n->in[4];
    ir_value *v = ir_const_f32(g, n->name, "bias", 1, &outputs);
    if (!v)
        return NULL;
    float *o = v->t.data;
    int64_t n_ws = dp_numel(&ws->t);
    double x_s = dp_load_f64(xs->t.data, DP_FLOAT, 0);
    for (int64_t j = 0; j < outputs; j++)
        o[j] = (float)(dp_load_f64(b->t.data, DP_INT32, j) * x_s *
                       dp_load_f64(ws->t.data, DP_FLOAT, n_ws == 1 ? 0 : j));
    return v;
}

/* Rewrites n (QLinearConv or QLinearMatMul) in place into the float layer between its new
 * DequantizeLinear and QuantizeLinear nodes; false where it is left alone. *oom on failure
 * for want of memory. */
static bool lower(ir_graph *g, ir_node *n, bool *oom)
{
    bool conv = strcmp(n->op, "QLinearConv") == 0;
    if (!conv && strcmp(n->op, "QLinearMatMul") != 0)
        return false;
    /* inputs: x, x_s, x_z, w, w_s, w_z, y_s, y_z (and Conv's B) */
    for (int i = 0; i < 8; i++)
        if (i >= n->n_in || !n->in[i])
            return false;
    const dp_tensor *w = &n->in[3]->t, *ws = &n->in[4]->t;
    if (w->rank < (conv ? 3 : 2) || n->in[0]->t.rank < 1 || ws->rank < 0 ||
        n->in[1]->t.dtype != DP_FLOAT || ws->dtype != DP_FLOAT || n->in[6]->t.dtype != DP_FLOAT)
        return false;
    int64_t axis = conv ? 0 : w->rank - 1, outputs = w->dims[axis];
    if (!scalar(n->in[1]) || !scalar(n->in[2]) || !scalar(n->in[6]) || !scalar(n->in[7]) ||
        (dp_numel(ws) != 1 && (ws->rank != 1 || ws->dims[0] != outputs)) || !ws->data ||
        !n->in[5]->t.data || dp_numel(&n->in[5]->t) != dp_numel(ws) ||
        (conv && !bias_known(n, outputs)))
        return false;
    bool has_bias = conv && n->n_in > 8 && n->in[8];
    ir_value *bias = has_bias ? float_bias(g, n, outputs) : NULL;
    if (has_bias && !bias) {
        *oom = true;
        return false;
    }
    ir_value *x = derived(g, n, "x_dq", DP_FLOAT), *wf = derived(g, n, "w_dq", DP_FLOAT);
    ir_value *f = derived(g, n, "float", DP_FLOAT), *y = n->out[0];
    if (!quant_node(g, n, "DequantizeLinear", "x_dequant", n->in[0], n->in[1], n->in[2], 1, x) ||
        !quant_node(g, n, "DequantizeLinear", "w_dequant", n->in[3], n->in[4], n->in[5], axis,
                    wf) ||
        !quant_node(g, n, "QuantizeLinear", "quant", f, n->in[6], n->in[7], 1, y) || !f) {
        *oom = true;
        return false;
    }
    n->op = conv ? "Conv" : "MatMul";
    n->def = dp_op_find(n->op);
    n->in[0] = x;
    n->in[1] = wf;
    n->in[2] = bias;
    n->n_in = bias ? 3 : 2;
    n->out[0] = f;
    f->producer = n;
    return true;
}

dp_status pass_lower_qlinear(ir_graph *g, dp_error *err)
{
    bool lowered = false;
    for (int i = 0, n_nodes = g->n_nodes; i < n_nodes; i++) {
        bool oom = false;
        lowered |= lower(g, g->nodes[i], &oom);
        if (oom)
            return dp_fail(err, DP_ENOMEM, "out of memory lowering '%s'", g->nodes[i]->name);
    }
    return lowered ? ir_toposort(g, err) : DP_OK;
}
