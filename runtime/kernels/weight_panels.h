/*
 * weight_panels.h: a session's constant weights, packed once into dp_sgemm's panel layout
 * (and 3x3 filters transformed once for Winograd's convolutions, winograd.h).
 *
 * At batch 1 a product multiplies each weight by few vectors (a convolution's output
 * positions, a sequence's tokens), so repacking the weights on every call costs as much as a
 * sixth of an inference. A session keeps each constant weight matrix it multiplies, packed on
 * first use and found again by its address, side and shape. Only matrices inside the
 * program's weight blob qualify: an activation at the same address changes between calls.
 */
#ifndef DP_WEIGHT_PANELS_H
#define DP_WEIGHT_PANELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dp_weight_panels dp_weight_panels;

/* For the constants in blob (bytes long), keeping at most max_bytes of packed weights; NULL
 * when out of memory: products then pack their weights on every call, as they do for the
 * matrices that no longer fit. */
dp_weight_panels *dp_weight_panels_new(const void *blob, size_t bytes, size_t max_bytes);
void dp_weight_panels_free(dp_weight_panels *w);

/*
 * op(A) (M x K) or op(B) (K x N) packed as dp_sgemm_pack_a or _b lays it out, packing it on
 * first use; NULL when the matrix is not all inside the blob, or it would not fit in
 * max_bytes, or memory ran out, and the caller packs per call.
 */
const float *dp_weight_panels_a(dp_weight_panels *w, bool ta, int64_t M, int64_t K,
                                const float *A, int64_t lda);
const float *dp_weight_panels_b(dp_weight_panels *w, bool tb, int64_t K, int64_t N,
                                const float *B, int64_t ldb);

/* M 3x3 filters over C channels (M x C x 3 x 3 at wt) transformed and packed for Winograd's
 * products (winograd.h), or NULL as above. */
const float *dp_weight_panels_winograd(dp_weight_panels *w, int64_t M, int64_t C,
                                       const float *wt);

#endif
