/*
 * exec.h: running a device program on the simulated accelerator.
 *
 * A session holds what one program needs to run repeatedly: the activation arena (planned
 * at compile time, allocated once) and per-inference arenas for dynamically shaped tensors
 * and kernel scratch, reset between inferences so a steady-state run allocates nothing.
 */
#ifndef DP_EXEC_H
#define DP_EXEC_H

#include "dp_program.h"

typedef struct dp_session dp_session;

typedef struct dp_session_opts {
    size_t max_memory;     /* bytes for activations, dynamic tensors and scratch; 0: default */
} dp_session_opts;

dp_status dp_session_new(const dp_program *prog, const dp_session_opts *opts, dp_session **out,
                         dp_error *err);

/*
 * Runs one inference, the index-th of a data set (noise is keyed by it). inputs[i] binds
 * graph input i; its dtype and shape must equal the program's. On success outputs[i] views
 * graph output i, valid until the next run.
 */
dp_status dp_session_run(dp_session *s, uint64_t index, const dp_tensor *inputs,
                         dp_tensor *outputs, dp_error *err);

void dp_session_free(dp_session *s);

#endif
