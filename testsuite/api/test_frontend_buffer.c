/*
 * test_frontend_buffer.c: dpc_load_onnx_buffer, the frontend entry point behind
 * dpcc_compile_buffer: a model in memory parses as from a file, and its external data is
 * refused without a base folder, read inside one, and confined to it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "frontend.h"
#include "onnx_builder.h"

static const int64_t dims_2x3[] = {2, 3};

/* y = Relu(x) + w, with w's six floats in DIR/location. */
static void external_model(tb_model *m, const char *location)
{
    tb_init(m, 13);
    tb_input(m, "x", 1, 2, dims_2x3);
    const char *relu_in[] = {"x"}, *relu_out[] = {"r"}, *add_in[] = {"r", "w"}, *add_out[] = {"y"};
    tb_node(m, "Relu", 1, relu_in, 1, relu_out);
    Onnx__TensorProto *t = tb_init_f32(m, "w", 2, dims_2x3, NULL, 0);
    t->has_raw_data = 0;
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->external_data = tb_new(m, sizeof(void *));
    Onnx__StringStringEntryProto *e = tb_new(m, sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = "location";
    e->value = (char *)location;
    t->external_data[t->n_external_data++] = e;
    tb_node(m, "Add", 2, add_in, 1, add_out);
    tb_output(m, "y");
    char path[128];
    snprintf(path, sizeof path, "%s/w.bin", m->dir);
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 6; i++) {
        float v = (float)i;
        fwrite(&v, sizeof v, 1, f);
    }
    fclose(f);
}

static dp_status load_buffer(tb_model *m, const char *base_dir, dp_error *err, ir_graph **g)
{
    size_t len = onnx__model_proto__get_packed_size(&m->model);
    uint8_t *buf = malloc(len + 1);
    onnx__model_proto__pack(&m->model, buf);
    dp_arena mem;
    dp_arena_init(&mem, 0);
    dpc_model *model = NULL;
    dp_status st = dpc_load_onnx_buffer(buf, len, "test model", base_dir, NULL, &mem, &model, g,
                                        err);
    free(buf); /* the buffer is the caller's: the model must not need it any more */
    if (st == DP_OK) {
        const float *w = (*g)->nodes[1]->in[1]->t.data;
        assert_true(w[0] == 0.0f && w[5] == 5.0f);
    }
    dpc_model_release(model);
    dp_arena_free(&mem);
    return st;
}

static void reads_external_data_in_the_base_folder(void **state)
{
    tb_model m;
    ir_graph *g;
    dp_error err = {0};
    external_model(&m, "w.bin");
    assert_int_equal(load_buffer(&m, m.dir, &err, &g), DP_OK);
    tb_free(&m);
}

static void refuses_external_data_without_a_base_folder(void **state)
{
    tb_model m;
    ir_graph *g;
    dp_error err = {0};
    external_model(&m, "w.bin");
    assert_int_equal(load_buffer(&m, NULL, &err, &g), DP_EINPUT);
    assert_non_null(strstr(err.msg, "without a base folder"));
    tb_free(&m);
}

static void confines_external_data_to_the_base_folder(void **state)
{
    tb_model m;
    ir_graph *g;
    dp_error err = {0};
    external_model(&m, "../w.bin");
    assert_int_equal(load_buffer(&m, m.dir, &err, &g), DP_EINPUT);
    assert_non_null(strstr(err.msg, "leaves the model's folder"));
    tb_free(&m);
}

static void refuses_garbage_and_a_missing_base_folder(void **state)
{
    dp_error err = {0};
    dp_arena mem;
    dp_arena_init(&mem, 0);
    dpc_model *model;
    ir_graph *g;
    static const char junk[] = "\xff\xff\xff\xff not a protobuf";
    assert_int_equal(dpc_load_onnx_buffer(junk, sizeof junk, NULL, NULL, NULL, &mem, &model, &g,
                                          &err), DP_EINPUT);
    assert_non_null(strstr(err.msg, "(model in memory)"));
    dp_error_clear(&err);
    assert_int_equal(dpc_load_onnx_buffer(junk, sizeof junk, "m", "/no/such/folder", NULL, &mem,
                                          &model, &g, &err), DP_EIO);
    dp_arena_free(&mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_external_data_in_the_base_folder),
        cmocka_unit_test(refuses_external_data_without_a_base_folder),
        cmocka_unit_test(confines_external_data_to_the_base_folder),
        cmocka_unit_test(refuses_garbage_and_a_missing_base_folder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
