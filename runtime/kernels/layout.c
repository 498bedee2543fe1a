/*
 * layout.c: reference kernels for ONNX's layout ops: Pad, Tile, DepthToSpace, SpaceToDepth,
 * Trilu, EyeLike, OneHot, Range and ConstantOfShape here, Resize and Upsample in resize.c. The
 * family's table is here.
 *
 * All but Range (and Resize outside nearest mode) only move elements, so they work for every
 * storable dtype by element size; most build, per output dim, a map from output index to
 * input offset and let lay_gather copy. Output shapes that depend on an input's value (pads,
 * repeats, depth, Range's bounds, ConstantOfShape's shape) make infer return DP_DYNAMIC
 * while that value is unknown.
 */
#include "layout_ops.h"

#include <math.h>
#include <string.h>

/* Fixed-size copies compile to single moves; element sizes are 1, 2, 4 or 8. */
static inline void put(unsigned char *o, const unsigned char *s, size_t es)
{
    switch (es) {
    case 1: *o = *s; break;
    case 2: memcpy(o, s, 2); break;
    case 4: memcpy(o, s, 4); break;
    default: memcpy(o, s, 8); break;
    }
}

void lay_gather(void *dst, const void *src, size_t es, int rank, const int64_t *dims,
                int64_t *const *map, const void *fill)
{
    int64_t n = 1;
    for (int d = 0; d < rank; d++)
        n *= dims[d];
    if (n == 0)
        return;
    if (rank == 0) {
        put(dst, src, es);
        return;
    }
    const unsigned char *s = src;
    unsigned char *o = dst;
    int64_t idx[DP_MAX_RANK] = {0}, last = dims[rank - 1];
    const int64_t *inner = map[rank - 1];
    for (int64_t row = n / last; row > 0; row--) {
        int64_t base = 0; /* -1: some outer index maps to the fill */
        for (int d = 0; d < rank - 1 && base >= 0; d++)
            base = map[d][idx[d]] < 0 ? -1 : base + map[d][idx[d]];
        for (int64_t j = 0; j < last; j++, o += es)
            put(o, base < 0 || inner[j] < 0 ? fill : s + (base + inner[j]) * (int64_t)es, es);
        for (int d = rank - 2; d >= 0 && ++idx[d] == dims[d]; d--)
            idx[d] = 0;
    }
}

dp_status lay_maps(dp_kctx *k, int rank, const int64_t *dims, int64_t *map[DP_MAX_RANK])
{
    int64_t total = 0;
    for (int d = 0; d < rank; d++)
        total += dims[d];
    int64_t *m = dp_scratch(k, (size_t)total * sizeof *m);
    if (!m)
        return dp_kfail(k, DP_ENOMEM, "out of scratch memory for %lld index entries",
                        (long long)total);
    for (int d = 0; d < rank; d++) {
        map[d] = m;
        m += dims[d];
    }
    return DP_OK;
}

dp_status lay_types_bytes(dp_kctx *k)
{
    dp_dtype t = k->in[0]->dtype;
    if (!dp_dtype_size(t))
        return dp_kfail(k, DP_EUNSUPPORTED, "unsupported dtype %s", dp_dtype_name(t));
    k->out[0]->dtype = t;
    return DP_OK;
}

static void set_shape(dp_tensor *t, int rank, const int64_t *dims)
{
    t->rank = rank;
    memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
}

/* Copies x into y's shape through a strided view: output index i_d reads i_d * stride[d]. */
static dp_status strided_copy(dp_kctx *k, const dp_tensor *x, dp_tensor *y, int rank,
                              const int64_t *dims, const int64_t *stride)
{
    int64_t *map[DP_MAX_RANK];
    if (dp_numel(y) == 0)
        return DP_OK;
    dp_status st = lay_maps(k, rank, dims, map);
    if (st != DP_OK)
        return st;
    for (int d = 0; d < rank; d++)
        for (int64_t i = 0; i < dims[d]; i++)
            map[d][i] = i * stride[d];
    lay_gather(y->data, x->data, dp_dtype_size(x->dtype), rank, dims, map, NULL);
    return DP_OK;
}

