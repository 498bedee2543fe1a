/*
 * resize.c: Resize (opsets 10, 11, 13) and Upsample (opsets 7, 9) for the layout family.
 *
 * Semantics follow the ONNX reference (onnx/backend/test/case/node/resize.py), which made
 * the backend tests: per dim, each output index maps to a source coordinate (the
 * coordinate_transformation_mode), then nearest picks one element while linear and cubic
 * weight 2 or 4 neighbours, indices clamped to the edges. Where the reference and the spec
 * text part ways the reference wins (align_corners divides by the unfloored input * scale),
 * except where the spec is explicit: pytorch_half_pixel maps a length-1 output to 0, and
 * tf_crop_and_resize with scales sizes the output by the roi's extent. Resize-10 and
 * Upsample are Resize-11 with asymmetric coordinates and floor rounding, as ONNX's version
 * converter rewrites them.
 *
 * Nearest only moves elements, so it takes any dtype. Linear and cubic interpolate one dim
 * at a time in double, innermost first as the reference nests them, skipping the dims that
 * map every index onto itself.
 */
#include "layout_ops.h"

#include <math.h>
#include <string.h>

enum { RZ_NEAREST, RZ_LINEAR, RZ_CUBIC };
enum { CT_HALF_PIXEL, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS, CT_ASYMMETRIC,
       CT_TF_HALF_PIXEL_FOR_NN, CT_TF_CROP_AND_RESIZE };
enum { NR_ROUND_PREFER_FLOOR, NR_ROUND_PREFER_CEIL, NR_FLOOR, NR_CEIL };

static const char *const modes[] = {"nearest", "linear", "cubic"};
static const char *const ctms[] = {"half_pixel", "pytorch_half_pixel", "align_corners",
                                   "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"};
static const char *const nearests[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                       "ceil"};

typedef struct rz_plan {
    int mode, ctm, nearest;
    bool exclude;
    double cubic_a, extrap;
    double scale[DP_MAX_RANK];  /* as given, or output / input when sizes are given */
    double length[DP_MAX_RANK]; /* the reference's output width: input * scale, unfloored */
    double roi[2 * DP_MAX_RANK];
    int64_t out[DP_MAX_RANK];
} rz_plan;

/* One output index's neighbours along a dim; n == 0 means extrapolation_value. */
typedef struct rz_tap {
    int n;
    int64_t idx[4];
    double w[4];
} rz_tap;

static dp_status pick(dp_kctx *k, const char *attr, const char *const *names, int n, int *out)
{
    const char *s = dp_attr_string(k, attr, names[0]);
    for (*out = 0; *out < n; (*out)++)
        if (strcmp(s, names[*out]) == 0)
            return DP_OK;
    return dp_kfail(k, DP_EINPUT, "unknown %s '%s'", attr, s);
}

static dp_status read_floats(dp_kctx *k, const dp_tensor *t, double *v, int n, const char *what)
{
    if (!dp_dtype_is_float(t->dtype))
        return dp_kfail(k, DP_EINPUT, "%s must be float, not %s", what,
                        dp_dtype_name(t->dtype));
    if (t->rank != 1 || t->dims[0] != n)
        return dp_kfail(k, DP_EINPUT, "%s must be 1-D with %d elements", what, n);
    if (!t->data)
        return DP_DYNAMIC;
    for (int i = 0; i < n; i++)
        v[i] = dp_load_f64(t->data, t->dtype, i);
    return DP_OK;
}

/* An optional input that is absent, or present but empty (opset 11's unused scales). */
static const dp_tensor *given(const dp_kctx *k, int i)
{
    const dp_tensor *t = dp_in(k, i);
    return t && dp_numel(t) > 0 ? t : NULL;
}

static dp_status rz_attrs(dp_kctx *k, bool legacy, rz_plan *p)
{
    dp_status st = pick(k, "mode", modes, legacy ? 2 : 3, &p->mode);
    p->ctm = CT_ASYMMETRIC;
    p->nearest = NR_FLOOR;
    p->exclude = false;
    p->cubic_a = -0.75;
    p->extrap = 0;
    if (st != DP_OK || legacy)
        return st;
    if ((st = pick(k, "coordinate_transformation_mode", ctms, 6, &p->ctm)) != DP_OK ||
        (st = pick(k, "nearest_mode", nearests, 4, &p->nearest)) != DP_OK)
        return st;
    p->exclude = dp_attr_int(k, "exclude_outside", 0) != 0;
    p->cubic_a = dp_attr_float(k, "cubic_coeff_a", -0.75f);
    p->extrap = dp_attr_float(k, "extrapolation_value", 0);
    return DP_OK;
}

