/*
 * weight_panels.c: the packed constant weights of weight_panels.h, in an open-addressing
 * table keyed by the weights' address and shape.
 */
#include "weight_panels.h"

#include <stdlib.h>

#include "gemm.h"

typedef struct panel_entry {
    const float *A;      /* NULL: an empty slot */
    bool ta;
    int64_t M, K, lda;
    float *packed;
} panel_entry;

struct dp_weight_panels {
    panel_entry *slots;
    size_t cap, used;    /* cap: a power of two, kept at least twice used */
};

dp_weight_panels *dp_weight_panels_new(void)
{
    return calloc(1, sizeof(dp_weight_panels));
}

void dp_weight_panels_free(dp_weight_panels *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->cap; i++)
        free(w->slots[i].packed);
    free(w->slots);
    free(w);
}

static size_t slot_of(const panel_entry *slots, size_t cap, const float *A, bool ta, int64_t M,
                      int64_t K, int64_t lda)
{
    size_t i = (size_t)(((uintptr_t)A >> 6) * 0x9E3779B97F4A7C15ull) & (cap - 1);
    for (;; i = (i + 1) & (cap - 1)) {
        const panel_entry *e = &slots[i];
        if (!e->A || (e->A == A && e->ta == ta && e->M == M && e->K == K && e->lda == lda))
            return i;
    }
}

static bool grow(dp_weight_panels *w)
{
    size_t cap = w->cap ? w->cap * 2 : 64;
    panel_entry *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < w->cap; i++) {
        const panel_entry *e = &w->slots[i];
        if (e->A)
            slots[slot_of(slots, cap, e->A, e->ta, e->M, e->K, e->lda)] = *e;
    }
    free(w->slots);
    w->slots = slots;
    w->cap = cap;
    return true;
}

const float *dp_weight_panels_get(dp_weight_panels *w, bool ta, int64_t M, int64_t K,
                                  const float *A, int64_t lda)
{
    if (!w || (2 * (w->used + 1) > w->cap && !grow(w)))
        return NULL;
    panel_entry *e = &w->slots[slot_of(w->slots, w->cap, A, ta, M, K, lda)];
    if (e->A)
        return e->packed;
    size_t bytes = dp_sgemm_packed_size(M, K);
    float *packed = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!packed)
        return NULL;
    dp_sgemm_pack(ta, M, K, A, lda, packed);
    *e = (panel_entry){.A = A, .ta = ta, .M = M, .K = K, .lda = lda, .packed = packed};
    w->used++;
    return packed;
}
