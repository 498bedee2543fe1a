/*
 * pipeline.h: one compilation, from an ONNX file to an output file, as a chain of passes.
 */
#ifndef DPCC_PIPELINE_H
#define DPCC_PIPELINE_H

#include "analog_stage.h"
#include "emit_c.h"
#include "frontend.h"
#include "passes.h"

typedef enum dpc_emit { DPC_EMIT_DP, DPC_EMIT_C, DPC_EMIT_LLVM } dpc_emit;

typedef struct dpc_options {
    const char *model_path;
    const char *out_path;
    dpc_emit emit;
    const dpc_shape_binding *bindings;
    int n_bindings;
    const char *device_path; /* NULL: the default profile (dpc_default_device_path) */
    bool analog;             /* calibrate and schedule (--no-analog: false) */
    dpc_analog_opts analog_opts;
    size_t max_memory;       /* compile-time arena limit; 0: default */
    dpc_c_opts c;            /* --emit=c: --prefix, --external-weights */
} dpc_options;

/* What the compilation produced, for the summary the driver prints. */
typedef struct dpc_summary {
    int n_nodes_in, n_nodes_out, n_analog;
    int64_t macs;
    uint64_t arena_bytes, naive_bytes, weights_bytes;
} dpc_summary;

/* Sets the defaults: .dp output, the default device, calibration and a dynamic schedule. */
void dpc_options_init(dpc_options *o);

dp_status dpc_compile(const dpc_options *o, dpc_summary *sum, dp_error *err);

#endif
