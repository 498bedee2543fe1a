/*
 * passes.h: the compiler's passes, each a function from IR to IR.
 *
 * The driver (compiler/pipeline.c) runs them in the order they are declared here.
 */
#ifndef DPCC_PASSES_H
#define DPCC_PASSES_H

#include "device.h"
#include "ir.h"

#include <stdio.h>
#include <string.h>

/* Limits constant folding: larger results stay as runtime instructions. */
#define DPC_FOLD_MAX_BYTES ((size_t)64 << 20)

/*
 * Graph edits the fusion passes share. Where one fails for want of memory it returns NULL
 * or false and the pass reports DP_ENOMEM naming the node.
 */

/* Whether v is a float32 constant. */
static inline bool ir_is_const_f32(const ir_value *v)
{
    return v && v->t.data && v->t.dtype == DP_FLOAT && v->t.rank >= 0;
}

/* n's attributes as the runtime's getters (dp_attr_int, ...) read them, defaults and all. */
static inline dp_kctx ir_attr_ctx(const ir_node *n)
{
    return (dp_kctx){.node = n->name, .op = n->op, .opset = n->opset, .attrs = n->attrs,
                     .n_attrs = n->n_attrs};
}

/* The live node producing v, if v is its only output and it is the only reader of v
 * (a graph output counts as a reader): the node a fusion may fold v's reader into. */
static inline ir_node *ir_sole_producer(const ir_graph *g, const ir_value *v)
{
    ir_node *n = v->producer;
    if (!n || n->dead || n->n_out != 1 || n->out[0] != v || ir_count_uses(g, v) != 1)
        return NULL;
    return n;
}

/* n takes over the output of next, its only reader, which is removed. */
static inline void ir_absorb(ir_node *n, ir_node *next)
{
    n->out[0] = next->out[0];
    n->out[0]->producer = n;
    next->dead = true;
}

/* A new zero-filled float32 constant named after its node, OWNER_SUFFIX (the owner's name
 * cut short where the whole would be longer than names may be). */
static inline ir_value *ir_const_f32(ir_graph *g, const char *owner, const char *suffix,
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
static inline bool ir_set_input(ir_graph *g, ir_node *n, int i, ir_value *v)
{
    if (i >= n->n_in) {
        ir_value **in = dp_arena_calloc(g->mem, (size_t)i + 2, sizeof *in);
        if (!in)
            return false;
        memcpy(in, n->in, sizeof *in * (size_t)n->n_in);
        n->in = in;
        n->n_in = i + 1;
    }
    n->in[i] = v;
    return true;
}

/* Sets attribute a of n, replacing the one of the same name if there is one. The table is
 * copied, never written in place, so that no other holder of it sees the change. */
static inline bool ir_set_attr(ir_graph *g, ir_node *n, dp_attr a)
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

/*
 * Infers every node's output dtypes and shapes with the ops' own rules. Values whose shape
 * depends on something unknown before run time keep rank -1 (allocated dynamically).
 */
dp_status pass_infer_shapes(ir_graph *g, dp_error *err);

/* Infers one node; shared by shape inference and constant folding. */
dp_status ir_infer_node(ir_graph *g, ir_node *n, dp_error *err);

/*
 * Infers shapes and, where every input of a node is constant (or, for Shape and Size, where
 * the input's shape is known), runs the node's kernel now and turns its outputs into
 * constants. This folds the Shape -> Gather -> Concat -> Reshape chains PyTorch exports.
 */
dp_status pass_fold_constants(ir_graph *g, dp_arena *scratch, dp_error *err);

/* Removes nodes none of whose outputs reach a graph output, and pass-through Identity
 * and inference-mode Dropout nodes. */
dp_status pass_eliminate_dead(ir_graph *g, dp_error *err);

/*
 * Folds an inference-mode BatchNormalization into the Conv, ConvTranspose or Gemm before it
 * (or a MatMul of a 2-D input by a constant 2-D weight, which becomes a Gemm) when the BN
 * alone reads that layer and the weights, bias and BN parameters are float32 constants:
 * W' = W * s per output channel, b' = (b - mean) * s + beta, s = gamma / sqrt(var + eps).
 */
dp_status pass_fold_batchnorm(ir_graph *g, dp_error *err);

/*
 * Moves an Add of a float32 constant that varies along the output channels only into the
 * layer before it, when the Add alone reads it: into Conv's and ConvTranspose's bias,
 * Gemm's C (when it has none), or a fused bias of MatMul with a constant 2-D weight
 * (kernel_util.h), as PyTorch exports nn.Linear on 3-D inputs.
 */
dp_status pass_fuse_bias(ir_graph *g, dp_error *err);

/*
 * Moves an Add of two float32 tensors of the same shape into the Conv that produces one of
 * them when the Add alone reads it and the Conv has no fused activation: the other becomes
 * the Conv's residual, input 3 with dp_residual (kernel_util.h), added after the bias.
 * Reorders the graph where the residual's producer came after the Conv.
 */
dp_status pass_fuse_residual(ir_graph *g, dp_error *err);

/*
 * Moves a Relu, LeakyRelu, Clip (constant bounds), Sigmoid, Tanh, HardSigmoid or HardSwish
 * into the Conv, ConvTranspose, Gemm or MatMul it alone reads, as the fused activation
 * (kernel_util.h) that runs on the layer's output in the same instruction.
 */
dp_status pass_fuse_activation(ir_graph *g, dp_error *err);

/*
 * Marks every float32 Conv, ConvTranspose, Gemm and MatMul as an analog layer and computes
 * its tiling over the device's core: fan-in, output channels, tile counts, MACs, and the
 * device's converter widths.
 */
dp_status pass_partition_analog(ir_graph *g, const dp_device *device, dp_error *err);

/* Whether an op is one the partitioner can put on the optical core (a matrix product). */
bool dpc_is_analog_op(const char *op);

/*
 * Plans activation memory: each value with a static shape gets an offset in one arena,
 * reusing memory of values no longer live (greedy by size over live intervals).
 * Sets v->index to the value's position in `order` (unused here) and writes offsets.
 */
typedef struct dpc_plan {
    uint64_t *offset;        /* per value index in g->values; UINT64_MAX: not in the arena */
    uint64_t arena_bytes;    /* peak */
    uint64_t naive_bytes;    /* sum of all planned values, for the report */
} dpc_plan;
dp_status pass_plan_memory(ir_graph *g, dp_arena *mem, dpc_plan *plan, dp_error *err);

#endif