/* A one-element input (a scalar, or 1-D of one element as exporters often write). */
static dp_status one_element(dp_kctx *k, const dp_tensor *t, const char *what)
{
    if (t->rank > 1 || dp_numel(t) != 1)
        return dp_kfail(k, DP_EINPUT, "%s must hold exactly one element", what);
    return DP_OK;
}

/* ---- Pad ---- */

typedef enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE } pad_mode;

typedef struct pad_plan {
    pad_mode mode;
    int64_t pads[2 * DP_MAX_RANK]; /* begins, then ends; negative ones crop */
    int64_t out[DP_MAX_RANK];
} pad_plan;

/* Pads and value are attributes before opset 11 (Pad-2), inputs from then on. */
static dp_status pad_plan_make(dp_kctx *k, pad_plan *p)
{
    const dp_tensor *x = k->in[0], *v = dp_in(k, 2);
    int r = x->rank, n;
    dp_status st;
    if (k->opset >= 11) {
        if (dp_attr_find(k, "pads"))
            return dp_kfail(k, DP_EINPUT, "takes pads as an input at opset %d, not an "
                            "attribute", k->opset);
        if (!dp_in(k, 1))
            return dp_kfail(k, DP_EINPUT, "needs the pads input");
        if (v && (v->dtype != x->dtype || v->rank > 1 || dp_numel(v) != 1))
            return dp_kfail(k, DP_EINPUT, "constant_value must be one %s element",
                            dp_dtype_name(x->dtype));
        st = dp_read_ints(k, k->in[1], p->pads, 2 * DP_MAX_RANK, &n, "pads");
        if (st != DP_OK)
            return st;
    } else {
        const int64_t *a;
        if (k->n_in > 1)
            return dp_kfail(k, DP_EINPUT, "takes pads as an attribute at opset %d, not an "
                            "input", k->opset);
        n = dp_attr_ints(k, "pads", &a);
        if (n < 0)
            return dp_kfail(k, DP_EINPUT, "needs the pads attribute");
        if (n > 2 * DP_MAX_RANK)
            return dp_kfail(k, DP_EINPUT, "has %d pads, at most %d allowed", n, 2 * DP_MAX_RANK);
        if (n > 0)
            memcpy(p->pads, a, (size_t)n * sizeof *a);
    }
    if (n != 2 * r)
        return dp_kfail(k, DP_EINPUT, "has %d pads for rank %d, expected %d", n, r, 2 * r);
    const char *m = dp_attr_string(k, "mode", "constant");
    if (strcmp(m, "constant") == 0)
        p->mode = PAD_CONSTANT;
    else if (strcmp(m, "reflect") == 0)
        p->mode = PAD_REFLECT;
    else if (strcmp(m, "edge") == 0)
        p->mode = PAD_EDGE;
    else
        return dp_kfail(k, DP_EINPUT, "unknown mode '%s'", m);
    for (int d = 0; d < r; d++) {
        int64_t b = p->pads[d], e = p->pads[r + d];
        if (b > DP_MAX_ELEMENTS || b < -DP_MAX_ELEMENTS || e > DP_MAX_ELEMENTS ||
            e < -DP_MAX_ELEMENTS)
            return dp_kfail(k, DP_EINPUT, "pads (%lld, %lld) of dimension %d are out of range",
                            (long long)b, (long long)e, d);
        /* Negative pads crop first; reflect and edge then see only what is kept. */
        int64_t kept = x->dims[d] + (b < 0 ? b : 0) + (e < 0 ? e : 0);
        if (kept < 0)
            return dp_kfail(k, DP_EINPUT, "pads (%lld, %lld) crop more than dimension %d's "
                            "%lld elements", (long long)b, (long long)e, d,
                            (long long)x->dims[d]);
        if (p->mode == PAD_REFLECT && ((b > 0 && b >= kept) || (e > 0 && e >= kept)))
            return dp_kfail(k, DP_EINPUT, "reflect pads (%lld, %lld) must be smaller than "
                            "dimension %d (%lld after cropping)", (long long)b, (long long)e,
                            d, (long long)kept);
        if (p->mode == PAD_EDGE && (b > 0 || e > 0) && kept == 0)
            return dp_kfail(k, DP_EINPUT, "edge pads of empty dimension %d", d);
        p->out[d] = kept + (b > 0 ? b : 0) + (e > 0 ? e : 0);
    }
    return DP_OK;
}

