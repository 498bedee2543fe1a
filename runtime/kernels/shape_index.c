/*
 * shape_index.c: the shape family's ops that pick elements by position: Transpose, Slice,
 * Gather, GatherElements and GatherND, the strided copy they share with Expand, and
 * ScatterND.
 *
 * All of them move bytes, never values, so every storable dtype goes through one path.
 * Transpose, Slice and Expand are strided views of their input; dp_copy_view (kernel_util.c)
 * copies them.
 */
#include "shape_ops.h"

#include <string.h>

static dp_status need_indices(dp_kctx *k, const dp_tensor *t)
{
    if (t->dtype != DP_INT64 && t->dtype != DP_INT32)
        return dp_kfail(k, DP_EINPUT, "indices must be int32 or int64, not %s",
                        dp_dtype_name(t->dtype));
    return DP_OK;
}

/* Index i of the indices tensor, checked against [-dim, dim) and made non-negative. */
static dp_status load_index(dp_kctx *k, const dp_tensor *ind, int64_t i, int64_t dim, int axis,
                            int64_t *out)
{
    int64_t v = dp_load_i64(ind->data, ind->dtype, i);
    if (v < -dim || v >= dim)
        return dp_kfail(k, DP_EINPUT, "index %lld (element %lld of indices) is out of range "
                        "for axis %d of size %lld", (long long)v, (long long)i, axis,
                        (long long)dim);
    *out = v < 0 ? v + dim : v;
    return DP_OK;
}

/* ---- Transpose ---- */

static dp_status transpose_perm(dp_kctx *k, int perm[DP_MAX_RANK])
{
    int r = k->in[0]->rank;
    const int64_t *p;
    int n = dp_attr_ints(k, "perm", &p);
    if (n < 0) {
        for (int i = 0; i < r; i++)
            perm[i] = r - 1 - i;
        return DP_OK;
    }
    if (n != r)
        return dp_kfail(k, DP_EINPUT, "perm has %d entries for an input of rank %d", n, r);
    bool seen[DP_MAX_RANK] = {false};
    for (int i = 0; i < n; i++) {
        if (p[i] < 0 || p[i] >= r || seen[p[i]])
            return dp_kfail(k, DP_EINPUT, "perm is not a permutation of 0..%d (entry %d is %lld)",
                            r - 1, i, (long long)p[i]);
        seen[p[i]] = true;
        perm[i] = (int)p[i];
    }
    return DP_OK;
}

dp_status shp_transpose_infer(dp_kctx *k)
{
    int perm[DP_MAX_RANK];
    dp_status st = transpose_perm(k, perm);
    if (st != DP_OK)
        return st;
    dp_tensor *x = k->in[0], *y = k->out[0];
    y->rank = x->rank;
    for (int i = 0; i < x->rank; i++)
        y->dims[i] = x->dims[perm[i]];
    return DP_OK;
}

dp_status shp_transpose_run(dp_kctx *k)
{
    int perm[DP_MAX_RANK];
    dp_status st = transpose_perm(k, perm);
    if (st != DP_OK)
        return st;
    const dp_tensor *x = k->in[0];
    int64_t xs[DP_MAX_RANK], stride[DP_MAX_RANK];
    dp_strides(x, xs);
    for (int i = 0; i < x->rank; i++)
        stride[i] = xs[perm[i]];
    dp_copy_view(k->out[0]->data, x->data, x->rank, k->out[0]->dims, stride,
                 dp_dtype_size(x->dtype));
    return DP_OK;
}

/* ---- Slice ---- */

typedef struct slice_plan {
    int64_t start[DP_MAX_RANK], step[DP_MAX_RANK], count[DP_MAX_RANK];
} slice_plan;

