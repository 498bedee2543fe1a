/*
 * frontend.c: ONNX model files into the graph IR.
 *
 * The model is unpacked with protobuf-c from the system's onnx.proto. Everything in it is
 * untrusted: names, counts, dims, attribute kinds and external-data paths are checked here,
 * and each failure names the file, the node or tensor, and what was expected.
 */
#include "frontend.h"
#include "op_versions.h"

#include "kernel_util.h"
#include "onnx_tensor.h"
#include "tensor_io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Protobuf messages nested deeper than this (graphs in attributes, types in types) are
 * refused: protobuf-c unpacks recursively with no limit of its own. Real models nest a few
 * levels per subgraph, so this allows some 30 levels of If/Loop bodies. */
#define MAX_NESTING 100
/* Graph size: nodes, values and node operands together. The IR counts them in ints, and the
 * largest real models have well under a million of each. */
#define MAX_GRAPH_ITEMS ((size_t)1 << 26)
/* Values in one list attribute (ints, floats, strings): real ones hold a few (pads, perm,
 * axes); a large constant comes as a tensor. */
#define MAX_ATTR_VALUES ((size_t)1 << 20)

struct dpc_model {
    Onnx__ModelProto *proto;
    char *dir;                    /* the model's folder, real path, for external data */
    void **external;              /* buffers holding external data */
    int n_external;
};

/* A name -> value table for resolving node inputs; open addressing. */
typedef struct name_table {
    ir_value **slots;
    size_t cap;
} name_table;

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static ir_value **table_slot(name_table *t, const char *name)
{
    size_t i = hash_name(name) & (t->cap - 1);
    while (t->slots[i] && strcmp(t->slots[i]->name, name) != 0)
        i = (i + 1) & (t->cap - 1);
    return &t->slots[i];
}

typedef struct loader {
    const char *path;
    ir_graph *g;
    dpc_model *model;
    const dpc_frontend_opts *opts;
    name_table names;
    dp_error *err;
} loader;

static dp_status oom(loader *L)
{
    return dp_fail(L->err, DP_ENOMEM, "%s: out of memory", L->path);
}

static dp_status check_name(loader *L, const char *name, const char *what)
{
    if (!name)
        return DP_OK;
    size_t n = strnlen(name, DP_MAX_NAME + 1);
    if (n > DP_MAX_NAME)
        return dp_fail(L->err, DP_EINPUT, "%s: %s name is longer than %d bytes", L->path, what,
                       DP_MAX_NAME);
    return DP_OK;
}

/*
 * External data: the location must be a relative path that stays inside the model's folder
 * after resolving symlinks, and offset + length must lie within the file.
 */

/* Where a tensor's external data is: its location, offset and length (-1: not given). */
typedef struct external_ref {
    const char *location;
    int64_t offset, length;
} external_ref;

static dp_status parse_external_keys(loader *L, const Onnx__TensorProto *tp, const char *what,
                                     external_ref *ref)
{
    *ref = (external_ref){NULL, 0, -1};
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const char *k = tp->external_data[i]->key, *v = tp->external_data[i]->value;
        if (!k || !v)
            continue;
        char *end;
        if (strcmp(k, "location") == 0) {
            ref->location = v;
        } else if (strcmp(k, "offset") == 0 || strcmp(k, "length") == 0) {
            errno = 0;
            long long x = strtoll(v, &end, 10);
            if (errno || *end || x < 0)
                return dp_fail(L->err, DP_EINPUT, "%s: %s: external data %s '%s' is not a "
                               "non-negative integer", L->path, what, k, v);
            *(strcmp(k, "offset") == 0 ? &ref->offset : &ref->length) = x;
        }
    }
    if (!ref->location || !*ref->location)
        return dp_fail(L->err, DP_EINPUT, "%s: %s: external data has no location", L->path, what);
    return DP_OK;
}

/*
 * Opens location inside the model's folder, for reading, into *out (its size in *size). It
 * must name a regular file that stays in the folder: no absolute path, no '..', no symlink
 * out. The open does not block, so that a FIFO or a device cannot hang the compiler.
 */
static dp_status open_external(loader *L, const char *location, const char *what, FILE **out,
                               off_t *size)
{
    if (!L->model->dir)
        return dp_fail(L->err, DP_EINPUT, "%s: %s: external data '%s' in a model read from "
                       "memory without a base folder", L->path, what, location);
    if (location[0] == '/' || strstr(location, "..") || strchr(location, '\\'))
        return dp_fail(L->err, DP_EINPUT, "%s: %s: external data location '%s' leaves the "
                       "model's folder (absolute paths and '..' are refused)", L->path, what,
                       location);
    char joined[PATH_MAX], real[PATH_MAX];
    if (snprintf(joined, sizeof joined, "%s/%s", L->model->dir, location) >= (int)sizeof joined)
        return dp_fail(L->err, DP_EINPUT, "%s: %s: external data path too long", L->path, what);
    if (!realpath(joined, real))
        return dp_fail(L->err, DP_EINPUT, "%s: %s: external data file '%s': %s", L->path, what,
                       location, strerror(errno));
    int fd = open(real, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return dp_fail(L->err, DP_EINPUT, "%s: %s: cannot open external data '%s': %s", L->path,
                       what, location, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return dp_fail(L->err, DP_EINPUT, "%s: %s: external data '%s' is not a regular file",
                       L->path, what, location);
    }
    size_t dl = strlen(L->model->dir);
    if (strncmp(real, L->model->dir, dl) != 0 || real[dl] != '/') {
        close(fd);
        return dp_fail(L->err, DP_EINPUT, "%s: %s: external data '%s' resolves outside the "
                       "model's folder (through a symlink)", L->path, what, location);
    }
    FILE *f = fcntl(fd, F_SETFL, 0) == 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        close(fd);
        return dp_fail(L->err, DP_EINPUT, "%s: %s: cannot open external data '%s': %s", L->path,
                       what, location, strerror(errno));
    }
    *out = f;
    *size = st.st_size;
    return DP_OK;
}

