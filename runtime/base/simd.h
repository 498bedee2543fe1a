/*
 * simd.h: compiling a hot loop for several instruction sets at once.
 */
#ifndef DP_SIMD_H
#define DP_SIMD_H

/*
 * Marks a function to be compiled for AVX-512 and AVX2 as well as the baseline, the
 * variant chosen when the program loads. Results do not depend on which runs, as long as
 * the code is plain C built as the project builds it: without -ffast-math gcc never
 * reassociates sums, and in ISO C mode (-std=c11, not gnu11) it never fuses multiplies and
 * adds.
 */
/* clang 14 names the dispatcher NAME.ifunc, so a clone called from another file (dp_transpose)
 * is an undefined symbol at link time; it gets the baseline alone there. */
#if defined(__x86_64__) && defined(__has_attribute) && !(defined(__clang__) && __clang_major__ < 15)
#if __has_attribute(target_clones)
#define DP_MULTI_TARGET __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef DP_MULTI_TARGET
#define DP_MULTI_TARGET
#endif

#endif
