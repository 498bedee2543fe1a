/*
 * frontend.h: ONNX model files into the graph IR.
 */
#ifndef DPCC_FRONTEND_H
#define DPCC_FRONTEND_H

#include "dp_dist.h"
#include "ir.h"

/* The largest ONNX file read, unless dpc_frontend_opts.max_file_bytes says otherwise. */
#define DPC_MAX_MODEL_FILE ((size_t)8 << 30)

/* The default-domain opsets the frontend reads. */
#define DPC_MIN_OPSET 1
#define DPC_MAX_OPSET 17

/* A user binding of one graph input's shape (--input-shape NAME=1x3x224x224). */
typedef struct dpc_shape_binding {
    const char *name;
    int rank;
    int64_t dims[DP_MAX_RANK];
} dpc_shape_binding;

typedef struct dpc_frontend_opts {
    const dpc_shape_binding *bindings;
    int n_bindings;
    size_t max_file_bytes;   /* 0: the default limit */
    /* > 0: every input's leading dimension, which the model must leave symbolic (a batch of
     * independent samples), bound or not; an input whose leading dimension the model fixes
     * is refused (DP_EUNSUPPORTED). 0: bindings and symbolic dimensions as usual. */
    int64_t batch;
    /* NULL, or the ranks of a run: rank 0 alone reads external data, and the others
     * receive its bytes (dp_dist_bcast_into) */
    dp_dist *dist;
} dpc_frontend_opts;

/*
 * Parses the ONNX file at path into a new graph in mem. Constant nodes become constant
 * values, initializers constants, and symbolic input dimensions are bound. The nodes are
 * ordered topologically. The ONNX protobuf is kept (constants point into it) until
 * dpc_frontend_release.
 */
typedef struct dpc_model dpc_model;
dp_status dpc_load_onnx(const char *path, const dpc_frontend_opts *opts, dp_arena *mem,
                        dpc_model **model, ir_graph **graph, dp_error *err);
/*
 * The same from len bytes in memory (copied: buf may go on return). name labels messages;
 * external data resolves in base_dir, confined to it as for a file, or is refused when
 * base_dir is NULL.
 */
dp_status dpc_load_onnx_buffer(const void *buf, size_t len, const char *name,
                               const char *base_dir, const dpc_frontend_opts *opts,
                               dp_arena *mem, dpc_model **model, ir_graph **graph,
                               dp_error *err);
void dpc_model_release(dpc_model *model);

/* The folder of the model file at path, where its external data lives ("." for a bare
 * name), into out. */
void dpc_model_folder(const char *path, char *out, size_t size);

/* Parses "NAME=1x3x224x224" into a binding; DP_EUSAGE on malformed text. */
dp_status dpc_parse_binding(const char *text, dp_arena *mem, dpc_shape_binding *b, dp_error *err);

#endif
