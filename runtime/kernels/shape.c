/*
 * shape.c: reference kernels for ONNX's shape and data-movement ops: Reshape, Flatten,
 * Squeeze, Unsqueeze, Concat, Split, Expand, Shape, Size and Constant here, and Transpose,
 * Slice, Gather, GatherElements, GatherND and ScatterND in shape_index.c. The family's table
 * is here.
 *
 * These ops move bytes without looking at them (except Shape, Size and Constant, which
 * make their outputs), so each works for every storable dtype by element size. Shapes that
 * depend on an input's value (Reshape's shape, Squeeze's axes, Split's sizes, ...) make
 * infer return DP_DYNAMIC while that value is unknown.
 */
#include "shape_ops.h"

#include <string.h>

void shp_set_shape(dp_tensor *t, int rank, const int64_t *dims)
{
    t->rank = rank;
    memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
}

dp_status shp_int_list(dp_kctx *k, const char *name, int in_idx, int since, int64_t *v, int max,
                       int *n)
{
    const dp_tensor *t = dp_in(k, in_idx);
    *n = -1;
    if (k->opset >= since) {
        if (dp_attr_find(k, name))
            return dp_kfail(k, DP_EINPUT, "takes %s as an input at opset %d, not an attribute",
                            name, k->opset);
        return t ? dp_read_ints(k, t, v, max, n, name) : DP_OK;
    }
    if (t)
        return dp_kfail(k, DP_EINPUT, "takes %s as an attribute at opset %d, not an input", name,
                        k->opset);
    const int64_t *a;
    int c = dp_attr_ints(k, name, &a);
    if (c > max)
        return dp_kfail(k, DP_EINPUT, "%s has %d elements, at most %d allowed", name, c, max);
    if (c > 0)
        memcpy(v, a, (size_t)c * sizeof *a);
    *n = c;
    return DP_OK;
}

/* Every output takes in[0]'s dtype, which must have a byte size. */
static dp_status types_same(dp_kctx *k)
{
    dp_dtype t = k->in[0]->dtype;
    if (!dp_dtype_size(t))
        return dp_kfail(k, DP_EUNSUPPORTED, "unsupported dtype %s", dp_dtype_name(t));
    for (int i = 0; i < k->n_out; i++)
        k->out[i]->dtype = t;
    return DP_OK;
}

/* The ops that only relabel the shape: the bytes stay as they are. */
static dp_status copy_run(dp_kctx *k)
{
    size_t n = dp_nbytes(k->in[0]);
    if (n && k->out[0]->data != k->in[0]->data)
        memcpy(k->out[0]->data, k->in[0]->data, n);
    return DP_OK;
}

/* Checks that normalized axes (against rank r) are in range and distinct. */
static dp_status norm_axes(dp_kctx *k, int64_t *axes, int n, int r)
{
    bool seen[DP_MAX_RANK] = {false};
    for (int i = 0; i < n; i++) {
        int a = dp_norm_axis(axes[i], r);
        if (a < 0 || seen[a])
            return dp_kfail(k, DP_EINPUT, "axis %lld is %s for rank %d", (long long)axes[i],
                            a < 0 ? "out of range" : "repeated", r);
        seen[a] = true;
        axes[i] = a;
    }
    return DP_OK;
}

/* ---- Reshape ---- */

static dp_status reshape_infer(dp_kctx *k)
{
    const dp_tensor *x = k->in[0];
    int64_t s[DP_MAX_RANK], known = 1;
    int n, neg = -1;
    dp_status st = dp_read_ints(k, k->in[1], s, DP_MAX_RANK, &n, "shape");
    if (st != DP_OK)
        return st;
    bool allowzero = k->opset >= 14 && dp_attr_int(k, "allowzero", 0) != 0;
    for (int i = 0; i < n; i++) {
        if (s[i] == -1) {
            if (neg >= 0)
                return dp_kfail(k, DP_EINPUT, "shape has more than one -1");
            neg = i;
            continue;
        }
        if (s[i] == 0 && !allowzero) {
            if (i >= x->rank)
                return dp_kfail(k, DP_EINPUT, "shape entry %d is 0 (copy) but the input has "
                                "rank %d", i, x->rank);
            s[i] = x->dims[i];
        }
        if (s[i] < 0)
            return dp_kfail(k, DP_EINPUT, "shape entry %d is %lld", i, (long long)s[i]);
        if (dp_mul_i64(known, s[i], &known) != 0 || known > DP_MAX_ELEMENTS)
            return dp_kfail(k, DP_EINPUT, "shape's element count overflows");
    }
    int64_t total = dp_numel(x);
    if (neg >= 0) {
        if (known == 0)
            return dp_kfail(k, DP_EINPUT, "shape has -1 beside a 0 dimension: the -1 is "
                            "ambiguous");
        s[neg] = total / known;
        known *= s[neg];
    }
    if (known != total) {
        char a[160];
        return dp_kfail(k, DP_EINPUT, "cannot reshape %s (%lld elements) to %lld elements",
                        dp_shape_str(x, a, sizeof a), (long long)total, (long long)known);
    }
    shp_set_shape(k->out[0], n, s);
    return DP_OK;
}

