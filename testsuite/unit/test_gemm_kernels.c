/*
 * test_gemm_kernels.c: dp_sgemm's micro-kernels, each against a chain of C's fmaf along K,
 * bit for bit: the portable one, AVX2 and every AVX-512 shape where this CPU has them, and
 * the choice of kernels for every live size of an edge tile. dp_sgemm picks one kernel per
 * CPU, so its own tests see only that one; this file includes gemm.c to reach the others.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* gemm.c's public functions under other names, so that they do not clash with dpcclib's */
#define dp_sgemm test_sgemm
#define dp_sgemm_scratch_size test_sgemm_scratch_size
#define dp_sgemm_packed test_sgemm_packed
#define dp_sgemm_packed_a_size test_sgemm_packed_a_size
#define dp_sgemm_packed_b_size test_sgemm_packed_b_size
#define dp_sgemm_pack_a test_sgemm_pack_a
#define dp_sgemm_pack_b test_sgemm_pack_b
#define dp_sgemm_finish test_sgemm_finish
#include "../../runtime/kernels/gemm.c"

enum { KCT = 203 }; /* not a multiple of any unrolling */

/* PANELS A panels one after another, as packed, and one B panel; want: each A panel's
 * tile, one after another */
typedef struct panels {
    float a[PANELS * KCT * MR], b[KCT * NR], want[PANELS * MR * NR];
} panels;

static panels *make_panels(void)
{
    panels *P = malloc(sizeof *P);
    assert_non_null(P);
    srand(3);
    for (int i = 0; i < PANELS * KCT * MR; i++)
        P->a[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    for (int i = 0; i < KCT * NR; i++)
        P->b[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    for (int k = 0; k < PANELS; k++)
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) {
                float c = 0;
                for (int p = 0; p < KCT; p++)
                    c = fmaf(P->a[k * KCT * MR + p * MR + i], P->b[p * NR + j], c);
                P->want[k * MR * NR + i * NR + j] = c;
            }
    return P;
}

/* How many of acc's first rows x cols differ from A panel k's tile in any bit. */
static int differences_in(const panels *P, int k, const float *acc, int rows, int cols)
{
    const float *want = P->want + k * MR * NR;
    int bad = 0;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            bad += memcmp(&acc[i * NR + j], &want[i * NR + j], sizeof(float)) != 0;
    return bad;
}

static int differences(const panels *P, const float *acc, int rows, int cols)
{
    return differences_in(P, 0, acc, rows, cols);
}

/* Every tile kernel, on the packed b panel (rows NR apart) and on the same rows spread
 * wider, as B's rows lie where a product reads them in place. */
static void each_kernel_is_an_fma_chain(void **state)
{
    enum { WIDE = NR + 9 };
    panels *P = make_panels();
    float *spread = malloc(sizeof(float) * KCT * WIDE);
    assert_non_null(spread);
    for (int p = 0; p < KCT; p++)
        memcpy(spread + p * WIDE, P->b + p * NR, sizeof(float) * NR);
    const struct {
        const float *b;
        int64_t ldb;
    } layouts[] = {{P->b, NR}, {spread, WIDE}};
    float acc[MR * NR];
    for (int l = 0; l < 2; l++) {
        const float *b = layouts[l].b;
        int64_t ldb = layouts[l].ldb;
        tile_portable(KCT, P->a, b, ldb, acc);
        assert_int_equal(differences(P, acc, MR, NR), 0);
#ifdef DP_GEMM_X86
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
            tile_avx2(KCT, P->a, b, ldb, acc);
            assert_int_equal(differences(P, acc, MR, NR), 0);
        }
        if (__builtin_cpu_supports("avx512f")) {
            const struct {
                tile_fn *f;
                int rows, cols;
            } shapes[] = {{tile_avx512, MR, NR},       {half_avx512, MR, HALF},
                          {rows8_avx512, 8, NR},       {rows8_half_avx512, 8, HALF},
                          {rows4_avx512, 4, NR},       {rows4_half_avx512, 4, HALF}};
            for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
                memset(acc, 0xff, sizeof acc);
                shapes[k].f(KCT, P->a, b, ldb, acc);
                assert_int_equal(differences(P, acc, shapes[k].rows, shapes[k].cols), 0);
            }
        }
#endif
    }
    free(spread);
#ifdef DP_GEMM_X86
    if (__builtin_cpu_supports("avx512f")) {
        /* the narrow kernel on one to PANELS panels at once, each panel's tile its own */
        float many[PANELS * MR * NR];
        for (int n = 1; n <= PANELS; n++) {
            memset(many, 0xff, sizeof many);
            narrow_avx512(KCT, P->a, n, P->b, many);
            for (int k = 0; k < n; k++)
                assert_int_equal(differences_in(P, k, many + k * MR * NR, MR, NARROW), 0);
        }
    }
#endif
    free(P);
}