/* Start, step and output extent of every axis, with ONNX's clamping of starts and ends. */
static dp_status slice_plan_make(dp_kctx *k, slice_plan *p)
{
    const dp_tensor *x = k->in[0];
    int64_t starts[DP_MAX_RANK], ends[DP_MAX_RANK], axes[DP_MAX_RANK], steps[DP_MAX_RANK];
    int ns, ne, na, nst = -1;
    dp_status st;
    if ((st = shp_int_list(k, "starts", 1, 10, starts, DP_MAX_RANK, &ns)) != DP_OK
        || (st = shp_int_list(k, "ends", 2, 10, ends, DP_MAX_RANK, &ne)) != DP_OK
        || (st = shp_int_list(k, "axes", 3, 10, axes, DP_MAX_RANK, &na)) != DP_OK)
        return st;
    if (k->opset >= 10 && dp_in(k, 4)
        && (st = dp_read_ints(k, dp_in(k, 4), steps, DP_MAX_RANK, &nst, "steps")) != DP_OK)
        return st;
    if (k->opset < 10 && dp_in(k, 4))
        return dp_kfail(k, DP_EINPUT, "takes no steps input at opset %d", k->opset);
    if (ns < 0 || ne < 0)
        return dp_kfail(k, DP_EINPUT, "needs starts and ends");
    if (ne != ns || (na >= 0 && na != ns) || (nst >= 0 && nst != ns))
        return dp_kfail(k, DP_EINPUT, "starts, ends, axes and steps differ in length "
                        "(%d, %d, %d, %d)", ns, ne, na, nst);
    for (int d = 0; d < x->rank; d++) {
        p->start[d] = 0;
        p->step[d] = 1;
        p->count[d] = x->dims[d];
    }
    bool seen[DP_MAX_RANK] = {false};
    for (int i = 0; i < ns; i++) {
        int64_t av = na >= 0 ? axes[i] : i;
        int a = dp_norm_axis(av, x->rank);
        if (a < 0 || seen[a])
            return dp_kfail(k, DP_EINPUT, "axis %lld is %s for rank %d", (long long)av,
                            a < 0 ? "out of range" : "repeated", x->rank);
        seen[a] = true;
        int64_t dim = x->dims[a], step = nst >= 0 ? steps[i] : 1, s = starts[i], e = ends[i];
        if (step == 0)
            return dp_kfail(k, DP_EINPUT, "step of axis %d is 0", a);
        s = s < 0 ? s + dim : s;
        e = e < 0 ? e + dim : e;
        int64_t count;
        if (step > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            count = e <= s ? 0 : (e - s - 1) / step + 1;
        } else {
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            /* unsigned negation: a step of INT64_MIN has no int64 magnitude */
            uint64_t mag = 0 - (uint64_t)step;
            count = dim == 0 || s <= e ? 0 : (int64_t)((uint64_t)(s - e - 1) / mag) + 1;
        }
        p->start[a] = s;
        p->step[a] = count > 1 ? step : 1; /* |step| < dim when it is ever taken */
        p->count[a] = count;
    }
    return DP_OK;
}

dp_status shp_slice_infer(dp_kctx *k)
{
    slice_plan p;
    dp_status st = slice_plan_make(k, &p);
    if (st == DP_OK)
        shp_set_shape(k->out[0], k->in[0]->rank, p.count);
    return st;
}

dp_status shp_slice_run(dp_kctx *k)
{
    slice_plan p;
    dp_status st = slice_plan_make(k, &p);
    if (st != DP_OK)
        return st;
    const dp_tensor *x = k->in[0];
    int64_t xs[DP_MAX_RANK], stride[DP_MAX_RANK], off = 0;
    size_t es = dp_dtype_size(x->dtype);
    dp_strides(x, xs);
    for (int d = 0; d < x->rank; d++) {
        if (p.count[d] == 0)
            return DP_OK;
        off += p.start[d] * xs[d];
        stride[d] = p.step[d] * xs[d];
    }
    dp_copy_view(k->out[0]->data, (const char *)x->data + off * (int64_t)es, x->rank, p.count,
                 stride, es);
    return DP_OK;
}

/* ---- Gather ---- */

static dp_status gather_axis(dp_kctx *k, int *axis)
{
    int64_t v = dp_attr_int(k, "axis", 0);
    *axis = dp_norm_axis(v, k->in[0]->rank);
    if (*axis < 0)
        return dp_kfail(k, DP_EINPUT, "axis %lld is out of range for rank %d", (long long)v,
                        k->in[0]->rank);
    return DP_OK;
}

