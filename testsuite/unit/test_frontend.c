/* test_frontend.c: loading ONNX models, and every kind of bad model the frontend must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "frontend.h"
#include "passes.h"
#include "onnx_builder.h"

static const int64_t dims_2x3[] = {2, 3};

static dp_status load(const char *path, dp_error *err, ir_graph **g, dp_arena *mem, dpc_model **model)
{
    dp_arena_init(mem, 0);
    return dpc_load_onnx(path, NULL, mem, model, g, err);
}

static void expect_failure(tb_model *m, dp_status want, const char *needle)
{
    dp_error err = {0};
    dp_arena mem;
    dpc_model *model;
    ir_graph *g;
    dp_status st = load(tb_write(m), &err, &g, &mem, &model);
    if (st != want || !strstr(err.msg, needle))
        fail_msg("status %d (want %d), message '%s' (want '%s')", st, want, err.msg, needle);
    dp_arena_free(&mem);
    tb_free(m);
}

static void relu_model(tb_model *m)
{
    tb_init(m, 13);
    tb_input(m, "x", 1, 2, dims_2x3);
    const char *in[] = {"x"}, *out[] = {"y"};
    tb_node(m, "Relu", 1, in, 1, out);
    tb_output(m, "y");
}

static void loads_a_valid_model(void **state)
{
    tb_model m;
    relu_model(&m);
    dp_error err = {0};
    dp_arena mem;
    dpc_model *model;
    ir_graph *g;
    assert_int_equal(load(tb_write(&m), &err, &g, &mem, &model), DP_OK);
    assert_int_equal(g->n_nodes, 1);
    assert_int_equal(g->opset, 13);
    assert_int_equal(g->n_inputs, 1);
    assert_int_equal(g->inputs[0]->t.rank, 2);
    assert_int_equal(g->inputs[0]->t.dims[1], 3);
    assert_string_equal(g->nodes[0]->op, "Relu");
    dpc_model_release(model);
    dp_arena_free(&mem);
    tb_free(&m);
}

static void refuses_truncated_protobuf(void **state)
{
    tb_model m;
    relu_model(&m);
    const char *path = tb_write(&m);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size - 3), 0);
    dp_error err = {0};
    dp_arena mem;
    dpc_model *model;
    ir_graph *g;
    assert_int_equal(load(path, &err, &g, &mem, &model), DP_EINPUT);
    assert_non_null(strstr(err.msg, "truncated or corrupted"));
    assert_non_null(strstr(err.msg, path));
    dp_arena_free(&mem);
    tb_free(&m);
}

static void refuses_a_cycle(void **state)
{
    tb_model m;
    tb_init(&m, 13);
    tb_input(&m, "x", 1, 2, dims_2x3);
    const char *a_in[] = {"x", "b"}, *a_out[] = {"a"}, *b_in[] = {"a"}, *b_out[] = {"b"};
    tb_node(&m, "Add", 2, a_in, 1, a_out);
    tb_node(&m, "Relu", 1, b_in, 1, b_out);
    tb_output(&m, "b");
    expect_failure(&m, DP_EINPUT, "cycle");
}

static void refuses_a_missing_input(void **state)
{
    tb_model m;
    tb_init(&m, 13);
    tb_input(&m, "x", 1, 2, dims_2x3);
    const char *in[] = {"x", "w"}, *out[] = {"y"};
    tb_node(&m, "Add", 2, in, 1, out);
    tb_output(&m, "y");
    expect_failure(&m, DP_EINPUT, "input 'w' is not produced");
}

static void refuses_an_unknown_op(void **state)
{
    tb_model m;
    tb_init(&m, 13);
    tb_input(&m, "x", 1, 2, dims_2x3);
    const char *in[] = {"x"}, *out[] = {"y"};
    tb_node(&m, "Frobnicate", 1, in, 1, out);
    tb_output(&m, "y");
    expect_failure(&m, DP_EUNSUPPORTED, "1 op is not supported: 'Frobnicate'");
}

static void refuses_unknown_and_string_dtypes(void **state)
{
    tb_model m;
    relu_model(&m);
    m.inputs[0]->type->tensor_type->elem_type = 8;
    expect_failure(&m, DP_EUNSUPPORTED, "data type string");
    relu_model(&m);
    m.inputs[0]->type->tensor_type->elem_type = 99;
    expect_failure(&m, DP_EUNSUPPORTED, "(99)");
}

static void refuses_an_overflowing_shape(void **state)
{
    tb_model m;
    static const int64_t huge[] = {(int64_t)1 << 40, (int64_t)1 << 40};
    tb_init(&m, 13);
    tb_input(&m, "x", 1, 2, huge);
    const char *in[] = {"x"}, *out[] = {"y"};
    tb_node(&m, "Relu", 1, in, 1, out);
    tb_output(&m, "y");
    expect_failure(&m, DP_EINPUT, "overflows");
}

static void refuses_an_initializer_shorter_than_its_shape(void **state)
{
    tb_model m;
    relu_model(&m);
    static const float w[] = {1, 2, 3, 4, 5};
    tb_init_f32(&m, "w", 2, dims_2x3, w, 5);
    expect_failure(&m, DP_EINPUT, "initializer 'w': raw_data has 20 bytes");
}

static void refuses_a_value_defined_twice(void **state)
{
    tb_model m;
    relu_model(&m);
    const char *in[] = {"x"}, *out[] = {"y"};
    tb_node(&m, "Neg", 1, in, 1, out);
    expect_failure(&m, DP_EINPUT, "'y' is defined twice");
}

static void refuses_graph_attributes(void **state)
{
    tb_model m;
    relu_model(&m);
    tb_attr(&m, m.nodes[0], "body", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
    expect_failure(&m, DP_EUNSUPPORTED, "attribute 'body'");
}

static void refuses_other_domains(void **state)
{
    tb_model m;
    relu_model(&m);
    m.nodes[0]->domain = "com.microsoft";
    expect_failure(&m, DP_EUNSUPPORTED, "1 op is not supported: 'com.microsoft.Relu'");
}

static void refuses_opset_out_of_range(void **state)
{
    tb_model m;
    relu_model(&m);
    m.opset.version = 99;
    expect_failure(&m, DP_EUNSUPPORTED, "opset 99");
}

/* An initializer whose data lives in DIR/<location>. */
static Onnx__TensorProto *external_init(tb_model *m, const char *location, const char *offset,
                                        const char *length)
{
    Onnx__TensorProto *t = tb_init_f32(m, "w", 2, dims_2x3, NULL, 0);
    t->has_raw_data = 0;
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->external_data = tb_new(m, sizeof(void *) * 3);
    const char *keys[] = {"location", "offset", "length"}, *vals[] = {location, offset, length};
    for (int i = 0; i < 3; i++) {
        if (!vals[i])
            continue;
        Onnx__StringStringEntryProto *e = tb_new(m, sizeof *e);
        onnx__string_string_entry_proto__init(e);
        e->key = (char *)keys[i];
        e->value = (char *)vals[i];
        t->external_data[t->n_external_data++] = e;
    }
    const char *in[] = {"x", "w"}, *out[] = {"z"};
    tb_node(m, "Add", 2, in, 1, out);
    return t;
}

