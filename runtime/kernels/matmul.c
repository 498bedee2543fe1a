/*
 * matmul.c: Gemm and MatMul. float32 runs through dp_sgemm; double (which no fast path
 * needs) through a plain triple loop. A fused MatMul (kernel_util.h) adds its bias, and
 * applies an activation that clamps (Relu, Clip), in the product's last store; any other
 * activation, and Gemm's, runs over the finished output.
 */
#include "gemm.h"
#include "kernel_util.h"
#include "nn.h"

#include <math.h>

static const dp_dtype mm_types[] = {DP_FLOAT, DP_DOUBLE};

static dp_status mm_dtypes(dp_kctx *k)
{
    dp_dtype t = k->in[0]->dtype;
    k->out[0]->dtype = t;
    dp_status st = nn_need_dtype(k, t, 2, mm_types);
    for (int i = 1; st == DP_OK && i < k->n_in; i++)
        if (k->in[i] && k->in[i]->dtype != t)
            st = dp_kfail(k, DP_EINPUT, "input %d is %s, A is %s", i,
                          dp_dtype_name(k->in[i]->dtype), dp_dtype_name(t));
    return st == DP_OK ? dp_fused_check(k) : st;
}
dp_status nn_Gemm_types(dp_kctx *k) { return mm_dtypes(k); }
dp_status nn_MatMul_types(dp_kctx *k) { return mm_dtypes(k); }

static dp_status no_memory(dp_kctx *k, size_t bytes)
{
    return dp_kfail(k, DP_ENOMEM, "cannot allocate %zu bytes of scratch", bytes);
}

/* C = alpha * op(A) op(B) + beta * C in double; ld*: row strides of A and B as stored. */
static void dgemm_ref(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                      const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                      double *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t p = 0; p < K; p++)
                s += (ta ? A[p * lda + i] : A[i * lda + p]) *
                     (tb ? B[j * ldb + p] : B[p * ldb + j]);
            double *c = &C[i * ldc + j];
            *c = beta == 0 ? alpha * s : alpha * s + beta * *c;
        }
}

/* ---- Gemm ---- */

typedef struct gemm_dims {
    bool ta, tb;
    int64_t M, N, K;
} gemm_dims;

static dp_status gemm_check(dp_kctx *k, gemm_dims *g)
{
    const dp_tensor *a = k->in[0], *b = k->in[1], *c = dp_in(k, 2);
    if (a->rank != 2 || b->rank != 2)
        return dp_kfail(k, DP_EINPUT, "A and B must be 2-D, have ranks %d and %d", a->rank,
                        b->rank);
    g->ta = dp_attr_int(k, "transA", 0) != 0;
    g->tb = dp_attr_int(k, "transB", 0) != 0;
    g->M = a->dims[g->ta ? 1 : 0];
    g->K = a->dims[g->ta ? 0 : 1];
    g->N = b->dims[g->tb ? 0 : 1];
    int64_t kb = b->dims[g->tb ? 1 : 0];
    if (kb != g->K) {
        char s1[160], s2[160];
        return dp_kfail(k, DP_EINPUT, "A %s (transA %d) and B %s (transB %d) have inner "
                        "dimensions %lld and %lld", dp_shape_str(a, s1, sizeof s1), g->ta,
                        dp_shape_str(b, s2, sizeof s2), g->tb, (long long)g->K, (long long)kb);
    }
    if (c) {
        /* C broadcasts one way to M x N */
        int64_t mn[2] = {g->M, g->N};
        bool ok = c->rank <= 2;
        for (int i = 0; ok && i < c->rank; i++) {
            int64_t d = c->dims[c->rank - 1 - i];
            ok = d == 1 || d == mn[1 - i];
        }
        if (!ok) {
            char s1[160];
            return dp_kfail(k, DP_EINPUT, "C %s does not broadcast to %lldx%lld",
                            dp_shape_str(c, s1, sizeof s1), (long long)g->M, (long long)g->N);
        }
    }
    return DP_OK;
}

dp_status nn_Gemm_infer(dp_kctx *k)
{
    gemm_dims g;
    dp_status st = gemm_check(k, &g);
    if (st != DP_OK)
        return st;
    dp_tensor *y = k->out[0];
    y->rank = 2;
    y->dims[0] = g.M;
    y->dims[1] = g.N;
    return DP_OK;
}

