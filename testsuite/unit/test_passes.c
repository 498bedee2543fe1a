/* test_passes.c: each pass on tiny graphs built by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "passes.h"

typedef struct fixture {
    dp_arena mem;
    ir_graph *g;
    dp_error err;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    dp_arena_init(&f->mem, 0);
    f->g = ir_graph_new(&f->mem);
    f->g->opset = 13;
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

static ir_value *input(ir_graph *g, const char *name, int rank, const int64_t *dims)
{
    ir_value *v = ir_value_new(g, name, DP_FLOAT);
    v->t.rank = rank;
    memcpy(v->t.dims, dims, sizeof(int64_t) * (size_t)rank);
    ir_graph_add_input(g, v);
    return v;
}

static ir_value *constant_i64(ir_graph *g, const char *name, int n, const int64_t *vals)
{
    ir_value *v = ir_value_new(g, name, DP_INT64);
    v->t.rank = 1;
    v->t.dims[0] = n;
    v->t.data = dp_arena_memdup(g->mem, vals, sizeof(int64_t) * (size_t)n);
    return v;
}

static ir_value *constant_f32(ir_graph *g, const char *name, int rank, const int64_t *dims)
{
    ir_value *v = ir_value_new(g, name, DP_FLOAT);
    v->t.rank = rank;
    memcpy(v->t.dims, dims, sizeof(int64_t) * (size_t)rank);
    v->t.data = dp_arena_calloc(g->mem, (size_t)dp_numel(&v->t), sizeof(float));
    return v;
}

/* Appends op(in...) -> one new value named out. */
static ir_node *node(ir_graph *g, const char *op, const char *out, int n_in, ir_value **in)
{
    ir_node *n = ir_node_new(g, op, out, n_in, 1);
    for (int i = 0; i < n_in; i++)
        n->in[i] = in[i];
    n->out[0] = ir_value_new(g, out, DP_UNDEFINED);
    n->out[0]->producer = n;
    return n;
}

static void toposort_orders_and_keeps_valid_order(void **state)
{
    fixture *f = *state;
    static const int64_t d[] = {4};
    ir_value *x = input(f->g, "x", 1, d);
    /* Built out of order: b reads a, but b comes first. */
    ir_node *b = ir_node_new(f->g, "Relu", "b", 1, 1);
    ir_node *a = node(f->g, "Neg", "a", 1, &x);
    b->in[0] = a->out[0];
    b->out[0] = ir_value_new(f->g, "b", DP_UNDEFINED);
    ir_graph_add_output(f->g, b->out[0]);
    assert_int_equal(ir_toposort(f->g, &f->err), DP_OK);
    assert_ptr_equal(f->g->nodes[0], a);
    assert_ptr_equal(f->g->nodes[1], b);
    assert_int_equal(ir_toposort(f->g, &f->err), DP_OK);
    assert_ptr_equal(f->g->nodes[0], a);
}

static void toposort_reports_a_cycle(void **state)
{
    fixture *f = *state;
    ir_node *a = ir_node_new(f->g, "Relu", "a", 1, 1);
    ir_node *b = ir_node_new(f->g, "Relu", "b", 1, 1);
    a->out[0] = ir_value_new(f->g, "va", DP_FLOAT);
    b->out[0] = ir_value_new(f->g, "vb", DP_FLOAT);
    a->in[0] = b->out[0];
    b->in[0] = a->out[0];
    assert_int_equal(ir_toposort(f->g, &f->err), DP_EINPUT);
    assert_non_null(strstr(f->err.msg, "cycle"));
}

/* The chain PyTorch exports for x.view(x.size(0), -1): Shape, Gather, Unsqueeze, Concat,
 * Reshape. Folding must leave only the Reshape, with a constant shape. */
static void folds_shape_chain(void **state)
{
    fixture *f = *state;
    static const int64_t d[] = {2, 3, 4}, zero = 0, minus1 = -1;
    ir_value *x = input(f->g, "x", 3, d);
    ir_node *shape = node(f->g, "Shape", "s", 1, &x);
    ir_value *idx = ir_value_new(f->g, "i0", DP_INT64);
    idx->t.rank = 0;
    idx->t.data = dp_arena_memdup(f->g->mem, &zero, sizeof zero);
    ir_value *gin[] = {shape->out[0], idx};
    ir_node *gather = node(f->g, "Gather", "n", 2, gin);
    ir_value *axes = constant_i64(f->g, "axes", 1, &zero);
    ir_value *uin[] = {gather->out[0], axes};
    ir_node *unsq = node(f->g, "Unsqueeze", "n1", 2, uin);
    ir_value *cin[] = {unsq->out[0], constant_i64(f->g, "m1", 1, &minus1)};
    ir_node *concat = node(f->g, "Concat", "shape", 2, cin);
    concat->attrs = dp_arena_calloc(f->g->mem, 1, sizeof(dp_attr));
    concat->attrs[0] = (dp_attr){.name = "axis", .kind = DP_ATTR_INT, .i = 0};
    concat->n_attrs = 1;
    ir_value *rin[] = {x, concat->out[0]};
    ir_node *reshape = node(f->g, "Reshape", "y", 2, rin);
    ir_graph_add_output(f->g, reshape->out[0]);

    dp_arena scratch;
    dp_arena_init(&scratch, 0);
    dp_status st = pass_fold_constants(f->g, &scratch, &f->err);
    dp_arena_free(&scratch);
    if (st != DP_OK)
        fail_msg("%s", f->err.msg);
    assert_int_equal(f->g->n_nodes, 1);
    assert_string_equal(f->g->nodes[0]->op, "Reshape");
    const int64_t *shape_val = f->g->nodes[0]->in[1]->t.data;
    assert_non_null(shape_val);
    assert_int_equal(shape_val[0], 2);
    assert_int_equal(shape_val[1], -1);
    assert_int_equal(reshape->out[0]->t.rank, 2);
    assert_int_equal(reshape->out[0]->t.dims[1], 12);
}