static dp_status pad_infer(dp_kctx *k)
{
    pad_plan p;
    dp_status st = pad_plan_make(k, &p);
    if (st == DP_OK)
        set_shape(k->out[0], k->in[0]->rank, p.out);
    return st;
}

static dp_status pad_run(dp_kctx *k)
{
    const dp_tensor *x = k->in[0], *v = dp_in(k, 2);
    dp_tensor *y = k->out[0];
    int r = x->rank;
    size_t es = dp_dtype_size(x->dtype);
    pad_plan p;
    int64_t *map[DP_MAX_RANK], stride[DP_MAX_RANK];
    dp_status st = pad_plan_make(k, &p);
    if (st != DP_OK || dp_numel(y) == 0 || (st = lay_maps(k, r, y->dims, map)) != DP_OK)
        return st;
    dp_strides(x, stride);
    for (int d = 0; d < r; d++) {
        int64_t b = p.pads[d], e = p.pads[r + d];
        int64_t lo = b < 0 ? -b : 0, grow = b > 0 ? b : 0;
        int64_t kept = x->dims[d] - lo + (e < 0 ? e : 0);
        for (int64_t o = 0; o < y->dims[d]; o++) {
            int64_t j = o - grow;
            if (j < 0 || j >= kept) {
                if (p.mode == PAD_CONSTANT) {
                    map[d][o] = -1;
                    continue;
                }
                if (p.mode == PAD_REFLECT)
                    j = j < 0 ? -j : 2 * (kept - 1) - j;
                else
                    j = j < 0 ? 0 : kept - 1;
            }
            map[d][o] = (lo + j) * stride[d];
        }
    }
    unsigned char fill[8] = {0};
    if (k->opset < 11)
        dp_store_f64(fill, x->dtype, 0, dp_attr_float(k, "value", 0));
    else if (v)
        memcpy(fill, v->data, es);
    lay_gather(y->data, x->data, es, r, y->dims, map, fill);
    return DP_OK;
}

/* ---- Tile ---- */

static dp_status tile_plan(dp_kctx *k, int64_t *out)
{
    const dp_tensor *x = k->in[0];
    int64_t rep[DP_MAX_RANK];
    int n;
    dp_status st = dp_read_ints(k, k->in[1], rep, DP_MAX_RANK, &n, "repeats");
    if (st != DP_OK)
        return st;
    if (n != x->rank)
        return dp_kfail(k, DP_EINPUT, "has %d repeats for rank %d", n, x->rank);
    for (int d = 0; d < n; d++) {
        if (rep[d] < 0)
            return dp_kfail(k, DP_EINPUT, "repeat %d is negative (%lld)", d, (long long)rep[d]);
        if (dp_mul_i64(x->dims[d], rep[d], &out[d]) != 0 || out[d] > DP_MAX_ELEMENTS)
            return dp_kfail(k, DP_EINPUT, "repeating dimension %d %lld times overflows", d,
                            (long long)rep[d]);
    }
    return DP_OK;
}

