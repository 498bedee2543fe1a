/*
 * test_fusion.c: BatchNorm folding, bias and activation fusion on tiny graphs built by hand.
 *
 * Each test builds a graph, runs it through the runtime's kernels on random inputs, applies
 * a pass, checks the graph's new structure and runs it again: the outputs must agree within
 * 1e-5 relative (bit for bit where only an activation moved). The cases a pass must leave
 * alone are checked to leave the graph exactly as it was. One test carries fused layers
 * through the .dp file and the executor; others check the kernels' and the frontend's side
 * of the fused-layer contract (kernel_util.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "emit_dp.h"
#include "exec.h"
#include "frontend.h"
#include "kernel_util.h"
#include "onnx_builder.h"
#include "passes.h"

typedef struct fixture {
    dp_arena mem;
    ir_graph *g;
    dp_error err;
    uint64_t rng;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    dp_arena_init(&f->mem, 0);
    f->g = ir_graph_new(&f->mem);
    f->g->opset = 13;
    f->rng = 0x9e3779b97f4a7c15u;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    dp_arena_free(&f->mem);
    free(f);
    return 0;
}

/* Uniform in [lo, hi), xorshift64*. */
static float urand(fixture *f, float lo, float hi)
{
    f->rng ^= f->rng >> 12;
    f->rng ^= f->rng << 25;
    f->rng ^= f->rng >> 27;
    uint64_t r = f->rng * 0x2545f4914f6cdd1du;
    return lo + (hi - lo) * (float)((double)(r >> 11) / 9007199254740992.0);
}

static ir_value *input(fixture *f, const char *name, int rank, const int64_t *dims)
{
    ir_value *v = ir_value_new(f->g, name, DP_FLOAT);
    v->t.rank = rank;
    if (rank)
        memcpy(v->t.dims, dims, sizeof(int64_t) * (size_t)rank);
    ir_graph_add_input(f->g, v);
    return v;
}

/* A float constant with values uniform in [lo, hi). */
static ir_value *constant(fixture *f, const char *name, int rank, const int64_t *dims, float lo,
                          float hi)
{
    ir_value *v = ir_value_new(f->g, name, DP_FLOAT);
    v->t.rank = rank;
    if (rank)
        memcpy(v->t.dims, dims, sizeof(int64_t) * (size_t)rank);
    int64_t n = dp_numel(&v->t);
    float *d = dp_arena_alloc(f->g->mem, sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++)
        d[i] = urand(f, lo, hi);
    v->t.data = d;
    return v;
}

static ir_node *node(fixture *f, const char *op, const char *out, int n_in, ir_value **in)
{
    ir_node *n = ir_node_new(f->g, op, out, n_in, 1);
    for (int i = 0; i < n_in; i++)
        n->in[i] = in[i];
    n->out[0] = ir_value_new(f->g, out, DP_UNDEFINED);
    n->out[0]->producer = n;
    return n;
}

static void attrs(fixture *f, ir_node *n, const dp_attr *a, int count)
{
    n->attrs = dp_arena_memdup(f->g->mem, a, sizeof *a * (size_t)count);
    n->n_attrs = count;
}

#define ATTRS(f, n, ...)                                                                     \
    attrs(f, n, (dp_attr[]){__VA_ARGS__}, sizeof((dp_attr[]){__VA_ARGS__}) / sizeof(dp_attr))
#define AINT(nm, v) ((dp_attr){.name = (nm), .kind = DP_ATTR_INT, .i = (v)})
#define AFLOAT(nm, v) ((dp_attr){.name = (nm), .kind = DP_ATTR_FLOAT, .f = (v)})
#define AINTS(nm, ...)                                                                       \
    ((dp_attr){.name = (nm), .kind = DP_ATTR_INTS, .ints = (const int64_t[]){__VA_ARGS__},    \
               .n = sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)})

/* BatchNormalization of x with random constant statistics over `channels`. */
static ir_node *batchnorm(fixture *f, ir_value *x, int64_t channels, const char *out)
{
    ir_value *in[] = {x, constant(f, "gamma", 1, &channels, 0.5f, 1.5f),
                      constant(f, "beta", 1, &channels, -1, 1),
                      constant(f, "mean", 1, &channels, -0.5f, 0.5f),
                      constant(f, "var", 1, &channels, 0.25f, 2)};
    ir_node *bn = node(f, "BatchNormalization", out, 5, in);
    ATTRS(f, bn, AFLOAT("epsilon", 1e-3f));
    return bn;
}

static void infer(fixture *f)
{
    if (pass_infer_shapes(f->g, &f->err) != DP_OK)
        fail_msg("%s", f->err.msg);
}

/* Random data for every graph input, held in the fixture's arena. */
static float **random_inputs(fixture *f)
{
    float **in = dp_arena_calloc(&f->mem, (size_t)f->g->n_inputs + 1, sizeof *in);
    for (int i = 0; i < f->g->n_inputs; i++) {
        int64_t n = dp_numel(&f->g->inputs[i]->t);
        in[i] = dp_arena_alloc(&f->mem, sizeof(float) * (size_t)(n ? n : 1));
        for (int64_t j = 0; j < n; j++)
            in[i][j] = urand(f, -2, 2);
    }
    return in;
}

/*
 * Runs the graph through the kernels, as the executor would, on the given inputs, without
 * touching the graph's own tensors. Returns graph output 0 (data in the fixture's arena).
 */
static dp_tensor run_graph(fixture *f, float *const *inputs)
{
    ir_graph *g = f->g;
    dp_tensor *vals = dp_arena_calloc(&f->mem, (size_t)g->n_values, sizeof *vals);
    for (int i = 0; i < g->n_values; i++) {
        g->values[i]->index = i;
        vals[i] = g->values[i]->t;
    }
    for (int i = 0; i < g->n_inputs; i++)
        vals[g->inputs[i]->index].data = inputs[i];
    dp_arena scratch;
    dp_arena_init(&scratch, 0);
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        dp_tensor *in[DP_MAX_NODE_INPUTS], *out[DP_MAX_NODE_OUTPUTS];
        for (int j = 0; j < n->n_in; j++)
            in[j] = n->in[j] ? &vals[n->in[j]->index] : NULL;
        for (int j = 0; j < n->n_out; j++)
            out[j] = &vals[n->out[j]->index];
        dp_kctx k = {.node = n->name, .op = n->op, .opset = n->opset, .attrs = n->attrs,
                     .n_attrs = n->n_attrs, .in = in, .n_in = n->n_in, .out = out,
                     .n_out = n->n_out, .scratch = &scratch, .err = &f->err};
        dp_status st = dp_node_types_infer(n->def, &k);
        for (int j = 0; st == DP_OK && j < n->n_out; j++) {
            size_t bytes = dp_nbytes(out[j]);
            out[j]->data = dp_arena_alloc(&f->mem, bytes ? bytes : 1);
        }
        if (st == DP_OK)
            st = n->def->run(&k);
        if (st != DP_OK)
            fail_msg("running '%s': %s", n->name, f->err.msg);
        dp_arena_reset(&scratch);
    }
    dp_arena_free(&scratch);
    return vals[g->outputs[0]->index];
}