/*
 * Attributes, scales (from Upsample-7's attribute, Upsample-9's and Resize-10's input, or
 * Resize-11's) or sizes, roi, and the output shape. roi's value is needed for the shape only
 * with scales in tf_crop_and_resize mode; otherwise an unknown roi leaves infer be.
 */
static dp_status rz_plan_make(dp_kctx *k, bool upsample, rz_plan *p)
{
    const dp_tensor *x = k->in[0], *scales = NULL, *sizes = NULL, *roi = NULL;
    int r = x->rank;
    bool legacy = upsample || k->opset < 11;
    double s[DP_MAX_RANK];
    dp_status st = rz_attrs(k, legacy, p);
    if (st != DP_OK)
        return st;
    if (upsample && k->opset < 9) {
        const float *f;
        int n = dp_attr_floats(k, "scales", &f);
        if (k->n_in > 1)
            return dp_kfail(k, DP_EINPUT, "takes scales as an attribute at opset %d, not an "
                            "input", k->opset);
        if (n < 0)
            return dp_kfail(k, DP_EINPUT, "needs the scales attribute");
        if (n != r)
            return dp_kfail(k, DP_EINPUT, "has %d scales for rank %d", n, r);
        for (int d = 0; d < r; d++)
            s[d] = f[d];
    } else if (legacy) {
        if (k->n_in != 2 || !k->in[1])
            return dp_kfail(k, DP_EINPUT, "needs the scales input (and no other) at opset %d",
                            k->opset);
        scales = k->in[1];
    } else {
        roi = given(k, 1);
        scales = given(k, 2);
        sizes = given(k, 3);
        if (!scales == !sizes)
            return dp_kfail(k, DP_EINPUT, "needs exactly one of scales and sizes");
    }
    for (int d = 0; d < r; d++) {
        p->roi[d] = 0;
        p->roi[r + d] = 1;
    }
    if (roi && p->ctm == CT_TF_CROP_AND_RESIZE) {
        st = read_floats(k, roi, p->roi, 2 * r, "roi");
        if (st != DP_OK && (st != DP_DYNAMIC || scales))
            return st;
    }
    if (sizes) {
        int n;
        if ((st = dp_read_ints(k, sizes, p->out, DP_MAX_RANK, &n, "sizes")) != DP_OK)
            return st;
        if (n != r)
            return dp_kfail(k, DP_EINPUT, "has %d sizes for rank %d", n, r);
    } else if (scales && (st = read_floats(k, scales, s, r, "scales")) != DP_OK) {
        return st;
    }
    for (int d = 0; d < r; d++) {
        double in = (double)x->dims[d];
        if (!sizes) {
            if (!(s[d] > 0) || (upsample && s[d] < 1))
                return dp_kfail(k, DP_EINPUT, "scale %g of dimension %d must be %s", s[d], d,
                                upsample ? ">= 1" : "positive");
            double o = p->ctm == CT_TF_CROP_AND_RESIZE
                           ? in * (p->roi[r + d] - p->roi[d]) * s[d] : in * s[d];
            if (!(o >= 0 && o <= (double)DP_MAX_ELEMENTS))
                return dp_kfail(k, DP_EINPUT, "scale %g makes dimension %d out of range", s[d],
                                d);
            p->out[d] = (int64_t)floor(o);
            p->scale[d] = s[d];
            p->length[d] = in * s[d];
        } else {
            if (p->out[d] < 0)
                return dp_kfail(k, DP_EINPUT, "size %lld of dimension %d is negative",
                                (long long)p->out[d], d);
            p->scale[d] = in > 0 ? (double)p->out[d] / in : 1;
            p->length[d] = (double)p->out[d];
        }
        if (x->dims[d] == 0 && p->out[d] > 0)
            return dp_kfail(k, DP_EINPUT, "cannot resize empty dimension %d to %lld", d,
                            (long long)p->out[d]);
    }
    return DP_OK;
}