static dp_status tile_infer(dp_kctx *k)
{
    int64_t out[DP_MAX_RANK];
    dp_status st = tile_plan(k, out);
    if (st == DP_OK)
        set_shape(k->out[0], k->in[0]->rank, out);
    return st;
}

static dp_status tile_run(dp_kctx *k)
{
    const dp_tensor *x = k->in[0];
    dp_tensor *y = k->out[0];
    int64_t *map[DP_MAX_RANK], stride[DP_MAX_RANK];
    dp_status st = DP_OK;
    if (dp_numel(y) == 0 || (st = lay_maps(k, y->rank, y->dims, map)) != DP_OK)
        return st;
    dp_strides(x, stride);
    for (int d = 0; d < y->rank; d++)
        for (int64_t o = 0; o < y->dims[d]; o++)
            map[d][o] = o % x->dims[d] * stride[d];
    lay_gather(y->data, x->data, dp_dtype_size(x->dtype), y->rank, y->dims, map, NULL);
    return DP_OK;
}

/* ---- DepthToSpace, SpaceToDepth ---- */

/* blocksize, and the 4-D output shape; a block of b x b elements must fit the limits. */
static dp_status blocks_plan(dp_kctx *k, bool to_space, int64_t *b, int64_t out[4])
{
    const dp_tensor *x = k->in[0];
    if (x->rank != 4)
        return dp_kfail(k, DP_EINPUT, "needs a 4-D input, got rank %d", x->rank);
    if (!dp_attr_find(k, "blocksize"))
        return dp_kfail(k, DP_EINPUT, "needs the blocksize attribute");
    *b = dp_attr_int(k, "blocksize", 1);
    if (*b < 1 || *b > (1 << 20))
        return dp_kfail(k, DP_EINPUT, "blocksize %lld is out of range", (long long)*b);
    const int64_t *d = x->dims, bb = *b * *b;
    if (to_space) {
        if (d[1] % bb != 0)
            return dp_kfail(k, DP_EINPUT, "channels (%lld) are not a multiple of blocksize^2 "
                            "(%lld)", (long long)d[1], (long long)bb);
        int64_t o[4] = {d[0], d[1] / bb, d[2] * *b, d[3] * *b};
        memcpy(out, o, sizeof o);
    } else {
        if (d[2] % *b != 0 || d[3] % *b != 0)
            return dp_kfail(k, DP_EINPUT, "height and width (%lld, %lld) are not multiples of "
                            "blocksize %lld", (long long)d[2], (long long)d[3], (long long)*b);
        int64_t o[4] = {d[0], d[1] * bb, d[2] / *b, d[3] / *b};
        memcpy(out, o, sizeof o);
    }
    return DP_OK;
}

/* DCR (the default, and the only mode before opset 11) or CRD: true for CRD. */
static dp_status d2s_crd(dp_kctx *k, bool *crd)
{
    const char *m = k->opset >= 11 ? dp_attr_string(k, "mode", "DCR") : "DCR";
    *crd = strcmp(m, "CRD") == 0;
    if (!*crd && strcmp(m, "DCR") != 0)
        return dp_kfail(k, DP_EINPUT, "unknown mode '%s'", m);
    return DP_OK;
}

static dp_status d2s_infer(dp_kctx *k)
{
    int64_t b, out[4];
    bool crd;
    dp_status st = blocks_plan(k, true, &b, out);
    if (st == DP_OK && (st = d2s_crd(k, &crd)) == DP_OK)
        set_shape(k->out[0], 4, out);
    return st;
}

static dp_status s2d_infer(dp_kctx *k)
{
    int64_t b, out[4];
    dp_status st = blocks_plan(k, false, &b, out);
    if (st == DP_OK)
        set_shape(k->out[0], 4, out);
    return st;
}

/*
 * The output is viewed as 6-D, each dim stepping through the input by a fixed stride.
 * DepthToSpace: out[n][c][h*b+i][w*b+j] = in[n][ch][h][w] with ch = (i*b+j)*C' + c (DCR)
 * or c*b*b + i*b + j (CRD); SpaceToDepth is DCR's inverse.
 */
