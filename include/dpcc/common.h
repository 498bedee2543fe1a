/*
 * dpcc/common.h: what the compiler API (dpcc.h) and the runtime API (dprt.h) share: status
 * codes, element types and the tensor view that carries data in and out of both.
 */
#ifndef DPCC_COMMON_H
#define DPCC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "dpcc/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Every fallible function returns one of these; on failure the handle it was called on
 * holds a message (dpcc_compiler_error, dprt_model_error, dprt_session_error). The values
 * are the libraries' internal codes; the tools turn them into their exit statuses.
 */
typedef enum dpcc_status {
    DPCC_OK = 0,
    DPCC_EUSAGE = 1,       /* bad argument or option, or a call out of order */
    DPCC_EINPUT = 2,       /* malformed model, program or tensor */
    DPCC_EUNSUPPORTED = 3, /* a model feature dpcc does not support (named in the message) */
    DPCC_EBUDGET = 4,      /* a budget no schedule can meet */
    DPCC_EMISMATCH = 5,    /* (tools only: outputs differ from references) */
    DPCC_ENOMEM = 6,       /* out of memory, or over the memory limit */
    DPCC_EIO = 7,          /* a file cannot be read or written */
    DPCC_EINTERNAL = 8     /* a bug in dpcc */
} dpcc_status;

/* Element types, numbered as ONNX's TensorProto.DataType. */
typedef enum dpcc_dtype {
    DPCC_FLOAT = 1,
    DPCC_UINT8 = 2,
    DPCC_INT8 = 3,
    DPCC_UINT16 = 4,
    DPCC_INT16 = 5,
    DPCC_INT32 = 6,
    DPCC_INT64 = 7,
    DPCC_BOOL = 9,
    DPCC_FLOAT16 = 10,
    DPCC_DOUBLE = 11,
    DPCC_UINT32 = 12,
    DPCC_UINT64 = 13,
    DPCC_BFLOAT16 = 16
} dpcc_dtype;

#define DPCC_MAX_RANK 8

/*
 * A dense row-major tensor that the caller owns (inputs, calibration data) or that a
 * handle lends (outputs, valid until that handle's next run or free).
 */
typedef struct dpcc_tensor {
    dpcc_dtype dtype;
    int rank;                      /* 0 for a scalar; -1 where a shape is only known at run time */
    int64_t dims[DPCC_MAX_RANK];
    void *data;
} dpcc_tensor;

#ifdef __cplusplus
}
#endif

#endif