/* The need bytes of ref into buf, from the file. */
static dp_status read_external(loader *L, const external_ref *ref, const char *what, void *buf,
                               size_t need)
{
    FILE *f;
    off_t size;
    dp_status st = open_external(L, ref->location, what, &f, &size);
    if (st != DP_OK)
        return st;
    if ((uint64_t)ref->offset > (uint64_t)size || need > (uint64_t)size - (uint64_t)ref->offset) {
        fclose(f);
        return dp_fail(L->err, DP_EINPUT, "%s: %s: external data offset %lld + %zu bytes "
                       "exceeds the size of '%s'", L->path, what, (long long)ref->offset, need,
                       ref->location);
    }
    int ok = fseeko(f, ref->offset, SEEK_SET) == 0 && fread(buf, 1, need, f) == need;
    fclose(f);
    if (!ok)
        return dp_fail(L->err, DP_EINPUT, "%s: %s: short read of external data '%s'", L->path,
                       what, ref->location);
    return DP_OK;
}

static dp_status load_external(loader *L, const Onnx__TensorProto *tp, dp_tensor *t,
                               const char *what)
{
    external_ref ref;
    dp_status st = parse_external_keys(L, tp, what, &ref);
    if (st != DP_OK)
        return st;
    size_t need = dp_nbytes(t);
    if (ref.length >= 0 && (uint64_t)ref.length != need)
        return dp_fail(L->err, DP_EINPUT, "%s: %s: external data length %lld disagrees with "
                       "its shape (%zu bytes)", L->path, what, (long long)ref.length, need);
    void *buf = malloc(need ? need : 1);
    void **list = realloc(L->model->external, (size_t)(L->model->n_external + 1) * sizeof *list);
    if (!buf || !list) {
        free(buf);
        if (list)
            L->model->external = list;
        return oom(L);
    }
    L->model->external = list;
    list[L->model->n_external++] = buf;
    /* over several ranks, rank 0 reads it and the others receive it */
    dp_dist *d = L->opts->dist;
    st = dp_dist_leads(d) ? read_external(L, &ref, what, buf, need) : DP_OK;
    if ((st = dp_dist_bcast_into(d, st, buf, need, L->err)) != DP_OK)
        return st;
    t->data = buf;
    return DP_OK;
}

static dp_status load_tensor(loader *L, const Onnx__TensorProto *tp, dp_tensor *t, const char *what)
{
    dp_status st = dp_tensor_from_onnx(tp, L->g->mem, t, true, what, L->err);
    if (st != DP_OK) {
        dp_error_prefix(L->err, "%s", L->path);
        return st;
    }
    if (!t->data)
        return load_external(L, tp, t, what);
    return DP_OK;
}

static dp_status define(loader *L, ir_value *v)
{
    ir_value **slot = table_slot(&L->names, v->name);
    if (*slot)
        return dp_fail(L->err, DP_EINPUT, "%s: value '%s' is defined twice", L->path, v->name);
    *slot = v;
    return DP_OK;
}

static ir_value *lookup(loader *L, const char *name)
{
    return *table_slot(&L->names, name);
}

static dp_status add_constant(loader *L, const char *name, const dp_tensor *t)
{
    ir_value *v = ir_value_new(L->g, name, t->dtype);
    if (!v)
        return oom(L);
    v->t = *t;
    return define(L, v);
}

static dp_status load_initializers(loader *L, const Onnx__GraphProto *gp)
{
    if (gp->n_sparse_initializer)
        return dp_fail(L->err, DP_EUNSUPPORTED, "%s: sparse initializers are not supported",
                       L->path);
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        const char *name = tp->name ? tp->name : "";
        char what[DP_MAX_NAME + 32];
        snprintf(what, sizeof what, "initializer '%s'", name);
        dp_status st = check_name(L, name, "initializer");
        if (st != DP_OK)
            return st;
        if (!*name)
            return dp_fail(L->err, DP_EINPUT, "%s: initializer %zu has no name", L->path, i);
        dp_tensor t;
        if ((st = load_tensor(L, tp, &t, what)) != DP_OK || (st = add_constant(L, name, &t)) != DP_OK)
            return st;
    }
    return DP_OK;
}

