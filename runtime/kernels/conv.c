/*
 * conv.c: Conv and ConvTranspose on float32 over 1 to 3 spatial dimensions: their types,
 * output shapes and window geometry, and Conv's kernel, which hands the shapes that have a
 * faster path of their own to it (conv_ops.h).
 *
 * Conv multiplies each group's weights (M/g x C/g*taps) by the im2col matrix of its input
 * (C/g*taps x output positions) with dp_sgemm. The matrix is built a chunk of output
 * positions at a time, so that it is still in cache when the SGEMM packs it and scratch
 * stays small; where a batch's output planes are smaller than a chunk, several images'
 * matrices go side by side into one product. Three shapes skip it: pointwise convolutions (1x1 kernel, stride 1, no
 * padding), whose input already is that matrix; convolutions whose output channels each
 * read one input channel (depthwise, conv_depthwise.c), which run directly a row or a plane
 * of outputs at a time; and, without noise, 3x3 convolutions of stride 1 padded by 1, which
 * run by Winograd's F(2x2, 3x3) (conv_winograd.c) on filters the session transformed once.
 * ConvTranspose's kernel is conv_transpose.c.
 *
 * The bias and a fused activation (kernel_util.h) that clamps (Relu, Clip) are applied as
 * each output is finished, in the product's last store, the depthwise loops' last pass or
 * Winograd's output transform;
 * any other activation runs over the finished output, bias included.
 */
#include "conv_ops.h"

#include <math.h>
#include <string.h>

/* im2col/col2im chunks hold about this many floats (512 KiB), a fraction of L2 */
enum { CHUNK_FLOATS = 1 << 17, MIN_CHUNK = 64 };

static const dp_dtype float_only[] = {DP_FLOAT};

static dp_status conv_types(dp_kctx *k)
{
    dp_dtype t = k->in[0]->dtype;
    k->out[0]->dtype = t;
    dp_status st = nn_need_dtype(k, t, 1, float_only);
    for (int i = 1; st == DP_OK && i < k->n_in; i++)
        if (k->in[i] && k->in[i]->dtype != t)
            st = dp_kfail(k, DP_EINPUT, "input %d is %s, X is %s", i,
                          dp_dtype_name(k->in[i]->dtype), dp_dtype_name(t));
    if (st == DP_OK && (dp_in(k, 3) != NULL) != (dp_attr_int(k, "dp_residual", 0) != 0))
        st = dp_kfail(k, DP_EINPUT, "input 3 is a fused residual, given with dp_residual only");
    return st == DP_OK ? dp_fused_check(k) : st;
}
dp_status nn_Conv_types(dp_kctx *k) { return conv_types(k); }
dp_status nn_ConvTranspose_types(dp_kctx *k) { return conv_types(k); }

