/*
 * shape_ops.h: private to the shape family (shape.c, shape_index.c): the index ops' entry
 * points for shape.c's op table and the helpers they share.
 */
#ifndef DP_SHAPE_OPS_H
#define DP_SHAPE_OPS_H

#include "kernel_util.h"

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