static dp_status d2s_run(dp_kctx *k)
{
    const dp_tensor *x = k->in[0];
    int64_t b, out[4];
    bool crd;
    dp_status st = blocks_plan(k, true, &b, out);
    if (st != DP_OK || (st = d2s_crd(k, &crd)) != DP_OK)
        return st;
    int64_t c = out[1], h = x->dims[2], w = x->dims[3], sc = h * w, sn = x->dims[1] * sc;
    int64_t dims[6] = {x->dims[0], c, h, b, w, b};
    int64_t dcr[6] = {sn, sc, w, b * c * sc, 1, c * sc};
    int64_t crd_stride[6] = {sn, b * b * sc, w, b * sc, 1, sc};
    return strided_copy(k, x, k->out[0], 6, dims, crd ? crd_stride : dcr);
}

static dp_status s2d_run(dp_kctx *k)
{
    const dp_tensor *x = k->in[0];
    int64_t b, out[4];
    dp_status st = blocks_plan(k, false, &b, out);
    if (st != DP_OK)
        return st;
    int64_t w = x->dims[3], sc = x->dims[2] * w, sn = x->dims[1] * sc;
    int64_t dims[6] = {x->dims[0], b, b, x->dims[1], out[2], out[3]};
    int64_t stride[6] = {sn, w, 1, sc, b * w, b};
    return strided_copy(k, x, k->out[0], 6, dims, stride);
}

/* ---- Trilu ---- */

static dp_status trilu_infer(dp_kctx *k)
{
    const dp_tensor *x = k->in[0], *kt = dp_in(k, 1);
    if (x->rank < 2)
        return dp_kfail(k, DP_EINPUT, "needs rank 2 or more, got %d", x->rank);
    if (kt && kt->dtype != DP_INT64)
        return dp_kfail(k, DP_EINPUT, "k must be int64, not %s", dp_dtype_name(kt->dtype));
    dp_status st = kt ? one_element(k, kt, "k") : DP_OK;
    if (st == DP_OK)
        set_shape(k->out[0], x->rank, x->dims);
    return st;
}

/* Each row keeps one contiguous run of columns: [i+k, cols) (upper) or [0, i+k] (lower). */
static dp_status trilu_run(dp_kctx *k)
{
    const dp_tensor *x = k->in[0], *kt = dp_in(k, 1);
    unsigned char *y = k->out[0]->data;
    const unsigned char *s = x->data;
    size_t es = dp_dtype_size(x->dtype);
    int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
    int64_t n = dp_numel(x), diag = kt ? dp_load_i64(kt->data, kt->dtype, 0) : 0;
    bool upper = dp_attr_int(k, "upper", 1) != 0;
    if (n == 0)
        return DP_OK;
    /* Beyond these bounds every row keeps all or nothing; clamping avoids overflow. */
    diag = diag < -rows ? -rows : diag > cols ? cols : diag;
    size_t row = (size_t)cols * es;
    for (int64_t r = 0; r < n / cols; r++, s += row, y += row) {
        int64_t i = r % rows, cut = upper ? i + diag : i + diag + 1;
        cut = cut < 0 ? 0 : cut > cols ? cols : cut;
        size_t at = (size_t)cut * es;
        if (upper) {
            memset(y, 0, at);
            memmove(y + at, s + at, row - at);
        } else {
            memmove(y, s, at);
            memset(y + at, 0, row - at);
        }
    }
    return DP_OK;
}

/* ---- EyeLike ---- */

/* The output takes the dtype attribute (ONNX's numbering, which dp_dtype shares), else the
 * input's type. */