/* ---- Flatten ---- */

static dp_status flatten_infer(dp_kctx *k)
{
    const dp_tensor *x = k->in[0];
    int64_t axis = dp_attr_int(k, "axis", 1), d[2] = {1, 1};
    if (axis < -x->rank || axis > x->rank)
        return dp_kfail(k, DP_EINPUT, "axis %lld is out of range for rank %d", (long long)axis,
                        x->rank);
    if (axis < 0)
        axis += x->rank;
    for (int i = 0; i < x->rank; i++)
        d[i >= axis] *= x->dims[i];
    shp_set_shape(k->out[0], 2, d);
    return DP_OK;
}

/* ---- Squeeze, Unsqueeze ---- */

static dp_status squeeze_infer(dp_kctx *k)
{
    const dp_tensor *x = k->in[0];
    int64_t axes[DP_MAX_RANK], d[DP_MAX_RANK];
    int n, r = 0;
    dp_status st = shp_int_list(k, "axes", 1, 13, axes, DP_MAX_RANK, &n);
    if (st != DP_OK || (st = norm_axes(k, axes, n, x->rank)) != DP_OK)
        return st;
    bool drop[DP_MAX_RANK] = {false};
    for (int i = 0; i < n; i++) {
        if (x->dims[axes[i]] != 1)
            return dp_kfail(k, DP_EINPUT, "cannot squeeze axis %lld of size %lld",
                            (long long)axes[i], (long long)x->dims[axes[i]]);
        drop[axes[i]] = true;
    }
    for (int i = 0; i < x->rank; i++)
        if (!(n > 0 ? drop[i] : x->dims[i] == 1))
            d[r++] = x->dims[i];
    shp_set_shape(k->out[0], r, d);
    return DP_OK;
}

static dp_status unsqueeze_infer(dp_kctx *k)
{
    const dp_tensor *x = k->in[0];
    int64_t axes[DP_MAX_RANK], d[DP_MAX_RANK];
    int n;
    dp_status st = shp_int_list(k, "axes", 1, 13, axes, DP_MAX_RANK, &n);
    if (st != DP_OK)
        return st;
    if (n < 0)
        return dp_kfail(k, DP_EINPUT, "needs axes");
    int r = x->rank + n;
    if (r > DP_MAX_RANK)
        return dp_kfail(k, DP_EINPUT, "output rank %d exceeds %d", r, DP_MAX_RANK);
    if ((st = norm_axes(k, axes, n, r)) != DP_OK)
        return st;
    bool ins[DP_MAX_RANK] = {false};
    for (int i = 0; i < n; i++)
        ins[axes[i]] = true;
    for (int i = 0, j = 0; i < r; i++)
        d[i] = ins[i] ? 1 : x->dims[j++];
    shp_set_shape(k->out[0], r, d);
    return DP_OK;
}

/* ---- Concat ---- */

static dp_status concat_axis(dp_kctx *k, int *axis)
{
    const dp_attr *a = dp_attr_find(k, "axis");
    int64_t v = dp_attr_int(k, "axis", 0);
    if (!a)
        return dp_kfail(k, DP_EINPUT, "needs the axis attribute");
    *axis = dp_norm_axis(v, k->in[0]->rank);
    if (*axis < 0)
        return dp_kfail(k, DP_EINPUT, "axis %lld is out of range for rank %d", (long long)v,
                        k->in[0]->rank);
    return DP_OK;
}

