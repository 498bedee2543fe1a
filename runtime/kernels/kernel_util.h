/*
 * kernel_util.h: small helpers several kernel families share (reading axes and shape
 * inputs, iterating broadcast indices). Add here only what two families need.
 */
#ifndef DP_KERNEL_UTIL_H
#define DP_KERNEL_UTIL_H

#include "dp_op.h"

/*
 * Reads a 1-D (or scalar) int32/int64 tensor into out[0..*n). Fails with DP_EINPUT if it
 * has more than max elements or another dtype; returns DP_DYNAMIC if its value is unknown.
 */
dp_status dp_read_ints(dp_kctx *k, const dp_tensor *t, int64_t *out, int max, int *n,
                       const char *what);

#endif
