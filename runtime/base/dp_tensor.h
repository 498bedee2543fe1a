/*
 * dp_tensor.h: element types, shapes and the tensor view that kernels read and write.
 *
 * A dp_tensor is a view: it never owns its data. Arenas, the program's weight blob or the
 * caller own the bytes. Element types use the ONNX TensorProto numbering so that no
 * translation table is needed at the file boundaries.
 */
#ifndef DP_TENSOR_H
#define DP_TENSOR_H

#include "dp_base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum dp_dtype {
    DP_UNDEFINED = 0,
    DP_FLOAT = 1,
    DP_UINT8 = 2,
    DP_INT8 = 3,
    DP_UINT16 = 4,
    DP_INT16 = 5,
    DP_INT32 = 6,
    DP_INT64 = 7,
    DP_STRING = 8, /* recognised so it can be refused by name; never stored */
    DP_BOOL = 9,
    DP_FLOAT16 = 10,
    DP_DOUBLE = 11,
    DP_UINT32 = 12,
    DP_UINT64 = 13,
    DP_BFLOAT16 = 16
} dp_dtype;

typedef struct dp_tensor {
    dp_dtype dtype;
    int rank;                    /* -1 while the shape is not known (compile time only) */
    int64_t dims[DP_MAX_RANK];
    void *data;                  /* NULL when the value is not known (compile time only) */
} dp_tensor;

/* Bytes per element, or 0 for a type that cannot be stored (string, undefined, unknown). */
size_t dp_dtype_size(dp_dtype t);
const char *dp_dtype_name(dp_dtype t);
bool dp_dtype_is_float(dp_dtype t);    /* float, double, float16, bfloat16 */
bool dp_dtype_is_integer(dp_dtype t);  /* signed and unsigned integers, not bool */
bool dp_dtype_is_signed(dp_dtype t);

/* Number of elements (1 for rank 0). Assumes dims were validated (dp_shape_check). */
int64_t dp_numel(const dp_tensor *t);
size_t dp_nbytes(const dp_tensor *t);

/* Validates rank and dims (non-negative, product within DP_MAX_ELEMENTS, bytes fit size_t). */
dp_status dp_shape_check(const dp_tensor *t, dp_error *err, const char *what);

bool dp_same_shape(const dp_tensor *a, const dp_tensor *b);

/* Row-major strides in elements; strides[rank-1] == 1. */
void dp_strides(const dp_tensor *t, int64_t strides[DP_MAX_RANK]);

/*
 * Multidirectional (numpy) broadcasting of n shapes into out->rank/out->dims.
 * Fails with DP_EINPUT naming the first incompatible pair.
 */
dp_status dp_broadcast_shape(const dp_tensor *const *in, int n, dp_tensor *out, dp_error *err);

/*
 * Strides of `in` as seen from the broadcast shape `out`: 0 on broadcast dimensions.
 * `in` is right-aligned against `out`.
 */
void dp_broadcast_strides(const dp_tensor *in, const dp_tensor *out, int64_t strides[DP_MAX_RANK]);

/* Generic element access, for reference kernels that handle every numeric type. */
double dp_load_f64(const void *data, dp_dtype t, int64_t i);
void dp_store_f64(void *data, dp_dtype t, int64_t i, double v);
int64_t dp_load_i64(const void *data, dp_dtype t, int64_t i);
void dp_store_i64(void *data, dp_dtype t, int64_t i, int64_t v);

/*
 * How many of a tensor's values are not finite (NaN or infinite; integer and boolean tensors
 * have none), and when there are any, into buf for messages: "3 values are not finite, the
 * first (NaN) at sample 2, element 17 of it", a sample being an index of the first axis.
 */
int64_t dp_describe_nonfinite(const dp_tensor *t, char *buf, size_t n);

/* IEEE half and bfloat16 conversions (round to nearest even). */
float dp_half_to_float(uint16_t h);
uint16_t dp_float_to_half(float f);
float dp_bf16_to_float(uint16_t h);
uint16_t dp_float_to_bf16(float f);

/* Normalises a possibly negative axis against rank; -1 if out of range. */
int dp_norm_axis(int64_t axis, int rank);

/* "1x3x224x224" style text for messages; buf of at least 160 bytes. */
const char *dp_shape_str(const dp_tensor *t, char *buf, size_t n);

#endif