static dp_status concat_infer(dp_kctx *k)
{
    const dp_tensor *x = k->in[0];
    int axis;
    dp_status st = concat_axis(k, &axis);
    if (st != DP_OK)
        return st;
    int64_t d[DP_MAX_RANK];
    shp_set_shape(k->out[0], x->rank, x->dims);
    memcpy(d, x->dims, sizeof d);
    for (int i = 1; i < k->n_in; i++) {
        const dp_tensor *t = k->in[i];
        if (!t)
            return dp_kfail(k, DP_EINPUT, "input %d is missing", i);
        if (t->dtype != x->dtype)
            return dp_kfail(k, DP_EINPUT, "input %d is %s, input 0 %s", i,
                            dp_dtype_name(t->dtype), dp_dtype_name(x->dtype));
        bool ok = t->rank == x->rank;
        for (int j = 0; ok && j < x->rank; j++)
            ok = j == axis || t->dims[j] == x->dims[j];
        if (!ok) {
            char a[160], b[160];
            return dp_kfail(k, DP_EINPUT, "input %d has shape %s, incompatible with %s on "
                            "axis %d", i, dp_shape_str(t, a, sizeof a),
                            dp_shape_str(x, b, sizeof b), axis);
        }
        d[axis] += t->dims[axis];
    }
    shp_set_shape(k->out[0], x->rank, d);
    return DP_OK;
}

/* Blocks of the concatenated axis, one run of bytes per input and outer index. */
static void outer_inner(const dp_tensor *t, int axis, int64_t *outer, size_t *row)
{
    int64_t o = 1, in = 1;
    for (int d = 0; d < t->rank; d++)
        *(d < axis ? &o : &in) *= t->dims[d];
    *outer = o;
    *row = (size_t)in * dp_dtype_size(t->dtype);
}

static dp_status concat_run(dp_kctx *k)
{
    int axis;
    dp_status st = concat_axis(k, &axis);
    if (st != DP_OK)
        return st;
    int64_t outer;
    size_t total, row, off = 0;
    outer_inner(k->out[0], axis, &outer, &total);
    for (int i = 0; i < k->n_in; i++, off += row) {
        outer_inner(k->in[i], axis, &outer, &row);
        const char *src = k->in[i]->data;
        char *dst = (char *)k->out[0]->data + off;
        for (int64_t o = 0; o < outer && row; o++)
            memcpy(dst + (size_t)o * total, src + (size_t)o * row, row);
    }
    return DP_OK;
}

/* ---- Split ---- */

static dp_status split_sizes(dp_kctx *k, int *axis, int64_t *sizes)
{
    const dp_tensor *x = k->in[0];
    int64_t v = dp_attr_int(k, "axis", 0);
    *axis = dp_norm_axis(v, x->rank);
    if (*axis < 0)
        return dp_kfail(k, DP_EINPUT, "axis %lld is out of range for rank %d", (long long)v,
                        x->rank);
    int n;
    dp_status st = shp_int_list(k, "split", 1, 13, sizes, DP_MAX_NODE_OUTPUTS, &n);
    if (st != DP_OK)
        return st;
    int64_t dim = x->dims[*axis], sum = 0;
    if (n < 0) {
        if (dim % k->n_out)
            return dp_kfail(k, DP_EINPUT, "axis %d of size %lld does not split into %d equal "
                            "parts", *axis, (long long)dim, k->n_out);
        for (int i = 0; i < k->n_out; i++)
            sizes[i] = dim / k->n_out;
        return DP_OK;
    }
    if (n != k->n_out)
        return dp_kfail(k, DP_EINPUT, "split has %d sizes for %d outputs", n, k->n_out);
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 0 || sizes[i] > dim)
            return dp_kfail(k, DP_EINPUT, "split size %d is %lld", i, (long long)sizes[i]);
        sum += sizes[i];
    }
    if (sum != dim)
        return dp_kfail(k, DP_EINPUT, "split sizes add up to %lld, axis %d has %lld",
                        (long long)sum, *axis, (long long)dim);
    return DP_OK;
}

