/*
 * exec.h: running a device program on the simulated accelerator.
 *
 * A session holds what one program needs to run repeatedly: the activation arena (planned
 * at compile time, allocated once) and per-inference arenas for dynamically shaped tensors
 * and kernel scratch, reset between inferences so a steady-state run allocates nothing.
 */
#ifndef DP_EXEC_H
#define DP_EXEC_H

#include "analog_exec.h"
#include "dp_program.h"

typedef struct dp_session dp_session;

/*
 * Called after each instruction has run, with its inputs and outputs: calibration and
 * reports watch the values flow past without the executor knowing what for. A status other
 * than DP_OK stops the inference with it.
 */
typedef dp_status (*dp_observe_fn)(void *ctx, int instr, dp_tensor *const *in, int n_in,
                                   dp_tensor *const *out, int n_out, dp_error *err);

typedef struct dp_session_opts {
    size_t max_memory;     /* bytes for activations, dynamic tensors and scratch; 0: default */
    dp_observe_fn observe; /* NULL: none */
    void *observe_ctx;
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

/*
 * Makes the session's analog instructions run on the simulated core as cfg says (noisy, or
 * calibrating); a NULL cfg makes it ideal again. Called between inferences.
 */
dp_status dp_session_set_analog(dp_session *s, const dp_analog_config *cfg, dp_error *err);

/* Lets the session's matrix products spread over p's threads (NULL: no more). Results do
 * not change: an exact product splits so every element is computed as on one thread, an
 * analog one by columns, whose noise is keyed by the column. Called between inferences. */
void dp_session_set_parallel(dp_session *s, dp_parallel *p);

/* The session's analog state, NULL when ideal: to change its repetitions. */
dp_analog_state *dp_session_analog(dp_session *s);

/* The ADC counts of instruction instr since the analog configuration was set. */
dp_adc_counts dp_session_adc_counts(const dp_session *s, int instr);

/*
 * An inference one instruction at a time, for passes that replay part of the program:
 * begin binds the inputs, step runs instruction i (in order, from 0), outputs views the
 * graph outputs once the last instruction has run.
 */
dp_status dp_session_begin(dp_session *s, uint64_t index, const dp_tensor *inputs,
                           dp_error *err);
dp_status dp_session_step(dp_session *s, int instr, dp_error *err);
void dp_session_outputs(const dp_session *s, dp_tensor *outputs);

/*
 * The state between two steps (activations and tensor views), saved to replay the rest of
 * the program from the same point, in this session or in another session of the same
 * program (one per noise seed, say). Tensors of data-dependent shape stay in the saving
 * session, which must not begin another inference while the state is in use.
 * dp_session_resume restores a state as inference `index`; then step from where it was
 * saved.
 */
size_t dp_session_state_bytes(const dp_session *s);
void dp_session_save(const dp_session *s, void *state);
void dp_session_resume(dp_session *s, uint64_t index, const void *state);

void dp_session_free(dp_session *s);

#endif