/* The source coordinate of output index x along dim d of a rank-r input. */
static double rz_coord(const rz_plan *p, int r, int d, int64_t x, int64_t in, bool *outside)
{
    double s = p->scale[d], len = p->length[d];
    int64_t out = p->out[d];
    *outside = false;
    switch (p->ctm) {
    case CT_HALF_PIXEL: return (x + 0.5) / s - 0.5;
    case CT_PYTORCH_HALF_PIXEL: return out > 1 ? (x + 0.5) / s - 0.5 : 0;
    case CT_ALIGN_CORNERS: return len == 1 ? 0 : x * (double)(in - 1) / (len - 1);
    case CT_ASYMMETRIC: return x / s;
    case CT_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / s;
    default: {
        double a = p->roi[d], b = p->roi[r + d];
        double v = out == 1 ? (b - a) * (in - 1) / 2 : x * (b - a) * (in - 1) / (out - 1);
        v += a * (in - 1);
        *outside = !(v >= 0 && v <= in - 1);
        return v;
    }
    }
}

static int64_t clamp_index(double i, int64_t in)
{
    return i < 0 ? 0 : i > in - 1 ? in - 1 : (int64_t)i;
}

static int64_t nearest_index(int mode, double v, int64_t in)
{
    double f = floor(v), u = v - f;
    if (u > 0 && (mode == NR_CEIL || (mode == NR_ROUND_PREFER_CEIL && u >= 0.5) ||
                  (mode == NR_ROUND_PREFER_FLOOR && u > 0.5)))
        f += 1;
    return clamp_index(f, in);
}

/* Neighbours and weights of every output index along dim d; true if each is just itself. */
static bool rz_taps(const rz_plan *p, int r, int d, int64_t in, rz_tap *t)
{
    bool ident = in == p->out[d];
    for (int64_t x = 0; x < p->out[d]; x++, t++) {
        bool outside;
        double v = rz_coord(p, r, d, x, in, &outside), f = floor(v), u = v - f;
        ident = ident && !outside && u == 0;
        if (outside) {
            t->n = 0;
            continue;
        }
        if (u == 0) { /* on an element: the reference weights its neighbours by exactly 0 */
            t->n = 1;
            t->idx[0] = clamp_index(f, in);
            t->w[0] = 1;
            ident = ident && t->idx[0] == x;
            continue;
        }
        double a = p->cubic_a, sum = 0, u1 = u + 1, w = 1 - u, w1 = w + 1;
        if (p->mode == RZ_LINEAR) {
            t->n = 2;
            t->w[0] = w;
            t->w[1] = u;
        } else {
            t->n = 4;
            t->w[0] = ((a * u1 - 5 * a) * u1 + 8 * a) * u1 - 4 * a;
            t->w[1] = ((a + 2) * u - (a + 3)) * u * u + 1;
            t->w[2] = ((a + 2) * w - (a + 3)) * w * w + 1;
            t->w[3] = ((a * w1 - 5 * a) * w1 + 8 * a) * w1 - 4 * a;
        }
        int64_t first = (int64_t)f - (p->mode == RZ_CUBIC);
        for (int i = 0; i < t->n; i++) {
            int64_t j = first + i;
            if (p->exclude && (j < 0 || j >= in))
                t->w[i] = 0;
            sum += t->w[i];
            t->idx[i] = j < 0 ? 0 : j >= in ? in - 1 : j;
        }
        for (int i = 0; p->exclude && i < t->n; i++)
            t->w[i] /= sum;
    }
    return ident;
}

static dp_status rz_infer(dp_kctx *k, bool upsample)
{
    rz_plan p;
    dp_status st = rz_plan_make(k, upsample, &p);
    if (st == DP_OK) {
        k->out[0]->rank = k->in[0]->rank;
        memcpy(k->out[0]->dims, p.out, (size_t)k->in[0]->rank * sizeof p.out[0]);
    }
    return st;
}