/* ConvTranspose's output sizes and paddings, which follow other rules than Conv's. */
static dp_status transpose_window(dp_kctx *k, const dp_tensor *x, const int64_t *kernel,
                                  nn_window *w)
{
    int nsp = x->rank - 2;
    int64_t s[NN_MAXSP], d[NN_MAXSP], op[NN_MAXSP], p[2 * NN_MAXSP];
    dp_status st = nn_attr_ints(k, "strides", nsp, 1, 1, s);
    if (st == DP_OK)
        st = nn_attr_ints(k, "dilations", nsp, 1, 1, d);
    if (st == DP_OK)
        st = nn_attr_ints(k, "output_padding", nsp, 0, 0, op);
    if (st == DP_OK)
        st = nn_attr_ints(k, "pads", 2 * nsp, 0, 0, p);
    if (st != DP_OK)
        return st;
    const int64_t *os;
    int n_os = dp_attr_ints(k, "output_shape", &os);
    /* output_shape may name the whole output (N, C, spatial) or only its spatial part */
    if (n_os == nsp + 2)
        os += 2;
    else if (n_os >= 0 && n_os != nsp)
        return dp_kfail(k, DP_EINPUT, "output_shape has %d values, expected %d", n_os, nsp);
    nn_pad_mode mode = NN_EXPLICIT;
    if ((st = nn_auto_pad(k, &mode)) != DP_OK)
        return st;

    nn_window_reset(w, nsp);
    for (int i = 0; i < nsp; i++) {
        int j = NN_MAXSP - nsp + i;
        if (kernel[i] < 1 || kernel[i] > NN_ATTR_MAX)
            return dp_kfail(k, DP_EINPUT, "kernel size %lld on spatial dimension %d is outside "
                            "[1, %d]", (long long)kernel[i], i, NN_ATTR_MAX);
        int64_t in = x->dims[2 + i], full;
        if (in < 1)
            return dp_kfail(k, DP_EINPUT, "X has size 0 on spatial dimension %d", i);
        /* the output before padding is removed: s * (in - 1) + output_padding + extent */
        if (dp_mul_i64(s[i], in - 1, &full) || full > DP_MAX_ELEMENTS)
            return dp_kfail(k, DP_EINPUT, "output size overflows on spatial dimension %d", i);
        full += op[i] + (kernel[i] - 1) * d[i] + 1;
        w->in[j] = in;
        w->k[j] = kernel[i];
        w->s[j] = s[i];
        w->d[j] = d[i];
        if (n_os >= 0 || mode == NN_SAME_UPPER || mode == NN_SAME_LOWER) {
            /* the padding that yields the requested size, SAME_UPPER putting the odd one
             * after; an output larger than the inputs reach is extended at the end, as
             * onnxruntime and the reference implementation do */
            if (n_os >= 0 && (os[i] < 0 || os[i] > DP_MAX_ELEMENTS))
                return dp_kfail(k, DP_EINPUT, "output_shape value %lld is out of range",
                                (long long)os[i]);
            w->out[j] = n_os >= 0 ? os[i] : in * s[i];
            int64_t total = full - w->out[j];
            w->pb[j] = total <= 0 ? 0 : mode == NN_SAME_UPPER ? total / 2 : total - total / 2;
            w->pe[j] = total - w->pb[j];
        } else {
            w->pb[j] = mode == NN_VALID ? 0 : p[i];
            w->pe[j] = mode == NN_VALID ? 0 : p[nsp + i];
            w->out[j] = full - w->pb[j] - w->pe[j];
            if (w->out[j] < 0)
                return dp_kfail(k, DP_EINPUT, "pads %lld + %lld exceed the output size %lld on "
                                "spatial dimension %d", (long long)w->pb[j],
                                (long long)w->pe[j], (long long)full, i);
        }
    }
    return DP_OK;
}

dp_status conv_geometry(dp_kctx *k, const dp_tensor *x, const dp_tensor *wt,
                        const dp_tensor *b, bool transpose, conv_geom *g)
{
    int nsp;
    dp_status st = nn_spatial_rank(k, x, "X", &nsp);
    if (st != DP_OK)
        return st;
    if (wt->rank != x->rank)
        return dp_kfail(k, DP_EINPUT, "W has rank %d, expected X's rank %d", wt->rank, x->rank);
    g->N = x->dims[0];
    g->C = x->dims[1];
    g->group = dp_attr_int(k, "group", 1);
    if (g->group < 1 || g->group > NN_ATTR_MAX)
        return dp_kfail(k, DP_EINPUT, "group %lld is outside [1, %d]", (long long)g->group,
                        NN_ATTR_MAX);
    if (g->C % g->group)
        return dp_kfail(k, DP_EINPUT, "group %lld does not divide X's %lld channels",
                        (long long)g->group, (long long)g->C);
    g->Cg = g->C / g->group;
    if (!transpose) {
        g->M = wt->dims[0];
        if (wt->dims[1] != g->Cg)
            return dp_kfail(k, DP_EINPUT, "W has %lld input channels, expected %lld (X's %lld "
                            "channels / group %lld)", (long long)wt->dims[1], (long long)g->Cg,
                            (long long)g->C, (long long)g->group);
        if (g->M % g->group)
            return dp_kfail(k, DP_EINPUT, "group %lld does not divide W's %lld output channels",
                            (long long)g->group, (long long)g->M);
        g->Mg = g->M / g->group;
    } else {
        if (wt->dims[0] != g->C)
            return dp_kfail(k, DP_EINPUT, "W's first dimension is %lld, expected X's %lld "
                            "channels", (long long)wt->dims[0], (long long)g->C);
        g->Mg = wt->dims[1];
        if (dp_mul_i64(g->Mg, g->group, &g->M) || g->M > DP_MAX_ELEMENTS)
            return dp_kfail(k, DP_EINPUT, "output channels overflow");
    }
    if (b && (b->rank != 1 || b->dims[0] != g->M))
        return dp_kfail(k, DP_EINPUT, "B must be 1-D with %lld elements (output channels)",
                        (long long)g->M);

    int64_t kernel[NN_MAXSP];
    const int64_t *ks;
    int n_ks = dp_attr_ints(k, "kernel_shape", &ks);
    if (n_ks >= 0 && n_ks != nsp)
        return dp_kfail(k, DP_EINPUT, "kernel_shape has %d values, expected %d", n_ks, nsp);
    for (int i = 0; i < nsp; i++) {
        kernel[i] = wt->dims[2 + i];
        if (n_ks >= 0 && ks[i] != kernel[i])
            return dp_kfail(k, DP_EINPUT, "kernel_shape[%d] is %lld but W's kernel is %lld", i,
                            (long long)ks[i], (long long)kernel[i]);
    }
    st = transpose ? transpose_window(k, x, kernel, &g->w)
                   : nn_window_init(k, x, kernel, false, &g->w);
    if (st != DP_OK)
        return st;
    g->taps = g->w.k[0] * g->w.k[1] * g->w.k[2];
    g->invol = g->w.in[0] * g->w.in[1] * g->w.in[2];
    /* ConvTranspose's attributes can ask for any output size */
    if (dp_mul_i64(g->w.out[0], g->w.out[1], &g->outvol) ||
        dp_mul_i64(g->outvol, g->w.out[2], &g->outvol) || g->outvol > DP_MAX_ELEMENTS)
        return dp_kfail(k, DP_EINPUT, "output is too large");
    return DP_OK;
}

