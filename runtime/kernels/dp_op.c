/* dp_op.c: the operator registry, attribute getters and the shared types/infer driver. */
#include "dp_op.h"
#include "gemm.h"
#include "weight_panels.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

extern const dp_op_def dp_ops_elementwise[];
extern const dp_op_def dp_ops_nn[];
extern const dp_op_def dp_ops_reduce[];
extern const dp_op_def dp_ops_shape[];
extern const dp_op_def dp_ops_layout[];
extern const dp_op_def dp_ops_quant[];

static const dp_op_def *const op_tables[] = {
    dp_ops_elementwise, dp_ops_nn, dp_ops_reduce, dp_ops_shape, dp_ops_layout, dp_ops_quant,
};

const dp_op_def *dp_op_find(const char *name)
{
    for (size_t t = 0; t < sizeof op_tables / sizeof op_tables[0]; t++)
        for (const dp_op_def *op = op_tables[t]; op->name; op++)
            if (strcmp(op->name, name) == 0)
                return op;
    return NULL;
}

void dp_op_each(void (*fn)(const dp_op_def *op, void *ctx), void *ctx)
{
    for (size_t t = 0; t < sizeof op_tables / sizeof op_tables[0]; t++)
        for (const dp_op_def *op = op_tables[t]; op->name; op++)
            fn(op, ctx);
}

const dp_attr *dp_attr_find(const dp_kctx *k, const char *name)
{
    for (int i = 0; i < k->n_attrs; i++)
        if (strcmp(k->attrs[i].name, name) == 0)
            return &k->attrs[i];
    return NULL;
}

static const dp_attr *find_kind(dp_kctx *k, const char *name, dp_attr_kind kind)
{
    const dp_attr *a = dp_attr_find(k, name);
    if (a && a->kind != kind) {
        if (!k->bad_attr)
            k->bad_attr = name;
        return NULL;
    }
    return a;
}

int64_t dp_attr_int(dp_kctx *k, const char *name, int64_t dflt)
{
    const dp_attr *a = find_kind(k, name, DP_ATTR_INT);
    return a ? a->i : dflt;
}

float dp_attr_float(dp_kctx *k, const char *name, float dflt)
{
    const dp_attr *a = find_kind(k, name, DP_ATTR_FLOAT);
    return a ? a->f : dflt;
}

const char *dp_attr_string(dp_kctx *k, const char *name, const char *dflt)
{
    const dp_attr *a = find_kind(k, name, DP_ATTR_STRING);
    return a ? a->s : dflt;
}

int dp_attr_ints(dp_kctx *k, const char *name, const int64_t **vals)
{
    const dp_attr *a = find_kind(k, name, DP_ATTR_INTS);
    *vals = a ? a->ints : NULL;
    return a ? a->n : -1;
}

int dp_attr_floats(dp_kctx *k, const char *name, const float **vals)
{
    const dp_attr *a = find_kind(k, name, DP_ATTR_FLOATS);
    *vals = a ? a->floats : NULL;
    return a ? a->n : -1;
}

const dp_tensor *dp_attr_tensor(dp_kctx *k, const char *name)
{
    const dp_attr *a = find_kind(k, name, DP_ATTR_TENSOR);
    return a ? a->t : NULL;
}

