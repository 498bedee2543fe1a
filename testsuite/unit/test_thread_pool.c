/*
 * test_thread_pool.c: the worker pool behind dp_parallel runs every task of every job once
 * and returns only when all are done, and an exact product split over its threads gives the
 * bits of the same product on one thread: split over columns, and over rows where the
 * weights are B and packed once (weight_panels.h); so does a large element-wise op split
 * over runs of its elements.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dp_arena.h"
#include "dp_op.h"
#include "gemm.h"
#include "thread_pool.h"
#include "weight_panels.h"

enum { TASKS = 37, JOBS = 2000 };

static void count_task(void *ctx, int task)
{
    int *hits = ctx;
    hits[task]++;
}

static void every_task_runs_once(void **state)
{
    dp_thread_pool *pool = dp_thread_pool_new(3);
    assert_non_null(pool);
    dp_parallel *par = dp_thread_pool_parallel(pool);
    assert_int_equal(par->threads, 3);
    /* many short jobs back to back: a worker that wakes late must not run a finished job */
    for (int j = 0; j < JOBS; j++) {
        int hits[TASKS] = {0};
        int tasks = 1 + j % TASKS;
        par->run(par, tasks, count_task, hits);
        for (int t = 0; t < TASKS; t++)
            assert_int_equal(hits[t], t < tasks ? 1 : 0);
    }
    dp_thread_pool_free(pool);
    assert_null(dp_thread_pool_new(1));
}

static float *random_floats(int64_t n, unsigned seed)
{
    float *v = malloc((size_t)n * sizeof *v);
    assert_non_null(v);
    srand(seed);
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return v;
}

/* C = A B through dp_kernel_product, on one thread or over par. */
static void product(dp_parallel *par, dp_weight_panels *panels, bool weights_in_a, int64_t M,
                    int64_t N, int64_t K, const float *A, const float *B, float *C)
{
    dp_arena scratch;
    dp_arena_init(&scratch, 0);
    dp_error err = {0};
    dp_kctx k = {.node = "n", .op = "MatMul", .scratch = &scratch, .err = &err,
                 .panels = panels, .parallel = par};
    dp_product p = {.M = M, .N = N, .K = K, .alpha = 1, .A = A, .lda = K, .B = B, .ldb = N,
                    .C = C, .ldc = N, .weights_in_a = weights_in_a, .weights_fixed = true,
                    .scratch = dp_scratch(&k, dp_sgemm_scratch_size(M, N, K))};
    assert_non_null(p.scratch);
    assert_int_equal(dp_kernel_product(&k, &p), DP_OK);
    dp_arena_free(&scratch);
}

static void split_products_are_bit_identical(void **state)
{
    /* shapes whose parts end on a tile edge, or not, or leave a one-wide remainder */
    const int64_t shapes[][3] = {{64, 3137, 57}, {150, 257, 300}, {2, 1031, 2048}, {300, 65, 512}};
    dp_thread_pool *pool = dp_thread_pool_new(3);
    assert_non_null(pool);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = random_floats(M * K, 1), *B = random_floats(K * N, 2);
        float *one = malloc((size_t)(M * N) * sizeof(float));
        float *many = malloc((size_t)(M * N) * sizeof(float));
        assert_true(one && many);
        for (int side = 0; side < 2; side++) {
            /* the weights are A (columns split) or B, packed whole (rows split) */
            const float *W = side == 0 ? A : B;
            size_t bytes = (size_t)(side == 0 ? M * K : K * N) * sizeof(float);
            dp_weight_panels *panels = dp_weight_panels_new(W, bytes, SIZE_MAX);
            product(NULL, NULL, side == 0, M, N, K, A, B, one);
            product(dp_thread_pool_parallel(pool), panels, side == 0, M, N, K, A, B, many);
            assert_memory_equal(one, many, (size_t)(M * N) * sizeof(float));
            /* and with nothing packed: the parts pack their own operands */
            product(dp_thread_pool_parallel(pool), NULL, side == 0, M, N, K, A, B, many);
            assert_memory_equal(one, many, (size_t)(M * N) * sizeof(float));
            dp_weight_panels_free(panels);
        }
        free(A);
        free(B);
        free(one);
        free(many);
    }
    dp_thread_pool_free(pool);
}

/* Op on its inputs into y, on one thread or over par. */
static void elementwise(dp_parallel *par, const char *op, dp_tensor **ins, int n_in, float *y)
{
    dp_arena scratch;
    dp_arena_init(&scratch, 0);
    dp_error err = {0};
    dp_tensor out = {0}, *outs[] = {&out};
    dp_kctx k = {.node = "n", .op = op, .opset = 13, .in = ins, .n_in = n_in, .out = outs,
                 .n_out = 1, .scratch = &scratch, .err = &err, .parallel = par};
    const dp_op_def *def = dp_op_find(op);
    assert_non_null(def);
    assert_int_equal(dp_node_types_infer(def, &k), DP_OK);
    out.data = y;
    assert_int_equal(def->run(&k), DP_OK);
    dp_arena_free(&scratch);
}

/* Large unary and binary ops split over runs of their elements: the same bits, also where an
 * operand is broadcast along either dimension. */
static void split_elementwise_ops_are_bit_identical(void **state)
{
    /* long enough to split (N elements cost past DP_PARALLEL_MIN_MACS), rows whose length is
     * not a multiple of the 16-element runs */
    enum { ROWS = 193, COLS = 1031, N = ROWS * COLS };
    dp_thread_pool *pool = dp_thread_pool_new(3);
    assert_non_null(pool);
    float *x = random_floats(N, 3), *x2 = random_floats(N, 4), *row = random_floats(COLS, 5);
    float *col = random_floats(ROWS, 6), *one = malloc(N * sizeof(float));
    float *many = malloc(N * sizeof(float));
    assert_true(one && many);
    for (int i = 0; i < N; i++)
        x[i] *= 8;
    dp_tensor tx = {.dtype = DP_FLOAT, .rank = 2, .dims = {ROWS, COLS}, .data = x};
    dp_tensor tx2 = {.dtype = DP_FLOAT, .rank = 2, .dims = {ROWS, COLS}, .data = x2};
    dp_tensor trow = {.dtype = DP_FLOAT, .rank = 1, .dims = {COLS}, .data = row};
    dp_tensor tcol = {.dtype = DP_FLOAT, .rank = 2, .dims = {ROWS, 1}, .data = col};
    struct {
        const char *op;
        dp_tensor *in[2];
        int n;
    } cases[] = {{"Erf", {&tx}, 1},          {"Exp", {&tx}, 1},
                 {"Tanh", {&tx}, 1},         {"Relu", {&tx}, 1},
                 {"Div", {&tx, &tx2}, 2},    {"Add", {&tx, &trow}, 2},
                 {"Mul", {&tcol, &tx}, 2},   {"Sub", {&trow, &tcol}, 2}};
    for (size_t o = 0; o < sizeof cases / sizeof cases[0]; o++) {
        elementwise(NULL, cases[o].op, cases[o].in, cases[o].n, one);
        memset(many, 0xff, N * sizeof(float));
        elementwise(dp_thread_pool_parallel(pool), cases[o].op, cases[o].in, cases[o].n, many);
        assert_memory_equal(one, many, N * sizeof(float));
    }
    free(x);
    free(x2);
    free(row);
    free(col);
    free(one);
    free(many);
    dp_thread_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_task_runs_once),
        cmocka_unit_test(split_products_are_bit_identical),
        cmocka_unit_test(split_elementwise_ops_are_bit_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
