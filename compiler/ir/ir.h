/*
 * ir.h: the compiler's graph IR.
 *
 * A graph is a list of nodes in topological order over values. A value is a tensor: its
 * dtype and shape (rank -1 while unknown) and, for constants, its data. Nodes reuse the
 * runtime's attribute and operator definitions, so the compiler and the runtime agree on
 * what every op means. All IR memory lives in the graph's arena: passes never free.
 */
#ifndef DPCC_IR_H
#define DPCC_IR_H

#include "dp_arena.h"
#include "dp_op.h"
#include "dp_program.h"
#include "dp_tensor.h"

#include <stdbool.h>

typedef struct ir_node ir_node;

typedef struct ir_value {
    const char *name;
    dp_tensor t;            /* t.data != NULL: a constant */
    bool is_input, is_output;
    ir_node *producer;      /* NULL for constants and graph inputs */
    int index;              /* scratch for passes (tensor table index in the backend) */
    int uses;               /* readers, kept by the edits while the graph's uses_counted */
} ir_value;

struct ir_node {
    const char *name;
    const char *op;
    const dp_op_def *def;
    int opset;
    int n_in, n_out;
    ir_value **in;          /* in[i] NULL for an omitted optional input */
    ir_value **out;
    int n_attrs;
    dp_attr *attrs;
    dp_mvm *mvm;            /* set by analog partitioning for analog layers */
    float *weight_step;     /* a quantized model's weight grid: the step of each output
                             * channel (pass_weight_grid); NULL: none */
    bool dead;              /* removed by a pass; dropped by ir_compact */
};

typedef struct ir_graph {
    dp_arena *mem;
    const char *name;
    const char *source;     /* the model file, for messages */
    int opset;
    int n_nodes, cap_nodes;
    ir_node **nodes;
    int n_values, cap_values;
    ir_value **values;
    int n_inputs, n_outputs;
    ir_value **inputs, **outputs;
    bool uses_counted;      /* values' uses are exact: ir_count_all_uses, until ir_compact */
} ir_graph;

ir_graph *ir_graph_new(dp_arena *mem);
ir_value *ir_value_new(ir_graph *g, const char *name, dp_dtype dtype);
/* A node with room for n_in inputs and n_out outputs (filled by the caller). */
ir_node *ir_node_new(ir_graph *g, const char *op, const char *name, int n_in, int n_out);
/* Appends a graph input or output. */
int ir_graph_add_input(ir_graph *g, ir_value *v);
int ir_graph_add_output(ir_graph *g, ir_value *v);

/* Drops dead nodes, keeping order. */
void ir_compact(ir_graph *g);

/* Number of live nodes reading v (graph outputs count as one use): v->uses while the graph's
 * uses are counted, else a scan of every node. */
int ir_count_uses(const ir_graph *g, const ir_value *v);

/* Counts every value's uses once (linear), so that a pass asking ir_count_uses of each node
 * stays linear: the edits of ir_edit.c keep the counts, and ir_compact, at a pass's end,
 * stops trusting them. A pass that edits inputs or kills nodes by hand must not rely on it. */
void ir_count_all_uses(ir_graph *g);

/* Replaces every read of `from` by `to` in live nodes and graph outputs. */
void ir_replace_uses(ir_graph *g, ir_value *from, ir_value *to);

/*
 * Orders the nodes topologically (stable: an already ordered graph keeps its order) and
 * checks that every input is defined; a cycle or an undefined input is DP_EINPUT.
 */
dp_status ir_toposort(ir_graph *g, dp_error *err);

/* Builds the kernel context that presents node n to its op definition. */
void ir_node_kctx(ir_node *n, dp_tensor **ins, dp_tensor **outs, dp_kctx *k);

void ir_dump(const ir_graph *g, FILE *f);

/*
 * Graph edits the passes share (ir_edit.c). Where one fails for want of memory it returns
 * NULL or false and the pass reports DP_ENOMEM naming the node.
 */

/* Whether v is a float32 constant. */
bool ir_is_const_f32(const ir_value *v);

/* n's attributes as the runtime's getters (dp_attr_int, ...) read them, defaults and all. */
dp_kctx ir_attr_ctx(const ir_node *n);

/* The live node producing v, if v is its only output and it is the only reader of v
 * (a graph output counts as a reader): the node a fusion may fold v's reader into. */
ir_node *ir_sole_producer(const ir_graph *g, const ir_value *v);

/* n takes over the output of next, its only reader, which is removed. */
void ir_absorb(ir_node *n, ir_node *next);

/* A new zero-filled float32 constant named after its node, OWNER_SUFFIX (the owner's name
 * cut short where the whole would be longer than names may be). */
ir_value *ir_const_f32(ir_graph *g, const char *owner, const char *suffix, int rank,
                       const int64_t *dims);

/* Sets input i of n, extending its inputs (with omitted ones) as needed. */
bool ir_set_input(ir_graph *g, ir_node *n, int i, ir_value *v);

/* Sets attribute a of n, replacing the one of the same name if there is one. The table is
 * copied, never written in place, so that no other holder of it sees the change. */
bool ir_set_attr(ir_graph *g, ir_node *n, dp_attr a);

#endif
