/*
 * layout_ops.h: private to the layout family (layout.c, resize.c): the index-map gather
 * that the byte-moving ops share, and Resize/Upsample's entry points for layout.c's table.
 */
#ifndef DP_LAYOUT_OPS_H
#define DP_LAYOUT_OPS_H

#include "kernel_util.h"

/*
 * Fills dst, contiguous and dims[0] x ... x dims[rank-1], element by element: element
 * (i0, i1, ...) is read es bytes at src + sum(map[d][i_d]) * es, or from fill when any
 * map[d][i_d] is negative. Each map[d] has dims[d] entries (element offsets into src).
 */
void lay_gather(void *dst, const void *src, size_t es, int rank, const int64_t *dims,
                int64_t *const *map, const void *fill);

/* Scratch for the maps of lay_gather, map[d] with dims[d] entries. */
dp_status lay_maps(dp_kctx *k, int rank, const int64_t *dims, int64_t *map[DP_MAX_RANK]);

/* Every output takes in[0]'s dtype, which must have a byte size. */
dp_status lay_types_bytes(dp_kctx *k);

dp_status lay_resize_types(dp_kctx *k);
dp_status lay_resize_infer(dp_kctx *k);
dp_status lay_resize_run(dp_kctx *k);
dp_status lay_upsample_infer(dp_kctx *k);
dp_status lay_upsample_run(dp_kctx *k);

#endif