void conv_output_shape(const conv_geom *g, dp_tensor *y)
{
    y->rank = 2 + g->w.nsp;
    y->dims[0] = g->N;
    y->dims[1] = g->M;
    for (int i = 0; i < g->w.nsp; i++)
        y->dims[2 + i] = g->w.out[NN_MAXSP - g->w.nsp + i];
}

static dp_status conv_infer(dp_kctx *k, bool transpose)
{
    conv_geom g;
    dp_status st = conv_geometry(k, k->in[0], k->in[1], dp_in(k, 2), transpose, &g);
    if (st != DP_OK)
        return st;
    dp_tensor *y = k->out[0];
    conv_output_shape(&g, y);
    const dp_tensor *r = dp_in(k, 3);
    if (r && !dp_same_shape(r, y)) {
        char a[160], b[160];
        return dp_kfail(k, DP_EINPUT, "the fused residual is [%s], the output [%s]",
                        dp_shape_str(r, a, sizeof a), dp_shape_str(y, b, sizeof b));
    }
    return DP_OK;
}
dp_status nn_Conv_infer(dp_kctx *k) { return conv_infer(k, false); }
dp_status nn_ConvTranspose_infer(dp_kctx *k) { return conv_infer(k, true); }

dp_status conv_no_memory(dp_kctx *k, size_t bytes)
{
    return dp_kfail(k, DP_ENOMEM, "cannot allocate %zu bytes of scratch", bytes);
}

/* Output positions per im2col/col2im chunk for matrices of `rows` rows, a chunk's worth for
 * each of the parts its product splits into over threads. */
int64_t conv_chunk_size(int64_t rows, int64_t positions, int parts)
{
    int64_t n = rows > 0 ? CHUNK_FLOATS / rows : positions;
    if (n < MIN_CHUNK)
        n = MIN_CHUNK;
    n *= parts;
    return n < positions ? n : positions;
}

/*
 * Columns j0..j0+nj (output positions) of the im2col matrix of one group's input x
 * (Cg planes): row (c, t0, t1, t2) holds the input element tap t meets at each position,
 * or 0 in the padding.
 */