static void expect_close(const dp_tensor *got, const dp_tensor *want, double rtol)
{
    assert_true(dp_same_shape(got, want));
    const float *a = got->data, *b = want->data;
    for (int64_t i = 0, n = dp_numel(want); i < n; i++)
        if (!(fabs((double)a[i] - b[i]) <= rtol * fmax(fabs((double)b[i]), 1.0)))
            fail_msg("element %lld: %.9g, expected %.9g", (long long)i, a[i], b[i]);
}

typedef dp_status (*pass_fn)(ir_graph *g, dp_error *err);

/* Runs pass on the graph and checks it computes what it computed before. */
static void pass_keeps_outputs(fixture *f, pass_fn pass, double rtol)
{
    infer(f);
    float **x = random_inputs(f);
    dp_tensor want = run_graph(f, x);
    if (pass(f->g, &f->err) != DP_OK)
        fail_msg("%s", f->err.msg);
    infer(f);
    dp_tensor got = run_graph(f, x);
    expect_close(&got, &want, rtol);
}

/* Runs pass on a graph it must leave alone: the same nodes, inputs and attributes. */
static void pass_leaves_alone(fixture *f, pass_fn pass)
{
    infer(f);
    int n_nodes = f->g->n_nodes;
    ir_node **nodes = dp_arena_memdup(&f->mem, f->g->nodes, sizeof *nodes * (size_t)n_nodes);
    ir_value **ins = dp_arena_calloc(&f->mem, (size_t)n_nodes * 8, sizeof *ins);
    int n_attrs[32];
    assert_true(n_nodes <= 32);
    for (int i = 0; i < n_nodes; i++) {
        assert_true(nodes[i]->n_in <= 8);
        memcpy(ins + i * 8, nodes[i]->in, sizeof *ins * (size_t)nodes[i]->n_in);
        n_attrs[i] = nodes[i]->n_attrs;
    }
    pass_keeps_outputs(f, pass, 0);
    assert_int_equal(f->g->n_nodes, n_nodes);
    for (int i = 0; i < n_nodes; i++) {
        assert_ptr_equal(f->g->nodes[i], nodes[i]);
        assert_memory_equal(ins + i * 8, nodes[i]->in, sizeof *ins * (size_t)nodes[i]->n_in);
        assert_int_equal(nodes[i]->n_attrs, n_attrs[i]);
    }
}

static const dp_attr *find_attr(const ir_node *n, const char *name)
{
    dp_kctx k = ir_attr_ctx(n);
    return dp_attr_find(&k, name);
}

/* ---- BatchNormalization folding ---- */

/* Grouped 3x3 Conv with a bias, then BN: one Conv with new weights and bias. */
static void folds_bn_into_conv(void **state)
{
    fixture *f = *state;
    static const int64_t xd[] = {2, 4, 6, 6}, wd[] = {6, 2, 3, 3}, bd[] = {6};
    ir_value *in[] = {input(f, "x", 4, xd), constant(f, "w", 4, wd, -1, 1),
                      constant(f, "b", 1, bd, -1, 1)};
    ir_node *conv = node(f, "Conv", "c", 3, in);
    ATTRS(f, conv, AINT("group", 2), AINTS("pads", 1, 1, 1, 1));
    ir_node *bn = batchnorm(f, conv->out[0], 6, "y");
    ir_graph_add_output(f->g, bn->out[0]);
    pass_keeps_outputs(f, pass_fold_batchnorm, 1e-5);
    assert_int_equal(f->g->n_nodes, 1);
    assert_ptr_equal(f->g->nodes[0], conv);
    assert_ptr_equal(conv->out[0], f->g->outputs[0]);
    assert_string_equal(conv->out[0]->name, "y");
    assert_ptr_equal(conv->in[1], in[1]); /* W has no other reader: scaled where it lies */
    assert_ptr_not_equal(conv->in[2], in[2]);
}

/* A weight something else reads too is copied, not scaled in place. */
static void folds_bn_into_a_copy_of_a_shared_weight(void **state)
{
    fixture *f = *state;
    static const int64_t xd[] = {1, 2, 4, 4}, wd[] = {3, 2, 1, 1};
    ir_value *in[] = {input(f, "x", 4, xd), constant(f, "w", 4, wd, -1, 1)};
    float before = ((const float *)in[1]->t.data)[0];
    ir_node *conv = node(f, "Conv", "c", 2, in);
    ir_node *bn = batchnorm(f, conv->out[0], 3, "y");
    ir_graph_add_output(f->g, bn->out[0]);
    ir_graph_add_output(f->g, in[1]);
    pass_keeps_outputs(f, pass_fold_batchnorm, 1e-5);
    assert_ptr_not_equal(conv->in[1], in[1]);
    assert_true(((const float *)in[1]->t.data)[0] == before);
}

static void folds_bn_into_conv_without_bias(void **state)
{
    fixture *f = *state;
    static const int64_t xd[] = {1, 3, 5}, wd[] = {4, 3, 2};
    ir_value *in[] = {input(f, "x", 3, xd), constant(f, "w", 3, wd, -1, 1)};
    ir_node *conv = node(f, "Conv", "c", 2, in);
    ir_node *bn = batchnorm(f, conv->out[0], 4, "y");
    ir_graph_add_output(f->g, bn->out[0]);
    pass_keeps_outputs(f, pass_fold_batchnorm, 1e-5);
    assert_int_equal(f->g->n_nodes, 1);
    assert_int_equal(conv->n_in, 3);
    assert_int_equal(conv->in[2]->t.rank, 1);
    assert_int_equal(conv->in[2]->t.dims[0], 4);
}