static dp_status eyelike_types(dp_kctx *k)
{
    int64_t want = dp_attr_int(k, "dtype", -1);
    dp_dtype t = want < 0 ? k->in[0]->dtype : (dp_dtype)want;
    if (want > INT32_MAX || !dp_dtype_size(t) || t == DP_STRING)
        return dp_kfail(k, DP_EUNSUPPORTED, "unsupported dtype %lld", (long long)want);
    k->out[0]->dtype = t;
    return DP_OK;
}

static dp_status eyelike_infer(dp_kctx *k)
{
    const dp_tensor *x = k->in[0];
    if (x->rank != 2)
        return dp_kfail(k, DP_EINPUT, "needs a 2-D input, got rank %d", x->rank);
    set_shape(k->out[0], 2, x->dims);
    return DP_OK;
}

/* Ones on the k-th diagonal (above the main one for k > 0), zeros elsewhere. */
static dp_status eyelike_run(dp_kctx *k)
{
    dp_tensor *y = k->out[0];
    int64_t rows = y->dims[0], cols = y->dims[1], diag = dp_attr_int(k, "k", 0);
    memset(y->data, 0, dp_nbytes(y));
    /* clamped first: a k beyond the matrix leaves it all zeros, without overflow */
    diag = diag < -rows ? -rows : diag > cols ? cols : diag;
    for (int64_t i = diag < 0 ? -diag : 0; i < rows && i + diag < cols; i++)
        dp_store_f64(y->data, y->dtype, i * cols + i + diag, 1.0);
    return DP_OK;
}

/* ---- OneHot ---- */

static dp_status onehot_types(dp_kctx *k)
{
    for (int i = 0; i < 3; i++)
        if (!dp_dtype_size(k->in[i]->dtype))
            return dp_kfail(k, DP_EUNSUPPORTED, "unsupported dtype %s for input %d",
                            dp_dtype_name(k->in[i]->dtype), i);
    k->out[0]->dtype = k->in[2]->dtype;
    return DP_OK;
}

static dp_status onehot_plan(dp_kctx *k, int *axis, int64_t *depth)
{
    const dp_tensor *ind = k->in[0], *dt = k->in[1], *vals = k->in[2];
    dp_status st = one_element(k, dt, "depth");
    if (st != DP_OK)
        return st;
    if (vals->rank != 1 || vals->dims[0] != 2)
        return dp_kfail(k, DP_EINPUT, "values must be 1-D with 2 elements (off, on)");
    if (ind->rank + 1 > DP_MAX_RANK)
        return dp_kfail(k, DP_EINPUT, "output rank %d exceeds %d", ind->rank + 1, DP_MAX_RANK);
    *axis = dp_norm_axis(dp_attr_int(k, "axis", -1), ind->rank + 1);
    if (*axis < 0)
        return dp_kfail(k, DP_EINPUT, "axis %lld is out of range for rank %d",
                        (long long)dp_attr_int(k, "axis", -1), ind->rank + 1);
    if (!dt->data)
        return DP_DYNAMIC;
    double v = dp_load_f64(dt->data, dt->dtype, 0); /* non-integer depths cast to int64 */
    if (!(v >= 0 && v <= (double)DP_MAX_ELEMENTS))
        return dp_kfail(k, DP_EINPUT, "depth %g is out of range", v);
    *depth = (int64_t)v;
    return DP_OK;
}

static dp_status onehot_infer(dp_kctx *k)
{
    const dp_tensor *ind = k->in[0];
    int axis;
    int64_t depth, d[DP_MAX_RANK];
    dp_status st = onehot_plan(k, &axis, &depth);
    if (st != DP_OK)
        return st;
    for (int i = 0, j = 0; i <= ind->rank; i++)
        d[i] = i == axis ? depth : ind->dims[j++];
    set_shape(k->out[0], ind->rank + 1, d);
    return DP_OK;
}

