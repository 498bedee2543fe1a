/*
 * conv_integer.c: ConvInteger and QLinearConv, Conv's geometry (conv.c) over uint8 and int8
 * operands, summed exactly in int32 (quant.h).
 *
 * X less its zero point is widened to float, whose integers up to 2^24 are exact, so that
 * conv.c's im2col builds each chunk of the window matrix; the chunk is then narrowed to
 * int32 and multiplied by the weights less their zero points (one, or one per output
 * channel). Padding reads X's zero point, as the reference's: 0 once it is subtracted.
 */
#include "conv_ops.h"
#include "quant.h"

/* The inputs of one quantised convolution: X, W, their scales (-1: none) and zero points,
 * the bias (-1: none), and y's scale and zero point (-1: an integer output). */
typedef struct qconv_inputs {
    int x, x_scale, x_zero, w, w_scale, w_zero, bias, y_scale, y_zero;
} qconv_inputs;

static const qconv_inputs conv_integer_inputs = {0, -1, 2, 1, -1, 3, -1, -1, -1};
static const qconv_inputs qlinear_conv_inputs = {0, 1, 2, 3, 4, 5, 8, 6, 7};

static const dp_tensor *input_or_null(const dp_kctx *k, int i)
{
    return i < 0 ? NULL : dp_in(k, i);
}

typedef struct qconv {
    const qconv_inputs *in;
    conv_geom g;
    quant_params x, w, y;
} qconv;

static dp_status qconv_init(dp_kctx *k, qconv *c)
{
    const qconv_inputs *in = k->n_in > 4 ? &qlinear_conv_inputs : &conv_integer_inputs;
    const dp_tensor *x = k->in[in->x], *w = k->in[in->w], *b = input_or_null(k, in->bias);
    c->in = in;
    dp_status st = quant_need_dtype(k, x->dtype, "x");
    if (st == DP_OK)
        st = quant_need_dtype(k, w->dtype, "w");
    if (st == DP_OK && b && b->dtype != DP_INT32)
        st = dp_kfail(k, DP_EINPUT, "B is %s, expected int32", dp_dtype_name(b->dtype));
    if (st == DP_OK)
        st = conv_geometry(k, x, w, b, false, &c->g);
    if (st == DP_OK)
        st = quant_params_init(k, x, false, 0, input_or_null(k, in->x_scale),
                               input_or_null(k, in->x_zero), x->dtype, "x_scale",
                               "x_zero_point", &c->x);
    /* per output channel: W's axis 0 */
    if (st == DP_OK)
        st = quant_params_init(k, w, true, 0, input_or_null(k, in->w_scale),
                               input_or_null(k, in->w_zero), w->dtype, "w_scale",
                               "w_zero_point", &c->w);
    if (st == DP_OK && in->y_scale >= 0)
        st = quant_params_init(k, x, false, 0, k->in[in->y_scale], k->in[in->y_zero],
                               k->out[0]->dtype, "y_scale", "y_zero_point", &c->y);
    return st;
}

/*
 * acc (N x M x output positions) = the exact convolution of X and W, each less its zero
 * points, plus the bias if given.
 */
static dp_status qconv_sums(dp_kctx *k, const qconv *c, int32_t *acc)
{
    const conv_geom *g = &c->g;
    const dp_tensor *x = k->in[c->in->x], *b = input_or_null(k, c->in->bias);
    int64_t K = g->Cg * g->taps;
    int64_t nj = conv_chunk_size(K, g->outvol, 1);
    int32_t *wt, *coli;
    dp_status st = quant_widen(k, k->in[c->in->w], &c->w, &wt);
    if (st == DP_OK)
        st = quant_scratch_i32(k, K * nj, &coli);
    if (st != DP_OK)
        return st;
    size_t plane_bytes = (size_t)(g->Cg * g->invol) * sizeof(float);
    size_t col_bytes = (size_t)(K * nj) * sizeof(float);
    /* each written in full before it is read */
    float *xf = dp_scratch_raw(k, plane_bytes), *col = dp_scratch_raw(k, col_bytes);
    if (!xf || !col)
        return conv_no_memory(k, plane_bytes + col_bytes);
    int32_t zx = quant_zero(&c->x, 0);
    const int32_t *bias = b ? b->data : NULL;

    for (int64_t n = 0; n < g->N; n++)
        for (int64_t gi = 0; gi < g->group; gi++) {
            int64_t x0 = (n * g->C + gi * g->Cg) * g->invol;
            for (int64_t i = 0; i < g->Cg * g->invol; i++)
                xf[i] = (float)((int32_t)dp_load_i64(x->data, x->dtype, x0 + i) - zx);
            int32_t *yg = acc + (n * g->M + gi * g->Mg) * g->outvol;
            for (int64_t j0 = 0; j0 < g->outvol; j0 += nj) {
                int64_t len = g->outvol - j0 < nj ? g->outvol - j0 : nj;
                conv_im2col(&g->w, xf, g->Cg, j0, len, col);
                for (int64_t i = 0; i < K * len; i++)
                    coli[i] = (int32_t)col[i];
                quant_igemm(g->Mg, len, K, wt + gi * g->Mg * K, coli, len, yg + j0, g->outvol);
            }
            for (int64_t m = 0; bias && m < g->Mg; m++)
                for (int64_t j = 0; j < g->outvol; j++) {
                    int32_t *v = yg + m * g->outvol + j;
                    /* wrapping, as the sums */
                    *v = (int32_t)((uint32_t)*v + (uint32_t)bias[gi * g->Mg + m]);
                }
        }
    return DP_OK;
}

dp_status quant_conv_infer(dp_kctx *k)
{
    qconv c;
    dp_status st = qconv_init(k, &c);
    if (st == DP_OK)
        conv_output_shape(&c.g, k->out[0]);
    return st;
}

/* ConvInteger: the sums. QLinearConv: the sums requantised with x's scale and W's (one, or
 * one per output channel). */
dp_status quant_conv_run(dp_kctx *k)
{
    qconv c;
    dp_status st = qconv_init(k, &c);
    bool qlinear = c.in->y_scale >= 0;
    int32_t *acc = k->out[0]->data;
    if (st == DP_OK && qlinear)
        st = quant_scratch_i32(k, dp_numel(k->out[0]), &acc);
    if (st == DP_OK)
        st = qconv_sums(k, &c, acc);
    if (st != DP_OK || !qlinear)
        return st;
    return quant_requantize(k, acc, &c.x, 1, &c.w, c.g.M, c.g.outvol, &c.y, k->out[0]);
}