void conv_im2col(const nn_window *w, const float *x, int64_t Cg, int64_t j0, int64_t nj,
                 float *col)
{
    int64_t invol = w->in[0] * w->in[1] * w->in[2];
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t t0 = 0; t0 < w->k[0]; t0++)
            for (int64_t t1 = 0; t1 < w->k[1]; t1++)
                for (int64_t t2 = 0; t2 < w->k[2]; t2++, col += nj) {
                    int64_t off0 = t0 * w->d[0] - w->pb[0], off1 = t1 * w->d[1] - w->pb[1];
                    int64_t off2 = t2 * w->d[2] - w->pb[2], s2 = w->s[2], lo, hi;
                    nn_range(off2, s2, w->in[2], w->out[2], &lo, &hi);
                    const float *xc = x + c * invol;
                    /* runs of positions along the innermost output row */
                    for (int64_t j = j0; j < j0 + nj;) {
                        int64_t row = j / w->out[2], a = j - row * w->out[2];
                        int64_t n = w->out[2] - a < j0 + nj - j ? w->out[2] - a : j0 + nj - j;
                        int64_t i0 = row / w->out[1] * w->s[0] + off0;
                        int64_t i1 = row % w->out[1] * w->s[1] + off1;
                        /* dst[o - a] is output position o of this row */
                        float *dst = col + (j - j0);
                        if (i0 < 0 || i0 >= w->in[0] || i1 < 0 || i1 >= w->in[1]) {
                            for (int64_t o = 0; o < n; o++)
                                dst[o] = 0;
                        } else {
                            const float *src = xc + (i0 * w->in[1] + i1) * w->in[2];
                            int64_t l = lo < a ? a : lo > a + n ? a + n : lo;
                            int64_t h = hi > a + n ? a + n : hi < l ? l : hi;
                            for (int64_t o = a; o < l; o++)
                                dst[o - a] = 0;
                            if (s2 == 1)
                                memcpy(dst + (l - a), src + (l + off2),
                                       (size_t)(h - l) * sizeof(float));
                            else
                                for (int64_t o = l; o < h; o++)
                                    dst[o - a] = src[o * s2 + off2];
                            for (int64_t o = h; o < a + n; o++)
                                dst[o - a] = 0;
                        }
                        j += n;
                    }
                }
}

/*
 * The 2-D windows whose im2col reads whole shifted planes, by their stride: 1 where the
 * padding keeps the output the input's size (ResNet's 3x3 convolutions), 2 where the input's
 * sides are even and the output's are half of them (its downsampling convolutions and its
 * 7x7 stem), whose taps read one of the input's quarter planes (dp_split_by_parity) shifted;
 * 0 for any other window.
 */
int conv_shifted_stride(const nn_window *w)
{
    bool ok = w->in[0] == 1 && w->k[0] == 1 && w->pb[0] == 0 && w->pe[0] == 0;
    int s = w->s[1];
    for (int j = 1; j < NN_MAXSP; j++)
        ok = ok && w->s[j] == s && w->d[j] == 1 && w->pb[j] >= 0 && w->pe[j] >= 0 &&
             (s == 1 ? w->out[j] == w->in[j]
                     : s == 2 && w->in[j] % 2 == 0 && w->out[j] == w->in[j] / 2);
    return ok ? s : 0;
}

/*
 * im2col for windows of conv_shifted_stride s: row (c, ty, tx) is a plane the output's size (the
 * input's channel c for stride 1, one of its quarters for stride 2) shifted by dy rows and
 * dx columns, copied as one flat run over the output positions j0..j0+nj instead of a short
 * copy and two zero fills per output row. Where the source row lies outside the plane the
 * row is zero; where the source column does (col[j] + dx outside the row), the flat read
 * lands in a neighbouring row and is selected away. planes: each channel's plane, or its
 * four quarters; col: each output position's column.
 */
DP_MULTI_TARGET
static void im2col_shifted(const nn_window *w, int s, const float *planes, int64_t Cg,
                           int64_t j0, int64_t nj, const int32_t *col, float *dst)
{
    int64_t W = w->out[2], n = w->out[1] * W, j1 = j0 + nj;
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t ty = 0; ty < w->k[1]; ty++)
            for (int64_t tx = 0; tx < w->k[2]; tx++, dst += nj) {
                /* input row s i + ty - pb: for stride 2, quarter row i + dy of parity dy & 1 */
                int64_t dy = ty - w->pb[1], dx = tx - w->pb[2];
                const float *plane = planes + c * s * s * n;
                if (s == 2) {
                    plane += ((dy & 1) * 2 + (dx & 1)) * n;
                    dy = (dy - (dy & 1)) / 2;
                    dx = (dx - (dx & 1)) / 2;
                }
                int64_t shift = dy * W + dx;
                /* positions whose source row exists and whose flat read stays in the plane */
                int64_t lo = dy < 0 ? -dy * W : 0, hi = dy > 0 ? n - dy * W : n;
                lo = lo > -shift ? lo : -shift;
                hi = hi < n - shift ? hi : n - shift;
                lo = lo < j0 ? j0 : lo > j1 ? j1 : lo;
                hi = hi > j1 ? j1 : hi < lo ? lo : hi;
                const float *restrict src = plane + shift;
                float *restrict out = dst;
                for (int64_t j = j0; j < lo; j++)
                    out[j - j0] = 0;
                for (int64_t j = lo; j < hi; j++) {
                    int64_t from = col[j] + dx;
                    out[j - j0] = from >= 0 && from < W ? src[j] : 0.0f;
                }
                for (int64_t j = hi; j < j1; j++)
                    out[j - j0] = 0;
            }
}