/* ConvTranspose's weight is C_in x C_out/group x k...: the channel is the second axis. */
static void folds_bn_into_grouped_conv_transpose(void **state)
{
    fixture *f = *state;
    static const int64_t xd[] = {2, 4, 3, 3}, wd[] = {4, 3, 3, 2};
    ir_value *in[] = {input(f, "x", 4, xd), constant(f, "w", 4, wd, -1, 1)};
    ir_node *ct = node(f, "ConvTranspose", "c", 2, in);
    ATTRS(f, ct, AINT("group", 2), AINTS("strides", 2, 1));
    ir_node *bn = batchnorm(f, ct->out[0], 6, "y");
    ir_graph_add_output(f->g, bn->out[0]);
    pass_keeps_outputs(f, pass_fold_batchnorm, 1e-5);
    assert_int_equal(f->g->n_nodes, 1);
    assert_string_equal(f->g->nodes[0]->op, "ConvTranspose");
    assert_int_equal(ct->in[2]->t.dims[0], 6);
}

/* Gemm with transB, alpha, and a C scaled by beta: beta moves into the new C. */
static void folds_bn_into_gemm_trans_b(void **state)
{
    fixture *f = *state;
    static const int64_t ad[] = {3, 5}, bd[] = {4, 5}, cd[] = {4};
    ir_value *in[] = {input(f, "a", 2, ad), constant(f, "b", 2, bd, -1, 1),
                      constant(f, "c", 1, cd, -1, 1)};
    ir_node *gemm = node(f, "Gemm", "g", 3, in);
    ATTRS(f, gemm, AINT("transB", 1), AFLOAT("alpha", 2.0f), AFLOAT("beta", 0.5f));
    ir_node *bn = batchnorm(f, gemm->out[0], 4, "y");
    ir_graph_add_output(f->g, bn->out[0]);
    pass_keeps_outputs(f, pass_fold_batchnorm, 1e-5);
    assert_int_equal(f->g->n_nodes, 1);
    assert_float_equal(find_attr(gemm, "beta")->f, 1.0f, 0);
    assert_float_equal(find_attr(gemm, "alpha")->f, 2.0f, 0);
}

/* A C that varies along M stays M x N. */
static void folds_bn_into_gemm_with_full_c(void **state)
{
    fixture *f = *state;
    static const int64_t ad[] = {3, 5}, bd[] = {5, 4}, cd[] = {3, 4};
    ir_value *in[] = {input(f, "a", 2, ad), constant(f, "b", 2, bd, -1, 1),
                      constant(f, "c", 2, cd, -1, 1)};
    ir_node *gemm = node(f, "Gemm", "g", 3, in);
    ir_node *bn = batchnorm(f, gemm->out[0], 4, "y");
    ir_graph_add_output(f->g, bn->out[0]);
    pass_keeps_outputs(f, pass_fold_batchnorm, 1e-5);
    assert_int_equal(f->g->n_nodes, 1);
    assert_int_equal(gemm->in[2]->t.rank, 2);
    assert_int_equal(gemm->in[2]->t.dims[0], 3);
}

/* MatMul of a 2-D input by a constant weight becomes a Gemm, which has a bias. */
static void folds_bn_into_matmul_as_gemm(void **state)
{
    fixture *f = *state;
    static const int64_t ad[] = {3, 5}, bd[] = {5, 4};
    ir_value *in[] = {input(f, "a", 2, ad), constant(f, "b", 2, bd, -1, 1)};
    ir_node *mm = node(f, "MatMul", "m", 2, in);
    ir_node *bn = batchnorm(f, mm->out[0], 4, "y");
    ir_graph_add_output(f->g, bn->out[0]);
    pass_keeps_outputs(f, pass_fold_batchnorm, 1e-5);
    assert_int_equal(f->g->n_nodes, 1);
    assert_string_equal(mm->op, "Gemm");
    assert_ptr_equal(mm->def, dp_op_find("Gemm"));
    assert_int_equal(mm->n_in, 3);
}

/* The Conv's output is also read by a Relu: folding would change what the Relu sees. */
static void keeps_bn_when_the_layer_has_two_readers(void **state)
{
    fixture *f = *state;
    static const int64_t xd[] = {1, 2, 4, 4}, wd[] = {3, 2, 1, 1};
    ir_value *in[] = {input(f, "x", 4, xd), constant(f, "w", 4, wd, -1, 1)};
    ir_node *conv = node(f, "Conv", "c", 2, in);
    ir_node *bn = batchnorm(f, conv->out[0], 3, "y");
    ir_node *relu = node(f, "Relu", "r", 1, &conv->out[0]);
    ir_value *sum[] = {bn->out[0], relu->out[0]};
    ir_graph_add_output(f->g, node(f, "Add", "z", 2, sum)->out[0]);
    pass_leaves_alone(f, pass_fold_batchnorm);
}

/* A layer output that is also a graph output counts as a second reader. */
static void keeps_bn_when_the_layer_output_is_a_graph_output(void **state)
{
    fixture *f = *state;
    static const int64_t xd[] = {1, 2, 4, 4}, wd[] = {3, 2, 1, 1};
    ir_value *in[] = {input(f, "x", 4, xd), constant(f, "w", 4, wd, -1, 1)};
    ir_node *conv = node(f, "Conv", "c", 2, in);
    ir_node *bn = batchnorm(f, conv->out[0], 3, "y");
    ir_graph_add_output(f->g, bn->out[0]);
    ir_graph_add_output(f->g, conv->out[0]);
    pass_leaves_alone(f, pass_fold_batchnorm);
}

static void keeps_bn_with_a_variable_parameter(void **state)
{
    fixture *f = *state;
    static const int64_t xd[] = {1, 2, 4, 4}, wd[] = {3, 2, 1, 1}, cd[] = {3};
    ir_value *in[] = {input(f, "x", 4, xd), constant(f, "w", 4, wd, -1, 1)};
    ir_node *conv = node(f, "Conv", "c", 2, in);
    ir_node *bn = batchnorm(f, conv->out[0], 3, "y");
    bn->in[1] = input(f, "gamma_in", 1, cd);
    ir_graph_add_output(f->g, bn->out[0]);
    pass_leaves_alone(f, pass_fold_batchnorm);
}