static dp_status onehot_run(dp_kctx *k)
{
    const dp_tensor *ind = k->in[0], *vals = k->in[2];
    int axis;
    int64_t depth, inner = 1;
    dp_status st = onehot_plan(k, &axis, &depth);
    if (st != DP_OK)
        return st;
    size_t es = dp_dtype_size(vals->dtype);
    const unsigned char *off = vals->data, *on = off + es;
    unsigned char *y = k->out[0]->data;
    int64_t n = dp_numel(ind), total = n * depth;
    for (int i = axis; i < ind->rank; i++)
        inner *= ind->dims[i];
    for (int64_t i = 0; i < total; i++)
        put(y + i * (int64_t)es, off, es);
    for (int64_t p = 0; p < n; p++) {
        int64_t c = dp_load_i64(ind->data, ind->dtype, p);
        if (c < 0 && k->opset >= 11) /* negative indices count from the end since opset 11 */
            c += depth;
        if (c >= 0 && c < depth)
            put(y + ((p / inner * depth + c) * inner + p % inner) * (int64_t)es, on, es);
    }
    return DP_OK;
}

/* ---- Range ---- */

static dp_status range_types(dp_kctx *k)
{
    dp_dtype t = k->in[0]->dtype;
    if (t != DP_FLOAT && t != DP_DOUBLE && t != DP_INT16 && t != DP_INT32 && t != DP_INT64)
        return dp_kfail(k, DP_EUNSUPPORTED, "unsupported dtype %s", dp_dtype_name(t));
    if (k->in[1]->dtype != t || k->in[2]->dtype != t)
        return dp_kfail(k, DP_EINPUT, "start, limit and delta must share one dtype");
    k->out[0]->dtype = t;
    return DP_OK;
}

/* The element count max(ceil((limit - start) / delta), 0), computed without overflow. */
static dp_status range_count(dp_kctx *k, int64_t *n)
{
    static const char *const what[] = {"start", "limit", "delta"};
    dp_dtype t = k->in[0]->dtype;
    for (int i = 0; i < 3; i++) {
        dp_status st = one_element(k, k->in[i], what[i]);
        if (st != DP_OK)
            return st;
    }
    for (int i = 0; i < 3; i++)
        if (!k->in[i]->data)
            return DP_DYNAMIC;
    double q;
    if (dp_dtype_is_float(t)) {
        double s = dp_load_f64(k->in[0]->data, t, 0), l = dp_load_f64(k->in[1]->data, t, 0);
        double d = dp_load_f64(k->in[2]->data, t, 0);
        if (d == 0)
            return dp_kfail(k, DP_EINPUT, "delta is zero");
        /* In the inputs' own precision, as the spec's formula is written over T. */
        q = t == DP_FLOAT ? ceilf(((float)l - (float)s) / (float)d) : ceil((l - s) / d);
        if (isnan(q))
            return dp_kfail(k, DP_EINPUT, "start, limit and delta give no element count");
    } else {
        int64_t s = dp_load_i64(k->in[0]->data, t, 0), l = dp_load_i64(k->in[1]->data, t, 0);
        int64_t d = dp_load_i64(k->in[2]->data, t, 0);
        if (d == 0)
            return dp_kfail(k, DP_EINPUT, "delta is zero");
        uint64_t span = d > 0 ? (uint64_t)l - (uint64_t)s : (uint64_t)s - (uint64_t)l;
        uint64_t step = d > 0 ? (uint64_t)d : -(uint64_t)d;
        q = (d > 0 ? l <= s : l >= s) ? 0 : (double)(span / step + (span % step != 0));
    }
    if (q > (double)DP_MAX_ELEMENTS)
        return dp_kfail(k, DP_EINPUT, "would make %g elements, more than the limit of 2^40", q);
    *n = q > 0 ? (int64_t)q : 0;
    return DP_OK;
}

static dp_status range_infer(dp_kctx *k)
{
    int64_t n;
    dp_status st = range_count(k, &n);
    if (st == DP_OK)
        set_shape(k->out[0], 1, &n);
    return st;
}