dp_status shp_gather_infer(dp_kctx *k)
{
    const dp_tensor *x = k->in[0], *ind = k->in[1];
    int axis;
    dp_status st = gather_axis(k, &axis);
    if (st != DP_OK || (st = need_indices(k, ind)) != DP_OK)
        return st;
    int r = x->rank - 1 + ind->rank;
    if (r > DP_MAX_RANK)
        return dp_kfail(k, DP_EINPUT, "output rank %d exceeds %d", r, DP_MAX_RANK);
    dp_tensor *y = k->out[0];
    y->rank = r;
    memcpy(y->dims, x->dims, (size_t)axis * sizeof *x->dims);
    memcpy(y->dims + axis, ind->dims, (size_t)ind->rank * sizeof *ind->dims);
    memcpy(y->dims + axis + ind->rank, x->dims + axis + 1,
           (size_t)(x->rank - axis - 1) * sizeof *x->dims);
    return DP_OK;
}

dp_status shp_gather_run(dp_kctx *k)
{
    const dp_tensor *x = k->in[0], *ind = k->in[1];
    int axis;
    dp_status st = gather_axis(k, &axis);
    if (st != DP_OK)
        return st;
    int64_t outer = 1, dim = x->dims[axis], inner = 1, n = dp_numel(ind), v = 0;
    for (int d = 0; d < x->rank; d++)
        if (d != axis)
            *(d < axis ? &outer : &inner) *= x->dims[d];
    for (int64_t i = 0; i < n; i++) /* every index is checked before any is used */
        if ((st = load_index(k, ind, i, dim, axis, &v)) != DP_OK)
            return st;
    size_t blk = (size_t)inner * dp_dtype_size(x->dtype);
    const char *src = x->data;
    char *dst = k->out[0]->data;
    for (int64_t o = 0; o < outer; o++, src += (size_t)dim * blk)
        for (int64_t i = 0; i < n; i++, dst += blk) {
            load_index(k, ind, i, dim, axis, &v);
            memcpy(dst, src + (size_t)v * blk, blk);
        }
    return DP_OK;
}

/* ---- GatherElements ---- */

dp_status shp_gather_elements_infer(dp_kctx *k)
{
    const dp_tensor *x = k->in[0], *ind = k->in[1];
    int axis;
    dp_status st = gather_axis(k, &axis);
    if (st != DP_OK || (st = need_indices(k, ind)) != DP_OK)
        return st;
    if (ind->rank != x->rank)
        return dp_kfail(k, DP_EINPUT, "indices have rank %d, data rank %d", ind->rank, x->rank);
    for (int d = 0; d < x->rank; d++)
        if (d != axis && ind->dims[d] > x->dims[d])
            return dp_kfail(k, DP_EINPUT, "indices dimension %d (%lld) exceeds the data's (%lld)",
                            d, (long long)ind->dims[d], (long long)x->dims[d]);
    shp_set_shape(k->out[0], ind->rank, ind->dims);
    return DP_OK;
}

dp_status shp_gather_elements_run(dp_kctx *k)
{
    const dp_tensor *x = k->in[0], *ind = k->in[1];
    int axis;
    dp_status st = gather_axis(k, &axis);
    if (st != DP_OK)
        return st;
    int r = x->rank;
    int64_t n = dp_numel(ind), xs[DP_MAX_RANK], idx[DP_MAX_RANK] = {0}, base = 0, v = 0;
    size_t es = dp_dtype_size(x->dtype);
    dp_strides(x, xs);
    const char *src = x->data;
    char *dst = k->out[0]->data;
    /* base: the data offset of the current position, without its axis coordinate */
    for (int64_t i = 0; i < n; i++) {
        if ((st = load_index(k, ind, i, x->dims[axis], axis, &v)) != DP_OK)
            return st;
        memcpy(dst + (size_t)i * es, src + (size_t)(base + v * xs[axis]) * es, es);
        for (int d = r - 1; d >= 0; d--) {
            int64_t step = d == axis ? 0 : xs[d];
            base += step;
            if (++idx[d] < ind->dims[d])
                break;
            base -= step * ind->dims[d];
            idx[d] = 0;
        }
    }
    return DP_OK;
}

/* ---- GatherND ---- */

typedef struct gnd_plan {
    int b, kk;            /* batch_dims, index tuple length */
    int64_t batches, tuples, slice;
} gnd_plan;

