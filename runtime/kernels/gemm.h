/*
 * gemm.h: the single-precision matrix multiply behind Conv, ConvTranspose, Gemm and MatMul,
 * for any code that needs a fast C = alpha * op(A) * op(B) + beta * C on floats.
 */
#ifndef DP_GEMM_H
#define DP_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Marks a hot loop to be compiled for AVX2 as well as the baseline, the variant chosen when
 * the program loads. Results do not depend on which runs, as long as the code is plain C
 * built as the project builds it: without -ffast-math gcc never reassociates sums, and in
 * ISO C mode (-std=c11, not gnu11) it never fuses multiplies and adds.
 */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define DP_MULTI_TARGET __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef DP_MULTI_TARGET
#define DP_MULTI_TARGET
#endif

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
 * The result does not depend on the machine's vector width or on the scratch: the order
 * in which each element's products are summed is fixed by M, N and K alone.
 */
void dp_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
              int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
              void *scratch);

#endif