static const dpc_shape_binding *find_binding(loader *L, const char *name)
{
    for (int i = 0; i < L->opts->n_bindings; i++)
        if (strcmp(L->opts->bindings[i].name, name) == 0)
            return &L->opts->bindings[i];
    return NULL;
}

static dp_status value_type(loader *L, const Onnx__ValueInfoProto *vi, dp_dtype *dtype,
                            const Onnx__TensorShapeProto **shape)
{
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return dp_fail(L->err, DP_EUNSUPPORTED, "%s: graph input/output '%s' is not a tensor "
                       "(sequences, maps, optionals and sparse tensors are not supported)",
                       L->path, vi->name);
    int32_t et = tp->tensor_type->elem_type;
    if (et == DP_STRING || dp_dtype_size((dp_dtype)et) == 0)
        return dp_fail(L->err, DP_EUNSUPPORTED, "%s: graph input/output '%s' has data type %s "
                       "(%d), which is not supported", L->path, vi->name,
                       dp_dtype_name((dp_dtype)et), et);
    *dtype = (dp_dtype)et;
    *shape = tp->tensor_type->shape;
    return DP_OK;
}

static dp_status load_inputs(loader *L, const Onnx__GraphProto *gp)
{
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        dp_status st = check_name(L, vi->name, "input");
        if (st != DP_OK)
            return st;
        if (!vi->name || !*vi->name)
            return dp_fail(L->err, DP_EINPUT, "%s: graph input %zu has no name", L->path, i);
        ir_value *prev = lookup(L, vi->name);
        if (prev && prev->is_input)
            return dp_fail(L->err, DP_EINPUT, "%s: graph input '%s' is listed twice", L->path,
                           vi->name);
        if (prev)
            continue; /* an initializer with a default value: treated as a constant */
        dp_dtype dtype = DP_FLOAT;
        const Onnx__TensorShapeProto *shape = NULL;
        if ((st = value_type(L, vi, &dtype, &shape)) != DP_OK)
            return st;
        ir_value *v = ir_value_new(L->g, vi->name, dtype);
        if (!v || ir_graph_add_input(L->g, v) != 0)
            return oom(L);
        const dpc_shape_binding *b = find_binding(L, vi->name);
        bool free_batch = shape && shape->n_dim > 0 &&
                          shape->dim[0]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        if (L->opts->batch > 0 && !free_batch)
            return dp_fail(L->err, DP_EUNSUPPORTED, "%s: input '%s' has no symbolic batch "
                           "dimension to bind to %lld", L->path, vi->name,
                           (long long)L->opts->batch);
        if (b) {
            v->t.rank = b->rank;
            memcpy(v->t.dims, b->dims, sizeof b->dims);
            if (L->opts->batch > 0 && b->rank > 0)
                v->t.dims[0] = L->opts->batch;
        } else if (!shape) {
            return dp_fail(L->err, DP_EUSAGE, "%s: input '%s' has no shape in the model: give "
                           "one with --input-shape %s=DIMS", L->path, vi->name, vi->name);
        } else {
            if (shape->n_dim > DP_MAX_RANK)
                return dp_fail(L->err, DP_EUNSUPPORTED, "%s: input '%s' has rank %zu, above "
                               "the limit of %d", L->path, vi->name, shape->n_dim, DP_MAX_RANK);
            v->t.rank = (int)shape->n_dim;
            for (size_t d = 0; d < shape->n_dim; d++) {
                const Onnx__TensorShapeProto__Dimension *dim = shape->dim[d];
                if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
                    v->t.dims[d] = dim->dim_value;
                } else if (d == 0) {
                    /* a symbolic leading dimension is the batch */
                    v->t.dims[d] = L->opts->batch > 0 ? L->opts->batch : 1;
                } else {
                    const char *sym = dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                                          ? dim->dim_param : "?";
                    return dp_fail(L->err, DP_EUSAGE, "%s: input '%s' dimension %zu is symbolic "
                                   "('%s'): bind it with --input-shape %s=DIMS", L->path,
                                   vi->name, d, sym, vi->name);
                }
            }
        }
        char what[DP_MAX_NAME + 32];
        snprintf(what, sizeof what, "%s: input '%s'", L->path, vi->name);
        if ((st = dp_shape_check(&v->t, L->err, what)) != DP_OK || (st = define(L, v)) != DP_OK)
            return st;
    }
    for (int i = 0; i < L->opts->n_bindings; i++) {
        ir_value *v = lookup(L, L->opts->bindings[i].name);
        if (!v || !v->is_input)
            return dp_fail(L->err, DP_EUSAGE, "--input-shape names '%s', which is not an input "
                           "of %s", L->opts->bindings[i].name, L->path);
    }
    return DP_OK;
}

/*
 * A bytes field as a C string in mem (*out NULL when out of memory); false when it holds a
 * NUL byte. protobuf-c leaves data NULL for an absent or empty field, which the C library's
 * memchr and memcpy may not be given even with a zero length.
 */
static bool bytes_text(dp_arena *mem, ProtobufCBinaryData b, const char **out)
{
    *out = NULL;
    if (b.len && memchr(b.data, 0, b.len))
        return false;
    *out = dp_arena_strndup(mem, b.len ? (const char *)b.data : "", b.len);
    return true;
}