/* A 3x3 window padded by 1 on every side: with conv_shifted_stride 1 (the output plane the input's
 * size, every tap a shift of the whole plane) or 2 (MobileNet's downsampling over an even
 * input, the output half of it each way), its depthwise convolution runs on whole planes. */
bool conv_padded_3x3(const nn_window *w)
{
    bool ok = true;
    for (int j = 1; j < NN_MAXSP; j++)
        ok = ok && w->k[j] == 3 && w->pb[j] == 1 && w->pe[j] == 1;
    return ok;
}

static bool is_pointwise(const nn_window *w)
{
    bool pointwise = true;
    for (int j = 0; j < NN_MAXSP; j++)
        pointwise = pointwise && w->k[j] == 1 && w->s[j] == 1 && w->pb[j] == 0 && w->pe[j] == 0;
    return pointwise;
}

/* Images per product when a batch's output planes are small: as many whole planes as one
 * thread's chunk of columns holds; 1 where one plane fills it, or for grouped convolutions.
 * Not more for more threads: whether images go side by side (and Winograd is left out)
 * changes an exact product's bits, which must not depend on the thread count. */
static int64_t images_per_product(const conv_geom *g)
{
    if (g->N < 2 || g->group != 1)
        return 1;
    int64_t cols = conv_chunk_size(g->Cg * g->taps, g->N * g->outvol, 1);
    return cols / g->outvol > 1 ? cols / g->outvol : 1;
}

/*
 * The convolution of a batch whose output planes are small (ResNet's last stages: 2x2 and
 * 1x1 positions for a 28x28 image), several images to a product: their matrices side by side,
 * image n's columns at n * outvol, so that the weights stream once for them all instead of
 * once an image, in products too narrow to reuse them. Column n * outvol + j is the same
 * global column (vector0) as in the image-by-image loop, and the tiled product sums each
 * element in an order fixed by K alone: the same bits, exact or noisy. The epilogue runs on
 * each image's outputs after the product, which gives the bits of its fused form (gemm.h).
 */