dp_status dp_kfail(dp_kctx *k, dp_status code, const char *fmt, ...)
{
    char msg[DP_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dp_fail(k->err, code, "%s node '%s': %s", k->op, k->node, msg);
}

/* One part of a product split over threads: rows m0..m1 and columns n0..n1 of C. */
typedef struct product_part {
    const dp_product *p;
    const float *pa, *pb; /* the packed operands, or NULL */
    int64_t m0, m1, n0, n1;
    dp_sgemm_epilogue ep; /* p's epilogue from row m0 and column n0 of C */
    void *scratch;
} product_part;

static void run_part(void *ctx, int i)
{
    const product_part *t = (const product_part *)ctx + i;
    const dp_product *p = t->p;
    const float *A = !p->A ? NULL : p->ta ? p->A + t->m0 : p->A + t->m0 * p->lda;
    const float *B = !p->B ? NULL : p->tb ? p->B + t->n0 * p->ldb : p->B + t->n0;
    float *C = p->C + t->m0 * p->ldc + t->n0;
    /* a part is itself a tiled product (dp_parallel_split leaves none one wide), which
     * dp_sgemm_packed computes as dp_sgemm would, packing what is not packed */
    dp_sgemm_packed(p->ta, p->tb, t->m1 - t->m0, t->n1 - t->n0, p->K, p->alpha, A, p->lda, t->pa,
                    B, p->ldb, t->pb, p->beta, C, p->ldc, p->epilogue ? &t->ep : NULL,
                    t->scratch);
}

int dp_parallel_split(const dp_parallel *p, double macs, int64_t n, int64_t unit,
                      int64_t *bounds, int64_t *widest)
{
    int threads = p ? p->threads : 1;
    threads = threads < DP_MAX_PARTS ? threads : DP_MAX_PARTS;
    bounds[0] = 0;
    bounds[1] = *widest = n;
    if (threads < 2 || macs < DP_PARALLEL_MIN_MACS || n < 2)
        return 1;
    int64_t per = ((n + threads - 1) / threads + unit - 1) / unit * unit;
    int parts = 0;
    for (int64_t b = 0; b < n; b += per)
        bounds[parts++] = b;
    bounds[parts] = n;
    if (parts > 1 && n - bounds[parts - 1] < 2)
        bounds[--parts] = n;
    /* every part but the last is per wide; the last may have taken a one-wide remainder */
    int64_t last = n - bounds[parts - 1];
    *widest = parts > 1 && per > last ? per : last;
    DP_ASSERT(parts >= 1 && parts <= DP_MAX_PARTS && bounds[parts] == n && last >= 2);
    return parts;
}

/*
 * The exact product over k->parallel's threads, split over the columns of C, or over its
 * rows where B is packed whole: each part is a product of its own, every element the same
 * chain of multiply-adds as on one thread. False when it stays on one thread.
 */
static bool product_in_parts(dp_kctx *k, const dp_product *p, const float *pa, const float *pb)
{
    bool by_rows = pb != NULL;
    int64_t bounds[DP_MAX_PARTS + 1], widest;
    int parts = dp_parallel_split(k->parallel, (double)p->M * (double)p->N * (double)p->K,
                                  by_rows ? p->M : p->N,
                                  by_rows ? DP_SGEMM_TILE_ROWS : DP_SGEMM_TILE_COLS, bounds,
                                  &widest);
    if (parts < 2)
        return false;
    size_t each = (dp_sgemm_scratch_size(by_rows ? widest : p->M, by_rows ? p->N : widest, p->K)
                   + 63) / 64 * 64;
    if (k->part_scratch_bytes < each * (size_t)(parts - 1)) {
        void *s = dp_scratch_raw(k, each * (size_t)(parts - 1));
        if (!s)
            return false;
        k->part_scratch = s;
        k->part_scratch_bytes = each * (size_t)(parts - 1);
    }
    product_part part[DP_MAX_PARTS];
    for (int i = 0; i < parts; i++)
        part[i] = (product_part){
            .p = p, .pa = pa, .pb = pb,
            .m0 = by_rows ? bounds[i] : 0, .m1 = by_rows ? bounds[i + 1] : p->M,
            .n0 = by_rows ? 0 : bounds[i], .n1 = by_rows ? p->N : bounds[i + 1],
            /* the product's own scratch covers any part of it */
            .scratch = i == 0 ? p->scratch : (char *)k->part_scratch + each * (size_t)(i - 1)};
    for (int i = 0; i < parts && p->epilogue; i++)
        part[i].ep = dp_sgemm_epilogue_at(p->epilogue, part[i].m0, part[i].n0);
    k->parallel->run(k->parallel, parts, run_part, part);
    return true;
}

dp_status dp_kernel_product(dp_kctx *k, const dp_product *p)
{
    const struct dp_sgemm_epilogue *ep = p->epilogue;
    if (p->planes && !(k->analog && k->analog->takes_planes))
        return dp_kfail(k, DP_EINTERNAL, "a window's product where only matrices are taken");
    if (k->analog) {
        dp_status st = k->analog->product(k->analog, k, p);
        if (st == DP_OK && ep)
            dp_sgemm_finish(p->M, p->N, p->C, p->ldc, ep);
        return st;
    }
    bool tiled = p->M > 1 && p->N > 1 && p->K > 0;
    const float *pa = NULL, *pb = NULL;
    if (k->panels && tiled) {
        /* the weights packed once, when they are the program's constants */
        if (p->weights_in_a)
            pa = dp_weight_panels_a(k->panels, p->ta, p->M, p->K, p->A, p->lda);
        else
            pb = dp_weight_panels_b(k->panels, p->tb, p->K, p->N, p->B, p->ldb);
    }
    if (tiled && product_in_parts(k, p, pa, pb))
        return DP_OK;
    if (tiled) {
        dp_sgemm_packed(p->ta, p->tb, p->M, p->N, p->K, p->alpha, p->A, p->lda, pa, p->B,
                        p->ldb, pb, p->beta, p->C, p->ldc, ep, p->scratch);
        return DP_OK;
    }
    dp_sgemm(p->ta, p->tb, p->M, p->N, p->K, p->alpha, p->A, p->lda, p->B, p->ldb, p->beta, p->C,
             p->ldc, p->scratch);
    if (ep)
        dp_sgemm_finish(p->M, p->N, p->C, p->ldc, ep);
    return DP_OK;
}

void *dp_scratch(dp_kctx *k, size_t bytes)
{
    return dp_arena_alloc(k->scratch, bytes);
}

void *dp_scratch_raw(dp_kctx *k, size_t bytes)
{
    return dp_arena_alloc_raw(k->scratch, bytes);
}

static dp_status check_attr(dp_kctx *k, dp_status st)
{
    if (k->bad_attr && st != DP_EINPUT && st != DP_EUNSUPPORTED)
        return dp_kfail(k, DP_EINPUT, "attribute '%s' has the wrong type", k->bad_attr);
    return st;
}

dp_status dp_node_types_infer(const dp_op_def *op, dp_kctx *k)
{
    if (k->n_in < op->min_in || (op->max_in >= 0 && k->n_in > op->max_in))
        return dp_kfail(k, DP_EINPUT, "has %d inputs, expected %d to %d", k->n_in, op->min_in,
                        op->max_in);
    if (k->n_out < op->min_out || k->n_out > op->max_out)
        return dp_kfail(k, DP_EINPUT, "has %d outputs, expected %d to %d", k->n_out,
                        op->min_out, op->max_out);
    for (int i = 0; i < op->min_in; i++)
        if (!k->in[i])
            return dp_kfail(k, DP_EINPUT, "required input %d is missing", i);

    dp_status st = DP_OK;
    if (op->types) {
        st = check_attr(k, op->types(k));
        if (st != DP_OK)
            return st;
    } else {
        for (int i = 0; i < k->n_out; i++)
            k->out[i]->dtype = k->in[0]->dtype;
    }
    for (int i = 0; i < k->n_out; i++)
        k->out[i]->rank = -1;
    for (int i = 0; i < k->n_in; i++)
        if (k->in[i] && k->in[i]->rank < 0)
            return DP_DYNAMIC;
    st = check_attr(k, op->infer(k));
    if (st != DP_OK)
        return st;
    for (int i = 0; i < k->n_out; i++) {
        if (k->out[i]->rank < 0)
            return dp_fail(k->err, DP_EINTERNAL, "%s node '%s': infer left output %d unset",
                           k->op, k->node, i);
        char what[256];
        snprintf(what, sizeof what, "%s node '%s' output %d", k->op, k->node, i);
        st = dp_shape_check(k->out[i], k->err, what);
        if (st != DP_OK)
            return st;
    }
    return DP_OK;
}