static void keeps_bn_with_a_variable_weight(void **state)
{
    fixture *f = *state;
    static const int64_t xd[] = {1, 2, 4, 4}, wd[] = {3, 2, 1, 1};
    ir_value *in[] = {input(f, "x", 4, xd), input(f, "w", 4, wd)};
    ir_node *conv = node(f, "Conv", "c", 2, in);
    ir_graph_add_output(f->g, batchnorm(f, conv->out[0], 3, "y")->out[0]);
    pass_leaves_alone(f, pass_fold_batchnorm);
}

/* Training mode normalises by the batch's statistics, not the constants. */
static void keeps_bn_in_training_mode(void **state)
{
    fixture *f = *state;
    f->g->opset = 15;
    static const int64_t xd[] = {2, 2, 4, 4}, wd[] = {3, 2, 1, 1};
    ir_value *in[] = {input(f, "x", 4, xd), constant(f, "w", 4, wd, -1, 1)};
    ir_node *conv = node(f, "Conv", "c", 2, in);
    ir_node *bn = batchnorm(f, conv->out[0], 3, "y");
    ATTRS(f, bn, AINT("training_mode", 1));
    ir_graph_add_output(f->g, bn->out[0]);
    pass_leaves_alone(f, pass_fold_batchnorm);
}

/* Opset 7-8 spatial = 0: statistics per element of a sample, not per channel (here, with
 * 1 x 1 planes, the same thing, so that only the attribute stops the fold). */
static void keeps_bn_with_spatial_zero(void **state)
{
    fixture *f = *state;
    f->g->opset = 8;
    static const int64_t xd[] = {1, 2, 1, 1}, wd[] = {3, 2, 1, 1};
    ir_value *in[] = {input(f, "x", 4, xd), constant(f, "w", 4, wd, -1, 1)};
    ir_node *conv = node(f, "Conv", "c", 2, in);
    ir_node *bn = batchnorm(f, conv->out[0], 3, "y");
    ATTRS(f, bn, AINT("spatial", 0));
    ir_graph_add_output(f->g, bn->out[0]);
    pass_leaves_alone(f, pass_fold_batchnorm);
}

/* BN of a 3-D MatMul normalises axis 1, which is not the weight's column axis. */
static void keeps_bn_after_a_3d_matmul(void **state)
{
    fixture *f = *state;
    static const int64_t ad[] = {2, 3, 5}, bd[] = {5, 4};
    ir_value *in[] = {input(f, "a", 3, ad), constant(f, "b", 2, bd, -1, 1)};
    ir_node *mm = node(f, "MatMul", "m", 2, in);
    ir_graph_add_output(f->g, batchnorm(f, mm->out[0], 3, "y")->out[0]);
    pass_leaves_alone(f, pass_fold_batchnorm);
}

/* ---- bias fusion ---- */

/* nn.Linear on a 3-D input, as PyTorch exports it: MatMul, then Add of the bias. */
static void fuses_bias_into_matmul(void **state)
{
    fixture *f = *state;
    static const int64_t ad[] = {2, 5, 8}, wd[] = {8, 6}, bd[] = {6};
    ir_value *in[] = {input(f, "a", 3, ad), constant(f, "w", 2, wd, -1, 1)};
    ir_node *mm = node(f, "MatMul", "m", 2, in);
    ir_value *add_in[] = {mm->out[0], constant(f, "b", 1, bd, -1, 1)};
    ir_graph_add_output(f->g, node(f, "Add", "y", 2, add_in)->out[0]);
    pass_keeps_outputs(f, pass_fuse_bias, 1e-5);
    assert_int_equal(f->g->n_nodes, 1);
    assert_int_equal(mm->n_in, 3);
    assert_int_equal(find_attr(mm, "dp_bias")->i, 1);
    assert_int_equal(mm->in[2]->t.dims[0], 6);
}

/* The constant first, shaped 1 x 1 x N. */
static void fuses_bias_into_matmul_either_side(void **state)
{
    fixture *f = *state;
    static const int64_t ad[] = {2, 5, 8}, wd[] = {8, 6}, bd[] = {1, 1, 6};
    ir_value *in[] = {input(f, "a", 3, ad), constant(f, "w", 2, wd, -1, 1)};
    ir_node *mm = node(f, "MatMul", "m", 2, in);
    ir_value *add_in[] = {constant(f, "b", 3, bd, -1, 1), mm->out[0]};
    ir_graph_add_output(f->g, node(f, "Add", "y", 2, add_in)->out[0]);
    pass_keeps_outputs(f, pass_fuse_bias, 1e-5);
    assert_int_equal(f->g->n_nodes, 1);
    assert_int_equal(mm->in[2]->t.rank, 1);
}

static void fuses_channel_bias_into_conv(void **state)
{
    fixture *f = *state;
    static const int64_t xd[] = {2, 3, 5, 5}, wd[] = {4, 3, 3, 3}, bd[] = {1, 4, 1, 1};
    ir_value *in[] = {input(f, "x", 4, xd), constant(f, "w", 4, wd, -1, 1)};
    ir_node *conv = node(f, "Conv", "c", 2, in);
    ir_value *add_in[] = {conv->out[0], constant(f, "b", 4, bd, -1, 1)};
    ir_graph_add_output(f->g, node(f, "Add", "y", 2, add_in)->out[0]);
    pass_keeps_outputs(f, pass_fuse_bias, 1e-5);
    assert_int_equal(f->g->n_nodes, 1);
    assert_int_equal(conv->n_in, 3);
    assert_int_equal(conv->in[2]->t.rank, 1);
}

/* A Conv that has a bias already: the two are summed. */
static void adds_to_an_existing_conv_bias(void **state)
{
    fixture *f = *state;
    static const int64_t xd[] = {1, 3, 5, 5}, wd[] = {4, 3, 3, 3}, bd[] = {4}, cd[] = {4, 1, 1};
    ir_value *in[] = {input(f, "x", 4, xd), constant(f, "w", 4, wd, -1, 1),
                      constant(f, "b0", 1, bd, -1, 1)};
    ir_node *conv = node(f, "Conv", "c", 3, in);
    ir_value *add_in[] = {conv->out[0], constant(f, "b", 3, cd, -1, 1)};
    ir_graph_add_output(f->g, node(f, "Add", "y", 2, add_in)->out[0]);
    pass_keeps_outputs(f, pass_fuse_bias, 1e-5);
    assert_int_equal(f->g->n_nodes, 1);
    assert_ptr_not_equal(conv->in[2], in[2]);
}

