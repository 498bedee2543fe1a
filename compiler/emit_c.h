/* emit_c.h: the C backend: a device program as one self-contained C11 source file. */
#ifndef DPCC_EMIT_C_H
#define DPCC_EMIT_C_H

#include "dp_program.h"

#include <stdbool.h>

/* Weight blobs above this many bytes go to a .weights file beside the .c. */
#define DPC_C_INLINE_WEIGHTS_MAX ((uint64_t)16 << 20)

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

#endif