dp_status nn_Gemm_run(dp_kctx *k)
{
    gemm_dims g;
    dp_status st = gemm_check(k, &g);
    if (st != DP_OK)
        return st;
    const dp_tensor *a = k->in[0], *b = k->in[1], *c = dp_in(k, 2);
    dp_tensor *y = k->out[0];
    float alpha = dp_attr_float(k, "alpha", 1.0f), beta = dp_attr_float(k, "beta", 1.0f);
    /* as the reference: beta == 0 ignores C, even its NaNs */
    bool use_c = c && beta != 0;
    if (use_c) {
        /* Y starts as C broadcast; the product then adds to beta * Y */
        int64_t rs = c->rank == 2 && c->dims[0] != 1 ? c->dims[1] : 0;
        int64_t cs = c->rank >= 1 && c->dims[c->rank - 1] != 1 ? 1 : 0;
        for (int64_t i = 0; i < g.M; i++)
            for (int64_t j = 0; j < g.N; j++)
                dp_store_f64(y->data, y->dtype, i * g.N + j,
                             dp_load_f64(c->data, c->dtype, i * rs + j * cs));
    }
    if (y->dtype == DP_DOUBLE) {
        dgemm_ref(g.ta, g.tb, g.M, g.N, g.K, alpha, a->data, a->dims[1], b->data, b->dims[1],
                  use_c ? beta : 0, y->data, g.N);
        return dp_fused_activate(k, y);
    }
    size_t bytes = dp_sgemm_scratch_size(g.M, g.N, g.K);
    /* packed panels: written before they are read */
    void *scratch = dp_scratch_raw(k, bytes);
    if (!scratch)
        return no_memory(k, bytes);
    dp_product pr = {.ta = g.ta, .tb = g.tb, .M = g.M, .N = g.N, .K = g.K, .alpha = alpha,
                     .beta = use_c ? beta : 0, .A = a->data, .lda = a->dims[1], .B = b->data,
                     .ldb = b->dims[1], .C = y->data, .ldc = g.N, .weights_fixed = true,
                     .scratch = scratch};
    if ((st = dp_kernel_product(k, &pr)) != DP_OK)
        return st;
    return dp_fused_activate(k, y);
}

/* ---- MatMul ---- */

dp_status nn_matmul_dims(dp_kctx *k, const dp_tensor *a, const dp_tensor *b, nn_mm_dims *g)
{
    if (a->rank < 1 || b->rank < 1)
        return dp_kfail(k, DP_EINPUT, "A and B must have rank 1 or more, have %d and %d",
                        a->rank, b->rank);
    g->M = a->rank >= 2 ? a->dims[a->rank - 2] : 1;
    g->K = a->dims[a->rank - 1];
    int64_t kb = b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0];
    g->N = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
    if (kb != g->K) {
        char s1[160], s2[160];
        return dp_kfail(k, DP_EINPUT, "A %s and B %s have inner dimensions %lld and %lld",
                        dp_shape_str(a, s1, sizeof s1), dp_shape_str(b, s2, sizeof s2),
                        (long long)g->K, (long long)kb);
    }
    g->a_vector = a->rank == 1;
    g->b_vector = b->rank == 1;
    g->ab = (dp_tensor){a->dtype, a->rank > 2 ? a->rank - 2 : 0, {0}, NULL};
    g->bb = (dp_tensor){b->dtype, b->rank > 2 ? b->rank - 2 : 0, {0}, NULL};
    for (int i = 0; i < g->ab.rank; i++)
        g->ab.dims[i] = a->dims[i];
    for (int i = 0; i < g->bb.rank; i++)
        g->bb.dims[i] = b->dims[i];
    const dp_tensor *batch[] = {&g->ab, &g->bb};
    return dp_broadcast_shape(batch, 2, &g->ob, k->err);
}

void nn_matmul_shape(const nn_mm_dims *g, dp_tensor *y)
{
    y->rank = g->ob.rank;
    for (int i = 0; i < g->ob.rank; i++)
        y->dims[i] = g->ob.dims[i];
    if (!g->a_vector)
        y->dims[y->rank++] = g->M;
    if (!g->b_vector)
        y->dims[y->rank++] = g->N;
}