static void infers_dynamic_shape_when_value_unknown(void **state)
{
    fixture *f = *state;
    static const int64_t d[] = {2, 6}, sd[] = {2};
    ir_value *x = input(f->g, "x", 2, d);
    ir_value *s = ir_value_new(f->g, "shape", DP_INT64);
    s->t.rank = 1;
    s->t.dims[0] = 2;
    ir_graph_add_input(f->g, s);
    (void)sd;
    ir_value *in[] = {x, s};
    ir_node *r = node(f->g, "Reshape", "y", 2, in);
    ir_graph_add_output(f->g, r->out[0]);
    assert_int_equal(pass_infer_shapes(f->g, &f->err), DP_OK);
    assert_int_equal(r->out[0]->t.rank, -1);
    assert_int_equal(r->out[0]->t.dtype, DP_FLOAT);
}

static void eliminates_dead_nodes_and_identities(void **state)
{
    fixture *f = *state;
    static const int64_t d[] = {4};
    ir_value *x = input(f->g, "x", 1, d);
    ir_node *id = node(f->g, "Identity", "i", 1, &x);
    ir_node *used = node(f->g, "Relu", "y", 1, &id->out[0]);
    node(f->g, "Neg", "unused", 1, &x);
    ir_graph_add_output(f->g, used->out[0]);
    assert_int_equal(pass_eliminate_dead(f->g, &f->err), DP_OK);
    assert_int_equal(f->g->n_nodes, 1);
    assert_ptr_equal(f->g->nodes[0], used);
    assert_ptr_equal(used->in[0], x);
}

/* y = relu(relu(relu(relu(x)))): four 4 KiB activations, at most two live at once. */
static void plans_memory_with_reuse(void **state)
{
    fixture *f = *state;
    static const int64_t d[] = {1024};
    ir_value *v = input(f->g, "x", 1, d);
    const char *names[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++)
        v = node(f->g, "Relu", names[i], 1, &v)->out[0];
    ir_graph_add_output(f->g, v);
    assert_int_equal(pass_infer_shapes(f->g, &f->err), DP_OK);
    dpc_plan plan;
    assert_int_equal(pass_plan_memory(f->g, f->g->mem, &plan, &f->err), DP_OK);
    assert_int_equal(plan.naive_bytes, 4 * 4096);
    assert_int_equal(plan.arena_bytes, 2 * 4096);
    for (int i = 0; i < 3; i++) {
        uint64_t in = plan.offset[f->g->nodes[i]->out[0]->index];
        uint64_t out = plan.offset[f->g->nodes[i + 1]->out[0]->index];
        assert_true(in != out);
    }
}

/* A 1x64x56x56 input through a 3x3 conv to 128 channels: fan-in 64*9 = 576 > 128 columns. */
static void partitions_conv_and_matmul(void **state)
{
    fixture *f = *state;
    static const int64_t xd[] = {1, 64, 56, 56}, wd[] = {128, 64, 3, 3}, ad[] = {1, 8, 16},
                         bd[] = {1, 16, 8};
    ir_value *x = input(f->g, "x", 4, xd);
    ir_value *cin[] = {x, constant_f32(f->g, "w", 4, wd)};
    ir_node *conv = node(f->g, "Conv", "conv", 2, cin);
    conv->attrs = dp_arena_calloc(f->g->mem, 1, sizeof(dp_attr));
    static const int64_t pads[] = {1, 1, 1, 1};
    conv->attrs[0] = (dp_attr){.name = "pads", .kind = DP_ATTR_INTS, .n = 4, .ints = pads};
    conv->n_attrs = 1;
    ir_value *a = input(f->g, "a", 3, ad), *b = input(f->g, "b", 3, bd);
    ir_value *min[] = {a, b};
    ir_node *mm = node(f->g, "MatMul", "attn", 2, min);
    ir_graph_add_output(f->g, conv->out[0]);
    ir_graph_add_output(f->g, mm->out[0]);
    assert_int_equal(pass_infer_shapes(f->g, &f->err), DP_OK);
    dp_device core = {.rows = 128, .cols = 128, .dac_bits = 8, .weight_bits = 8, .adc_bits = 8};
    assert_int_equal(pass_partition_analog(f->g, &core, &f->err), DP_OK);
    const dp_mvm *m = conv->mvm;
    assert_non_null(m);
    assert_int_equal(m->fan_in, 576);
    assert_int_equal(m->outputs, 128);
    assert_int_equal(m->col_tiles, 5);
    assert_int_equal(m->row_tiles, 1);
    assert_int_equal(m->macs, (int64_t)128 * 56 * 56 * 576);
    assert_int_equal(m->weight_input, 1);
    assert_non_null(mm->mvm);
    assert_int_equal(mm->mvm->weight_input, -1); /* activation x activation */
    assert_int_equal(mm->mvm->macs, 8 * 8 * 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(toposort_orders_and_keeps_valid_order, setup, teardown),
        cmocka_unit_test_setup_teardown(toposort_reports_a_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(folds_shape_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(infers_dynamic_shape_when_value_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(eliminates_dead_nodes_and_identities, setup, teardown),
        cmocka_unit_test_setup_teardown(plans_memory_with_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(partitions_conv_and_matmul, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
