/*
 * onnx_builder.h: building small ONNX models in tests, valid or deliberately broken.
 *
 * Each test assembles a ModelProto with these helpers, writes it to a temporary folder and
 * hands the path to the code under test, so malformed inputs (cycles, wrong attribute
 * kinds, escaping external data) need no fixture files. The model owns every piece the
 * helpers allocate (tb_new) and its folder; tb_free releases both, so that the sanitizer
 * build's leak checker sees the tests as clean.
 */
#ifndef TEST_ONNX_BUILDER_H
#define TEST_ONNX_BUILDER_H

#include "onnx.pb-c.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct tb_model {
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset;
    Onnx__OperatorSetIdProto *opsets[1];
    Onnx__NodeProto *nodes[32];
    Onnx__TensorProto *inits[32];
    Onnx__ValueInfoProto *inputs[8], *outputs[8];
    char dir[64];
    void **allocs;        /* what tb_new handed out for this model */
    size_t n_allocs, cap_allocs;
} tb_model;

static void *tb_new(tb_model *m, size_t n)
{
    if (m->n_allocs == m->cap_allocs) {
        m->cap_allocs = m->cap_allocs ? 2 * m->cap_allocs : 64;
        m->allocs = realloc(m->allocs, sizeof(void *) * m->cap_allocs);
        if (!m->allocs)
            abort();
    }
    void *p = calloc(1, n);
    if (!p)
        abort();
    m->allocs[m->n_allocs++] = p;
    return p;
}

/* Frees what the model allocated and removes its folder (flat: the model and the files a
 * test put beside it). */
static void tb_free(tb_model *m)
{
    for (size_t i = 0; i < m->n_allocs; i++)
        free(m->allocs[i]);
    free(m->allocs);
    m->allocs = NULL;
    m->n_allocs = m->cap_allocs = 0;
    DIR *d = opendir(m->dir);
    if (d) {
        struct dirent *e;
        char path[sizeof m->dir + 256];
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                snprintf(path, sizeof path, "%s/%s", m->dir, e->d_name);
                unlink(path);
            }
        closedir(d);
        rmdir(m->dir);
    }
}

static char **tb_names(tb_model *m, int n, const char *const *names)
{
    char **v = tb_new(m, sizeof(char *) * (size_t)(n + 1));
    for (int i = 0; i < n; i++)
        v[i] = (char *)names[i];
    return v;
}

static void tb_init(tb_model *m, int opset)
{
    memset(m, 0, sizeof *m);
    onnx__model_proto__init(&m->model);
    onnx__graph_proto__init(&m->graph);
    onnx__operator_set_id_proto__init(&m->opset);
    m->opset.domain = "";
    m->opset.has_version = 1;
    m->opset.version = opset;
    m->opsets[0] = &m->opset;
    m->model.has_ir_version = 1;
    m->model.ir_version = 8;
    m->model.n_opset_import = 1;
    m->model.opset_import = m->opsets;
    m->model.graph = &m->graph;
    m->graph.name = "test";
    m->graph.node = m->nodes;
    m->graph.initializer = m->inits;
    m->graph.input = m->inputs;
    m->graph.output = m->outputs;
    snprintf(m->dir, sizeof m->dir, "/tmp/dpcc-test-XXXXXX");
    if (!mkdtemp(m->dir))
        abort();
}

static Onnx__ValueInfoProto *tb_value(tb_model *m, const char *name, int elem, int rank, const int64_t *dims)
{
    Onnx__ValueInfoProto *vi = tb_new(m, sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = (char *)name;
    Onnx__TypeProto *tp = tb_new(m, sizeof *tp);
    onnx__type_proto__init(tp);
    Onnx__TypeProto__Tensor *tt = tb_new(m, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = elem;
    if (rank >= 0) {
        Onnx__TensorShapeProto *sp = tb_new(m, sizeof *sp);
        onnx__tensor_shape_proto__init(sp);
        sp->n_dim = (size_t)rank;
        sp->dim = tb_new(m, sizeof(void *) * (size_t)(rank + 1));
        for (int i = 0; i < rank; i++) {
            Onnx__TensorShapeProto__Dimension *d = tb_new(m, sizeof *d);
            onnx__tensor_shape_proto__dimension__init(d);
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
            sp->dim[i] = d;
        }
        tt->shape = sp;
    }
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    return vi;
}

static void tb_input(tb_model *m, const char *name, int elem, int rank, const int64_t *dims)
{
    m->inputs[m->graph.n_input++] = tb_value(m, name, elem, rank, dims);
}

static void tb_output(tb_model *m, const char *name)
{
    m->outputs[m->graph.n_output++] = tb_value(m, name, 1, -1, NULL);
}

static Onnx__NodeProto *tb_node(tb_model *m, const char *op, int n_in, const char *const *in,
                                int n_out, const char *const *out)
{
    Onnx__NodeProto *n = tb_new(m, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = (char *)op;
    n->name = (char *)op;
    n->n_input = (size_t)n_in;
    n->input = tb_names(m, n_in, in);
    n->n_output = (size_t)n_out;
    n->output = tb_names(m, n_out, out);
    n->attribute = tb_new(m, sizeof(void *) * 8);
    m->nodes[m->graph.n_node++] = n;
    return n;
}

static Onnx__AttributeProto *tb_attr(tb_model *m, Onnx__NodeProto *n, const char *name, int type)
{
    Onnx__AttributeProto *a = tb_new(m, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

/* A float initializer with the given values in raw_data. */
static Onnx__TensorProto *tb_init_f32(tb_model *m, const char *name, int rank, const int64_t *dims,
                                      const float *vals, size_t n)
{
    Onnx__TensorProto *t = tb_new(m, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->has_data_type = 1;
    t->data_type = 1;
    t->n_dims = (size_t)rank;
    t->dims = (int64_t *)dims;
    t->has_raw_data = 1;
    t->raw_data.len = n * sizeof(float);
    t->raw_data.data = (uint8_t *)vals;
    m->inits[m->graph.n_initializer++] = t;
    return t;
}

/* Writes the model as DIR/model.onnx and returns that path (static storage). */
static const char *tb_write(tb_model *m)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/model.onnx", m->dir);
    size_t len = onnx__model_proto__get_packed_size(&m->model);
    uint8_t *buf = malloc(len + 1);
    if (!buf)
        abort();
    onnx__model_proto__pack(&m->model, buf);
    FILE *f = fopen(path, "wb");
    fwrite(buf, 1, len, f);
    fclose(f);
    free(buf);
    return path;
}

#endif