void nn_matmul_batch(const nn_mm_dims *g, int64_t bi, int64_t *ia, int64_t *ib)
{
    int64_t sa[DP_MAX_RANK], sb[DP_MAX_RANK], rem = bi;
    dp_broadcast_strides(&g->ab, &g->ob, sa);
    dp_broadcast_strides(&g->bb, &g->ob, sb);
    *ia = *ib = 0;
    for (int d = g->ob.rank - 1; d >= 0; d--) {
        int64_t idx = rem % g->ob.dims[d];
        rem /= g->ob.dims[d];
        *ia += idx * sa[d];
        *ib += idx * sb[d];
    }
}

/* MatMul's shapes, and its fused bias (dp_bias, input 2): one element per column of B. */
static dp_status mm_check(dp_kctx *k, nn_mm_dims *g)
{
    const dp_tensor *b = k->in[1], *bias = dp_in(k, 2);
    dp_status st = nn_matmul_dims(k, k->in[0], b, g);
    if (st != DP_OK)
        return st;
    if ((dp_attr_int(k, "dp_bias", 0) != 0) != (bias != NULL))
        return dp_kfail(k, DP_EINPUT, bias ? "has a third input, which only a fused bias "
                        "(dp_bias) may be" : "dp_bias is set but the bias input is missing");
    if (bias && (b->rank < 2 || bias->rank != 1 || bias->dims[0] != g->N))
        return dp_kfail(k, DP_EINPUT, "the fused bias must be 1-D with B's %lld columns",
                        (long long)g->N);
    return DP_OK;
}

dp_status nn_MatMul_infer(dp_kctx *k)
{
    nn_mm_dims g;
    dp_status st = mm_check(k, &g);
    if (st != DP_OK)
        return st;
    nn_matmul_shape(&g, k->out[0]);
    return DP_OK;
}

dp_status nn_MatMul_run(dp_kctx *k)
{
    nn_mm_dims g;
    dp_status st = mm_check(k, &g);
    if (st != DP_OK)
        return st;
    const dp_tensor *a = k->in[0], *b = k->in[1];
    dp_tensor *y = k->out[0];
    int64_t nbatch = dp_numel(&g.ob), M = g.M, N = g.N, K = g.K;
    if (nbatch == 0 || M == 0 || N == 0)
        return DP_OK;
    bool dbl = y->dtype == DP_DOUBLE;
    void *scratch = NULL;
    /* one shared B: A's batches stack into one tall product */
    bool stack = dp_numel(&g.bb) == 1 && dp_numel(&g.ab) == nbatch;
    if (stack) {
        M *= nbatch;
        nbatch = 1;
    }
    if (!dbl) {
        size_t bytes = dp_sgemm_scratch_size(M, N, K);
        /* packed panels: written before they are read */
        if (!(scratch = dp_scratch_raw(k, bytes)))
            return no_memory(k, bytes);
    }
    /* a fused bias (float32 only: dp_fused_check) and an activation that clamps go with the
     * product's last store */
    const dp_tensor *bias = dp_in(k, 2);
    dp_sgemm_epilogue ep = {.col_bias = bias ? bias->data : NULL};
    bool clamp = dp_fused_clamp(k, &ep.lo, &ep.hi);
    bool finish = bias || ep.lo > -INFINITY || ep.hi < INFINITY;
    size_t es = dp_dtype_size(y->dtype);
    for (int64_t bi = 0; bi < nbatch; bi++) {
        int64_t ia, ib;
        nn_matmul_batch(&g, bi, &ia, &ib);
        const char *pa = (const char *)a->data + (size_t)(ia * M * K) * es;
        const char *pb = (const char *)b->data + (size_t)(ib * K * N) * es;
        char *py = (char *)y->data + (size_t)(bi * M * N) * es;
        if (dbl)
            dgemm_ref(false, false, M, N, K, 1, (const double *)pa, K, (const double *)pb, N, 0,
                      (double *)py, N);
        else {
            /* a B shared by every batch is the layer's weights; a batched B is per call */
            dp_product pr = {.M = M, .N = N, .K = K, .alpha = 1, .A = (const float *)pa,
                             .lda = K, .B = (const float *)pb, .ldb = N, .C = (float *)py,
                             .ldc = N, .weights_fixed = dp_numel(&g.bb) == 1,
                             .vector0 = bi * M, .scratch = scratch,
                             .epilogue = finish ? &ep : NULL};
            if ((st = dp_kernel_product(k, &pr)) != DP_OK)
                return st;
        }
    }
    return clamp ? DP_OK : dp_fused_activate(k, y);
}