static dp_status split_infer(dp_kctx *k)
{
    int64_t sizes[DP_MAX_NODE_OUTPUTS];
    int axis;
    dp_status st = split_sizes(k, &axis, sizes);
    if (st != DP_OK)
        return st;
    for (int i = 0; i < k->n_out; i++) {
        shp_set_shape(k->out[i], k->in[0]->rank, k->in[0]->dims);
        k->out[i]->dims[axis] = sizes[i];
    }
    return DP_OK;
}

static dp_status split_run(dp_kctx *k)
{
    int axis;
    int64_t outer, sizes[DP_MAX_NODE_OUTPUTS];
    dp_status st = split_sizes(k, &axis, sizes);
    if (st != DP_OK)
        return st;
    size_t total, row, off = 0;
    outer_inner(k->in[0], axis, &outer, &total);
    for (int i = 0; i < k->n_out; i++, off += row) {
        outer_inner(k->out[i], axis, &outer, &row);
        const char *src = (const char *)k->in[0]->data + off;
        char *dst = k->out[i]->data;
        for (int64_t o = 0; o < outer && row; o++)
            memcpy(dst + (size_t)o * row, src + (size_t)o * total, row);
    }
    return DP_OK;
}

/* ---- Expand ---- */

static dp_status expand_infer(dp_kctx *k)
{
    dp_tensor s = {.dtype = DP_INT64};
    int n;
    dp_status st = dp_read_ints(k, k->in[1], s.dims, DP_MAX_RANK, &n, "shape");
    if (st != DP_OK)
        return st;
    s.rank = n;
    for (int i = 0; i < n; i++)
        if (s.dims[i] < 0)
            return dp_kfail(k, DP_EINPUT, "shape entry %d is %lld", i, (long long)s.dims[i]);
    const dp_tensor *both[2] = {k->in[0], &s};
    dp_error e = {0};
    if (dp_broadcast_shape(both, 2, k->out[0], &e) != DP_OK)
        return dp_kfail(k, DP_EINPUT, "%s", e.msg);
    return DP_OK;
}

static dp_status expand_run(dp_kctx *k)
{
    int64_t stride[DP_MAX_RANK];
    const dp_tensor *y = k->out[0];
    dp_broadcast_strides(k->in[0], y, stride);
    dp_copy_view(y->data, k->in[0]->data, y->rank, y->dims, stride,
                 dp_dtype_size(k->in[0]->dtype));
    return DP_OK;
}

/* ---- Shape, Size ---- */

static dp_status types_int64(dp_kctx *k)
{
    k->out[0]->dtype = DP_INT64;
    return DP_OK;
}

/* Shape's dims [start, end), attributes since opset 15, clamped to [0, rank]. */
static void shape_range(dp_kctx *k, int *start, int *end)
{
    int r = k->in[0]->rank;
    int64_t v[2] = {0, r};
    if (k->opset >= 15) {
        v[0] = dp_attr_int(k, "start", 0);
        v[1] = dp_attr_int(k, "end", r);
    }
    for (int i = 0; i < 2; i++) {
        v[i] = v[i] < 0 ? v[i] + r : v[i];
        v[i] = v[i] < 0 ? 0 : v[i] > r ? r : v[i];
    }
    *start = (int)v[0];
    *end = v[1] > v[0] ? (int)v[1] : (int)v[0];
}

static dp_status shape_infer(dp_kctx *k)
{
    int s, e;
    shape_range(k, &s, &e);
    int64_t n = e - s;
    shp_set_shape(k->out[0], 1, &n);
    return DP_OK;
}

/* Reads only the input's shape: the compiler folds Shape while the data is unknown. */
static dp_status shape_run(dp_kctx *k)
{
    int s, e;
    shape_range(k, &s, &e);
    if (e > s)
        memcpy(k->out[0]->data, k->in[0]->dims + s, (size_t)(e - s) * sizeof(int64_t));
    return DP_OK;
}

static dp_status size_infer(dp_kctx *k)
{
    k->out[0]->rank = 0;
    return DP_OK;
}

static dp_status size_run(dp_kctx *k)
{
    int64_t n = dp_numel(k->in[0]);
    memcpy(k->out[0]->data, &n, sizeof n);
    return DP_OK;
}

/* ---- Constant ---- */