static void fuses_bias_into_gemm_as_c(void **state)
{
    fixture *f = *state;
    static const int64_t ad[] = {3, 5}, bd[] = {5, 4}, cd[] = {4};
    ir_value *in[] = {input(f, "a", 2, ad), constant(f, "b", 2, bd, -1, 1)};
    ir_node *gemm = node(f, "Gemm", "g", 2, in);
    ATTRS(f, gemm, AFLOAT("beta", 0.25f));
    ir_value *add_in[] = {gemm->out[0], constant(f, "c", 1, cd, -1, 1)};
    ir_graph_add_output(f->g, node(f, "Add", "y", 2, add_in)->out[0]);
    pass_keeps_outputs(f, pass_fuse_bias, 1e-5);
    assert_int_equal(f->g->n_nodes, 1);
    assert_ptr_equal(gemm->in[2], add_in[1]);
    assert_float_equal(find_attr(gemm, "beta")->f, 1.0f, 0);
}

/* A constant that varies along the spatial axes is no bias. */
static void keeps_add_that_varies_along_other_axes(void **state)
{
    fixture *f = *state;
    static const int64_t xd[] = {1, 3, 4, 4}, wd[] = {2, 3, 1, 1}, bd[] = {1, 2, 4, 4};
    ir_value *in[] = {input(f, "x", 4, xd), constant(f, "w", 4, wd, -1, 1)};
    ir_node *conv = node(f, "Conv", "c", 2, in);
    ir_value *add_in[] = {conv->out[0], constant(f, "b", 4, bd, -1, 1)};
    ir_graph_add_output(f->g, node(f, "Add", "y", 2, add_in)->out[0]);
    pass_leaves_alone(f, pass_fuse_bias);
}

/* Broadcasting that would grow the MatMul's output, and a bias along its rows. */
static void keeps_add_that_is_no_column_bias(void **state)
{
    fixture *f = *state;
    static const int64_t ad[] = {5, 8}, wd[] = {8, 6}, bd[] = {2, 1, 6}, rd[] = {5, 1};
    ir_value *in[] = {input(f, "a", 2, ad), constant(f, "w", 2, wd, -1, 1)};
    ir_node *mm = node(f, "MatMul", "m", 2, in);
    ir_value *add_in[] = {mm->out[0], constant(f, "b", 3, bd, -1, 1)};
    ir_graph_add_output(f->g, node(f, "Add", "y", 2, add_in)->out[0]);
    ir_node *mm2 = node(f, "MatMul", "m2", 2, in);
    ir_value *add2_in[] = {mm2->out[0], constant(f, "r", 2, rd, -1, 1)};
    ir_graph_add_output(f->g, node(f, "Add", "y2", 2, add2_in)->out[0]);
    pass_leaves_alone(f, pass_fuse_bias);
}

static void keeps_add_of_a_variable(void **state)
{
    fixture *f = *state;
    static const int64_t ad[] = {5, 8}, wd[] = {8, 6}, bd[] = {6};
    ir_value *in[] = {input(f, "a", 2, ad), constant(f, "w", 2, wd, -1, 1)};
    ir_node *mm = node(f, "MatMul", "m", 2, in);
    ir_value *add_in[] = {mm->out[0], input(f, "b", 1, bd)};
    ir_graph_add_output(f->g, node(f, "Add", "y", 2, add_in)->out[0]);
    pass_leaves_alone(f, pass_fuse_bias);
}

/* ---- residual fusion ---- */

/* A ResNet block's end: Conv, Add of the block's input, Relu. With the activation pass
 * after it, one instruction is left, and its outputs are the same bits. */
static void fuses_residual_add_into_conv(void **state)
{
    fixture *f = *state;
    static const int64_t xd[] = {2, 4, 5, 5}, wd[] = {4, 4, 3, 3}, bd[] = {4};
    ir_value *in[] = {input(f, "x", 4, xd), constant(f, "w", 4, wd, -1, 1),
                      constant(f, "b", 1, bd, -1, 1)};
    ir_node *conv = node(f, "Conv", "c", 3, in);
    ATTRS(f, conv, AINTS("pads", 1, 1, 1, 1));
    ir_value *add_in[] = {in[0], conv->out[0]};
    ir_node *add = node(f, "Add", "a", 2, add_in);
    ir_graph_add_output(f->g, node(f, "Relu", "y", 1, &add->out[0])->out[0]);
    pass_keeps_outputs(f, pass_fuse_residual, 0);
    assert_int_equal(f->g->n_nodes, 2);
    assert_int_equal(conv->n_in, 4);
    assert_ptr_equal(conv->in[3], in[0]);
    assert_int_equal(find_attr(conv, "dp_residual")->i, 1);
    pass_keeps_outputs(f, pass_fuse_activation, 0);
    assert_int_equal(f->g->n_nodes, 1);
    assert_string_equal(find_attr(conv, "dp_activation")->s, "Relu");
}

/* The projection of a ResNet block's input, exported after the branch it is added to: the
 * branch's Conv now reads it, so the projection moves ahead. A Conv without a bias keeps its
 * input 2 empty. */
static void fuses_residual_computed_after_the_branch(void **state)
{
    fixture *f = *state;
    static const int64_t xd[] = {1, 3, 4, 4}, wd[] = {6, 3, 1, 1};
    ir_value *x = input(f, "x", 4, xd);
    ir_value *bin[] = {x, constant(f, "wb", 4, wd, -1, 1)};
    ir_node *branch = node(f, "Conv", "branch", 2, bin);
    ir_value *pin[] = {x, constant(f, "wp", 4, wd, -1, 1)};
    ir_node *proj = node(f, "Conv", "proj", 2, pin);
    ir_value *add_in[] = {branch->out[0], proj->out[0]};
    ir_graph_add_output(f->g, node(f, "Add", "y", 2, add_in)->out[0]);
    pass_keeps_outputs(f, pass_fuse_residual, 0);
    assert_int_equal(f->g->n_nodes, 2);
    assert_ptr_equal(f->g->nodes[0], proj);
    assert_ptr_equal(f->g->nodes[1], branch);
    assert_null(branch->in[2]);
    assert_ptr_equal(branch->in[3], proj->out[0]);
}

