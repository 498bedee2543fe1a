/*
 * conv_transpose.c: ConvTranspose's kernel; its types, output shapes and window geometry are
 * conv.c's.
 *
 * ConvTranspose is Conv's adjoint: dp_sgemm gives each input position's contribution through
 * every kernel tap (W^T X), and col2im adds those into the output, a chunk of input
 * positions at a time.
 */
#include "conv_ops.h"

/*
 * Adds columns j0..j0+nj (input positions) of one group's contribution matrix into its
 * output planes y: row (m, t0, t1, t2) holds what tap t of output channel m receives from
 * each input position.
 */
static void col2im(const nn_window *w, const float *col, int64_t Mg, int64_t j0, int64_t nj,
                   float *y)
{
    int64_t outvol = w->out[0] * w->out[1] * w->out[2];
    for (int64_t m = 0; m < Mg; m++)
        for (int64_t t0 = 0; t0 < w->k[0]; t0++)
            for (int64_t t1 = 0; t1 < w->k[1]; t1++)
                for (int64_t t2 = 0; t2 < w->k[2]; t2++, col += nj) {
                    int64_t off0 = t0 * w->d[0] - w->pb[0], off1 = t1 * w->d[1] - w->pb[1];
                    int64_t off2 = t2 * w->d[2] - w->pb[2], s2 = w->s[2], lo, hi;
                    nn_range(off2, s2, w->out[2], w->in[2], &lo, &hi);
                    float *ym = y + m * outvol;
                    for (int64_t j = j0; j < j0 + nj;) {
                        int64_t row = j / w->in[2], a = j - row * w->in[2];
                        int64_t n = w->in[2] - a < j0 + nj - j ? w->in[2] - a : j0 + nj - j;
                        int64_t o0 = row / w->in[1] * w->s[0] + off0;
                        int64_t o1 = row % w->in[1] * w->s[1] + off1;
                        if (o0 >= 0 && o0 < w->out[0] && o1 >= 0 && o1 < w->out[1]) {
                            float *dst = ym + (o0 * w->out[1] + o1) * w->out[2];
                            const float *src = col + (j - j0);
                            int64_t l = lo < a ? a : lo, h = hi > a + n ? a + n : hi;
                            for (int64_t i = l; i < h; i++)
                                dst[i * s2 + off2] += src[i - a];
                        }
                        j += n;
                    }
                }
}

dp_status nn_ConvTranspose_run(dp_kctx *k)
{
    conv_geom g;
    dp_status st = conv_geometry(k, k->in[0], k->in[1], dp_in(k, 2), true, &g);
    if (st != DP_OK)
        return st;
    const float *x = k->in[0]->data, *wt = k->in[1]->data;
    const float *b = dp_in(k, 2) ? dp_in(k, 2)->data : NULL;
    float *y = k->out[0]->data;
    if (g.N == 0 || g.M == 0 || g.outvol == 0)
        return DP_OK;
    int64_t rows = g.Mg * g.taps;
    int64_t nj = conv_chunk_size(rows, g.invol, 1);
    size_t gemm_bytes = dp_sgemm_scratch_size(rows, nj, g.Cg);
    size_t col_bytes = (size_t)(rows * nj) * sizeof(float);
    void *gemm_scratch = dp_scratch(k, gemm_bytes);
    float *col = dp_scratch(k, col_bytes);
    if (!gemm_scratch || !col)
        return conv_no_memory(k, gemm_bytes + col_bytes);

    for (int64_t n = 0; n < g.N; n++) {
        float *yn = y + n * g.M * g.outvol;
        for (int64_t c = 0; c < g.M; c++)
            for (int64_t i = 0; i < g.outvol; i++)
                yn[c * g.outvol + i] = b ? b[c] : 0;
        for (int64_t gi = 0; gi < g.group; gi++) {
            const float *xg = x + (n * g.C + gi * g.Cg) * g.invol, *wg = wt + gi * g.Cg * rows;
            for (int64_t j0 = 0; j0 < g.invol; j0 += nj) {
                int64_t len = g.invol - j0 < nj ? g.invol - j0 : nj;
                dp_product pr = {.ta = true, .M = rows, .N = len, .K = g.Cg, .alpha = 1,
                                 .A = wg, .lda = rows, .B = xg + j0, .ldb = g.invol, .C = col,
                                 .ldc = len, .weights_in_a = true, .weights_fixed = true,
                                 .channel0 = gi * rows, .vector0 = n * g.invol + j0,
                                 .scratch = gemm_scratch};
                if ((st = dp_kernel_product(k, &pr)) != DP_OK)
                    return st;
                col2im(&g.w, col, g.Mg, j0, len, yn + gi * g.Mg * g.outvol);
            }
        }
    }
    return dp_fused_activate(k, k->out[0]);
}
