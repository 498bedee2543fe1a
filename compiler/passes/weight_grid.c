/*
 * weight_grid.c: a quantized model's weight grid, kept for the analog layer's modulators.
 *
 * A QDQ model gives a layer its weights as DequantizeLinear(q, s, z) of constants: every
 * weight of output channel j is a whole multiple of the step s_j (per tensor, or per
 * channel along the layer's output axis). Constant folding turns that into plain floats and
 * the steps would be lost, so this pass runs first and records them on the layer
 * (ir_node.weight_step). The partitioner then sets the modulators' full scale W_j =
 * s_j L_j, L_j the least power of two at or above the channel's largest |w| / s_j: w / W_j
 * is then k / L_j, a level of any b_w-bit modulator with 2^(b_w - 1) >= L_j, so the levels
 * hold the model's weights exactly (analog-model.md section 2). A power of two rather than
 * 2^(b_w - 1) itself keeps each channel's largest weight within a factor 2 of the full
 * scale, so the light it is given is not wasted on unused levels. Where the device has fewer
 * bits than the grid needs, W_j stays max |w_j| and the modulators requantise the grid.
 */
#include "passes.h"

#include <math.h>
#include <string.h>

/* The axis of layer n's weight that runs along its output channels, or -1 for a layer whose
 * weights this pass does not follow (ConvTranspose's channels are spread over two axes). */
static int output_axis(const ir_node *n, const dp_tensor *w)
{
    dp_kctx k = ir_attr_ctx(n);
    if (strcmp(n->op, "Conv") == 0 && w->rank >= 3)
        return 0;
    if (strcmp(n->op, "Gemm") == 0 && w->rank == 2)
        return dp_attr_int(&k, "transB", 0) ? 0 : 1;
    if (strcmp(n->op, "MatMul") == 0 && w->rank == 2)
        return 1;
    return -1;
}

/* The step of each output channel of n's weight, where a DequantizeLinear of constants
 * makes it; NULL otherwise, and *oom where memory ran out. */
static float *steps_of(ir_graph *g, const ir_node *n, bool *oom)
{
    const ir_node *dq = n->n_in > 1 && n->in[1] ? n->in[1]->producer : NULL;
    if (!dq || strcmp(dq->op, "DequantizeLinear") != 0 || dq->n_in < 2)
        return NULL;
    const dp_tensor *q = &dq->in[0]->t, *s = &dq->in[1]->t;
    if (!q->data || !s->data || s->dtype != DP_FLOAT || q->rank < 0 ||
        (q->dtype != DP_INT8 && q->dtype != DP_UINT8))
        return NULL;
    int axis = output_axis(n, q);
    if (axis < 0)
        return NULL;
    int64_t channels = q->dims[axis], n_s = dp_numel(s);
    dp_kctx k = ir_attr_ctx(dq);
    int64_t dq_axis = dp_attr_int(&k, "axis", 1);
    dq_axis += dq_axis < 0 ? q->rank : 0;
    /* one step for the tensor, or one per channel along the layer's output axis */
    if (n_s != 1 && (n_s != channels || dq_axis != axis))
        return NULL;
    float *step = dp_arena_alloc(g->mem, (size_t)(channels > 0 ? channels : 1) * sizeof *step);
    if (!step) {
        *oom = true;
        return NULL;
    }
    const float *sv = s->data;
    for (int64_t j = 0; j < channels; j++) {
        step[j] = sv[n_s == 1 ? 0 : j];
        if (!(step[j] > 0) || !isfinite(step[j]))
            return NULL;
    }
    return step;
}

dp_status pass_weight_grid(ir_graph *g, dp_error *err)
{
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        bool oom = false;
        if (dpc_is_analog_op(n->op))
            n->weight_step = steps_of(g, n, &oom);
        if (oom)
            return dp_fail(err, DP_ENOMEM, "out of memory for the weight grid of '%s'", n->name);
    }
    return DP_OK;
}

dp_status dpc_weight_scales(const ir_node *n, int weight_bits, dp_arena *mem, dp_mvm *m,
                            dp_error *err)
{
    const dp_tensor *w = n->n_in > 1 && n->in[1] ? &n->in[1]->t : NULL;
    int axis = w && w->data && w->dtype == DP_FLOAT ? output_axis(n, w) : -1;
    if (!n->weight_step || axis < 0 || w->dims[axis] != m->outputs)
        return DP_OK;
    int64_t channels = m->outputs, numel = dp_numel(w);
    /* element i's channel: rows of `inner` elements for axis 0, else the column */
    int64_t inner = axis == 0 ? numel / channels : 1, stride = axis == 0 ? 1 : channels;
    float *scale = dp_arena_alloc(mem, (size_t)channels * sizeof *scale);
    if (!scale)
        return dp_fail(err, DP_ENOMEM, "out of memory for the weight scales of '%s'", n->name);
    const float *v = w->data;
    int bits = 0;
    for (int64_t j = 0; j < channels; j++) {
        double top = 0, s = n->weight_step[j];
        if (!(s > 0) || !isfinite(s)) /* a BatchNorm of gamma 0 folded in */
            return DP_OK;
        for (int64_t i = 0; i < numel / channels; i++) {
            double a = fabs(v[axis == 0 ? j * inner + i : i * stride + j]);
            top = a > top ? a : top;
        }
        double levels = round(top / s);
        /* a weight that is off its grid (which only a broken model gives) drops the grid */
        if (fabs(top / s - levels) > 1e-3 * (levels > 1 ? levels : 1))
            return DP_OK;
        int need = levels > 1 ? (int)ceil(log2(levels)) : 0;
        bits = need + 1 > bits ? need + 1 : bits;
        scale[j] = (float)(s * ldexp(1.0, need));
    }
    m->weight_grid_bits = bits;
    if (bits <= weight_bits) {
        m->weight_scale = scale;
        m->n_weight_scale = (int32_t)channels;
    }
    return DP_OK;
}