static dp_status load_attr(loader *L, const Onnx__NodeProto *np, const Onnx__AttributeProto *ap,
                           dp_attr *a)
{
    dp_arena *mem = L->g->mem;
    const char *node = np->name ? np->name : "";
    if (!ap->name || !*ap->name)
        return dp_fail(L->err, DP_EINPUT, "%s: node '%s' (%s) has an attribute without a name",
                       L->path, node, np->op_type);
    if (ap->ref_attr_name && *ap->ref_attr_name)
        return dp_fail(L->err, DP_EUNSUPPORTED, "%s: node '%s' attribute '%s' refers to a "
                       "function attribute, which is not supported", L->path, node, ap->name);
    if (strncmp(ap->name, DP_FUSED_PREFIX, strlen(DP_FUSED_PREFIX)) == 0)
        return dp_fail(L->err, DP_EUNSUPPORTED, "%s: node '%s' (%s) attribute '%s': names "
                       "starting with '%s' are reserved for dpcc's fused layers", L->path, node,
                       np->op_type, ap->name, DP_FUSED_PREFIX);
    int kind = ap->has_type ? (int)ap->type : 0;
    if (kind == 0) { /* IR version 1 files may omit the type: infer it from the field set */
        kind = ap->has_f ? DP_ATTR_FLOAT : ap->has_i ? DP_ATTR_INT : ap->has_s ? DP_ATTR_STRING
             : ap->t ? DP_ATTR_TENSOR : ap->n_floats ? DP_ATTR_FLOATS : ap->n_ints ? DP_ATTR_INTS
             : ap->n_strings ? DP_ATTR_STRINGS : 0;
    }
    if (ap->n_floats > MAX_ATTR_VALUES || ap->n_ints > MAX_ATTR_VALUES
        || ap->n_strings > MAX_ATTR_VALUES)
        return dp_fail(L->err, DP_EINPUT, "%s: node '%s' attribute '%s' holds more than %zu "
                       "values, the limit", L->path, node, ap->name, MAX_ATTR_VALUES);
    a->name = dp_arena_strdup(mem, ap->name);
    a->kind = (dp_attr_kind)kind;
    switch (kind) {
    case DP_ATTR_FLOAT: a->f = ap->f; break;
    case DP_ATTR_INT: a->i = ap->i; break;
    case DP_ATTR_STRING:
        if (!bytes_text(mem, ap->s, &a->s))
            return dp_fail(L->err, DP_EINPUT, "%s: node '%s' attribute '%s' holds a NUL byte",
                           L->path, node, ap->name);
        break;
    case DP_ATTR_FLOATS:
        a->n = (int)ap->n_floats;
        a->floats = dp_arena_memdup(mem, ap->floats, ap->n_floats * sizeof(float));
        break;
    case DP_ATTR_INTS:
        a->n = (int)ap->n_ints;
        a->ints = dp_arena_memdup(mem, ap->ints, ap->n_ints * sizeof(int64_t));
        break;
    case DP_ATTR_STRINGS: {
        const char **s = dp_arena_calloc(mem, ap->n_strings + 1, sizeof *s);
        if (!s)
            return oom(L);
        for (size_t i = 0; i < ap->n_strings; i++) {
            if (!bytes_text(mem, ap->strings[i], &s[i]))
                return dp_fail(L->err, DP_EINPUT, "%s: node '%s' attribute '%s' holds a NUL "
                               "byte", L->path, node, ap->name);
            if (!s[i])
                return oom(L);
        }
        a->n = (int)ap->n_strings;
        a->strings = (const char *const *)s;
        break;
    }
    case DP_ATTR_TENSOR: {
        if (!ap->t)
            return dp_fail(L->err, DP_EINPUT, "%s: node '%s' attribute '%s' is a tensor "
                           "attribute without a tensor", L->path, node, ap->name);
        dp_tensor *t = dp_arena_alloc(mem, sizeof *t);
        if (!t)
            return oom(L);
        char what[2 * DP_MAX_NAME + 64];
        snprintf(what, sizeof what, "node '%s' attribute '%s'", node, ap->name);
        dp_status st = load_tensor(L, ap->t, t, what);
        if (st != DP_OK)
            return st;
        a->t = t;
        break;
    }
    default:
        return dp_fail(L->err, DP_EUNSUPPORTED, "%s: node '%s' (%s) attribute '%s' has kind %d "
                       "(graphs, sparse tensors and type protos are not supported)", L->path,
                       node, np->op_type, ap->name, kind);
    }
    if (!a->name || (kind == DP_ATTR_STRING && !a->s) || (kind == DP_ATTR_FLOATS && !a->floats)
        || (kind == DP_ATTR_INTS && !a->ints))
        return oom(L);
    return DP_OK;
}