/* output[i] = start + i * delta; integers wrap through uint64_t, never overflowing. */
static dp_status range_run(dp_kctx *k)
{
    dp_dtype t = k->in[0]->dtype;
    void *y = k->out[0]->data;
    int64_t n;
    dp_status st = range_count(k, &n);
    if (st != DP_OK)
        return st;
    if (dp_dtype_is_float(t)) {
        double s = dp_load_f64(k->in[0]->data, t, 0), d = dp_load_f64(k->in[2]->data, t, 0);
        for (int64_t i = 0; i < n; i++)
            dp_store_f64(y, t, i, s + (double)i * d);
    } else {
        uint64_t s = (uint64_t)dp_load_i64(k->in[0]->data, t, 0);
        uint64_t d = (uint64_t)dp_load_i64(k->in[2]->data, t, 0);
        for (int64_t i = 0; i < n; i++)
            dp_store_i64(y, t, i, (int64_t)(s + (uint64_t)i * d));
    }
    return DP_OK;
}

/* ---- ConstantOfShape ---- */

static dp_status cos_types(dp_kctx *k)
{
    const dp_tensor *v = dp_attr_tensor(k, "value");
    if (v && !dp_dtype_size(v->dtype))
        return dp_kfail(k, DP_EUNSUPPORTED, "unsupported value dtype %s",
                        dp_dtype_name(v->dtype));
    if (v && (dp_numel(v) != 1 || !v->data))
        return dp_kfail(k, DP_EINPUT, "value must hold exactly one element");
    k->out[0]->dtype = v ? v->dtype : DP_FLOAT;
    return DP_OK;
}

static dp_status cos_infer(dp_kctx *k)
{
    int64_t d[DP_MAX_RANK];
    int n;
    dp_status st = dp_read_ints(k, k->in[0], d, DP_MAX_RANK, &n, "shape");
    if (st != DP_OK)
        return st;
    for (int i = 0; i < n; i++)
        if (d[i] < 0)
            return dp_kfail(k, DP_EINPUT, "shape entry %d is negative (%lld)", i,
                            (long long)d[i]);
    set_shape(k->out[0], n, d);
    return DP_OK;
}

static dp_status cos_run(dp_kctx *k)
{
    const dp_tensor *v = dp_attr_tensor(k, "value");
    dp_tensor *y = k->out[0];
    size_t es = dp_dtype_size(y->dtype);
    static const unsigned char zero[8];
    int64_t n = dp_numel(y);
    for (int64_t i = 0; i < n; i++)
        put((unsigned char *)y->data + i * (int64_t)es, v ? v->data : zero, es);
    return DP_OK;
}

const dp_op_def dp_ops_layout[] = {
    {"Pad", 1, 3, 1, 1, lay_types_bytes, pad_infer, pad_run},
    {"Tile", 2, 2, 1, 1, lay_types_bytes, tile_infer, tile_run},
    {"DepthToSpace", 1, 1, 1, 1, lay_types_bytes, d2s_infer, d2s_run},
    {"SpaceToDepth", 1, 1, 1, 1, lay_types_bytes, s2d_infer, s2d_run},
    {"Trilu", 1, 2, 1, 1, lay_types_bytes, trilu_infer, trilu_run},
    {"EyeLike", 1, 1, 1, 1, eyelike_types, eyelike_infer, eyelike_run},
    {"OneHot", 3, 3, 1, 1, onehot_types, onehot_infer, onehot_run},
    {"Range", 3, 3, 1, 1, range_types, range_infer, range_run},
    {"ConstantOfShape", 1, 1, 1, 1, cos_types, cos_infer, cos_run},
    {"Resize", 1, 4, 1, 1, lay_resize_types, lay_resize_infer, lay_resize_run},
    {"Upsample", 1, 2, 1, 1, lay_resize_types, lay_upsample_infer, lay_upsample_run},
    {0},
};
