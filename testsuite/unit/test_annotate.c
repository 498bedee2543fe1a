/*
 * test_annotate.c: the schedule in ONNX metadata (compiler/driver/annotate.c): parsing a schedule
 * and refusing bad ones, matching it to a program's analog instructions by node name, and
 * an annotated model read back, its graph untouched and earlier dpcc keys replaced.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "annotate.h"
#include "onnx_builder.h"

#include <string.h>

static dp_status parse(const char *text, dp_arena *mem, dpc_given_schedule *s, dp_error *err)
{
    dp_error_clear(err);
    return dpc_schedule_parse(text, strlen(text), "test", mem, s, err);
}

static void parses_the_report_schema(void **state)
{
    dp_arena mem;
    dp_arena_init(&mem, 0);
    dp_error err = {0};
    dpc_given_schedule s;
    assert_int_equal(parse("{\"schema_version\": 1, \"layers\": [{\"name\": \"a\", \"op\": "
                           "\"Conv\", \"repetitions\": 8}, {\"name\": \"b\", \"repetitions\": 1, "
                           "\"sensitivity\": null}]}", &mem, &s, &err), DP_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.entries[0].name, "a");
    assert_int_equal(s.entries[0].repetitions, 8);
    assert_string_equal(s.entries[1].name, "b");
    assert_int_equal(s.entries[1].repetitions, 1);
    /* reports written before schema_version existed are read too */
    assert_int_equal(parse("{\"layers\": []}", &mem, &s, &err), DP_OK);
    assert_int_equal(s.n, 0);
    dp_arena_free(&mem);
}

static void refuses_bad_schedules(void **state)
{
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"not json", "not a JSON object"},
        {"[1, 2]", "not a JSON object"},
        {"{\"schema_version\": 2, \"layers\": []}", "schema_version 2"},
        {"{\"schema_version\": \"1\", \"layers\": []}", "schema_version is not a number"},
        {"{\"layers\": {}}", "no \"layers\" array"},
        {"{\"layers\": [{\"repetitions\": 2}]}", "layer 0: no node name"},
        {"{\"layers\": [{\"name\": \"\", \"repetitions\": 2}]}", "layer 0: no node name"},
        {"{\"layers\": [{\"name\": \"c\"}]}", "(node 'c'): no \"repetitions\""},
        {"{\"layers\": [{\"name\": \"c\", \"repetitions\": \"8\"}]}", "(node 'c'): no"},
        {"{\"layers\": [{\"name\": \"a\", \"repetitions\": 1}, {\"name\": \"c\", "
         "\"repetitions\": 0}]}", "layer 1 (node 'c'): repetitions must be"},
        {"{\"layers\": [{\"name\": \"c\", \"repetitions\": 2.5}]}", "whole number"},
        {"{\"layers\": [{\"name\": \"c\", \"repetitions\": 1e12}]}", "whole number"},
    };
    dp_arena mem;
    dp_arena_init(&mem, 0);
    dp_error err = {0};
    dpc_given_schedule s;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(parse(cases[i].text, &mem, &s, &err), DP_EINPUT);
        if (!strstr(err.msg, cases[i].message))
            fail_msg("%s: '%s' lacks '%s'", cases[i].text, err.msg, cases[i].message);
    }
    dp_arena_free(&mem);
}

/* Three instructions, two of them analog, and a device of powers of two up to 64. */
typedef struct fixture {
    dp_program p;
    dp_instr instrs[4];
    dp_mvm mvm[2];
    dp_device d;
} fixture;

static void make_fixture(fixture *f)
{
    memset(f, 0, sizeof *f);
    f->instrs[0] = (dp_instr){.op = "Conv", .name = "conv", .mvm = &f->mvm[0]};
    f->instrs[1] = (dp_instr){.op = "Relu", .name = "relu"};
    f->instrs[2] = (dp_instr){.op = "Gemm", .name = "fc", .mvm = &f->mvm[1]};
    f->p.instrs = f->instrs;
    f->p.n_instrs = 3;
    snprintf(f->d.name, sizeof f->d.name, "dev");
    f->d.max_repetitions = 64;
    f->d.repetitions_power_of_two = true;
}

static dp_status match(fixture *f, dpc_schedule_entry *e, int n, int32_t *reps, dp_error *err)
{
    dpc_given_schedule s = {.entries = e, .n = n};
    dp_error_clear(err);
    return dpc_schedule_match(&f->p, &f->d, &s, reps, err);
}

static void matches_by_node_name(void **state)
{
    fixture f;
    make_fixture(&f);
    dp_error err = {0};
    int32_t reps[3];
    dpc_schedule_entry ok[] = {{"fc", 64}, {"conv", 4}};
    assert_int_equal(match(&f, ok, 2, reps, &err), DP_OK);
    assert_int_equal(reps[0], 4);
    assert_int_equal(reps[1], 0);
    assert_int_equal(reps[2], 64);

    static const struct {
        dpc_schedule_entry e[3];
        int n;
        const char *message;
    } bad[] = {
        {{{"conv", 4}, {"fc", 2}, {"nope", 2}}, 3, "node 'nope' is not an analog layer"},
        {{{"conv", 4}, {"relu", 2}, {"fc", 2}}, 3, "node 'relu' (Relu) is not an analog"},
        {{{"conv", 4}}, 1, "analog layer 'fc' (Gemm) has no repetitions"},
        {{{"conv", 4}, {"fc", 2}, {"conv", 2}}, 3, "node 'conv' is given twice"},
        {{{"conv", 3}, {"fc", 2}}, 2, "node 'conv': 3 repetitions, but device 'dev' runs 1 "
                                      "to 64, powers of two only"},
        {{{"conv", 4}, {"fc", 128}}, 2, "node 'fc': 128 repetitions"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dpc_schedule_entry e[3];
        memcpy(e, bad[i].e, sizeof e);
        assert_int_equal(match(&f, e, bad[i].n, reps, &err), DP_EINPUT);
        if (!strstr(err.msg, bad[i].message))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i].message);
    }
    /* without a device only the names are checked */
    dpc_given_schedule s = {.entries = (dpc_schedule_entry[]){{"conv", 3}, {"fc", 5}}, .n = 2};
    assert_int_equal(dpc_schedule_match(&f.p, NULL, &s, reps, &err), DP_OK);
    assert_int_equal(reps[0], 3);
}