static void write_floats(const char *dir, const char *name, int n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < n; i++) {
        float v = (float)i;
        fwrite(&v, sizeof v, 1, f);
    }
    fclose(f);
}

static void loads_external_data_inside_the_folder(void **state)
{
    tb_model m;
    relu_model(&m);
    write_floats(m.dir, "w.bin", 8);
    external_init(&m, "w.bin", "8", "24");
    dp_error err = {0};
    dp_arena mem;
    dpc_model *model;
    ir_graph *g;
    assert_int_equal(load(tb_write(&m), &err, &g, &mem, &model), DP_OK);
    const ir_value *w = g->nodes[1]->in[1];
    assert_string_equal(w->name, "w");
    assert_true(((const float *)w->t.data)[0] == 2.0f); /* offset 8 bytes: the third float */
    assert_true(((const float *)w->t.data)[5] == 7.0f);
    dpc_model_release(model);
    dp_arena_free(&mem);
    tb_free(&m);
}

static void refuses_external_data_leaving_the_folder(void **state)
{
    tb_model m;
    relu_model(&m);
    external_init(&m, "../w.bin", NULL, NULL);
    expect_failure(&m, DP_EINPUT, "leaves the model's folder");

    relu_model(&m);
    external_init(&m, "/etc/passwd", NULL, NULL);
    expect_failure(&m, DP_EINPUT, "leaves the model's folder");

    relu_model(&m);
    char link[256];
    snprintf(link, sizeof link, "%s/link.bin", m.dir);
    assert_int_equal(symlink("/etc/passwd", link), 0);
    external_init(&m, "link.bin", NULL, NULL);
    expect_failure(&m, DP_EINPUT, "resolves outside");
}