/* A Constant node becomes a constant value: its kernel runs once, here. */
static dp_status fold_constant_node(loader *L, ir_node *n)
{
    /* The kernel context below has room for exactly this signature. */
    if (n->n_in != 0 || n->n_out != 1)
        return dp_fail(L->err, DP_EINPUT, "%s: Constant node '%s' has %d inputs and %d outputs, "
                       "expected none and one", L->path, n->name, n->n_in, n->n_out);
    dp_tensor *outs[1] = {&n->out[0]->t};
    dp_kctx k;
    ir_node_kctx(n, NULL, outs, &k);
    k.err = L->err;
    dp_status st = dp_node_types_infer(n->def, &k);
    if (st == DP_OK) {
        size_t bytes = dp_nbytes(outs[0]);
        outs[0]->data = dp_arena_alloc(L->g->mem, bytes ? bytes : 1);
        if (!outs[0]->data)
            return oom(L);
        st = n->def->run(&k);
    }
    if (st != DP_OK) {
        dp_error_prefix(L->err, "%s", L->path);
        return st;
    }
    n->dead = true;
    n->out[0]->producer = NULL;
    return DP_OK;
}

static bool default_domain(const char *domain)
{
    return !domain || !*domain || strcmp(domain, "ai.onnx") == 0;
}

static dp_status load_node(loader *L, const Onnx__NodeProto *np, size_t index)
{
    const char *op = np->op_type ? np->op_type : "";
    dp_status st;
    if ((st = check_name(L, np->name, "node")) != DP_OK || (st = check_name(L, op, "op")) != DP_OK)
        return st;
    char gen_name[64];
    const char *name = np->name && *np->name ? np->name : NULL;
    if (!name) {
        snprintf(gen_name, sizeof gen_name, "%.32s_%zu", op, index);
        name = gen_name;
    }
    if (np->n_input > DP_MAX_NODE_INPUTS || np->n_output > DP_MAX_NODE_OUTPUTS)
        return dp_fail(L->err, DP_EINPUT, "%s: node '%s' has too many inputs or outputs",
                       L->path, name);
    if (np->n_output == 0)
        return dp_fail(L->err, DP_EINPUT, "%s: node '%s' (%s) has no outputs", L->path, name, op);
    ir_node *n = ir_node_new(L->g, op, name, (int)np->n_input, (int)np->n_output);
    if (!n)
        return oom(L);
    if (!n->def) /* check_ops has named every such op already */
        return dp_fail(L->err, DP_EUNSUPPORTED, "%s: node '%s': op '%s' is not supported",
                       L->path, name, op);
    n->attrs = dp_arena_calloc(L->g->mem, np->n_attribute + 1, sizeof *n->attrs);
    if (!n->attrs)
        return oom(L);
    for (size_t i = 0; i < np->n_attribute; i++) {
        for (size_t j = 0; j < i; j++)
            if (np->attribute[i]->name && np->attribute[j]->name
                && strcmp(np->attribute[i]->name, np->attribute[j]->name) == 0)
                return dp_fail(L->err, DP_EINPUT, "%s: node '%s' has attribute '%s' twice",
                               L->path, name, np->attribute[i]->name);
        if ((st = load_attr(L, np, np->attribute[i], &n->attrs[i])) != DP_OK)
            return st;
        n->n_attrs++;
    }
    /* Inputs are resolved after all nodes are read: ONNX files need not be ordered. */
    for (size_t i = 0; i < np->n_output; i++) {
        const char *oname = np->output[i] ? np->output[i] : "";
        if ((st = check_name(L, oname, "output")) != DP_OK)
            return st;
        ir_value *v = ir_value_new(L->g, oname, DP_UNDEFINED);
        if (!v)
            return oom(L);
        v->producer = n;
        n->out[i] = v;
        if (*oname && (st = define(L, v)) != DP_OK) {
            dp_error_prefix(L->err, "node '%s'", name);
            return st;
        }
    }
    return DP_OK;
}

static dp_status resolve_inputs(loader *L, const Onnx__GraphProto *gp)
{
    for (int i = 0; i < L->g->n_nodes; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        ir_node *n = L->g->nodes[i];
        for (size_t j = 0; j < np->n_input; j++) {
            const char *iname = np->input[j] ? np->input[j] : "";
            if (!*iname)
                continue; /* an omitted optional input */
            dp_status st = check_name(L, iname, "input");
            if (st != DP_OK)
                return st;
            ir_value *v = lookup(L, iname);
            if (!v)
                return dp_fail(L->err, DP_EINPUT, "%s: node '%s' (%s) input '%s' is not produced "
                               "by any node, initializer or graph input", L->path, n->name,
                               n->op, iname);
            n->in[j] = v;
        }
    }
    return DP_OK;
}

static dp_status load_outputs(loader *L, const Onnx__GraphProto *gp)
{
    if (gp->n_output == 0)
        return dp_fail(L->err, DP_EINPUT, "%s: the graph has no outputs", L->path);
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        ir_value *v = vi->name ? lookup(L, vi->name) : NULL;
        if (!v)
            return dp_fail(L->err, DP_EINPUT, "%s: graph output '%s' is not produced by any "
                           "node", L->path, vi->name ? vi->name : "");
        if (vi->type) {
            dp_dtype dtype;
            const Onnx__TensorShapeProto *shape;
            dp_status st = value_type(L, vi, &dtype, &shape);
            if (st != DP_OK)
                return st;
        }
        if (ir_graph_add_output(L->g, v) != 0)
            return oom(L);
    }
    return DP_OK;
}

