/* emit_c.h: the C backend: a device program as one self-contained C11 source file. */
#ifndef DPCC_EMIT_C_H
#define DPCC_EMIT_C_H

#include "dp_program.h"

#include <stdbool.h>

/* Weight blobs above this many bytes go to a .weights file beside the .c. */
#define DPC_C_INLINE_WEIGHTS_MAX ((uint64_t)16 << 20)

#define DPC_PREFIX_MAX 64
#define DPC_LAYER_NAME_MAX 96

typedef struct dpc_c_opts {
    const char *prefix;      /* the entry points' prefix; NULL: from the output file's name */
    bool external_weights;   /* write the weights to OUT.weights whatever their size */
} dpc_c_opts;

/* True when name can prefix the entry points: a C identifier of at most 64 characters. */
bool dpc_c_prefix_ok(const char *name);

/*
 * Writes prog, as scheduled and calibrated, to out_path (docs/c-backend.md): the runtime's
 * executor and kernels (the amalgamation embedded at build time), the program as static
 * data, one function per instruction, and the PREFIX_ entry points. Weights above
 * DPC_C_INLINE_WEIGHTS_MAX (or all, with external_weights) go to the .weights file named
 * like out_path with its .c suffix replaced.
 */
dp_status dpc_emit_c(const dp_program *prog, const char *out_path, const dpc_c_opts *opts,
                     dp_error *err);

/* The pieces the LLVM backend (emit_llvm.c) shares, so both name and link alike. */

/*
 * The entry points' prefix: opts->prefix, or out_path's name up to its first dot (with
 * "_model" added when the runtime already has a PREFIX_run or the like: size.c). DP_EUSAGE
 * when opts->prefix is such a clashing one.
 */
dp_status dpc_c_prefix(const char *out_path, const dpc_c_opts *opts, char prefix[DPC_PREFIX_MAX + 1],
                       dp_error *err);

/* out_path with its suffix (.c, .ll, .bc or .o) replaced by ext; malloc'd, NULL if out of memory. */
char *dpc_c_sibling_path(const char *out_path, const char *ext);

/*
 * The .weights file beside out_path when the weights go outside the code (above
 * DPC_C_INLINE_WEIGHTS_MAX, or opts->external_weights), malloc'd; NULL when they stay inline.
 * *oom is set when it should have been made but memory ran out.
 */
char *dpc_c_weights_path(const dp_program *prog, const char *out_path, const dpc_c_opts *opts,
                         bool *oom);

/* The layer functions' names: node_ and the ONNX node's name (or op) made an identifier. */
void dpc_c_layer_names(const dp_program *p, char (*names)[DPC_LAYER_NAME_MAX]);

/*
 * Writes path: the amalgamated runtime and the PREFIX_ entry points of an emitted .c, for a
 * program whose data and layers another object defines (dpk_program, dpk_instrs,
 * dpk_run_layers: the LLVM backend's). weights_name: the .weights file, or NULL.
 */
dp_status dpc_emit_c_glue(const dp_program *prog, const char *path, const char *object_name,
                          const char *prefix, const char *weights_name, dp_error *err);

#endif