static const char *metadata(const Onnx__ModelProto *m, const char *key, int *count)
{
    const char *v = NULL;
    *count = 0;
    for (size_t i = 0; i < m->n_metadata_props; i++)
        if (strcmp(m->metadata_props[i]->key, key) == 0) {
            v = m->metadata_props[i]->value;
            (*count)++;
        }
    return v;
}

static Onnx__ModelProto *load(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, buf);
    assert_non_null(m);
    return m;
}

static void annotated_model_reads_back(void **state)
{
    tb_model m;
    tb_init(&m, 13);
    static const char *const in[] = {"x", "w"}, *const out[] = {"y"};
    static const int64_t dims[] = {2, 2};
    static const float w[] = {1, 2, 3, 4};
    tb_input(&m, "x", 1, 2, dims);
    tb_init_f32(&m, "w", 2, dims, w, 4);
    Onnx__NodeProto *mm = tb_node(&m, "MatMul", 2, in, 1, out);
    mm->doc_string = "kept";
    /* not a MatMul attribute: annotation passes whatever a node holds through unread */
    Onnx__AttributeProto *at = tb_attr(&m, mm, "kept", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    at->has_i = 1;
    at->i = 3;
    tb_output(&m, "y");
    /* a key of the user's stays; a stale dpcc key goes */
    Onnx__StringStringEntryProto own = ONNX__STRING_STRING_ENTRY_PROTO__INIT,
                                 stale = ONNX__STRING_STRING_ENTRY_PROTO__INIT;
    own.key = "author";
    own.value = "me";
    stale.key = "dpcc.node:old";
    stale.value = "{}";
    Onnx__StringStringEntryProto *props[] = {&own, &stale};
    m.model.metadata_props = props;
    m.model.n_metadata_props = 2;
    const char *src = tb_write(&m);
    char src_path[128], ann[160];
    snprintf(src_path, sizeof src_path, "%s", src);
    snprintf(ann, sizeof ann, "%s/annotated.onnx", m.dir);

    dp_error err = {0};
    const char *report = "{\"schema_version\": 1, \"layers\": [{\"name\": \"MatMul\", \"op\": "
                         "\"MatMul\", \"repetitions\": 16, \"effective_bits\": 6.5, "
                         "\"energy_j\": 1e-9, \"sensitivity\": 0.25, \"macs\": 8}]}";
    assert_int_equal(dpc_annotate_onnx(src_path, NULL, 0, ann, report, &err), DP_OK);

    Onnx__ModelProto *a = load(ann), *o = load(src_path);
    /* the graph is written back as it was */
    size_t na = onnx__graph_proto__get_packed_size(a->graph);
    size_t no = onnx__graph_proto__get_packed_size(o->graph);
    assert_int_equal(na, no);
    uint8_t *ba = malloc(na), *bo = malloc(no);
    onnx__graph_proto__pack(a->graph, ba);
    onnx__graph_proto__pack(o->graph, bo);
    assert_memory_equal(ba, bo, na);
    free(ba);
    free(bo);
    int count;
    assert_string_equal(metadata(a, "author", &count), "me");
    assert_null(metadata(a, "dpcc.node:old", &count));
    assert_non_null(metadata(a, DPC_SCHEDULE_KEY, &count));
    assert_int_equal(count, 1);
    const char *node = metadata(a, DPC_NODE_KEY_PREFIX "MatMul", &count);
    assert_non_null(node);
    assert_non_null(strstr(node, "\"repetitions\":16"));
    assert_non_null(strstr(node, "\"effective_bits\":6.5"));
    assert_null(strstr(node, "macs"));
    onnx__model_proto__free_unpacked(a, NULL);
    onnx__model_proto__free_unpacked(o, NULL);

    dp_arena mem;
    dp_arena_init(&mem, 0);
    dpc_given_schedule s;
    assert_int_equal(dpc_schedule_read(NULL, ann, &mem, &s, &err), DP_OK);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.entries[0].name, "MatMul");
    assert_int_equal(s.entries[0].repetitions, 16);
    /* the unannotated model has no schedule to give */
    assert_int_equal(dpc_schedule_read(NULL, src_path, &mem, &s, &err), DP_EINPUT);
    assert_non_null(strstr(err.msg, "no dpcc.schedule metadata"));

    /* a model with no analog layers gets an empty schedule; a re-annotation no duplicates */
    assert_int_equal(dpc_annotate_onnx(ann, NULL, 0, ann, NULL, &err), DP_OK);
    a = load(ann);
    assert_non_null(metadata(a, DPC_SCHEDULE_KEY, &count));
    assert_int_equal(count, 1);
    assert_null(metadata(a, DPC_NODE_KEY_PREFIX "MatMul", &count));
    onnx__model_proto__free_unpacked(a, NULL);
    assert_int_equal(dpc_schedule_read(NULL, ann, &mem, &s, &err), DP_OK);
    assert_int_equal(s.n, 0);
    dp_arena_free(&mem);
    tb_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_the_report_schema),
        cmocka_unit_test(refuses_bad_schedules),
        cmocka_unit_test(matches_by_node_name),
        cmocka_unit_test(annotated_model_reads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
