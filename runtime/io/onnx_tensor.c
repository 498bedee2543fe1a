/* onnx_tensor.c: TensorProto to dp_tensor, for every encoding the ONNX spec allows. */
#include "onnx_tensor.h"

#include <string.h>

static bool storable(int32_t dt)
{
    return dt != DP_STRING && dp_dtype_size((dp_dtype)dt) > 0;
}

/* The typed field that carries dtype's values when raw_data is absent (onnx.proto). */
static dp_status from_typed_fields(const Onnx__TensorProto *tp, dp_arena *a, dp_tensor *out,
                                   int64_t n, const char *what, dp_error *err)
{
    size_t have;
    switch (out->dtype) {
    case DP_FLOAT: have = tp->n_float_data; break;
    case DP_DOUBLE: have = tp->n_double_data; break;
    case DP_INT64: have = tp->n_int64_data; break;
    case DP_UINT32: case DP_UINT64: have = tp->n_uint64_data; break;
    default: have = tp->n_int32_data; break; /* int8..int32, uint8, uint16, bool, half */
    }
    if ((int64_t)have != n)
        return dp_fail(err, DP_EINPUT, "%s: has %zu values, its shape needs %lld", what, have,
                       (long long)n);
    size_t bytes = (size_t)n * dp_dtype_size(out->dtype);
    void *data = dp_arena_alloc(a, bytes ? bytes : 1);
    if (!data)
        return dp_fail(err, DP_ENOMEM, "%s: out of memory for %zu bytes", what, bytes);
    for (int64_t i = 0; i < n; i++) {
        switch (out->dtype) {
        case DP_FLOAT: ((float *)data)[i] = tp->float_data[i]; break;
        case DP_DOUBLE: ((double *)data)[i] = tp->double_data[i]; break;
        case DP_INT64: ((int64_t *)data)[i] = tp->int64_data[i]; break;
        case DP_UINT32: ((uint32_t *)data)[i] = (uint32_t)tp->uint64_data[i]; break;
        case DP_UINT64: ((uint64_t *)data)[i] = tp->uint64_data[i]; break;
        case DP_FLOAT16: case DP_BFLOAT16:
            ((uint16_t *)data)[i] = (uint16_t)tp->int32_data[i]; /* the bits, per onnx.proto */
            break;
        default: dp_store_i64(data, out->dtype, i, tp->int32_data[i]); break;
        }
    }
    out->data = data;
    return DP_OK;
}

dp_status dp_tensor_from_onnx(const Onnx__TensorProto *tp, dp_arena *a, dp_tensor *out,
                              bool allow_external, const char *what, dp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!tp->has_data_type || tp->data_type == DP_UNDEFINED)
        return dp_fail(err, DP_EINPUT, "%s: has no data type", what);
    if (!storable(tp->data_type))
        return dp_fail(err, DP_EUNSUPPORTED, "%s: data type %s (%d) is not supported", what,
                       dp_dtype_name((dp_dtype)tp->data_type), tp->data_type);
    if (tp->segment)
        return dp_fail(err, DP_EUNSUPPORTED, "%s: segmented tensors are not supported", what);
    if (tp->n_dims > DP_MAX_RANK)
        return dp_fail(err, DP_EUNSUPPORTED, "%s: rank %zu exceeds the limit of %d", what,
                       tp->n_dims, DP_MAX_RANK);
    out->dtype = (dp_dtype)tp->data_type;
    out->rank = (int)tp->n_dims;
    for (size_t i = 0; i < tp->n_dims; i++)
        out->dims[i] = tp->dims[i];
    dp_status st = dp_shape_check(out, err, what);
    if (st != DP_OK)
        return st;
    int64_t n = dp_numel(out);
    size_t bytes = (size_t)n * dp_dtype_size(out->dtype);

    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        if (!allow_external)
            return dp_fail(err, DP_EINPUT, "%s: external data is not allowed here", what);
        return DP_OK;
    }
    if (tp->has_raw_data) {
        if (tp->raw_data.len != bytes)
            return dp_fail(err, DP_EINPUT, "%s: raw_data has %zu bytes, shape %lld x %s needs %zu",
                           what, tp->raw_data.len, (long long)n, dp_dtype_name(out->dtype), bytes);
        /* protobuf-c copies raw_data into a malloc'd block, aligned for any type; keep it. */
        if (((uintptr_t)tp->raw_data.data % dp_dtype_size(out->dtype)) == 0 && bytes) {
            out->data = tp->raw_data.data;
            return DP_OK;
        }
        out->data = dp_arena_memdup(a, tp->raw_data.data, bytes);
        if (!out->data)
            return dp_fail(err, DP_ENOMEM, "%s: out of memory for %zu bytes", what, bytes);
        return DP_OK;
    }
    return from_typed_fields(tp, a, out, n, what, err);
}
