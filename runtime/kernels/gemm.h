/*
 * gemm.h: the single-precision matrix multiply behind Conv, ConvTranspose, Gemm and MatMul,
 * for any code that needs a fast C = alpha * op(A) * op(B) + beta * C on floats.
 */
#ifndef DP_GEMM_H
#define DP_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simd.h"

/*
 * Bytes of scratch dp_sgemm needs for an M x N x K product: about 4.3 MiB at most, or
 * K + M + N floats where that is more. Never decreases as M, N or K grow, so the size for
 * the largest of several products covers them all.
 */
size_t dp_sgemm_scratch_size(int64_t M, int64_t N, int64_t K);

/*
 * C (M x N, row stride ldc) = alpha * op(A) * op(B) + beta * C, all row-major.
 * op(A) is M x K: A itself (M x K, stride lda) or, when ta, the transpose of A (K x M).
 * op(B) is K x N: B itself (K x N, stride ldb) or, when tb, the transpose of B (N x K).
 * When beta is 0, C is only written, so it may hold garbage (even NaN) on entry.
 * scratch: dp_sgemm_scratch_size(M, N, K) bytes, 64-byte aligned.
 * The result does not depend on the machine's vector width or on the scratch: each element
 * is a chain of fused multiply-adds in an order fixed by M, N and K alone.
 */
void dp_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
              int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
              void *scratch);

/*
 * A constant operand packed once, so that products with it skip packing: op(A) (M x K) or
 * op(B) (K x N) in the layout the tiled path reads, the bytes that takes, and the product
 * with either operand packed (packed_a or packed_b non-NULL: A or B is then ignored), then
 * the epilogue ep (none if NULL). It gives exactly dp_sgemm's result when M > 1, N > 1 and
 * K > 0 (dp_sgemm takes other paths otherwise) and needs the same scratch.
 */
/*
 * What dp_sgemm_packed can do to each element of C once its sum is complete, while the tile
 * is still in registers, saving a pass over C for each: add row_bias[i] to row i (Conv's
 * bias), col_bias[j] to column j (MatMul's), then residual[i * ldr + j] (each unless NULL),
 * then clamp to [lo, hi], max before min as ONNX's Clip (lo 0 and hi infinity is Relu; both
 * infinite, no clamp). NaN stays NaN. The same operations in the same order as adding the
 * biases and the residual and clamping afterwards, so the same bits.
 */
typedef struct dp_sgemm_epilogue {
    const float *row_bias;
    const float *col_bias;
    const float *residual;
    int64_t ldr;
    float lo, hi;
} dp_sgemm_epilogue;

/* ep for the part of C from row i and column j on: its biases and residual moved along.
 * Inline: the GEMM takes one per tile, and a call there cost ResNet-50 3%. */
static inline dp_sgemm_epilogue dp_sgemm_epilogue_at(const dp_sgemm_epilogue *ep, int64_t i,
                                                     int64_t j)
{
    dp_sgemm_epilogue at = *ep;
    if (at.row_bias)
        at.row_bias += i;
    if (at.col_bias)
        at.col_bias += j;
    if (at.residual)
        at.residual += i * at.ldr + j;
    return at;
}

/* The epilogue ep on C (M x N, row stride ldc) after the product, ep's biases and residual
 * starting at C's first row and column. */
void dp_sgemm_finish(int64_t M, int64_t N, float *C, int64_t ldc, const dp_sgemm_epilogue *ep);

size_t dp_sgemm_packed_a_size(int64_t M, int64_t K);
size_t dp_sgemm_packed_b_size(int64_t K, int64_t N);
void dp_sgemm_pack_a(bool ta, int64_t M, int64_t K, const float *A, int64_t lda, float *packed);
void dp_sgemm_pack_b(bool tb, int64_t K, int64_t N, const float *B, int64_t ldb, float *packed);
void dp_sgemm_packed(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *packed_a, const float *B,
                     int64_t ldb, const float *packed_b, float beta, float *C, int64_t ldc,
                     const dp_sgemm_epilogue *ep, void *scratch);

/*
 * The register tile, for callers that split one product into several over rows or columns
 * of C: parts that start at multiples of it keep the tiles whole. Each part with more than
 * one row and column gives exactly the elements the whole product would.
 */
enum { DP_SGEMM_TILE_ROWS = 12, DP_SGEMM_TILE_COLS = 32 };

#endif
