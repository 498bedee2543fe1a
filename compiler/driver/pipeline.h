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

/* What a compilation hands back in memory (the C API's results); both malloc'd. */
typedef struct dpc_products {
    unsigned char *dp;       /* the .dp file's bytes */
    size_t dp_len;
    char *report_json;       /* the report (docs/report.md); NULL without an analog stage */
} dpc_products;

typedef struct dpc_options {
    const char *model_path;  /* with model_data: only the name messages use */
    const void *model_data;  /* NULL: read model_path; else len bytes of ONNX in memory */
    size_t model_len;
    const char *model_base_dir; /* where external data of model_data lives; NULL: refused */
    const char *out_path;    /* NULL: no file (keep must be set) */
    dpc_products *keep;      /* NULL: none; else filled (free with dpc_products_free) */
    dpc_emit emit;
    const dpc_shape_binding *bindings;
    int n_bindings;
    const char *device_path; /* NULL: the default profile (dpc_default_device_path) */
    bool analog;             /* calibrate and schedule (--no-analog: false) */
    dpc_analog_opts analog_opts;
    size_t max_memory;       /* compile-time arena limit; 0: default */
    dpc_c_opts c;            /* --emit=c: --prefix, --external-weights */
    const char *annotate_path; /* --annotate: the model again, its schedule in its metadata
                                  (docs/annotate.md); NULL: none */
    bool json;               /* hand the report back in sum->report_json (dpcc --json) */
    const char *dump_after;  /* print the IR on stderr after this pass (--dump-after) */
} dpc_options;

/* What the compilation produced, for the summary the driver prints. */
typedef struct dpc_summary {
    int n_nodes_in, n_nodes_out, n_analog;
    int64_t macs;
    uint64_t arena_bytes, naive_bytes, weights_bytes;
    char *report_json;       /* with o->json: the report's JSON text, malloc'd (the caller
                                frees it); NULL when no analog stage ran */
} dpc_summary;

/* Sets the defaults: .dp output, the default device, calibration and a dynamic schedule. */
void dpc_options_init(dpc_options *o);

dp_status dpc_compile(const dpc_options *o, dpc_summary *sum, dp_error *err);

void dpc_products_free(dpc_products *p);

/*
 * The folder of the bundled device profiles into buf: $DPCC_PROFILE_DIR, else
 * share/dpcc/profiles beside the installed binary or library, else the build's source tree.
 */
void dpc_profile_dir(char *buf, size_t n);

/*
 * Whether --device names a bundled profile (a plain word: letters, digits, '_', '-', '.',
 * not ending in .json) rather than a file: a file of such a name is given as ./NAME.
 */
bool dpc_is_profile_name(const char *device);

#endif
