/*
 * matmul_integer.c: MatMulInteger and QLinearMatMul, numpy.matmul's shapes (nn.h) over uint8
 * and int8 operands, and the exact int32 product both, and the quantised convolutions,
 * multiply by (quant.h).
 *
 * A's zero point and scale may be one value or one per row of A ([M]), B's one value or one
 * per column ([N]): the layouts of onnxruntime's quantiser (per-channel weights).
 */
#include "nn.h"
#include "quant.h"

void quant_igemm(int64_t M, int64_t N, int64_t K, const int32_t *A, const int32_t *B,
                 int64_t ldb, int32_t *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++) {
        /* unsigned, so that a sum past int32's range wraps instead of being undefined */
        uint32_t *c = (uint32_t *)(C + i * ldc);
        for (int64_t j = 0; j < N; j++)
            c[j] = 0;
        for (int64_t p = 0; p < K; p++) {
            uint32_t a = (uint32_t)A[i * K + p];
            const int32_t *b = B + p * ldb;
            if (a)
                for (int64_t j = 0; j < N; j++)
                    c[j] += a * (uint32_t)b[j];
        }
    }
}

/* The operands' shapes and quantisation parameters. */
typedef struct imm {
    nn_mm_dims g;
    quant_params a, b, y;
    const dp_tensor *ta, *tb;
} imm;

/* MatMulInteger: A, B, a_zero_point, b_zero_point. QLinearMatMul: a, a_scale, a_zero_point,
 * b, b_scale, b_zero_point, y_scale, y_zero_point. */
static dp_status imm_init(dp_kctx *k, imm *m)
{
    bool qlinear = k->n_in > 4;
    const dp_tensor *a = k->in[0], *b = k->in[qlinear ? 3 : 1];
    const dp_tensor *sa = qlinear ? k->in[1] : NULL, *sb = qlinear ? k->in[4] : NULL;
    m->ta = a;
    m->tb = b;
    dp_status st = quant_need_dtype(k, a->dtype, "A");
    if (st == DP_OK)
        st = quant_need_dtype(k, b->dtype, "B");
    if (st == DP_OK)
        st = nn_matmul_dims(k, a, b, &m->g);
    /* per row of A (its axis rank - 2), per column of B (its last) */
    if (st == DP_OK)
        st = quant_params_init(k, a, a->rank >= 2, -2, sa, dp_in(k, 2), a->dtype, "a_scale",
                               "a_zero_point", &m->a);
    if (st == DP_OK)
        st = quant_params_init(k, b, b->rank >= 2, -1, sb, dp_in(k, qlinear ? 5 : 3), b->dtype,
                               "b_scale", "b_zero_point", &m->b);
    if (st == DP_OK && qlinear)
        st = quant_params_init(k, a, false, 0, k->in[6], k->in[7], k->out[0]->dtype, "y_scale",
                               "y_zero_point", &m->y);
    return st;
}

/* y (int32, the result's shape) = the exact products of A's and B's matrices, each less
 * its zero points. */
static dp_status imm_product(dp_kctx *k, const imm *m, int32_t *y)
{
    int32_t *wa, *wb;
    dp_status st = quant_widen(k, m->ta, &m->a, &wa);
    if (st == DP_OK)
        st = quant_widen(k, m->tb, &m->b, &wb);
    if (st != DP_OK)
        return st;
    int64_t M = m->g.M, N = m->g.N, K = m->g.K;
    for (int64_t bi = 0; bi < dp_numel(&m->g.ob); bi++) {
        int64_t ia, ib;
        nn_matmul_batch(&m->g, bi, &ia, &ib);
        quant_igemm(M, N, K, wa + ia * M * K, wb + ib * K * N, N, y + bi * M * N, N);
    }
    return DP_OK;
}

dp_status quant_matmul_infer(dp_kctx *k)
{
    imm m;
    dp_status st = imm_init(k, &m);
    if (st == DP_OK)
        nn_matmul_shape(&m.g, k->out[0]);
    return st;
}

/* MatMulInteger: the products. QLinearMatMul: the products requantised with a's scales (one,
 * or one per row) and b's (one, or one per column). */
dp_status quant_matmul_run(dp_kctx *k)
{
    imm m;
    dp_status st = imm_init(k, &m);
    bool qlinear = k->n_in > 4;
    int32_t *acc = k->out[0]->data;
    if (st == DP_OK && qlinear)
        st = quant_scratch_i32(k, dp_numel(k->out[0]), &acc);
    if (st == DP_OK)
        st = imm_product(k, &m, acc);
    if (st != DP_OK || !qlinear)
        return st;
    return quant_requantize(k, acc, &m.a, m.g.M, &m.b, m.g.N, 1, &m.y, k->out[0]);
}
