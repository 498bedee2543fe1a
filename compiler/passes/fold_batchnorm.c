/*
 * fold_batchnorm.c: folding inference-mode BatchNormalization into the analog layer before it.
 *
 * In inference BN is an affine map per channel, y * s + (beta - mean * s) with
 * s = gamma / sqrt(var + eps), so it moves into the weights and bias of the Conv,
 * ConvTranspose or Gemm that feeds it: W' = W * s per output channel and
 * b' = (b - mean) * s + beta. A MatMul of a 2-D input by a constant 2-D weight becomes a Gemm
 * to take the bias. The layer then produces the normalised output itself, and the weights
 * the optical core holds are the ones that matter. Folded in double, stored as float32;
 * every case not handled leaves the graph as it was.
 */
#include "passes.h"

#include <math.h>
#include <string.h>

/*
 * Where the output channels lie in a layer's weight W: element i belongs to channel
 * (i / inner) % per_group + (i / (inner * per_group * groups_in)) * per_group. Conv's
 * M x C/g x k... is inner = C/g*k, per_group = M; ConvTranspose's C x M/g x k... is
 * inner = k, per_group = M/g, groups_in = C/g; Gemm's B is N x K with transB (inner = K),
 * K x N otherwise (inner = 1, groups_in = K).
 */
typedef struct weight_layout {
    int64_t channels;
    int64_t inner, per_group, groups_in;
} weight_layout;

/* The layout of n's weight, or false when n is not a layer this pass folds into. */
static bool layout_of(const ir_node *n, weight_layout *l)
{
    const dp_tensor *w = &n->in[1]->t;
    dp_kctx k = ir_attr_ctx(n);
    int64_t numel = dp_numel(w);
    if (numel == 0)
        return false;
    *l = (weight_layout){.groups_in = 1};
    if (strcmp(n->op, "Conv") == 0) {
        if (w->rank < 3)
            return false;
        l->channels = l->per_group = w->dims[0];
        l->inner = numel / w->dims[0];
    } else if (strcmp(n->op, "ConvTranspose") == 0) {
        int64_t group = dp_attr_int(&k, "group", 1);
        if (w->rank < 3 || group < 1 || w->dims[0] % group || w->dims[1] > INT64_MAX / group)
            return false;
        l->per_group = w->dims[1];
        l->channels = w->dims[1] * group;
        l->inner = numel / (w->dims[0] * w->dims[1]);
        l->groups_in = w->dims[0] / group;
    } else if (strcmp(n->op, "Gemm") == 0 || strcmp(n->op, "MatMul") == 0) {
        bool trans_b = strcmp(n->op, "Gemm") == 0 && dp_attr_int(&k, "transB", 0) != 0;
        if (w->rank != 2)
            return false;
        l->channels = l->per_group = w->dims[trans_b ? 0 : 1];
        l->inner = trans_b ? w->dims[1] : 1;
        l->groups_in = trans_b ? 1 : w->dims[0];
    } else {
        return false;
    }
    return !k.bad_attr;
}

/*
 * The bias a layer adds now: element (r, c) of rows x channels is scale * c[r * row_stride +
 * c * col_stride], or 0 without one. rows > 1 only for a Gemm whose C varies along M.
 */
typedef struct old_bias {
    const float *c;
    int64_t rows, row_stride, col_stride;
    double scale;
} old_bias;

/* n's bias, or false when it is not a constant this pass can fold. */
static bool bias_of(const ir_node *n, int64_t channels, old_bias *b)
{
    const ir_value *v = n->n_in > 2 ? n->in[2] : NULL;
    *b = (old_bias){.rows = 1, .scale = 1};
    if (!v)
        return true;
    if (!ir_is_const_f32(v))
        return false;
    const dp_tensor *t = &v->t;
    b->c = t->data;
    if (strcmp(n->op, "Gemm") != 0) {
        b->col_stride = 1;
        return t->rank == 1 && t->dims[0] == channels;
    }
    /* C broadcasts one way to M x N; beta == 0 ignores it, as the kernel does */
    dp_kctx k = ir_attr_ctx(n);
    b->scale = dp_attr_float(&k, "beta", 1.0f);
    int64_t last = t->rank >= 1 ? t->dims[t->rank - 1] : 1;
    if (k.bad_attr || t->rank > 2 || (last != 1 && last != channels))
        return false;
    b->col_stride = last != 1;
    if (t->rank == 2 && t->dims[0] != 1) {
        b->rows = t->dims[0];
        b->row_stride = t->dims[1];
    }
    return true;
}

/* Whether bn is a BatchNormalization computing with constant float32 statistics. */
static bool foldable_bn(const ir_node *bn)
{
    if (strcmp(bn->op, "BatchNormalization") != 0 || bn->n_in != 5 || bn->n_out != 1 ||
        !bn->in[0] || bn->in[0]->t.dtype != DP_FLOAT)
        return false;
    for (int i = 1; i < 5; i++)
        if (!ir_is_const_f32(bn->in[i]) || bn->in[i]->t.rank != 1)
            return false;
    dp_kctx k = ir_attr_ctx(bn);
    /* training normalises by the batch's own statistics; spatial = 0 (opsets 7-8) keeps
     * statistics per element, not per channel */
    if (dp_attr_int(&k, "training_mode", 0) != 0)
        return false;
    if (bn->opset < 9 && dp_attr_int(&k, "spatial", 1) == 0)
        return false;
    dp_attr_float(&k, "epsilon", 1e-5f);
    return !k.bad_attr;
}