static int model_opset(loader *L, const Onnx__ModelProto *mp, dp_error *err)
{
    int opset = -1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (default_domain(o->domain) && o->has_version)
            opset = (int)o->version;
    }
    if (opset < 0 && mp->n_opset_import == 0)
        opset = 1; /* IR version 1/2 models without opset_import use opset 1 */
    if (opset < DPC_MIN_OPSET || opset > DPC_MAX_OPSET) {
        dp_fail(err, DP_EUNSUPPORTED, "%s: default-domain opset %d is outside the supported "
                "range %d..%d", L->path, opset, DPC_MIN_OPSET, DPC_MAX_OPSET);
        return -1;
    }
    return opset;
}

/* One op type the model uses that dpcc does not run, for the message that lists them all. */
typedef struct missing_op {
    const char *domain, *op;
    size_t nodes, first;
} missing_op;

/* A node's name as a message may show it: printable ASCII only, else its index. */
static void node_label(const Onnx__NodeProto *np, size_t index, char *buf, size_t n)
{
    bool plain = np->name && *np->name && strlen(np->name) < 80;
    for (const char *c = np->name; plain && *c; c++)
        plain = *c >= 0x20 && *c < 0x7f;
    if (plain)
        snprintf(buf, n, "'%s'", np->name);
    else
        snprintf(buf, n, "#%zu", index);
}

/* The first opset that defines op, when the model's opset precedes it or follows its last
 * (LayerNormalization in an opset 13 model, Upsample in an opset 11 one); else 0. */
static int op_absent_at(const char *op, int opset)
{
    const dpc_op_versions *v = dpc_op_versions_find(op);
    if (!v || (opset >= v->since[0] && opset <= dpc_op_versions_last(v)))
        return 0;
    return v->since[0];
}

/*
 * Every op of the graph that dpcc does not run, named at once rather than the first alone,
 * with how many nodes use it and the first of them: DP_EUNSUPPORTED, or DP_OK. An op the
 * model's opset does not define counts too: its semantics there are no one's.
 */
static dp_status check_ops(loader *L, const Onnx__GraphProto *gp)
{
    enum { MAX_LISTED = 24 };
    missing_op miss[MAX_LISTED];
    size_t n_miss = 0, more = 0;
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        const char *op = np->op_type ? np->op_type : "", *domain = np->domain ? np->domain : "";
        if (default_domain(np->domain) && dp_op_find(op) && !op_absent_at(op, L->g->opset))
            continue;
        size_t k = 0;
        while (k < n_miss && !(strcmp(miss[k].op, op) == 0 && strcmp(miss[k].domain, domain) == 0))
            k++;
        if (k < n_miss)
            miss[k].nodes++;
        else if (n_miss < MAX_LISTED)
            miss[n_miss++] = (missing_op){domain, op, 1, i};
        else
            more++;
    }
    if (n_miss == 0)
        return DP_OK;
    char list[DP_ERROR_MAX] = "";
    size_t used = 0;
    for (size_t k = 0; k < n_miss && used < sizeof list; k++) {
        char first[100];
        node_label(gp->node[miss[k].first], miss[k].first, first, sizeof first);
        bool other = !default_domain(miss[k].domain);
        char versions[80] = "";
        const dpc_op_versions *v = other ? NULL : dpc_op_versions_find(miss[k].op);
        if (v && dp_op_find(miss[k].op) && dpc_op_versions_last(v) == DPC_MAX_OPSET)
            snprintf(versions, sizeof versions, " at opset %d (ONNX defines it from opset %d)",
                     L->g->opset, v->since[0]);
        else if (v && dp_op_find(miss[k].op))
            snprintf(versions, sizeof versions, " at opset %d (ONNX defines it at opsets %d "
                     "to %d)", L->g->opset, v->since[0], dpc_op_versions_last(v));
        int w = snprintf(list + used, sizeof list - used, "%s'%.60s%s%.60s'%s (%zu node%s, %s%s)",
                         k ? ", " : "", other ? miss[k].domain : "", other ? "." : "",
                         miss[k].op, versions, miss[k].nodes, miss[k].nodes == 1 ? "" : "s",
                         miss[k].nodes == 1 ? "" : "the first ", first);
        used += w > 0 ? (size_t)w : 0;
    }
    return dp_fail(L->err, DP_EUNSUPPORTED, "%s: %zu op%s not supported: %s%s (dpcc --list-ops "
                   "lists the supported ones)", L->path, n_miss + more,
                   n_miss + more == 1 ? " is" : "s are", list,
                   more ? ", and more" : "");
}

