/*
 * dpcc/dprt.h: the runtime as a library (libdprt). A device program (.dp, from dpcc or
 * dpcc_program) is loaded from a file or memory, its inputs and outputs are described, and
 * sessions run it on the simulated analog core: ideal (the noise-free fp32 reference) or
 * noisy, one device instance per seed, the same seed giving the same bits. docs/api.md has
 * an example.
 *
 * Errors: every fallible function returns a dpcc_status; on failure the handle it was called
 * on gives the message (dprt_model_error, dprt_session_error; dprt_session_new's failures
 * are the model's). A NULL handle is DPCC_EUSAGE with no message (there is nowhere to keep
 * one), a NULL where a result goes is DPCC_EUSAGE with one; docs/api.md lists what each
 * function does with NULL. The library prints nothing and never exits.
 *
 * Threads: a model is immutable once loaded. Each session is used by one thread at a time;
 * sessions of one model may run concurrently, but dprt_session_new and the other calls on a
 * model are not to overlap. There is no global state.
 */
#ifndef DPCC_DPRT_H
#define DPCC_DPRT_H

#include "dpcc/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dprt_model dprt_model;
typedef struct dprt_session dprt_session;

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *dprt_version(void);

/* An empty model, to load into. Fails only with DPCC_ENOMEM (and *out NULL), or DPCC_EUSAGE
 * when out is NULL. */
dpcc_status dprt_model_new(dprt_model **out);
/* Frees the model; its sessions must be freed first. */
void dprt_model_free(dprt_model *m);
const char *dprt_model_error(const dprt_model *m);

/* Reads and validates a .dp program (once per model). The buffer is copied. */
dpcc_status dprt_model_load_file(dprt_model *m, const char *path);
dpcc_status dprt_model_load_buffer(dprt_model *m, const void *data, size_t len);

/* A graph input or output. name is valid while the model is. */
typedef struct dprt_io_info {
    const char *name;
    dpcc_dtype dtype;
    int rank;                      /* -1: known only once the program has run */
    int64_t dims[DPCC_MAX_RANK];
} dprt_io_info;

int dprt_model_num_inputs(const dprt_model *m);
int dprt_model_num_outputs(const dprt_model *m);
dpcc_status dprt_model_input(dprt_model *m, int i, dprt_io_info *out);
dpcc_status dprt_model_output(dprt_model *m, int i, dprt_io_info *out);

/* The number of analog layers: what a noisy run simulates (a program compiled without the
 * analog stage runs only ideal). */
int dprt_model_num_analog_layers(const dprt_model *m);

/*
 * Tensor files, as dprun reads and writes them: ONNX TensorProto (.pb) or NumPy (.npy), by
 * the path's suffix. Failures are recorded on m (any model handle, loaded or not).
 * dprt_tensor_read fills out with malloc'd data that dprt_tensor_release frees.
 */
dpcc_status dprt_tensor_read(dprt_model *m, const char *path, dpcc_tensor *out);
void dprt_tensor_release(dpcc_tensor *t);
/* Writes t (name: the .pb's tensor name, NULL for none) through a temporary renamed into
 * place. */
dpcc_status dprt_tensor_write(dprt_model *m, const char *path, const dpcc_tensor *t,
                              const char *name);

typedef struct dprt_session_options {
    int threads;          /* threads for a data set's chunks, or a single inference's
                           * matrix products; 0 or 1: the caller's */
    size_t max_memory;    /* bytes of activations and scratch; 0: the default (16 GiB) */
} dprt_session_options;

/* A session of m (options NULL: defaults). On failure the message is m's. */
dpcc_status dprt_session_new(dprt_model *m, const dprt_session_options *options,
                             dprt_session **out);
void dprt_session_free(dprt_session *s);
const char *dprt_session_error(const dprt_session *s);

typedef struct dprt_run_options {
    int ideal;            /* nonzero: noise-free fp32; 0: the analog layers on the noisy core */
    uint32_t seed;        /* noisy: the device instance and its noise */
} dprt_run_options;

/*
 * Runs the program on inputs[0..n) (graph input order; dtypes and shapes as the model's,
 * except that a leading dimension k times the compiled one runs k inferences as a data set
 * and concatenates the outputs). options NULL: noisy with seed 0, as dprun runs.
 */
dpcc_status dprt_session_run(dprt_session *s, const dpcc_tensor *inputs, int n,
                             const dprt_run_options *options);

/* Output i of the last run: a view of memory the session owns, valid until its next run or
 * free (copy what should outlive them). */
dpcc_status dprt_session_output(dprt_session *s, int i, dpcc_tensor *out);

#ifdef __cplusplus
}
#endif

#endif