static void refuses_external_data_out_of_bounds(void **state)
{
    tb_model m;
    relu_model(&m);
    write_floats(m.dir, "w.bin", 6);
    external_init(&m, "w.bin", "8", NULL);
    expect_failure(&m, DP_EINPUT, "exceeds the size");

    relu_model(&m);
    write_floats(m.dir, "w.bin", 6);
    external_init(&m, "w.bin", "0", "16");
    expect_failure(&m, DP_EINPUT, "disagrees with its shape");
}

/* Only a regular file is read: a FIFO (which once hung dpcc in fopen, waiting for a
 * writer), a folder ('.'), a device. Each refused at once, naming the location. */
static void refuses_external_data_that_is_not_a_regular_file(void **state)
{
    tb_model m;
    relu_model(&m);
    char fifo[256];
    snprintf(fifo, sizeof fifo, "%s/pipe.bin", m.dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    external_init(&m, "pipe.bin", NULL, NULL);
    expect_failure(&m, DP_EINPUT, "external data 'pipe.bin' is not a regular file");

    relu_model(&m);
    external_init(&m, ".", NULL, NULL);
    expect_failure(&m, DP_EINPUT, "external data '.' is not a regular file");

    relu_model(&m);
    char dev[256];
    snprintf(dev, sizeof dev, "%s/null.bin", m.dir);
    assert_int_equal(symlink("/dev/null", dev), 0);
    external_init(&m, "null.bin", NULL, NULL);
    expect_failure(&m, DP_EINPUT, "external data 'null.bin' is not a regular file");
}

static void refuses_an_attribute_of_the_wrong_type(void **state)
{
    tb_model m;
    tb_init(&m, 13);
    tb_input(&m, "x", 1, 2, dims_2x3);
    const char *in[] = {"x"}, *out[] = {"y"};
    Onnx__NodeProto *n = tb_node(&m, "Flatten", 1, in, 1, out);
    n->name = (char *)"flat";
    tb_attr(&m, n, "axis", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT)->f = 1;
    tb_output(&m, "y");
    dp_error err = {0};
    dp_arena mem;
    dpc_model *model;
    ir_graph *g;
    assert_int_equal(load(tb_write(&m), &err, &g, &mem, &model), DP_OK);
    assert_int_equal(pass_infer_shapes(g, &err), DP_EINPUT);
    assert_non_null(strstr(err.msg, "Flatten node 'flat'"));
    assert_non_null(strstr(err.msg, "attribute 'axis' has the wrong type"));
    dpc_model_release(model);
    dp_arena_free(&mem);
    tb_free(&m);
}

/* protobuf-c leaves an empty or absent bytes field NULL: a string attribute with no value
 * (found by fuzz_onnx) must load as "", not reach memchr with a NULL pointer. */
static void loads_empty_string_attributes(void **state)
{
    tb_model m;
    relu_model(&m);
    tb_attr(&m, m.nodes[0], "note", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    Onnx__AttributeProto *list = tb_attr(&m, m.nodes[0], "notes",
                                         ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
    list->n_strings = 1;
    list->strings = tb_new(&m, sizeof *list->strings);
    dp_error err = {0};
    dp_arena mem;
    dpc_model *model;
    ir_graph *g;
    assert_int_equal(load(tb_write(&m), &err, &g, &mem, &model), DP_OK);
    assert_int_equal(g->nodes[0]->n_attrs, 2);
    assert_string_equal(g->nodes[0]->attrs[0].s, "");
    assert_int_equal(g->nodes[0]->attrs[1].n, 1);
    assert_string_equal(g->nodes[0]->attrs[1].strings[0], "");
    dpc_model_release(model);
    dp_arena_free(&mem);
    tb_free(&m);
}

/* A Constant is folded at load with room for no inputs and one output; one with other
 * operands (found by fuzz_onnx) is refused rather than overrunning that room. */
static void refuses_a_constant_with_operands(void **state)
{
    static const float v[6] = {0};
    tb_model m;
    relu_model(&m);
    const char *in[] = {"x"}, *out[] = {"c"};
    Onnx__NodeProto *n = tb_node(&m, "Constant", 1, in, 1, out);
    n->name = (char *)"k";
    tb_attr(&m, n, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR)->t
        = tb_init_f32(&m, "", 2, dims_2x3, v, 6);
    m.graph.n_initializer = 0; /* the tensor is the attribute's, not an initializer */
    tb_output(&m, "c");
    expect_failure(&m, DP_EINPUT, "Constant node 'k' has 1 inputs and 1 outputs");

    relu_model(&m);
    const char *outs[] = {"c", "d"};
    n = tb_node(&m, "Constant", 0, NULL, 2, outs);
    n->name = (char *)"k";
    tb_attr(&m, n, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR)->t
        = tb_init_f32(&m, "", 2, dims_2x3, v, 6);
    m.graph.n_initializer = 0;
    tb_output(&m, "c");
    expect_failure(&m, DP_EINPUT, "Constant node 'k' has 0 inputs and 2 outputs");
}

static void binds_symbolic_leading_dimension(void **state)
{
    tb_model m;
    relu_model(&m);
    Onnx__TensorShapeProto__Dimension *d = m.inputs[0]->type->tensor_type->shape->dim[0];
    d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    d->dim_param = "batch";
    dp_error err = {0};
    dp_arena mem;
    dpc_model *model;
    ir_graph *g;
    assert_int_equal(load(tb_write(&m), &err, &g, &mem, &model), DP_OK);
    assert_int_equal(g->inputs[0]->t.dims[0], 1);
    dpc_model_release(model);
    dp_arena_free(&mem);

    dpc_shape_binding b;
    dp_arena_init(&mem, 0);
    assert_int_equal(dpc_parse_binding("x=8x3", &mem, &b, &err), DP_OK);
    dpc_frontend_opts opts = {.bindings = &b, .n_bindings = 1};
    assert_int_equal(dpc_load_onnx(tb_write(&m), &opts, &mem, &model, &g, &err), DP_OK);
    assert_int_equal(g->inputs[0]->t.dims[0], 8);
    dpc_model_release(model);
    assert_int_equal(dpc_parse_binding("x=8xq", &mem, &b, &err), DP_EUSAGE);
    dp_arena_free(&mem);
    tb_free(&m);
}

/* The analog stage's batched lowering: a symbolic batch takes the batch given, over a
 * binding's leading dimension too; a model that fixes its batch is refused. */
static void binds_a_batch_only_where_it_is_symbolic(void **state)
{
    tb_model m;
    relu_model(&m);
    dp_error err = {0};
    dp_arena mem;
    dpc_model *model;
    ir_graph *g;
    dp_arena_init(&mem, 0);
    dpc_frontend_opts opts = {.batch = 16};
    assert_int_equal(dpc_load_onnx(tb_write(&m), &opts, &mem, &model, &g, &err),
                     DP_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "input 'x' has no symbolic batch dimension"));
    Onnx__TensorShapeProto__Dimension *d = m.inputs[0]->type->tensor_type->shape->dim[0];
    d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    d->dim_param = "batch";
    assert_int_equal(dpc_load_onnx(tb_write(&m), &opts, &mem, &model, &g, &err), DP_OK);
    assert_int_equal(g->inputs[0]->t.dims[0], 16);
    assert_int_equal(g->inputs[0]->t.dims[1], 3);
    dpc_model_release(model);
    dpc_shape_binding b;
    assert_int_equal(dpc_parse_binding("x=1x3", &mem, &b, &err), DP_OK);
    opts.bindings = &b;
    opts.n_bindings = 1;
    assert_int_equal(dpc_load_onnx(tb_write(&m), &opts, &mem, &model, &g, &err), DP_OK);
    assert_int_equal(g->inputs[0]->t.dims[0], 16);
    dpc_model_release(model);
    dp_arena_free(&mem);
    tb_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_a_valid_model),
        cmocka_unit_test(refuses_truncated_protobuf),
        cmocka_unit_test(refuses_a_cycle),
        cmocka_unit_test(refuses_a_missing_input),
        cmocka_unit_test(refuses_an_unknown_op),
        cmocka_unit_test(refuses_unknown_and_string_dtypes),
        cmocka_unit_test(refuses_an_overflowing_shape),
        cmocka_unit_test(refuses_an_initializer_shorter_than_its_shape),
        cmocka_unit_test(refuses_a_value_defined_twice),
        cmocka_unit_test(refuses_graph_attributes),
        cmocka_unit_test(refuses_other_domains),
        cmocka_unit_test(refuses_opset_out_of_range),
        cmocka_unit_test(loads_external_data_inside_the_folder),
        cmocka_unit_test(refuses_external_data_leaving_the_folder),
        cmocka_unit_test(refuses_external_data_out_of_bounds),
        cmocka_unit_test(refuses_external_data_that_is_not_a_regular_file),
        cmocka_unit_test(refuses_an_attribute_of_the_wrong_type),
        cmocka_unit_test(loads_empty_string_attributes),
        cmocka_unit_test(refuses_a_constant_with_operands),
        cmocka_unit_test(binds_symbolic_leading_dimension),
        cmocka_unit_test(binds_a_batch_only_where_it_is_symbolic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