static dp_status gnd_plan_make(dp_kctx *k, gnd_plan *p)
{
    const dp_tensor *x = k->in[0], *ind = k->in[1];
    int64_t b = dp_attr_int(k, "batch_dims", 0);
    int r = x->rank, q = ind->rank;
    if (r < 1 || q < 1)
        return dp_kfail(k, DP_EINPUT, "data and indices need rank >= 1 (have %d and %d)", r, q);
    if (b < 0 || b >= (q < r ? q : r))
        return dp_kfail(k, DP_EINPUT, "batch_dims %lld must be below both ranks (%d, %d)",
                        (long long)b, r, q);
    int64_t kk = ind->dims[q - 1];
    if (kk < 1 || kk > r - b)
        return dp_kfail(k, DP_EINPUT, "index tuples have %lld entries, expected 1 to %lld",
                        (long long)kk, (long long)(r - b));
    p->b = (int)b;
    p->kk = (int)kk;
    p->batches = p->tuples = p->slice = 1;
    for (int d = 0; d < p->b; d++) {
        if (ind->dims[d] != x->dims[d])
            return dp_kfail(k, DP_EINPUT, "batch dimension %d differs: %lld in indices, %lld "
                            "in data", d, (long long)ind->dims[d], (long long)x->dims[d]);
        p->batches *= x->dims[d];
    }
    for (int d = p->b; d < q - 1; d++)
        p->tuples *= ind->dims[d];
    for (int d = p->b + p->kk; d < r; d++)
        p->slice *= x->dims[d];
    return DP_OK;
}

dp_status shp_gather_nd_infer(dp_kctx *k)
{
    const dp_tensor *x = k->in[0], *ind = k->in[1];
    gnd_plan p;
    dp_status st = need_indices(k, ind);
    if (st != DP_OK || (st = gnd_plan_make(k, &p)) != DP_OK)
        return st;
    int q = ind->rank, lead = q - 1, rest = x->rank - p.b - p.kk;
    if (lead + rest > DP_MAX_RANK)
        return dp_kfail(k, DP_EINPUT, "output rank %d exceeds %d", lead + rest, DP_MAX_RANK);
    dp_tensor *y = k->out[0];
    y->rank = lead + rest;
    memcpy(y->dims, ind->dims, (size_t)lead * sizeof *y->dims);
    memcpy(y->dims + lead, x->dims + p.b + p.kk, (size_t)rest * sizeof *y->dims);
    return DP_OK;
}

dp_status shp_gather_nd_run(dp_kctx *k)
{
    const dp_tensor *x = k->in[0], *ind = k->in[1];
    gnd_plan p;
    dp_status st = gnd_plan_make(k, &p);
    if (st != DP_OK)
        return st;
    int64_t xs[DP_MAX_RANK], v = 0, i = 0;
    dp_strides(x, xs);
    size_t es = dp_dtype_size(x->dtype), blk = (size_t)p.slice * es;
    int64_t bstride = p.b > 0 ? xs[p.b - 1] : 0; /* elements per batch */
    const char *src = x->data;
    char *dst = k->out[0]->data;
    for (int64_t bt = 0; bt < p.batches; bt++)
        for (int64_t t = 0; t < p.tuples; t++, dst += blk) {
            int64_t off = bt * bstride;
            for (int j = 0; j < p.kk; j++, i++) {
                if ((st = load_index(k, ind, i, x->dims[p.b + j], p.b + j, &v)) != DP_OK)
                    return st;
                off += v * xs[p.b + j];
            }
            memcpy(dst, src + (size_t)off * es, blk);
        }
    return DP_OK;
}

/* ---- ScatterND ---- */

/* The output is data with the slices updates[t] written at the index tuples indices[t]
 * (data.shape[kk:] each, kk the tuples' length): replacing them, or, from opset 16, added
 * to or multiplied into them, tuple after tuple in order. */
typedef enum snd_reduce { SND_NONE, SND_ADD, SND_MUL } snd_reduce;

