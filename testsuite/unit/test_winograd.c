/*
 * test_winograd.c: Winograd's F(2x2, 3x3) (runtime/kernels/winograd.c) against the
 * convolution's definition summed in double, on planes of odd and even sides, one to more
 * than a run of tiles wide, in chunks that end mid-row or hold a single tile; its steps
 * split over channels and points, and its transforms in portable C rather than AVX-512,
 * give the same bits; and Conv takes it for a program's constant filters, through the
 * session's weight panels.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dp_op.h"
#include "weight_panels.h"
#include "winograd.h"

/* A fixed pseudo-random fill in [-1, 1). */
static void fill(float *a, size_t n, unsigned seed)
{
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        a[i] = (float)(s >> 8) / (float)(1 << 23) - 1.0f;
    }
}

typedef struct conv_case {
    int64_t C, M, H, W;
    int64_t chunk; /* 0: the plan's */
    bool bias, residual;
    float lo, hi;
} conv_case;

/* Runs the case through the module's steps: on whole ranges or split in parts, with the
 * transforms in AVX-512 registers where the CPU has them or in portable C. */
static void winograd_run(const conv_case *cc, const float *x, const float *w, const float *b,
                         const float *res, float *y, bool split, bool portable)
{
    dp_winograd g = dp_winograd_plan(cc->C, cc->M, cc->H, cc->W);
    if (portable)
        g.avx512 = false;
    if (cc->chunk)
        g.chunk = cc->chunk < g.tiles ? cc->chunk : g.tiles;
    float *u = aligned_alloc(64, dp_winograd_weights_floats(cc->M, cc->C) * sizeof(float));
    float *tmp = malloc((size_t)(16 * cc->M * cc->C) * sizeof(float));
    float *v = malloc(dp_winograd_input_floats(&g) * sizeof(float));
    float *p = malloc(dp_winograd_product_floats(&g) * sizeof(float));
    void *scratch = aligned_alloc(64, (dp_sgemm_scratch_size(cc->M, g.chunk, cc->C) + 63) / 64 *
                                          64);
    assert_true(u && tmp && v && p && scratch);
    dp_winograd_pack_weights(cc->M, cc->C, w, u, tmp);
    dp_sgemm_epilogue ep = {.row_bias = cc->bias ? b : NULL,
                            .residual = cc->residual ? res : NULL, .ldr = cc->H * cc->W,
                            .lo = cc->lo, .hi = cc->hi};
    for (int64_t t0 = 0; t0 < g.tiles; t0 += g.chunk) {
        int64_t nt = g.tiles - t0 < g.chunk ? g.tiles - t0 : g.chunk;
        int64_t c = split ? cc->C / 2 : cc->C, m = split ? cc->M / 3 : cc->M;
        int xi = split ? 7 : 16;
        dp_winograd_input(&g, x, t0, nt, 0, c, v);
        dp_winograd_input(&g, x, t0, nt, c, cc->C, v);
        dp_winograd_products(&g, u, v, nt, 0, xi, p, scratch);
        dp_winograd_products(&g, u, v, nt, xi, 16, p, scratch);
        dp_winograd_output(&g, p, t0, nt, 0, m, &ep, y);
        dp_winograd_output(&g, p, t0, nt, m, cc->M, &ep, y);
    }
    free(u);
    free(tmp);
    free(v);
    free(p);
    free(scratch);
}

/* Elements of y off the definition by more than fp32 rounding can explain. */
static int64_t off_the_definition(const conv_case *cc, const float *x, const float *w,
                                  const float *b, const float *res, const float *y)
{
    int64_t H = cc->H, W = cc->W, bad = 0;
    for (int64_t m = 0; m < cc->M; m++)
        for (int64_t i = 0; i < H; i++)
            for (int64_t j = 0; j < W; j++) {
                double sum = 0, size = 0;
                for (int64_t c = 0; c < cc->C; c++)
                    for (int a = 0; a < 3; a++)
                        for (int e = 0; e < 3; e++) {
                            int64_t r = i + a - 1, q = j + e - 1;
                            if (r < 0 || r >= H || q < 0 || q >= W)
                                continue;
                            double t = (double)w[((m * cc->C + c) * 3 + a) * 3 + e] *
                                       x[(c * H + r) * W + q];
                            sum += t;
                            size += fabs(t);
                        }
                int64_t at = (m * H + i) * W + j;
                if (cc->bias)
                    sum += b[m], size += fabs(b[m]);
                if (cc->residual)
                    sum += res[at], size += fabs(res[at]);
                sum = sum < cc->lo ? cc->lo : sum > cc->hi ? cc->hi : sum;
                /* the transforms add a few roundings per term to the sum's */
                if (!(fabs(y[at] - sum) <= 1e-5 * size + 1e-30))
                    bad++;
            }
    return bad;
}

static const conv_case cases[] = {
    {.C = 3, .M = 5, .H = 1, .W = 1, .lo = -INFINITY, .hi = INFINITY},
    {.C = 2, .M = 13, .H = 2, .W = 3, .bias = true, .lo = -INFINITY, .hi = INFINITY},
    {.C = 16, .M = 16, .H = 7, .W = 7, .chunk = 5, .bias = true, .residual = true,
     .lo = 0, .hi = INFINITY},
    {.C = 17, .M = 25, .H = 6, .W = 9, .chunk = 1, .lo = -0.5f, .hi = 0.5f},
    {.C = 40, .M = 37, .H = 14, .W = 13, .bias = true, .lo = -INFINITY, .hi = INFINITY},
    /* tile rows wider than a run of the transforms, chunks ending mid-row */
    {.C = 2, .M = 3, .H = 5, .W = 151, .chunk = 70, .residual = true, .lo = -INFINITY,
     .hi = INFINITY},
    {.C = 64, .M = 64, .H = 20, .W = 20, .lo = 0, .hi = INFINITY},
};

