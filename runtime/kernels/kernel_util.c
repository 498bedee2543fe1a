/* kernel_util.c: helpers shared by the kernel families. */
#include "kernel_util.h"

dp_status dp_read_ints(dp_kctx *k, const dp_tensor *t, int64_t *out, int max, int *n,
                       const char *what)
{
    if (!t->data)
        return DP_DYNAMIC;
    if (t->dtype != DP_INT64 && t->dtype != DP_INT32)
        return dp_kfail(k, DP_EINPUT, "%s must be int32 or int64, not %s", what,
                        dp_dtype_name(t->dtype));
    if (t->rank > 1)
        return dp_kfail(k, DP_EINPUT, "%s must be 1-D, has rank %d", what, t->rank);
    int64_t count = dp_numel(t);
    if (count > max)
        return dp_kfail(k, DP_EINPUT, "%s has %lld elements, at most %d allowed", what,
                        (long long)count, max);
    for (int64_t i = 0; i < count; i++)
        out[i] = dp_load_i64(t->data, t->dtype, i);
    *n = (int)count;
    return DP_OK;
}