/* Whether n is a layer whose weight and bias this pass may rewrite for bn. */
static bool foldable_layer(const ir_node *n, const ir_node *bn, weight_layout *l, old_bias *b)
{
    dp_kctx k = ir_attr_ctx(n);
    /* a fused activation would have to run after the normalisation */
    if (dp_attr_find(&k, "dp_activation") || dp_attr_find(&k, "dp_bias"))
        return false;
    if (n->n_in < 2 || !ir_is_const_f32(n->in[1]) || n->out[0]->t.dtype != DP_FLOAT ||
        !layout_of(n, l))
        return false;
    /* MatMul's BN channels are its columns only for a 2-D product */
    if (strcmp(n->op, "MatMul") == 0 && n->in[0]->t.rank != 2)
        return false;
    for (int i = 1; i < 5; i++)
        if (bn->in[i]->t.dims[0] != l->channels)
            return false;
    return bias_of(n, l->channels, b);
}

static dp_status fold(ir_graph *g, ir_node *n, ir_node *bn, const weight_layout *l,
                      const old_bias *b, dp_error *err)
{
    int64_t ch = l->channels, bdims[2] = {b->rows, ch};
    const dp_tensor *w = &n->in[1]->t;
    double *s = dp_arena_alloc(g->mem, sizeof *s * (size_t)ch);
    /* a weight only this layer reads is scaled where it lies: a large model's weights are
     * most of the compiler's memory, and a copy would double them */
    bool in_place = ir_count_uses(g, n->in[1]) == 1;
    ir_value *nw = in_place ? n->in[1] : ir_const_f32(g, n->name, "bn_weight", w->rank, w->dims);
    ir_value *nb = b->rows > 1 ? ir_const_f32(g, n->name, "bn_bias", 2, bdims)
                               : ir_const_f32(g, n->name, "bn_bias", 1, bdims + 1);
    if (!s || !nw || !nb)
        return dp_fail(err, DP_ENOMEM, "out of memory folding '%s' into '%s'", bn->name,
                       n->name);
    dp_kctx k = ir_attr_ctx(bn);
    double eps = dp_attr_float(&k, "epsilon", 1e-5f);
    const float *gamma = bn->in[1]->t.data, *beta = bn->in[2]->t.data;
    const float *mean = bn->in[3]->t.data, *var = bn->in[4]->t.data;
    for (int64_t c = 0; c < ch; c++) {
        s[c] = gamma[c] / sqrt((double)var[c] + eps);
        /* a quantized model's grid scales with its channel's weights */
        if (n->weight_step)
            n->weight_step[c] = (float)(n->weight_step[c] * fabs(s[c]));
    }
    const float *wv = w->data;
    float *wo = nw->t.data, *bo = nb->t.data;
    for (int64_t i = 0, numel = dp_numel(w); i < numel; i++) {
        int64_t c = (i / l->inner) % l->per_group +
                    i / (l->inner * l->per_group * l->groups_in) * l->per_group;
        wo[i] = (float)(wv[i] * s[c]);
    }
    for (int64_t r = 0; r < b->rows; r++)
        for (int64_t c = 0; c < ch; c++) {
            double old = b->c && b->scale != 0
                             ? b->scale * b->c[r * b->row_stride + c * b->col_stride] : 0;
            bo[r * ch + c] = (float)((old - mean[c]) * s[c] + beta[c]);
        }
    bool ok = ir_set_input(g, n, 1, nw) && ir_set_input(g, n, 2, nb);
    /* the new C already holds beta * C */
    if (ok && strcmp(n->op, "Gemm") == 0 && b->scale != 1)
        ok = ir_set_attr(g, n, (dp_attr){.name = "beta", .kind = DP_ATTR_FLOAT, .f = 1.0f});
    if (!ok)
        return dp_fail(err, DP_ENOMEM, "out of memory folding '%s' into '%s'", bn->name,
                       n->name);
    if (strcmp(n->op, "MatMul") == 0) {
        n->op = "Gemm";
        n->def = dp_op_find("Gemm");
    }
    ir_absorb(n, bn);
    return DP_OK;
}

dp_status pass_fold_batchnorm(ir_graph *g, dp_error *err)
{
    ir_count_all_uses(g);
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *bn = g->nodes[i], *n;
        weight_layout l;
        old_bias b;
        if (bn->dead || !foldable_bn(bn) || !(n = ir_sole_producer(g, bn->in[0])) ||
            !foldable_layer(n, bn, &l, &b))
            continue;
        dp_status st = fold(g, n, bn, &l, &b, err);
        if (st != DP_OK)
            return st;
    }
    ir_compact(g);
    return DP_OK;
}