static dp_status snd_plan(dp_kctx *k, int *kk, int64_t *tuples, int64_t *slice,
                          snd_reduce *reduce)
{
    const dp_tensor *x = k->in[0], *ind = k->in[1], *u = k->in[2];
    int r = x->rank, q = ind->rank;
    if (r < 1 || q < 1)
        return dp_kfail(k, DP_EINPUT, "data and indices need rank >= 1 (have %d and %d)", r, q);
    int64_t n = ind->dims[q - 1];
    if (n < 1 || n > r)
        return dp_kfail(k, DP_EINPUT, "index tuples have %lld entries, expected 1 to %d",
                        (long long)n, r);
    *kk = (int)n;
    if (u->rank != q - 1 + r - *kk)
        return dp_kfail(k, DP_EINPUT, "updates have rank %d, expected %d (indices' %d leading "
                        "dimensions and data's last %d)", u->rank, q - 1 + r - *kk, q - 1,
                        r - *kk);
    *tuples = *slice = 1;
    for (int d = 0; d < q - 1; d++) {
        if (u->dims[d] != ind->dims[d])
            return dp_kfail(k, DP_EINPUT, "updates dimension %d is %lld, indices' is %lld", d,
                            (long long)u->dims[d], (long long)ind->dims[d]);
        *tuples *= ind->dims[d];
    }
    for (int d = *kk; d < r; d++) {
        if (u->dims[q - 1 + d - *kk] != x->dims[d])
            return dp_kfail(k, DP_EINPUT, "updates dimension %d is %lld, data's %d is %lld",
                            q - 1 + d - *kk, (long long)u->dims[q - 1 + d - *kk], d,
                            (long long)x->dims[d]);
        *slice *= x->dims[d];
    }
    const char *red = k->opset >= 16 ? dp_attr_string(k, "reduction", "none") : "none";
    if (strcmp(red, "none") == 0)
        *reduce = SND_NONE;
    else if (strcmp(red, "add") == 0)
        *reduce = SND_ADD;
    else if (strcmp(red, "mul") == 0)
        *reduce = SND_MUL;
    else
        return dp_kfail(k, DP_EUNSUPPORTED, "reduction '%s' (supported: none, add, mul)", red);
    if (*reduce != SND_NONE && x->dtype == DP_BOOL)
        return dp_kfail(k, DP_EUNSUPPORTED, "reduction '%s' of bool data", red);
    return DP_OK;
}

dp_status shp_scatter_nd_infer(dp_kctx *k)
{
    int kk;
    int64_t tuples, slice;
    snd_reduce reduce;
    dp_status st = need_indices(k, k->in[1]);
    if (st != DP_OK || (st = snd_plan(k, &kk, &tuples, &slice, &reduce)) != DP_OK)
        return st;
    if (k->in[2]->dtype != k->in[0]->dtype)
        return dp_kfail(k, DP_EINPUT, "updates are %s, data %s", dp_dtype_name(k->in[2]->dtype),
                        dp_dtype_name(k->in[0]->dtype));
    dp_tensor *y = k->out[0];
    y->rank = k->in[0]->rank;
    memcpy(y->dims, k->in[0]->dims, sizeof y->dims);
    return DP_OK;
}

dp_status shp_scatter_nd_run(dp_kctx *k)
{
    const dp_tensor *x = k->in[0], *ind = k->in[1], *u = k->in[2];
    int kk;
    int64_t tuples, slice;
    snd_reduce reduce;
    dp_status st = snd_plan(k, &kk, &tuples, &slice, &reduce);
    if (st != DP_OK)
        return st;
    size_t es = dp_dtype_size(x->dtype);
    dp_tensor *y = k->out[0];
    memcpy(y->data, x->data, dp_nbytes(x));
    int64_t xs[DP_MAX_RANK], v = 0, i = 0;
    dp_strides(x, xs);
    bool fl = dp_dtype_is_float(x->dtype);
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off = 0;
        for (int j = 0; j < kk; j++, i++) {
            if ((st = load_index(k, ind, i, x->dims[j], j, &v)) != DP_OK)
                return st;
            off += v * xs[j];
        }
        int64_t from = t * slice;
        if (reduce == SND_NONE) {
            memcpy((char *)y->data + (size_t)off * es, (const char *)u->data + (size_t)from * es,
                   (size_t)slice * es);
            continue;
        }
        for (int64_t e = 0; e < slice; e++) {
            if (fl) {
                double a = dp_load_f64(y->data, y->dtype, off + e);
                double b = dp_load_f64(u->data, u->dtype, from + e);
                dp_store_f64(y->data, y->dtype, off + e, reduce == SND_ADD ? a + b : a * b);
            } else {
                int64_t a = dp_load_i64(y->data, y->dtype, off + e);
                int64_t b = dp_load_i64(u->data, u->dtype, from + e);
                /* wrapping, as the integer types do, without signed overflow */
                uint64_t w = reduce == SND_ADD ? (uint64_t)a + (uint64_t)b
                                               : (uint64_t)a * (uint64_t)b;
                dp_store_i64(y->data, y->dtype, off + e, (int64_t)w);
            }
        }
    }
    return DP_OK;
}
