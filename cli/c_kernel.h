/*
 * c_kernel.h: dprun's loader of C kernels (dpcc --emit=c, built as a shared object): the
 * entry points of docs/c-backend.md, found through the prefix its dpcc_kernel_v1 symbol
 * names. The program dprun sees is a skeleton holding the graph inputs and outputs, for
 * binding and writing.
 */
#ifndef DPR_C_KERNEL_H
#define DPR_C_KERNEL_H

#include "dp_program.h"

#include <stdbool.h>

typedef struct dpr_kernel {
    void *lib;
    void *session;
    int (*num_inputs)(void), (*num_outputs)(void);
    const char *(*input_name)(int), *(*output_name)(int);
    int (*input_dtype)(int), (*output_dtype)(int), (*input_rank)(int), (*output_rank)(int);
    const int64_t *(*input_dims)(int), *(*output_dims)(int);
    int (*open)(void **out, uint32_t seed, int ideal);
    int (*infer)(void *s, uint64_t index, const void *const *inputs);
    const void *(*output)(const void *s, int i, int *rank, int64_t *dims);
    void (*close)(void *s);
    const char *(*last_error)(void);
} dpr_kernel;

/* A shared object by its suffix or its ELF magic; anything else is read as a .dp. */
bool dpr_is_shared_object(const char *path);

/* Opens the library at path and its entry points; *out is the skeleton program, in mem. */
dp_status dpr_kernel_load(const char *path, dpr_kernel *k, dp_arena *mem, dp_program **out,
                          dp_error *err);

/* A session of the kernel: seed its device instance, ideal its noise-free mode. */
dp_status dpr_kernel_open(dpr_kernel *k, uint32_t seed, bool ideal, dp_error *err);

/* The data set through the kernel, chunk k as inference k, as dp_runner_run runs a .dp. */
dp_status dpr_kernel_run(dpr_kernel *k, const dp_program *p, const dp_tensor *in, int64_t chunks,
                         dp_arena *mem, dp_tensor *out, dp_error *err);

/* Closes the session and the library. */
void dpr_kernel_close(dpr_kernel *k);

#endif
