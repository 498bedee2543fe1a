/*
 * conv_winograd.c: Conv by Winograd's F(2x2, 3x3) (winograd.h; winograd.c holds its
 * transforms), for conv.c: which convolutions take it, and each chunk of tiles in its three
 * steps over k->parallel's threads.
 */
#include "conv_ops.h"
#include "weight_panels.h"
#include "winograd.h"

/* One step of a chunk of Winograd's convolution, on a range of its channels or points. */
typedef struct winograd_part {
    const dp_winograd *g;
    int step; /* 0: transform the input, 1: the products, 2: the outputs */
    const float *x, *u;
    float *v, *p, *y;
    const dp_sgemm_epilogue *ep;
    int64_t t0, nt, lo, hi;
    void *scratch;
} winograd_part;

static void run_winograd(void *ctx, int i)
{
    const winograd_part *t = (const winograd_part *)ctx + i;
    if (t->step == 0)
        dp_winograd_input(t->g, t->x, t->t0, t->nt, t->lo, t->hi, t->v);
    else if (t->step == 1)
        dp_winograd_products(t->g, t->u, t->v, t->nt, (int)t->lo, (int)t->hi, t->p, t->scratch);
    else
        dp_winograd_output(t->g, t->p, t->t0, t->nt, t->lo, t->hi, t->ep, t->y);
}

/*
 * The filters transformed for Winograd's F(2x2, 3x3) (winograd.h) where it takes this
 * convolution, else NULL: noise-free, one group, conv_padded_3x3 windows of stride 1, and the
 * filters the program's constants (transformed once per session). Fewer than 16 channels
 * either way leave too little to save to pay for the transforms.
 */
const float *conv_winograd_weights(dp_kctx *k, const conv_geom *g, const float *wt)
{
    enum { MIN_CHANNELS = 16 };
    if (k->analog || !k->panels || g->group != 1 || !conv_padded_3x3(&g->w) ||
        conv_shifted_stride(&g->w) != 1 || g->C < MIN_CHANNELS || g->M < MIN_CHANNELS)
        return NULL;
    return dp_weight_panels_winograd(k->panels, g->M, g->C, wt);
}

/* The convolution by Winograd's F(2x2, 3x3) with the transformed filters u, a chunk of tiles
 * at a time, each step split over k->parallel's threads. */
dp_status conv_winograd(dp_kctx *k, const conv_geom *cg, const float *x, const float *u,
                        const dp_sgemm_epilogue *ep, float *y)
{
    dp_winograd g = dp_winograd_plan(cg->C, cg->M, cg->w.in[1], cg->w.in[2]);
    double macs = (double)DP_WINOGRAD_POINTS * (double)(g.M * g.C * g.chunk);
    int64_t bounds[DP_MAX_PARTS + 1], widest;
    int most = dp_parallel_split(k->parallel, macs, DP_WINOGRAD_POINTS, 1, bounds, &widest);
    size_t each = (dp_sgemm_scratch_size(g.M, g.chunk, g.C) + 63) / 64 * 64;
    size_t v_bytes = dp_winograd_input_floats(&g) * sizeof(float);
    size_t p_bytes = dp_winograd_product_floats(&g) * sizeof(float);
    /* each written in full before it is read */
    float *v = dp_scratch_raw(k, v_bytes), *p = dp_scratch_raw(k, p_bytes);
    char *scratch = dp_scratch_raw(k, each * (size_t)most);
    if (!v || !p || !scratch)
        return conv_no_memory(k, v_bytes + p_bytes + each * (size_t)most);
    winograd_part part[DP_MAX_PARTS];
    for (int64_t n = 0; n < cg->N; n++) {
        dp_sgemm_epilogue image = *ep;
        if (image.residual)
            image.residual += n * g.M * cg->outvol;
        for (int64_t t0 = 0; t0 < g.tiles; t0 += g.chunk) {
            int64_t nt = g.tiles - t0 < g.chunk ? g.tiles - t0 : g.chunk;
            for (int step = 0; step < 3; step++) {
                int64_t items = step == 0 ? g.C : step == 1 ? DP_WINOGRAD_POINTS : g.M;
                int parts = dp_parallel_split(k->parallel, macs, items, 1, bounds, &widest);
                for (int i = 0; i < parts; i++)
                    part[i] = (winograd_part){.g = &g, .step = step,
                                              .x = x + n * g.C * cg->invol, .u = u, .v = v,
                                              .p = p, .y = y + n * g.M * cg->outvol,
                                              .ep = &image, .t0 = t0, .nt = nt,
                                              .lo = bounds[i], .hi = bounds[i + 1],
                                              .scratch = scratch + each * (size_t)i};
                if (parts > 1)
                    k->parallel->run(k->parallel, parts, run_winograd, part);
                else
                    run_winograd(part, 0);
            }
        }
    }
    return DP_OK;
}
