/*
 * shape_ops.h: private to the shape family (shape.c, shape_index.c): the strided copy that
 * the data-moving ops share, and the index ops' entry points for shape.c's op table.
 */
#ifndef DP_SHAPE_OPS_H
#define DP_SHAPE_OPS_H

#include "kernel_util.h"

/*
 * Fills dst, contiguous and dims[0] x ... x dims[rank-1], from a strided view of src:
 * element (i0, i1, ...) is read es bytes at src + sum(i_d * stride[d]) * es. Strides are
 * in elements and may be 0 (broadcast) or negative (reversed slices).
 */
void shp_copy_view(void *dst, const void *src, int rank, const int64_t *dims,
                   const int64_t *stride, size_t es);

void shp_set_shape(dp_tensor *t, int rank, const int64_t *dims);

/* Reads an int list that comes from attribute `name` before opset `since` and from input
 * `in_idx` from then on; *n is -1 when absent. DP_DYNAMIC when the input's value is unknown. */
dp_status shp_int_list(dp_kctx *k, const char *name, int in_idx, int since, int64_t *v, int max,
                       int *n);

dp_status shp_transpose_infer(dp_kctx *k);
dp_status shp_transpose_run(dp_kctx *k);
dp_status shp_slice_infer(dp_kctx *k);
dp_status shp_slice_run(dp_kctx *k);
dp_status shp_gather_infer(dp_kctx *k);
dp_status shp_gather_run(dp_kctx *k);
dp_status shp_gather_elements_infer(dp_kctx *k);
dp_status shp_gather_elements_run(dp_kctx *k);
dp_status shp_gather_nd_infer(dp_kctx *k);
dp_status shp_gather_nd_run(dp_kctx *k);
dp_status shp_scatter_nd_infer(dp_kctx *k);
dp_status shp_scatter_nd_run(dp_kctx *k);

#endif