static dp_status conv_images_side_by_side(dp_kctx *k, const conv_geom *g, int64_t per,
                                          const float *x, const float *wt,
                                          const float *b, const float *res,
                                          dp_sgemm_epilogue *ep, bool finish, float *y)
{
    const nn_window *w = &g->w;
    bool pointwise = is_pointwise(w);
    int shifted = pointwise ? 0 : conv_shifted_stride(w);
    int64_t K = g->C * g->taps, M = g->M, P = g->outvol, cols = per * P;
    size_t gemm_bytes = dp_sgemm_scratch_size(M, cols, K);
    size_t col_bytes = (size_t)(K * cols) * sizeof(float);
    size_t one_bytes = pointwise ? 0 : (size_t)(K * P) * sizeof(float);
    size_t y_bytes = (size_t)(M * cols) * sizeof(float);
    size_t where_bytes = shifted ? (size_t)P * sizeof(int32_t) : 0;
    size_t quarter_bytes = shifted == 2 ? (size_t)(g->C * g->invol) * sizeof(float) : 0;
    void *gemm_scratch = dp_scratch_raw(k, gemm_bytes);
    float *col = dp_scratch_raw(k, col_bytes), *ys = dp_scratch_raw(k, y_bytes);
    float *one = one_bytes ? dp_scratch_raw(k, one_bytes) : NULL;
    int32_t *column = where_bytes ? dp_scratch_raw(k, where_bytes) : NULL;
    float *quarters = quarter_bytes ? dp_scratch_raw(k, quarter_bytes) : NULL;
    if (!gemm_scratch || !col || !ys || (one_bytes && !one) || (where_bytes && !column) ||
        (quarter_bytes && !quarters))
        return conv_no_memory(k, gemm_bytes + col_bytes + one_bytes + y_bytes + where_bytes +
                                     quarter_bytes);
    for (int64_t j = 0; shifted && j < P; j += w->out[2])
        for (int64_t c = 0; c < w->out[2]; c++)
            column[j + c] = (int32_t)c;
    for (int64_t n0 = 0; n0 < g->N; n0 += per) {
        int64_t images = g->N - n0 < per ? g->N - n0 : per, width = images * P;
        for (int64_t n = n0; n < n0 + images; n++) {
            const float *xn = x + n * g->C * g->invol, *src = xn;
            if (!pointwise) {
                for (int64_t c = 0; shifted == 2 && c < g->C; c++)
                    dp_split_by_parity(xn + c * g->invol, w->in[1], w->in[2],
                                       quarters + c * g->invol);
                if (shifted)
                    im2col_shifted(w, shifted, shifted == 2 ? quarters : xn, g->C, 0, P,
                                   column, one);
                else
                    conv_im2col(w, xn, g->C, 0, P, one);
                src = one;
            }
            for (int64_t r = 0; r < K; r++)
                memcpy(col + r * width + (n - n0) * P, src + r * P, (size_t)P * sizeof(float));
        }
        dp_product pr = {.M = M, .N = width, .K = K, .alpha = 1, .A = wt, .lda = K,
                         .B = col, .ldb = width, .C = ys, .ldc = width, .weights_in_a = true,
                         .weights_fixed = true, .vector0 = n0 * P, .scratch = gemm_scratch};
        dp_status st = dp_kernel_product(k, &pr);
        if (st != DP_OK)
            return st;
        for (int64_t n = n0; n < n0 + images; n++) {
            float *yn = y + n * M * P;
            for (int64_t m = 0; m < M; m++)
                memcpy(yn + m * P, ys + m * width + (n - n0) * P, (size_t)P * sizeof(float));
            if (finish) {
                ep->row_bias = b;
                ep->residual = res ? res + n * M * P : NULL;
                dp_sgemm_finish(M, P, yn, P, ep);
            }
        }
    }
    return DP_OK;
}

/*
 * The convolution by products with dp_kernel_product, a group and a chunk of output positions
 * at a time: of the weights and the im2col matrix, or of the weights and the input itself
 * for pointwise windows. finish: ep goes with each product's last store (ep's row_bias and
 * residual are set here, per group and chunk).
 */
