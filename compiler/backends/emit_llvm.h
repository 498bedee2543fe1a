/* emit_llvm.h: the LLVM backend: a device program as an LLVM module (dpcc --emit=llvm). */
#ifndef DPCC_EMIT_LLVM_H
#define DPCC_EMIT_LLVM_H

#include "emit_c.h"

/*
 * Writes prog as LLVM IR (docs/c-backend.md): the program's tables and weights as globals,
 * one function per instruction calling the runtime's executor, and dpk_run_layers running
 * them in order. out_path's suffix picks the form: .ll text, .bc bitcode, anything else a
 * position-independent object file for the host. Beside it go OUT.rt.c, the amalgamated
 * runtime with the PREFIX_ entry points of the C backend that the object links with, and
 * OUT.weights when the weights are external (as for --emit=c). Without LLVM in the build:
 * DP_EUNSUPPORTED.
 */
dp_status dpc_emit_llvm(const dp_program *prog, const char *out_path, const dpc_c_opts *opts,
                        dp_error *err);

#endif