/* An Add that broadcasts, one after a fused activation, and one whose Conv output has a
 * second reader stay nodes of their own. */
static void keeps_adds_that_are_no_residual(void **state)
{
    fixture *f = *state;
    static const int64_t xd[] = {1, 2, 4, 4}, wd[] = {2, 2, 1, 1}, rd[] = {1, 2, 1, 4};
    ir_value *x = input(f, "x", 4, xd);
    ir_value *cin[] = {x, constant(f, "w", 4, wd, -1, 1)};
    ir_node *c1 = node(f, "Conv", "c1", 2, cin);
    ir_value *a1[] = {c1->out[0], input(f, "r", 4, rd)};
    ir_graph_add_output(f->g, node(f, "Add", "y1", 2, a1)->out[0]);
    ir_node *c2 = node(f, "Conv", "c2", 2, cin);
    ATTRS(f, c2, ((dp_attr){.name = "dp_activation", .kind = DP_ATTR_STRING, .s = "Relu"}));
    ir_value *a2[] = {c2->out[0], x};
    ir_graph_add_output(f->g, node(f, "Add", "y2", 2, a2)->out[0]);
    ir_node *c3 = node(f, "Conv", "c3", 2, cin);
    ir_value *a3[] = {c3->out[0], x};
    ir_graph_add_output(f->g, node(f, "Add", "y3", 2, a3)->out[0]);
    ir_graph_add_output(f->g, c3->out[0]);
    pass_leaves_alone(f, pass_fuse_residual);
}

/* ---- activation fusion ---- */

static void fuses_relu_into_conv(void **state)
{
    fixture *f = *state;
    static const int64_t xd[] = {2, 3, 5, 5}, wd[] = {4, 3, 3, 3}, bd[] = {4};
    ir_value *in[] = {input(f, "x", 4, xd), constant(f, "w", 4, wd, -1, 1),
                      constant(f, "b", 1, bd, -1, 1)};
    ir_node *conv = node(f, "Conv", "c", 3, in);
    ir_graph_add_output(f->g, node(f, "Relu", "y", 1, &conv->out[0])->out[0]);
    pass_keeps_outputs(f, pass_fuse_activation, 0);
    assert_int_equal(f->g->n_nodes, 1);
    assert_string_equal(find_attr(conv, "dp_activation")->s, "Relu");
}

/* Clip with constant bounds as inputs (opset 11 on), after a Gemm. */
static void fuses_clip_into_gemm(void **state)
{
    fixture *f = *state;
    static const int64_t ad[] = {3, 5}, bd[] = {5, 4};
    ir_value *in[] = {input(f, "a", 2, ad), constant(f, "b", 2, bd, -1, 1)};
    ir_node *gemm = node(f, "Gemm", "g", 2, in);
    ir_value *clip_in[] = {gemm->out[0], constant(f, "lo", 0, NULL, -0.5f, -0.4f),
                           constant(f, "hi", 0, NULL, 0.4f, 0.5f)};
    ir_graph_add_output(f->g, node(f, "Clip", "y", 3, clip_in)->out[0]);
    pass_keeps_outputs(f, pass_fuse_activation, 0);
    assert_int_equal(f->g->n_nodes, 1);
    assert_string_equal(find_attr(gemm, "dp_activation")->s, "Clip");
    assert_float_equal(find_attr(gemm, "dp_min")->f, *(float *)clip_in[1]->t.data, 0);
    assert_float_equal(find_attr(gemm, "dp_max")->f, *(float *)clip_in[2]->t.data, 0);
}

/* Opset 6 Clip takes its bounds as attributes; an absent one is float's range. */
static void fuses_clip_with_attribute_bounds(void **state)
{
    fixture *f = *state;
    f->g->opset = 6;
    static const int64_t ad[] = {3, 5}, bd[] = {5, 4};
    ir_value *in[] = {input(f, "a", 2, ad), constant(f, "b", 2, bd, -1, 1)};
    ir_node *gemm = node(f, "Gemm", "g", 2, in);
    ir_node *clip = node(f, "Clip", "y", 1, &gemm->out[0]);
    ATTRS(f, clip, AFLOAT("min", 0.0f));
    ir_graph_add_output(f->g, clip->out[0]);
    pass_keeps_outputs(f, pass_fuse_activation, 0);
    assert_int_equal(f->g->n_nodes, 1);
    assert_float_equal(find_attr(gemm, "dp_min")->f, 0, 0);
    assert_true(find_attr(gemm, "dp_max")->f > 3e38f);
}

/* Every activation with its parameters, after each analog op: bit for bit the same. */
static void fuses_every_activation(void **state)
{
    static const char *const acts[] = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid",
                                       "HardSwish", "Clip"};
    static const char *const layers[] = {"Conv", "ConvTranspose", "Gemm", "MatMul"};
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
        for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) {
            fixture *f;
            setup((void **)&f);
            static const int64_t xd[] = {1, 2, 4, 4}, ad[] = {3, 5}, bd[] = {5, 4};
            /* Conv's M x C x k, ConvTranspose's C x M x k, MatMul's K x N */
            static const int64_t wd[][4] = {{3, 2, 3, 3}, {2, 3, 3, 3}, {5, 4}, {5, 4}};
            bool conv = l < 2, clip = strcmp(acts[a], "Clip") == 0;
            ir_value *in[] = {conv ? input(f, "x", 4, xd) : input(f, "a", 2, ad),
                              constant(f, "w", conv ? 4 : 2, conv ? wd[l] : bd, -1, 1)};
            ir_node *n = node(f, layers[l], "n", 2, in);
            ir_value *act_in[] = {n->out[0], clip ? constant(f, "lo", 0, NULL, -0.1f, 0) : NULL};
            ir_node *act = node(f, acts[a], "y", clip ? 2 : 1, act_in);
            if (strcmp(acts[a], "LeakyRelu") == 0)
                ATTRS(f, act, AFLOAT("alpha", 0.3f));
            if (strcmp(acts[a], "HardSigmoid") == 0)
                ATTRS(f, act, AFLOAT("alpha", 0.4f), AFLOAT("beta", 0.6f));
            ir_graph_add_output(f->g, act->out[0]);
            pass_keeps_outputs(f, pass_fuse_activation, 0);
            assert_int_equal(f->g->n_nodes, 1);
            assert_string_equal(find_attr(n, "dp_activation")->s, acts[a]);
            teardown((void **)&f);
        }
}