static void matches_the_definition(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const conv_case *cc = &cases[k];
        size_t nx = (size_t)(cc->C * cc->H * cc->W), ny = (size_t)(cc->M * cc->H * cc->W);
        size_t nw = (size_t)(cc->M * cc->C * 9);
        float *x = malloc(nx * sizeof(float)), *w = malloc(nw * sizeof(float));
        float *b = malloc((size_t)cc->M * sizeof(float)), *res = malloc(ny * sizeof(float));
        float *y = malloc(ny * sizeof(float)), *y2 = malloc(ny * sizeof(float));
        assert_true(x && w && b && res && y && y2);
        fill(x, nx, 1 + (unsigned)k);
        fill(w, nw, 101 + (unsigned)k);
        fill(b, (size_t)cc->M, 201 + (unsigned)k);
        fill(res, ny, 301 + (unsigned)k);
        /* every output written: no reliance on what the buffer held */
        memset(y, 0xff, ny * sizeof(float));
        winograd_run(cc, x, w, b, res, y, false, false);
        if (off_the_definition(cc, x, w, b, res, y) != 0)
            fail_msg("case %zu: %lld outputs off the definition", k,
                     (long long)off_the_definition(cc, x, w, b, res, y));
        /* the same steps over parts of their ranges, and in portable C */
        memset(y2, 0xff, ny * sizeof(float));
        winograd_run(cc, x, w, b, res, y2, true, false);
        assert_memory_equal(y, y2, ny * sizeof(float));
        memset(y2, 0xff, ny * sizeof(float));
        winograd_run(cc, x, w, b, res, y2, false, true);
        assert_memory_equal(y, y2, ny * sizeof(float));
        free(x);
        free(w);
        free(b);
        free(res);
        free(y);
        free(y2);
    }
}

/* Runs Conv (pads 1, 3x3, stride 1) on x (1 x C x H x W) and the blob's filters and bias,
 * with the session's weight panels or without. */
static dp_status conv(dp_weight_panels *panels, dp_tensor *x, dp_tensor *w, dp_tensor *b,
                      dp_tensor *y)
{
    static const int64_t pads[] = {1, 1, 1, 1};
    dp_attr attrs[] = {{.name = "pads", .kind = DP_ATTR_INTS, .ints = pads, .n = 4}};
    dp_tensor *in[] = {x, w, b}, *out[] = {y};
    dp_arena scratch;
    dp_error err;
    dp_arena_init(&scratch, 0);
    dp_kctx k = {.node = "n", .op = "Conv", .opset = 11, .attrs = attrs, .n_attrs = 1,
                 .in = in, .n_in = 3, .out = out, .n_out = 1, .scratch = &scratch,
                 .err = &err, .panels = panels};
    const dp_op_def *def = dp_op_find("Conv");
    dp_error_clear(&err);
    void *data = y->data;
    dp_status st = dp_node_types_infer(def, &k);
    y->data = data;
    if (st == DP_OK)
        st = def->run(&k);
    dp_arena_free(&scratch);
    return st;
}

/* With the weight panels Conv reads the transformed filters the session keeps (zeroing them
 * leaves the bias alone); without, it runs im2col; both within rounding of each other. */
static void conv_takes_the_sessions_filters(void **state)
{
    (void)state;
    enum { C = 20, M = 24, H = 9, W = 11 };
    static float blob[M * C * 9 + M], xs[C * H * W], direct[M * H * W], fast[M * H * W];
    fill(blob, sizeof blob / sizeof blob[0], 7);
    fill(xs, sizeof xs / sizeof xs[0], 8);
    dp_tensor x = {.dtype = DP_FLOAT, .rank = 4, .dims = {1, C, H, W}, .data = xs};
    dp_tensor w = {.dtype = DP_FLOAT, .rank = 4, .dims = {M, C, 3, 3}, .data = blob};
    dp_tensor b = {.dtype = DP_FLOAT, .rank = 1, .dims = {M}, .data = blob + M * C * 9};
    dp_tensor y = {.data = direct};
    assert_int_equal(conv(NULL, &x, &w, &b, &y), DP_OK);
    dp_weight_panels *panels = dp_weight_panels_new(blob, sizeof blob, SIZE_MAX);
    assert_non_null(panels);
    y = (dp_tensor){.data = fast};
    assert_int_equal(conv(panels, &x, &w, &b, &y), DP_OK);
    for (int i = 0; i < M * H * W; i++)
        assert_true(fabsf(fast[i] - direct[i]) <= 1e-5f * (1 + fabsf(direct[i])));
    float *u = (float *)dp_weight_panels_winograd(panels, M, C, blob);
    assert_non_null(u);
    memset(u, 0, dp_winograd_weights_floats(M, C) * sizeof(float));
    assert_int_equal(conv(panels, &x, &w, &b, &y), DP_OK);
    for (int i = 0; i < M * H * W; i++)
        assert_true(fast[i] == blob[M * C * 9 + i / (H * W)]);
    dp_weight_panels_free(panels);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_the_definition),
        cmocka_unit_test(conv_takes_the_sessions_filters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