static dp_status rz_nearest(dp_kctx *k, const rz_plan *p)
{
    const dp_tensor *x = k->in[0];
    dp_tensor *y = k->out[0];
    int64_t *map[DP_MAX_RANK], stride[DP_MAX_RANK];
    dp_status st = lay_maps(k, y->rank, y->dims, map);
    if (st != DP_OK)
        return st;
    dp_strides(x, stride);
    for (int d = 0; d < y->rank; d++)
        for (int64_t o = 0; o < y->dims[d]; o++) {
            bool outside;
            double v = rz_coord(p, x->rank, d, o, x->dims[d], &outside);
            map[d][o] = outside ? -1 : nearest_index(p->nearest, v, x->dims[d]) * stride[d];
        }
    unsigned char fill[8] = {0};
    dp_store_f64(fill, x->dtype, 0, p->extrap);
    lay_gather(y->data, x->data, dp_dtype_size(x->dtype), y->rank, y->dims, map, fill);
    return DP_OK;
}

/* Scratch of n elements of size es, failing cleanly on overflow or exhaustion. */
static void *alloc(dp_kctx *k, int64_t n, size_t es)
{
    size_t bytes;
    void *m = dp_mul_size((size_t)n, es, &bytes) == 0 ? dp_scratch(k, bytes) : NULL;
    if (!m)
        dp_kfail(k, DP_ENOMEM, "out of scratch memory for %lld interpolation values",
                 (long long)n);
    return m;
}

static dp_status rz_interpolate(dp_kctx *k, const rz_plan *p)
{
    const dp_tensor *x = k->in[0];
    dp_tensor *y = k->out[0];
    int r = x->rank;
    int64_t cur[DP_MAX_RANK], n = dp_numel(x);
    memcpy(cur, x->dims, sizeof cur);
    double *buf = alloc(k, n, sizeof *buf);
    if (!buf)
        return DP_ENOMEM;
    for (int64_t i = 0; i < n; i++)
        buf[i] = dp_load_f64(x->data, x->dtype, i);
    for (int d = r - 1; d >= 0; d--) {
        int64_t outer = 1, inner = 1, m, od = p->out[d];
        rz_tap *taps = alloc(k, od, sizeof *taps);
        if (!taps)
            return DP_ENOMEM;
        if (rz_taps(p, r, d, x->dims[d], taps))
            continue;
        for (int i = 0; i < r; i++)
            if (i != d)
                *(i < d ? &outer : &inner) *= cur[i];
        if (dp_mul_i64(outer * inner, od, &m) != 0 || m > DP_MAX_ELEMENTS)
            return dp_kfail(k, DP_EINPUT, "interpolation step over dimension %d is too large",
                            d);
        double *next = alloc(k, m, sizeof *next);
        if (!next)
            return DP_ENOMEM;
        for (int64_t o = 0; o < outer; o++) {
            const double *s = buf + o * cur[d] * inner;
            double *t = next + o * od * inner;
            for (int64_t j = 0; j < od; j++, t += inner) {
                const rz_tap *tp = &taps[j];
                for (int64_t i = 0; i < inner; i++) {
                    double acc = tp->n ? 0 : p->extrap;
                    for (int c = 0; c < tp->n; c++)
                        acc += tp->w[c] * s[tp->idx[c] * inner + i];
                    t[i] = acc;
                }
            }
        }
        buf = next;
        cur[d] = od;
    }
    int64_t total = dp_numel(y);
    for (int64_t i = 0; i < total; i++)
        dp_store_f64(y->data, y->dtype, i, buf[i]);
    return DP_OK;
}

static dp_status rz_run(dp_kctx *k, bool upsample)
{
    rz_plan p;
    dp_status st = rz_plan_make(k, upsample, &p);
    if (st != DP_OK || dp_numel(k->out[0]) == 0)
        return st;
    return p.mode == RZ_NEAREST ? rz_nearest(k, &p) : rz_interpolate(k, &p);
}

dp_status lay_resize_types(dp_kctx *k)
{
    dp_dtype t = k->in[0]->dtype;
    if (strcmp(dp_attr_string(k, "mode", "nearest"), "nearest") != 0 &&
        !dp_dtype_is_float(t) && !dp_dtype_is_integer(t))
        return dp_kfail(k, DP_EUNSUPPORTED, "interpolation does not support dtype %s",
                        dp_dtype_name(t));
    return lay_types_bytes(k);
}

dp_status lay_resize_infer(dp_kctx *k) { return rz_infer(k, false); }
dp_status lay_resize_run(dp_kctx *k) { return rz_run(k, false); }
dp_status lay_upsample_infer(dp_kctx *k) { return rz_infer(k, true); }
dp_status lay_upsample_run(dp_kctx *k) { return rz_run(k, true); }
