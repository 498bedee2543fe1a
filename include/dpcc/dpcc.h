/*
 * dpcc/dpcc.h: the compiler as a library (libdpcc). An ONNX model, from a file or from
 * memory, becomes a device program (.dp) for the simulated analog optical core, or the same
 * program as a C source file; the analog stage (calibration, dynamic-precision schedule,
 * energy report) runs as `dpcc` runs it. docs/api.md has the whole picture and an example.
 *
 * Usage: dpcc_compiler_new, set options, dpcc_compile_file or dpcc_compile_buffer, then read
 * the results (dpcc_layer, dpcc_report_json, dpcc_program) or write them out (dpcc_write_dp,
 * dpcc_write_c). A compiler can compile again with other options; each compilation replaces
 * the results of the previous one.
 *
 * Errors: every fallible function returns a dpcc_status; on failure dpcc_compiler_error
 * gives the message. A NULL compiler is DPCC_EUSAGE with no message (there is nowhere to keep
 * one), a NULL where a result goes is DPCC_EUSAGE with one; docs/api.md lists what each
 * function does with NULL. The library prints nothing and never exits.
 *
 * Threads: a compiler is used by one thread at a time; separate compilers are independent
 * and may compile concurrently (there is no global state).
 */
#ifndef DPCC_DPCC_H
#define DPCC_DPCC_H

#include "dpcc/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dpcc_compiler dpcc_compiler;

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *dpcc_version(void);

/* A compiler with dpcc's defaults: the default device, calibration, a dynamic schedule for a
 * top-1 budget of 0.01. Fails only with DPCC_ENOMEM (and *out NULL), or DPCC_EUSAGE when out
 * is NULL. */
dpcc_status dpcc_compiler_new(dpcc_compiler **out);
void dpcc_compiler_free(dpcc_compiler *c);

/* The message of the last failure on c ("" when none); valid until c's next call. */
const char *dpcc_compiler_error(const dpcc_compiler *c);

/* ---- options (strings and tensors are copied: the caller's may go on return) ---------- */

/* A device profile (JSON, docs/device-profiles.md); NULL: the default profile. */
dpcc_status dpcc_set_device(dpcc_compiler *c, const char *profile_path);

/* Whether to calibrate and schedule the analog layers (default 1). With 0 the program can
 * only run ideal (dpcc --no-analog). */
dpcc_status dpcc_set_analog(dpcc_compiler *c, int enabled);

/* Calibration inputs from a .npy/.pb batch or a folder of them (dpcc --calib); NULL: none. */
dpcc_status dpcc_set_calibration_path(dpcc_compiler *c, const char *path);

/* Calibration inputs in memory: one batch per graph input, in graph input order, with the
 * model's dtype and a leading dimension a multiple of its batch. n 0: none. Without any
 * calibration data a small synthetic set is used (the report says so). */
dpcc_status dpcc_set_calibration(dpcc_compiler *c, const dpcc_tensor *batches, int n);

/* Integer class labels of the calibration samples, for the "accuracy" metric; NULL: none. */
dpcc_status dpcc_set_labels_path(dpcc_compiler *c, const char *path);

/* The degradation allowed against the noise-free network: metric "top1" (disagreement
 * rate), "kl", "mse" or "accuracy" (drop; needs labels); value finite and >= 0, at most 1 for
 * the rates top1 and accuracy (the rule of dpcc --budget). */
dpcc_status dpcc_set_budget(dpcc_compiler *c, const char *metric, double value);

/* "dynamic" (default), "uniform", "fixed:N" repetitions for every analog layer, or
 * "from:FILE": the repetitions recorded in an annotated model or a report, by node name
 * (dpcc --schedule, docs/annotate.md). */
dpcc_status dpcc_set_schedule(dpcc_compiler *c, const char *schedule);

/* The first simulated device instance (default 0), and how many instances every
 * measurement averages (0: enough for about 1024 noisy runs; at most 16). */
dpcc_status dpcc_set_seed(dpcc_compiler *c, uint32_t seed);
dpcc_status dpcc_set_seeds(dpcc_compiler *c, int seeds);

/* Threads for the verification runs; 0: one per processor (at most 16). */
dpcc_status dpcc_set_threads(dpcc_compiler *c, int threads);

/* Called as the analog stage advances, on the compiling thread: the stage's name
 * ("calibration", "noise sensitivity", "uniform baseline", "schedule") and the share of it
 * done, from 0 to 1 (1 once at its end). NULL: none (the default; a library prints no
 * progress). */
typedef void (*dpcc_progress_fn)(void *ctx, const char *stage, double done);
dpcc_status dpcc_set_progress(dpcc_compiler *c, dpcc_progress_fn fn, void *ctx);

/* Binds a graph input's shape (dpcc --input-shape); a symbolic leading dimension otherwise
 * defaults to 1. Binding the same name again replaces the shape. */
dpcc_status dpcc_set_input_shape(dpcc_compiler *c, const char *input, int rank,
                                 const int64_t *dims);

/* ---- compiling --------------------------------------------------------------------------- */

/* Compiles the ONNX model at path; external data is read from the model's folder. */
dpcc_status dpcc_compile_file(dpcc_compiler *c, const char *onnx_path);

/* Compiles len bytes of ONNX model in memory (copied). Tensors stored as external data are
 * read relative to base_dir (and confined to it); with base_dir NULL they are refused. */
dpcc_status dpcc_compile_buffer(dpcc_compiler *c, const void *data, size_t len,
                                const char *base_dir);

/* ---- results of the last successful compilation ------------------------------------------ */

/* One analog layer of the schedule. Strings are valid until c's next compilation or free. */
typedef struct dpcc_layer_info {
    const char *name;          /* the instruction's name (the ONNX node's, or a fused one's) */
    const char *op;            /* Conv, Gemm, MatMul, ... */
    int32_t repetitions;       /* N: passes the detector averages */
    double effective_bits;     /* predicted effective bits of the outputs at N */
    int64_t macs;              /* multiply-accumulates per inference */
    double energy_j;           /* predicted energy per inference at N, in joules */
} dpcc_layer_info;

/* The number of analog layers (0 before a compilation succeeds, or for a NULL compiler). */
int dpcc_num_layers(const dpcc_compiler *c);
dpcc_status dpcc_layer(dpcc_compiler *c, int i, dpcc_layer_info *out);

/* The report (docs/report.md) as JSON text; NULL without an analog stage (analog disabled,
 * or no analog layers). Valid until c's next compilation or free. */
const char *dpcc_report_json(const dpcc_compiler *c);

/* The .dp program's bytes (what dprt_model_load_buffer takes); valid until c's next
 * compilation or free. */
dpcc_status dpcc_program(dpcc_compiler *c, const void **data, size_t *len);

/* Writes the program as a .dp file (atomically: a temporary renamed into place). */
dpcc_status dpcc_write_dp(dpcc_compiler *c, const char *path);

/* Writes the program as one C11 file (dpcc --emit=c, docs/c-backend.md). prefix names its
 * entry points; NULL: from the file's name. */
dpcc_status dpcc_write_c(dpcc_compiler *c, const char *path, const char *prefix);

#ifdef __cplusplus
}
#endif

#endif
