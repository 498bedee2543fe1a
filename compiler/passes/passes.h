/*
 * passes.h: the compiler's passes, each a function from IR to IR.
 *
 * The driver (compiler/driver/pipeline.c) runs them through the table of pass_table.c.
 */
#ifndef DPCC_PASSES_H
#define DPCC_PASSES_H

#include "device.h"
#include "ir.h"

#include <stdio.h>

/* Limits constant folding: larger results stay as runtime instructions. */
#define DPC_FOLD_MAX_BYTES ((size_t)64 << 20)

/*
 * Infers every node's output dtypes and shapes with the ops' own rules. Values whose shape
 * depends on something unknown before run time keep rank -1 (allocated dynamically).
 */
dp_status pass_infer_shapes(ir_graph *g, dp_error *err);

/* Infers one node; shared by shape inference and constant folding. */
dp_status ir_infer_node(ir_graph *g, ir_node *n, dp_error *err);

/*
 * Rewrites QLinearConv and QLinearMatMul (constant scales and zero points, per tensor for
 * input and output, a constant bias) into DequantizeLinear of input and weights, the float Conv or MatMul, and
 * QuantizeLinear of its output: the QDQ form, whose layer is analog (lower_qlinear.c).
 */
dp_status pass_lower_qlinear(ir_graph *g, dp_error *err);

/*
 * Records on each Conv, Gemm and MatMul whose weight is a DequantizeLinear of constants (a
 * QDQ model's) the step of the model's weight grid per output channel (ir_node.weight_step),
 * before constant folding turns the weight into plain floats (weight_grid.c).
 */
dp_status pass_weight_grid(ir_graph *g, dp_error *err);

/*
 * The modulators' full scales for analog layer n with the model's weight grid: sets
 * m->weight_grid_bits, and where the device's weight_bits hold the grid, m->weight_scale
 * (from mem) so that the levels hold it exactly. Nothing for a layer without a grid.
 */
dp_status dpc_weight_scales(const ir_node *n, int weight_bits, dp_arena *mem, dp_mvm *m,
                            dp_error *err);

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

/*
 * The passes by name (pass_table.c), in the order a compilation runs them: dpc_run_passes
 * runs them all; dpcc --dump-after NAME prints the IR after each run of pass NAME ("all":
 * after every pass, "frontend": before the first).
 */
typedef struct dpc_pass_env {
    const dp_device *device;     /* for partition-analog */
    size_t max_memory;           /* fold-constants' scratch arena limit */
    const char *dump_after;      /* NULL: no dumps */
    FILE *dump;
} dpc_pass_env;

typedef struct dpc_pass {
    const char *name;
    dp_status (*run)(ir_graph *g, const dpc_pass_env *env, dp_error *err);
} dpc_pass;

extern const dpc_pass dpc_passes[];
extern const int dpc_n_passes;

/* Whether --dump-after accepts name: a pass's, "all" or "frontend". */
bool dpc_pass_known(const char *name);

dp_status dpc_run_passes(ir_graph *g, const dpc_pass_env *env, dp_error *err);

#endif
