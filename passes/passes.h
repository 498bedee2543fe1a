/*
 * passes.h: the compiler's passes, each a function from IR to IR.
 *
 * The driver (compiler/pipeline.c) runs them in the order they are declared here.
 */
#ifndef DPCC_PASSES_H
#define DPCC_PASSES_H

#include "ir.h"

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
 * Infers shapes and, where every input of a node is constant (or, for Shape and Size, where
 * the input's shape is known), runs the node's kernel now and turns its outputs into
 * constants. This folds the Shape -> Gather -> Concat -> Reshape chains PyTorch exports.
 */
dp_status pass_fold_constants(ir_graph *g, dp_arena *scratch, dp_error *err);

/* Removes nodes none of whose outputs reach a graph output, and pass-through Identity
 * and inference-mode Dropout nodes. */
dp_status pass_eliminate_dead(ir_graph *g, dp_error *err);

/* Geometry of the optical core the partitioner tiles for (a device profile's fields). */
typedef struct dpc_core {
    int32_t rows, cols;
    int32_t dac_bits, weight_bits, adc_bits;
} dpc_core;

/*
 * Marks every Conv, ConvTranspose, Gemm and MatMul as an analog layer and computes its
 * tiling over the core: fan-in, output channels, tile counts, MACs.
 */
dp_status pass_partition_analog(ir_graph *g, const dpc_core *core, dp_error *err);

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
