/*
 * weight_panels.c: the packed constant weights of weight_panels.h, in an open-addressing
 * table keyed by the weights' address, side and shape.
 */
#include "weight_panels.h"

#include <stdlib.h>

#include "gemm.h"
#include "winograd.h"

/* A operand (rows M, cols K) or B operand (rows K, cols N), transposed or not, or 3x3 filters
 * for Winograd's products (rows M filters, cols C channels). */
typedef enum panel_side { SIDE_A, SIDE_AT, SIDE_B, SIDE_BT, SIDE_WINOGRAD } panel_side;

typedef struct panel_entry {
    const float *mat;    /* NULL: an empty slot */
    panel_side side;
    int64_t rows, cols, ld;
    float *packed;
} panel_entry;

struct dp_weight_panels {
    const unsigned char *blob;
    size_t blob_bytes;
    panel_entry *slots;
    size_t cap, used;    /* cap: a power of two, kept at least twice used */
    size_t packed_bytes, max_bytes;
};

dp_weight_panels *dp_weight_panels_new(const void *blob, size_t bytes, size_t max_bytes)
{
    dp_weight_panels *w = calloc(1, sizeof *w);
    if (w) {
        w->blob = blob;
        w->blob_bytes = bytes;
        w->max_bytes = max_bytes;
    }
    return w;
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

static bool same(const panel_entry *e, const panel_entry *key)
{
    return e->mat == key->mat && e->side == key->side && e->rows == key->rows &&
           e->cols == key->cols && e->ld == key->ld;
}

static size_t slot_of(const panel_entry *slots, size_t cap, const panel_entry *key)
{
    size_t i = (size_t)(((uintptr_t)key->mat >> 6) * 0x9E3779B97F4A7C15ull) & (cap - 1);
    while (slots[i].mat && !same(&slots[i], key))
        i = (i + 1) & (cap - 1);
    return i;
}

static bool grow(dp_weight_panels *w)
{
    size_t cap = w->cap ? w->cap * 2 : 64;
    panel_entry *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < w->cap; i++)
        if (w->slots[i].mat)
            slots[slot_of(slots, cap, &w->slots[i])] = w->slots[i];
    free(w->slots);
    w->slots = slots;
    w->cap = cap;
    return true;
}

/* Whether the stored matrix (r x c, row stride ld; r, c >= 1) lies inside the blob. */
static bool in_blob(const dp_weight_panels *w, const float *m, int64_t r, int64_t c, int64_t ld)
{
    uintptr_t lo = (uintptr_t)w->blob, p = (uintptr_t)m;
    if (p < lo || p - lo >= w->blob_bytes || ld < c)
        return false;
    size_t last = ((size_t)(r - 1) * (size_t)ld + (size_t)c) * sizeof(float);
    return last <= w->blob_bytes - (p - lo);
}

/* The bytes key's packing takes. */
static size_t packed_bytes(const panel_entry *key)
{
    switch (key->side) {
    case SIDE_A:
    case SIDE_AT:
        return dp_sgemm_packed_a_size(key->rows, key->cols);
    case SIDE_B:
    case SIDE_BT:
        return dp_sgemm_packed_b_size(key->rows, key->cols);
    default:
        return dp_winograd_weights_floats(key->rows, key->cols) * sizeof(float);
    }
}

/* key's matrix packed into its entry; false when memory ran out. */
static bool pack(panel_entry *key)
{
    bool transposed = key->side == SIDE_AT || key->side == SIDE_BT;
    switch (key->side) {
    case SIDE_A:
    case SIDE_AT:
        dp_sgemm_pack_a(transposed, key->rows, key->cols, key->mat, key->ld, key->packed);
        return true;
    case SIDE_B:
    case SIDE_BT:
        dp_sgemm_pack_b(transposed, key->rows, key->cols, key->mat, key->ld, key->packed);
        return true;
    default: {
        float *tmp = malloc((size_t)DP_WINOGRAD_POINTS * (size_t)key->rows * (size_t)key->cols *
                            sizeof(float));
        if (!tmp)
            return false;
        dp_winograd_pack_weights(key->rows, key->cols, key->mat, key->packed, tmp);
        free(tmp);
        return true;
    }
    }
}

static const float *find_or_pack(dp_weight_panels *w, panel_entry key)
{
    bool transposed = key.side == SIDE_AT || key.side == SIDE_BT;
    /* the matrix as stored: op(X) transposed back; M filters of C x 3 x 3 */
    int64_t r = transposed ? key.cols : key.rows, c = transposed ? key.rows : key.cols;
    if (key.side == SIDE_WINOGRAD)
        c = 9 * key.cols;
    if (!w || !in_blob(w, key.mat, r, c, key.ld) || (2 * (w->used + 1) > w->cap && !grow(w)))
        return NULL;
    panel_entry *e = &w->slots[slot_of(w->slots, w->cap, &key)];
    if (e->mat)
        return e->packed;
    size_t bytes = (packed_bytes(&key) + 63) / 64 * 64;
    if (bytes > w->max_bytes - w->packed_bytes)
        return NULL;
    key.packed = aligned_alloc(64, bytes);
    if (!key.packed || !pack(&key)) {
        free(key.packed);
        return NULL;
    }
    w->packed_bytes += bytes;
    *e = key;
    w->used++;
    return e->packed;
}

const float *dp_weight_panels_a(dp_weight_panels *w, bool ta, int64_t M, int64_t K,
                                const float *A, int64_t lda)
{
    return find_or_pack(w, (panel_entry){.mat = A, .side = ta ? SIDE_AT : SIDE_A, .rows = M,
                                         .cols = K, .ld = lda});
}

const float *dp_weight_panels_b(dp_weight_panels *w, bool tb, int64_t K, int64_t N,
                                const float *B, int64_t ldb)
{
    return find_or_pack(w, (panel_entry){.mat = B, .side = tb ? SIDE_BT : SIDE_B, .rows = K,
                                         .cols = N, .ld = ldb});
}

const float *dp_weight_panels_winograd(dp_weight_panels *w, int64_t M, int64_t C, const float *wt)
{
    return find_or_pack(w, (panel_entry){.mat = wt, .side = SIDE_WINOGRAD, .rows = M, .cols = C,
                                         .ld = 9 * C});
}