static dp_status conv_by_products(dp_kctx *k, const conv_geom *g, const float *x,
                                  const float *wt, const float *b, const float *res,
                                  dp_sgemm_epilogue *ep, bool finish, float *y)
{
    int64_t per = images_per_product(g);
    if (per > 1)
        return conv_images_side_by_side(k, g, per, x, wt, b, res, ep, finish, y);
    const nn_window *w = &g->w;
    bool pointwise = is_pointwise(w);
    int64_t K = g->Cg * g->taps;
    int64_t nj = pointwise ? g->outvol
                           : conv_chunk_size(K, g->outvol, k->parallel ? k->parallel->threads : 1);
    int shifted = pointwise ? 0 : conv_shifted_stride(w);
    size_t gemm_bytes = dp_sgemm_scratch_size(g->Mg, nj, K);
    size_t col_bytes = pointwise ? 0 : (size_t)(K * nj) * sizeof(float);
    size_t where_bytes = shifted ? (size_t)g->outvol * sizeof(int32_t) : 0;
    size_t quarter_bytes = shifted == 2 ? (size_t)(g->Cg * g->invol) * sizeof(float) : 0;
    /* each written in full before it is read: packed panels, matrix rows, planes */
    void *gemm_scratch = dp_scratch_raw(k, gemm_bytes);
    float *col = col_bytes ? dp_scratch_raw(k, col_bytes) : NULL;
    int32_t *column = where_bytes ? dp_scratch_raw(k, where_bytes) : NULL;
    float *quarters = quarter_bytes ? dp_scratch_raw(k, quarter_bytes) : NULL;
    if (!gemm_scratch || (col_bytes && !col) || (where_bytes && !column) ||
        (quarter_bytes && !quarters))
        return conv_no_memory(k, gemm_bytes + col_bytes + where_bytes + quarter_bytes);
    /* row by row, without a division per position */
    for (int64_t j = 0; shifted && j < g->outvol; j += w->out[2])
        for (int64_t c = 0; c < w->out[2]; c++)
            column[j + c] = (int32_t)c;

    for (int64_t n = 0; n < g->N; n++)
        for (int64_t gi = 0; gi < g->group; gi++) {
            const float *xg = x + (n * g->C + gi * g->Cg) * g->invol, *wg = wt + gi * g->Mg * K;
            float *yg = y + (n * g->M + gi * g->Mg) * g->outvol;
            ep->row_bias = b ? b + gi * g->Mg : NULL;
            for (int64_t c = 0; shifted == 2 && c < g->Cg; c++)
                dp_split_by_parity(xg + c * g->invol, w->in[1], w->in[2],
                                   quarters + c * g->invol);
            dp_product pr = {.M = g->Mg, .K = K, .alpha = 1, .A = wg, .lda = K,
                             .ldc = g->outvol, .weights_in_a = true, .weights_fixed = true,
                             .channel0 = gi * g->Mg, .scratch = gemm_scratch,
                             .epilogue = finish ? ep : NULL};
            for (int64_t j0 = 0; j0 < g->outvol; j0 += nj) {
                int64_t len = g->outvol - j0 < nj ? g->outvol - j0 : nj;
                if (shifted)
                    im2col_shifted(w, shifted, shifted == 2 ? quarters : xg, g->Cg, j0, len,
                                   column, col);
                else if (!pointwise)
                    conv_im2col(w, xg, g->Cg, j0, len, col);
                pr.N = len;
                pr.B = pointwise ? xg + j0 : col;
                pr.ldb = pointwise ? g->invol : len;
                pr.C = yg + j0;
                pr.vector0 = n * g->outvol + j0;
                ep->residual = res ? res + (n * g->M + gi * g->Mg) * g->outvol + j0 : NULL;
                dp_status st = dp_kernel_product(k, &pr);
                if (st != DP_OK)
                    return st;
            }
        }
    return DP_OK;
}

dp_status nn_Conv_run(dp_kctx *k)
{
    conv_geom g;
    dp_status st = conv_geometry(k, k->in[0], k->in[1], dp_in(k, 2), false, &g);
    if (st != DP_OK)
        return st;
    const float *x = k->in[0]->data, *wt = k->in[1]->data;
    const float *b = dp_in(k, 2) ? dp_in(k, 2)->data : NULL;
    float *y = k->out[0]->data;
    if (g.N == 0 || g.M == 0 || g.outvol == 0)
        return DP_OK;
    /* the bias, a fused residual and an activation that clamps go with the last pass over
     * each output; the residual is laid out as the output */
    const float *res = dp_in(k, 3) ? dp_in(k, 3)->data : NULL, *u;
    dp_sgemm_epilogue ep = {.ldr = g.outvol};
    bool clamp = dp_fused_clamp(k, &ep.lo, &ep.hi);
    bool bounded = ep.lo > -INFINITY || ep.hi < INFINITY;
    int planar = conv_padded_3x3(&g.w) ? conv_shifted_stride(&g.w) : 0;
    if (g.Cg == 1 && g.Mg == 1 && planar && k->analog && k->analog->takes_planes) {
        ep.residual = res;
        st = conv_depthwise_analog(k, &g, planar, x, wt, b, &ep, y);
    } else if (g.Cg == 1 && !k->analog) {
        /* the direct depthwise loop multiplies in fp32: on the core it is a product like any */
        ep.residual = res;
        st = planar ? conv_depthwise_planes(k, &g, planar, x, wt, b, &ep, y)
                    : conv_depthwise_rows(k, &g, x, wt, b, &ep, y);
    } else if (images_per_product(&g) == 1 && (u = conv_winograd_weights(k, &g, wt))) {
        /* small planes of a batch: Winograd's products would be as narrow, over 16/9 times
         * the weights, where side by side the batch shares them */
        ep.row_bias = b;
        ep.residual = res;
        st = conv_winograd(k, &g, x, u, &ep, y);
    } else {
        st = conv_by_products(k, &g, x, wt, b, res, &ep, b || res || bounded, y);
    }
    if (st != DP_OK)
        return st;
    return clamp ? DP_OK : dp_fused_activate(k, k->out[0]);
}