static dp_status load_graph(loader *L, const Onnx__ModelProto *mp)
{
    const Onnx__GraphProto *gp = mp->graph;
    if (!gp)
        return dp_fail(L->err, DP_EINPUT, "%s: the model has no graph", L->path);
    if (mp->has_ir_version && mp->ir_version < 3)
        return dp_fail(L->err, DP_EUNSUPPORTED, "%s: IR version %lld is older than 3",
                       L->path, (long long)mp->ir_version);
    int opset = model_opset(L, mp, L->err);
    if (opset < 0)
        return L->err->code;
    L->g->opset = opset;
    L->g->name = dp_arena_strdup(L->g->mem, gp->name ? gp->name : "model");

    size_t values = gp->n_initializer + gp->n_input + 1, items = gp->n_node;
    for (size_t i = 0; i < gp->n_node && items <= MAX_GRAPH_ITEMS; i++) {
        values += gp->node[i]->n_output;
        items += gp->node[i]->n_output + gp->node[i]->n_input;
    }
    if (items + values > MAX_GRAPH_ITEMS)
        return dp_fail(L->err, DP_EINPUT, "%s: the graph has more than %zu nodes, values and "
                       "operands together, the limit", L->path, MAX_GRAPH_ITEMS);
    L->names.cap = 16;
    while (L->names.cap < 2 * values)
        L->names.cap *= 2;
    L->names.slots = calloc(L->names.cap, sizeof *L->names.slots);
    if (!L->names.slots)
        return oom(L);

    dp_status st;
    if ((st = check_ops(L, gp)) != DP_OK || (st = load_initializers(L, gp)) != DP_OK ||
        (st = load_inputs(L, gp)) != DP_OK)
        return st;
    for (size_t i = 0; i < gp->n_node; i++)
        if ((st = load_node(L, gp->node[i], i)) != DP_OK)
            return st;
    if ((st = resolve_inputs(L, gp)) != DP_OK || (st = load_outputs(L, gp)) != DP_OK)
        return st;
    if ((st = ir_toposort(L->g, L->err)) != DP_OK) {
        dp_error_prefix(L->err, "%s", L->path);
        return st;
    }
    for (int i = 0; i < L->g->n_nodes; i++)
        if (strcmp(L->g->nodes[i]->op, "Constant") == 0
            && (st = fold_constant_node(L, L->g->nodes[i])) != DP_OK)
            return st;
    ir_compact(L->g);
    return DP_OK;
}

static bool read_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        unsigned char b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

/* What the wire walk found wrong, for the message: nesting too deep, or a NUL byte in a
 * string field (which protobuf-c would silently cut there: "data.bin\0../x" read as
 * "data.bin", two names differing after a NUL merged). */
typedef struct wire_fault {
    bool too_deep;
    const char *message, *field; /* the string field's message type and name */
    size_t offset;               /* the NUL's byte offset in the file */
} wire_fault;

/* Whether the message in [p, end) of type d, at depth `depth` and starting at byte `base`'s
 * offset in the file, nests no submessage deeper than MAX_NESTING levels and holds no NUL in a
 * string field, found by walking the wire format with the schema; the walk's own recursion
 * stops at the limit. A malformed message passes: the unpacking that follows refuses it. */
static bool wire_ok(const unsigned char *base, const unsigned char *p, const unsigned char *end,
                    const ProtobufCMessageDescriptor *d, int depth, wire_fault *fault)
{
    if (depth > MAX_NESTING) {
        fault->too_deep = true;
        return false;
    }
    while (p < end) {
        uint64_t tag, n;
        if (!read_varint(&p, end, &tag))
            return true;
        switch (tag & 7) {
        case 0:
            if (!read_varint(&p, end, &n))
                return true;
            break;
        case 1:
            p += (size_t)(end - p) < 8 ? (size_t)(end - p) : 8;
            break;
        case 5:
            p += (size_t)(end - p) < 4 ? (size_t)(end - p) : 4;
            break;
        case 2: {
            if (!read_varint(&p, end, &n) || n > (uint64_t)(end - p))
                return true;
            const ProtobufCFieldDescriptor *f =
                tag >> 3 <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3))
                                       : NULL;
            const unsigned char *nul = f && f->type == PROTOBUF_C_TYPE_STRING ? memchr(p, 0, n)
                                                                              : NULL;
            if (nul) {
                *fault = (wire_fault){.message = d->short_name, .field = f->name,
                                      .offset = (size_t)(nul - base)};
                return false;
            }
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                !wire_ok(base, p, p + n, f->descriptor, depth + 1, fault))
                return false;
            p += n;
            break;
        }
        default:
            return true; /* groups and invalid wire types: the unpacking refuses them */
        }
    }
    return true;
}