static void keeps_activation_of_a_shared_output(void **state)
{
    fixture *f = *state;
    static const int64_t ad[] = {3, 5}, bd[] = {5, 4};
    ir_value *in[] = {input(f, "a", 2, ad), constant(f, "b", 2, bd, -1, 1)};
    ir_node *mm = node(f, "MatMul", "m", 2, in);
    ir_node *relu = node(f, "Relu", "r", 1, &mm->out[0]);
    ir_value *sum[] = {relu->out[0], mm->out[0]};
    ir_graph_add_output(f->g, node(f, "Add", "y", 2, sum)->out[0]);
    pass_leaves_alone(f, pass_fuse_activation);
}

static void keeps_clip_with_a_variable_bound(void **state)
{
    fixture *f = *state;
    static const int64_t ad[] = {3, 5}, bd[] = {5, 4};
    ir_value *in[] = {input(f, "a", 2, ad), constant(f, "b", 2, bd, -1, 1)};
    ir_node *mm = node(f, "MatMul", "m", 2, in);
    ir_value *clip_in[] = {mm->out[0], input(f, "lo", 0, NULL)};
    ir_graph_add_output(f->g, node(f, "Clip", "y", 2, clip_in)->out[0]);
    pass_leaves_alone(f, pass_fuse_activation);
}

/* An activation already fused: a second one stays a node of its own. */
static void keeps_a_second_activation(void **state)
{
    fixture *f = *state;
    static const int64_t ad[] = {3, 5}, bd[] = {5, 4};
    ir_value *in[] = {input(f, "a", 2, ad), constant(f, "b", 2, bd, -1, 1)};
    ir_node *mm = node(f, "MatMul", "m", 2, in);
    ir_node *t = node(f, "Tanh", "t", 1, &mm->out[0]);
    ir_graph_add_output(f->g, node(f, "Sigmoid", "y", 1, &t->out[0])->out[0]);
    pass_keeps_outputs(f, pass_fuse_activation, 0);
    assert_int_equal(f->g->n_nodes, 2);
    assert_string_equal(find_attr(mm, "dp_activation")->s, "Tanh");
    assert_string_equal(f->g->nodes[1]->op, "Sigmoid");
}

/* ---- the three passes together, through the .dp file and the executor ---- */

/* The pipeline's own passes (pass_table.c) from fold-batchnorm to the eliminate-dead after
 * it, so that the test follows the order the compiler uses. */
static dp_status fuse_all(ir_graph *g, dp_error *err)
{
    dpc_pass_env env = {0};
    int i = 0;
    while (i < dpc_n_passes && strcmp(dpc_passes[i].name, "fold-batchnorm") != 0)
        i++;
    assert_true(i < dpc_n_passes);
    for (; i < dpc_n_passes; i++) {
        dp_status st = dpc_passes[i].run(g, &env, err);
        if (st != DP_OK || strcmp(dpc_passes[i].name, "eliminate-dead") == 0)
            return st;
    }
    fail_msg("no eliminate-dead after fold-batchnorm");
    return DP_EINTERNAL;
}

/* Conv -> BN -> Relu and MatMul -> Add -> HardSwish become two instructions that survive
 * writing, reading, validating and executing the program. */
static void fused_layers_survive_the_dp_file(void **state)
{
    fixture *f = *state;
    static const int64_t xd[] = {2, 3, 4, 4}, wd[] = {4, 3, 3, 3}, vd[] = {8, 5}, bd[] = {5};
    ir_value *cin[] = {input(f, "x", 4, xd), constant(f, "w", 4, wd, -1, 1)};
    ir_node *conv = node(f, "Conv", "c", 2, cin);
    ATTRS(f, conv, AINTS("pads", 1, 1, 1, 1));
    ir_node *bn = batchnorm(f, conv->out[0], 4, "bn");
    ir_node *relu = node(f, "Relu", "r", 1, &bn->out[0]);
    static const int64_t shape[] = {2, 4, 8, 2};
    ir_value *s = ir_value_new(f->g, "shape", DP_INT64);
    s->t.rank = 1;
    s->t.dims[0] = 4;
    s->t.data = dp_arena_memdup(f->g->mem, shape, sizeof shape);
    ir_value *rin[] = {relu->out[0], s};
    ir_node *reshape = node(f, "Reshape", "rs", 2, rin);
    ir_value *tin[] = {reshape->out[0]};
    ir_node *tr = node(f, "Transpose", "t", 1, tin);
    ATTRS(f, tr, AINTS("perm", 0, 1, 3, 2));
    ir_value *min[] = {tr->out[0], constant(f, "v", 2, vd, -1, 1)};
    ir_node *mm = node(f, "MatMul", "m", 2, min);
    ir_value *ain[] = {mm->out[0], constant(f, "b", 1, bd, -1, 1)};
    ir_node *add = node(f, "Add", "a", 2, ain);
    ir_graph_add_output(f->g, node(f, "HardSwish", "y", 1, &add->out[0])->out[0]);

    pass_keeps_outputs(f, fuse_all, 1e-5);
    assert_int_equal(f->g->n_nodes, 4);
    infer(f);
    float **x = random_inputs(f);
    dp_tensor want = run_graph(f, x);

    dp_device core = {.rows = 128, .cols = 128, .dac_bits = 8, .weight_bits = 8, .adc_bits = 8};
    assert_int_equal(pass_partition_analog(f->g, &core, &f->err), DP_OK);
    dpc_plan plan;
    assert_int_equal(pass_plan_memory(f->g, f->g->mem, &plan, &f->err), DP_OK);
    dp_program *prog = NULL, *back = NULL;
    assert_int_equal(dpc_lower(f->g, &plan, &prog, &f->err), DP_OK);
    char path[] = "/tmp/dpcc-fusion-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    if (dp_program_write(prog, path, &f->err) != DP_OK ||
        dp_program_read(path, &back, &f->err) != DP_OK)
        fail_msg("%s", f->err.msg);
    unlink(path);
    dp_session *sess;
    if (dp_session_new(back, NULL, &sess, &f->err) != DP_OK)
        fail_msg("%s", f->err.msg);
    dp_tensor in = f->g->inputs[0]->t, out;
    in.data = x[0];
    if (dp_session_run(sess, 0, &in, &out, &f->err) != DP_OK)
        fail_msg("%s", f->err.msg);
    expect_close(&out, &want, 0);
    dp_session_free(sess);
    dp_program_free(back);
    dp_program_free(prog);
}

