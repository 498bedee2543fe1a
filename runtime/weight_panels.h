/*
 * weight_panels.h: a session's constant weights, packed once into dp_sgemm's panel layout.
 *
 * At batch 1 a convolution multiplies each weight by few output positions, so repacking the
 * weights on every call costs as much as a fifth of a ResNet-50 inference. A session keeps
 * each constant weight matrix it multiplies, packed on first use and found again by its
 * address and shape.
 */
#ifndef DP_WEIGHT_PANELS_H
#define DP_WEIGHT_PANELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dp_weight_panels dp_weight_panels;

/* NULL when out of memory: products then pack their weights on every call. */
dp_weight_panels *dp_weight_panels_new(void);
void dp_weight_panels_free(dp_weight_panels *w);

/*
 * op(A) (M x K; the transpose of A when ta), a constant that outlives the session, in the
 * layout dp_sgemm_packed takes; NULL when memory ran out, and the caller packs per call.
 */
const float *dp_weight_panels_get(dp_weight_panels *w, bool ta, int64_t M, int64_t K,
                                  const float *A, int64_t lda);

#endif