/* The one value attribute, as a tensor view of the attribute's own storage. */
static dp_status constant_value(dp_kctx *k, dp_tensor *t)
{
    static const char *const names[] = {"value", "value_float", "value_floats", "value_int",
                                        "value_ints", "value_string", "value_strings",
                                        "sparse_value"};
    static const dp_attr_kind kinds[] = {DP_ATTR_TENSOR, DP_ATTR_FLOAT, DP_ATTR_FLOATS,
                                         DP_ATTR_INT, DP_ATTR_INTS};
    const dp_attr *a = NULL;
    int which = -1;
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++) {
        const dp_attr *f = dp_attr_find(k, names[i]);
        if (f && a)
            return dp_kfail(k, DP_EINPUT, "has both %s and %s", names[which], names[i]);
        if (f) {
            a = f;
            which = i;
        }
    }
    if (!a)
        return dp_kfail(k, DP_EINPUT, "has no value attribute");
    if (which >= 5)
        return dp_kfail(k, DP_EUNSUPPORTED, "%s is not supported", names[which]);
    if (a->kind != kinds[which])
        return dp_kfail(k, DP_EINPUT, "attribute '%s' has the wrong type", names[which]);
    switch (which) {
    case 0: *t = *a->t; break;
    case 1: *t = (dp_tensor){DP_FLOAT, 0, {0}, (void *)&a->f}; break;
    case 2: *t = (dp_tensor){DP_FLOAT, 1, {a->n}, (void *)a->floats}; break;
    case 3: *t = (dp_tensor){DP_INT64, 0, {0}, (void *)&a->i}; break;
    default: *t = (dp_tensor){DP_INT64, 1, {a->n}, (void *)a->ints}; break;
    }
    if (!dp_dtype_size(t->dtype))
        return dp_kfail(k, DP_EUNSUPPORTED, "unsupported dtype %s", dp_dtype_name(t->dtype));
    return DP_OK;
}

static dp_status constant_types(dp_kctx *k)
{
    dp_tensor t;
    dp_status st = constant_value(k, &t);
    if (st == DP_OK)
        k->out[0]->dtype = t.dtype;
    return st;
}

static dp_status constant_infer(dp_kctx *k)
{
    dp_tensor t;
    dp_status st = constant_value(k, &t);
    if (st == DP_OK)
        shp_set_shape(k->out[0], t.rank, t.dims);
    return st;
}

static dp_status constant_run(dp_kctx *k)
{
    dp_tensor t;
    dp_status st = constant_value(k, &t);
    size_t n = dp_nbytes(&t);
    if (st == DP_OK && n)
        memcpy(k->out[0]->data, t.data, n);
    return st;
}

const dp_op_def dp_ops_shape[] = {
    {"Reshape", 2, 2, 1, 1, types_same, reshape_infer, copy_run},
    {"Flatten", 1, 1, 1, 1, types_same, flatten_infer, copy_run},
    {"Squeeze", 1, 2, 1, 1, types_same, squeeze_infer, copy_run},
    {"Unsqueeze", 1, 2, 1, 1, types_same, unsqueeze_infer, copy_run},
    {"Transpose", 1, 1, 1, 1, types_same, shp_transpose_infer, shp_transpose_run},
    {"Concat", 1, -1, 1, 1, types_same, concat_infer, concat_run},
    {"Split", 1, 2, 1, DP_MAX_NODE_OUTPUTS, types_same, split_infer, split_run},
    {"Slice", 1, 5, 1, 1, types_same, shp_slice_infer, shp_slice_run},
    {"Gather", 2, 2, 1, 1, types_same, shp_gather_infer, shp_gather_run},
    {"GatherElements", 2, 2, 1, 1, types_same, shp_gather_elements_infer,
     shp_gather_elements_run},
    {"GatherND", 2, 2, 1, 1, types_same, shp_gather_nd_infer, shp_gather_nd_run},
    {"ScatterND", 3, 3, 1, 1, types_same, shp_scatter_nd_infer, shp_scatter_nd_run},
    {"Expand", 2, 2, 1, 1, types_same, expand_infer, expand_run},
    {"Shape", 1, 1, 1, 1, types_int64, shape_infer, shape_run},
    {"Size", 1, 1, 1, 1, types_int64, size_infer, size_run},
    {"Constant", 0, 0, 1, 1, constant_types, constant_infer, constant_run},
    {0},
};