/* ---- the kernels' and the frontend's side of the contract ---- */

static dp_status run_matmul(fixture *f, const dp_attr *a, int n_attrs, int n_in)
{
    float av[6] = {0}, bv[6] = {0}, cv[2] = {0}, yv[4];
    dp_tensor ta = {DP_FLOAT, 2, {2, 3}, av}, tb = {DP_FLOAT, 2, {3, 2}, bv},
              tc = {DP_FLOAT, 1, {2}, cv}, ty = {0};
    dp_tensor *in[] = {&ta, &tb, &tc}, *out[] = {&ty};
    dp_arena scratch;
    dp_arena_init(&scratch, 0);
    dp_kctx k = {.node = "m", .op = "MatMul", .opset = 13, .attrs = a, .n_attrs = n_attrs,
                 .in = in, .n_in = n_in, .out = out, .n_out = 1, .scratch = &scratch,
                 .err = &f->err};
    const dp_op_def *def = dp_op_find("MatMul");
    dp_error_clear(&f->err);
    dp_status st = dp_node_types_infer(def, &k);
    if (st == DP_OK) {
        ty.data = yv;
        st = def->run(&k);
    }
    dp_arena_free(&scratch);
    return st;
}

static void kernels_check_fused_attributes(void **state)
{
    fixture *f = *state;
    dp_attr bias = AINT("dp_bias", 1);
    assert_int_equal(run_matmul(f, &bias, 1, 3), DP_OK);
    assert_int_equal(run_matmul(f, NULL, 0, 3), DP_EINPUT); /* a third input needs dp_bias */
    assert_non_null(strstr(f->err.msg, "dp_bias"));
    assert_int_equal(run_matmul(f, &bias, 1, 2), DP_EINPUT);
    dp_attr gelu = {.name = "dp_activation", .kind = DP_ATTR_STRING, .s = "Gelu"};
    assert_int_equal(run_matmul(f, &gelu, 1, 2), DP_EINPUT);
    assert_non_null(strstr(f->err.msg, "Gelu"));
    dp_attr unknown = AINT("dp_scale", 1);
    assert_int_equal(run_matmul(f, &unknown, 1, 2), DP_EINPUT);
    dp_attr wrong_kind = AINT("dp_alpha", 1);
    assert_int_equal(run_matmul(f, &wrong_kind, 1, 2), DP_EINPUT);
    assert_non_null(strstr(f->err.msg, "dp_alpha"));
    dp_attr residual = AINT("dp_residual", 1);
    assert_int_equal(run_matmul(f, &residual, 1, 2), DP_EINPUT);
    assert_non_null(strstr(f->err.msg, "dp_residual marks a fused residual on Conv only"));
}

/* A user model may not spell the compiler's own attributes: here, a MatMul claiming a bias. */
static void frontend_refuses_reserved_attributes(void **state)
{
    static const int64_t xd[] = {2, 3}, wd[] = {3, 2};
    static const float w[6] = {0};
    tb_model m;
    tb_init(&m, 13);
    tb_input(&m, "x", 1, 2, xd);
    tb_init_f32(&m, "w", 2, wd, w, 6);
    const char *in[] = {"x", "w"}, *out[] = {"y"};
    Onnx__NodeProto *n = tb_node(&m, "MatMul", 2, in, 1, out);
    Onnx__AttributeProto *a = tb_attr(&m, n, "dp_bias", DP_ATTR_INT);
    a->has_i = 1;
    a->i = 1;
    tb_output(&m, "y");
    dp_error err = {0};
    dp_arena mem;
    dp_arena_init(&mem, 0);
    dpc_model *model = NULL;
    ir_graph *g;
    assert_int_equal(dpc_load_onnx(tb_write(&m), NULL, &mem, &model, &g, &err),
                     DP_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "reserved"));
    assert_non_null(strstr(err.msg, "dp_bias"));
    dpc_model_release(model);
    dp_arena_free(&mem);
    tb_free(&m);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(folds_bn_into_conv),
        T(folds_bn_into_a_copy_of_a_shared_weight),
        T(folds_bn_into_conv_without_bias),
        T(folds_bn_into_grouped_conv_transpose),
        T(folds_bn_into_gemm_trans_b),
        T(folds_bn_into_gemm_with_full_c),
        T(folds_bn_into_matmul_as_gemm),
        T(keeps_bn_when_the_layer_has_two_readers),
        T(keeps_bn_when_the_layer_output_is_a_graph_output),
        T(keeps_bn_with_a_variable_parameter),
        T(keeps_bn_with_a_variable_weight),
        T(keeps_bn_in_training_mode),
        T(keeps_bn_with_spatial_zero),
        T(keeps_bn_after_a_3d_matmul),
        T(fuses_bias_into_matmul),
        T(fuses_bias_into_matmul_either_side),
        T(fuses_channel_bias_into_conv),
        T(adds_to_an_existing_conv_bias),
        T(fuses_bias_into_gemm_as_c),
        T(keeps_add_that_varies_along_other_axes),
        T(keeps_add_that_is_no_column_bias),
        T(keeps_add_of_a_variable),
        T(fuses_residual_add_into_conv),
        T(fuses_residual_computed_after_the_branch),
        T(keeps_adds_that_are_no_residual),
        T(fuses_relu_into_conv),
        T(fuses_clip_into_gemm),
        T(fuses_clip_with_attribute_bounds),
        cmocka_unit_test(fuses_every_activation),
        T(keeps_activation_of_a_shared_output),
        T(keeps_clip_with_a_variable_bound),
        T(keeps_a_second_activation),
        T(fused_layers_survive_the_dp_file),
        T(kernels_check_fused_attributes),
        cmocka_unit_test(frontend_refuses_reserved_attributes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