/* The whole-tile kernel writes into C at its row stride the chain's sums, or C plus them,
 * then the epilogue (biases, residual, clamp), and touches nothing past the tile's columns. */
static void full_tiles_store_into_c(void **state)
{
#ifdef DP_GEMM_X86
    if (!__builtin_cpu_supports("avx512f"))
        return;
    enum { LDC = NR + 3 };
    panels *P = make_panels();
    float c[MR * LDC], before[MR * LDC];
    for (int i = 0; i < MR * LDC; i++)
        before[i] = (float)i * 0.25f - 7.0f;
    float bias[MR];
    for (int i = 0; i < MR; i++)
        bias[i] = (float)(i - 6) * 0.125f;
    float res[MR * LDC];
    for (int i = 0; i < MR * LDC; i++)
        res[i] = (float)(i % 7) * 0.0625f - 0.1875f;
    float cbias[NR];
    for (int j = 0; j < NR; j++)
        cbias[j] = (float)(j % 5) * 0.25f - 0.5f;
    const dp_sgemm_epilogue clip = {.row_bias = bias, .col_bias = cbias, .residual = res,
                                    .ldr = LDC, .lo = -0.5f, .hi = 0.75f};
    for (int mode = 0; mode < 4; mode++) {
        bool add = mode & 1, finish = mode & 2;
        memcpy(c, before, sizeof c);
        full_avx512(KCT, P->a, P->b, NR, c, LDC, add, finish ? &clip : NULL);
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < LDC; j++) {
                float want = before[i * LDC + j];
                if (j < NR) {
                    want = add ? P->want[i * NR + j] + want : P->want[i * NR + j];
                    if (finish) {
                        want += bias[i];
                        want += cbias[j];
                        want += res[i * LDC + j];
                        want = want < clip.lo ? clip.lo : want > clip.hi ? clip.hi : want;
                    }
                }
                assert_memory_equal(&c[i * LDC + j], &want, sizeof want);
            }
    }
    free(P);
#endif
}

/* Every live size of an edge tile gets its elements right, whichever kernels cover it, and
 * so does each of a run of up to PANELS tiles down A, the last one's rows cut short. */
static void edge_tiles_take_the_right_kernels(void **state)
{
    panels *P = make_panels();
    kernels ks = fastest_kernels();
    float acc[PANELS * MR * NR];
    for (int mr = 1; mr <= MR; mr++)
        for (int nr = 1; nr <= NR; nr++) {
            bool narrow = nr <= NARROW || (nr > HALF && nr <= HALF + NARROW);
            for (int n = 1; n <= (ks.narrow && narrow ? PANELS : 1); n++) {
                int64_t live[PANELS];
                for (int k = 0; k < n; k++)
                    live[k] = k + 1 < n ? MR : mr;
                memset(acc, 0xff, sizeof acc);
                run_tiles(&ks, KCT, P->a, P->b, NR, acc, n, live, nr);
                for (int k = 0; k < n; k++)
                    assert_int_equal(differences_in(P, k, acc + k * MR * NR, (int)live[k], nr),
                                     0);
            }
        }
    free(P);
}

/* A product of one block of rows reads B's whole tiles where they lie and packs only the
 * last, partial one: bit for bit what it gives with all of B packed beforehand, for every
 * row count up to MC, over two K blocks and two column blocks with a partial tile. */
static void one_row_block_reads_b_in_place(void **state)
{
    enum { K = KC + 45, N = NC + NR + 7, LDB = N + 5 };
    float *A = malloc(sizeof(float) * MC * K), *B = malloc(sizeof(float) * K * LDB);
    float *C = malloc(sizeof(float) * MC * N), *want = malloc(sizeof(float) * MC * N);
    float *packed = malloc(dp_sgemm_packed_b_size(K, N));
    void *scratch = malloc(dp_sgemm_scratch_size(MC, N, K));
    assert_true(A && B && C && want && packed && scratch);
    srand(5);
    for (int i = 0; i < MC * K; i++)
        A[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    for (int i = 0; i < K * LDB; i++)
        B[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    dp_sgemm_pack_b(false, K, N, B, LDB, packed);
    for (int M = 2; M <= MC; M += 11) {
        dp_sgemm_packed(false, false, M, N, K, 1.0f, A, K, NULL, NULL, 0, packed, 0.0f, want,
                        N, NULL, scratch);
        memset(C, 0xff, sizeof(float) * MC * N);
        dp_sgemm(false, false, M, N, K, 1.0f, A, K, B, LDB, 0.0f, C, N, scratch);
        assert_memory_equal(C, want, sizeof(float) * (size_t)(M * N));
    }
    free(A);
    free(B);
    free(C);
    free(want);
    free(packed);
    free(scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_kernel_is_an_fma_chain),
        cmocka_unit_test(full_tiles_store_into_c),
        cmocka_unit_test(edge_tiles_take_the_right_kernels),
        cmocka_unit_test(one_row_block_reads_b_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