/* Parses len bytes of ONNX; external data resolves in dir (a real path), or is refused. */
static dp_status load_buffer(const unsigned char *buf, size_t len, const char *path, char *dir,
                             const dpc_frontend_opts *opts, dp_arena *mem,
                             dpc_model **model_out, ir_graph **graph_out, dp_error *err)
{
    dpc_model *model = calloc(1, sizeof *model);
    if (!model) {
        free(dir);
        return dp_fail(err, DP_ENOMEM, "%s: out of memory", path);
    }
    model->dir = dir;
    wire_fault fault = {0};
    if (!wire_ok(buf, buf, buf + len, &onnx__model_proto__descriptor, 0, &fault)) {
        dpc_model_release(model);
        if (fault.too_deep)
            return dp_fail(err, DP_EINPUT, "%s: messages nested more than %d deep (graphs in "
                           "attributes, or types in types)", path, MAX_NESTING);
        return dp_fail(err, DP_EINPUT, "%s: a %s.%s string holds a NUL byte (at byte %zu): "
                       "names and paths are text, and a NUL would cut one short", path,
                       fault.message, fault.field, fault.offset);
    }
    model->proto = onnx__model_proto__unpack(NULL, len, buf);
    if (!model->proto) {
        dpc_model_release(model);
        return dp_fail(err, DP_EINPUT, "%s: not a valid ONNX model (the protobuf is truncated "
                       "or corrupted)", path);
    }
    ir_graph *g = ir_graph_new(mem);
    if (!g) {
        dpc_model_release(model);
        return dp_fail(err, DP_ENOMEM, "%s: out of memory", path);
    }
    g->source = dp_arena_strdup(mem, path);
    loader L = {.path = path, .g = g, .model = model, .opts = opts, .err = err};
    dp_status st = load_graph(&L, model->proto);
    free(L.names.slots);
    if (st != DP_OK) {
        dpc_model_release(model);
        return st;
    }
    *model_out = model;
    *graph_out = g;
    return DP_OK;
}

void dpc_model_folder(const char *path, char *out, size_t size)
{
    snprintf(out, size, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(out, size, ".");
}

dp_status dpc_load_onnx(const char *path, const dpc_frontend_opts *opts, dp_arena *mem,
                        dpc_model **model_out, ir_graph **graph_out, dp_error *err)
{
    static const dpc_frontend_opts no_opts;
    if (!opts)
        opts = &no_opts;
    *model_out = NULL;
    *graph_out = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    dp_status st = dp_file_read(path, NULL, opts->max_file_bytes ? opts->max_file_bytes
                                : DPC_MAX_MODEL_FILE, &buf, &len, err);
    if (st != DP_OK)
        return st;
    char folder[PATH_MAX], real[PATH_MAX];
    dpc_model_folder(path, folder, sizeof folder);
    char *dir = realpath(folder, real) ? strdup(real) : NULL;
    if (!dir) {
        free(buf);
        return dp_fail(err, DP_ENOMEM, "%s: out of memory", path);
    }
    /* protobuf-c copies what it keeps: the file buffer can go after parsing */
    st = load_buffer(buf, len, path, dir, opts, mem, model_out, graph_out, err);
    free(buf);
    return st;
}

dp_status dpc_load_onnx_buffer(const void *buf, size_t len, const char *name,
                               const char *base_dir, const dpc_frontend_opts *opts,
                               dp_arena *mem, dpc_model **model_out, ir_graph **graph_out,
                               dp_error *err)
{
    static const dpc_frontend_opts no_opts;
    if (!opts)
        opts = &no_opts;
    *model_out = NULL;
    *graph_out = NULL;
    if (!name)
        name = "(model in memory)";
    size_t limit = opts->max_file_bytes ? opts->max_file_bytes : DPC_MAX_MODEL_FILE;
    if (len > limit)
        return dp_fail(err, DP_EINPUT, "%s: %zu bytes, above the limit of %zu", name, len, limit);
    char real[PATH_MAX], *dir = NULL;
    if (base_dir && dp_dist_leads(opts->dist)) {
        if (!realpath(base_dir, real))
            return dp_fail(err, DP_EIO, "%s: the base folder '%s': %s", name, base_dir,
                           strerror(errno));
        if (!(dir = strdup(real)))
            return dp_fail(err, DP_ENOMEM, "%s: out of memory", name);
    }
    return load_buffer(buf, len, name, dir, opts, mem, model_out, graph_out, err);
}

void dpc_model_release(dpc_model *model)
{
    if (!model)
        return;
    if (model->proto)
        onnx__model_proto__free_unpacked(model->proto, NULL);
    for (int i = 0; i < model->n_external; i++)
        free(model->external[i]);
    free(model->external);
    free(model->dir);
    free(model);
}

dp_status dpc_parse_binding(const char *text, dp_arena *mem, dpc_shape_binding *b, dp_error *err)
{
    const char *eq = strrchr(text, '=');
    if (!eq || eq == text)
        return dp_fail(err, DP_EUSAGE, "--input-shape '%s': expected NAME=DIMS, e.g. "
                       "input=1x3x224x224", text);
    b->name = dp_arena_strndup(mem, text, (size_t)(eq - text));
    b->rank = 0;
    const char *p = eq + 1;
    if (strcmp(p, "scalar") == 0)
        return DP_OK;
    while (*p) {
        if (b->rank == DP_MAX_RANK)
            return dp_fail(err, DP_EUSAGE, "--input-shape '%s': more than %d dimensions", text,
                           DP_MAX_RANK);
        char *end;
        errno = 0;
        long long d = strtoll(p, &end, 10);
        if (end == p || errno || d < 0 || (*end && *end != 'x' && *end != ','))
            return dp_fail(err, DP_EUSAGE, "--input-shape '%s': '%s' is not a list of "
                           "non-negative sizes separated by 'x'", text, eq + 1);
        b->dims[b->rank++] = d;
        p = *end ? end + 1 : end;
    }
    if (b->rank == 0)
        return dp_fail(err, DP_EUSAGE, "--input-shape '%s': no dimensions given", text);
    return DP_OK;
}
