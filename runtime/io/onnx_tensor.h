/*
 * onnx_tensor.h: converting an ONNX TensorProto into a dp_tensor.
 *
 * Shared by the compiler's frontend (initializers, Constant nodes, tensor attributes) and
 * the runtime's .pb tensor reader, so both accept exactly the same encodings.
 */
#ifndef DP_ONNX_TENSOR_H
#define DP_ONNX_TENSOR_H

#include "dp_arena.h"
#include "dp_tensor.h"
#include "onnx.pb-c.h"

/*
 * Converts tp into *out (dtype, shape and data). Data in raw_data or in the typed fields;
 * raw float/int data is referenced in place when it is aligned, otherwise copied into a.
 * External data is not resolved here: a tensor with data_location EXTERNAL fails with
 * DP_EINPUT unless allow_external is set, in which case out->data is left NULL.
 * `what` names the tensor in messages.
 */
dp_status dp_tensor_from_onnx(const Onnx__TensorProto *tp, dp_arena *a, dp_tensor *out,
                              bool allow_external, const char *what, dp_error *err);

#endif
