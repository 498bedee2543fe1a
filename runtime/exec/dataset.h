/*
 * dataset.h: running a program over a data set.
 *
 * Inputs whose leading dimension is a multiple of the compiled one are a data set of
 * "chunks", each one inference of the compiled batch. A runner holds one session per thread
 * and deals the chunks out to them; chunk k is always inference index first + k, so noisy
 * results (keyed by that index) are the same bits for any thread count.
 */
#ifndef DP_DATASET_H
#define DP_DATASET_H

#include "dp_dist.h"
#include "exec.h"

typedef struct dp_runner dp_runner;

typedef struct dp_runner_opts {
    dp_session_opts session;
    int threads;            /* sessions run in parallel; 0 or 1: the calling thread only */
    dp_dist *dist;          /* the ranks a data set's chunks are shared out to; NULL: none */
} dp_runner_opts;

/*
 * How many chunks of the compiled batch the inputs hold: 1 when they match the program,
 * n when every input's leading dimension is n times the compiled one and the rest agree.
 * sources (NULL, or one entry per input, each NULL or a file's path) name where a
 * mismatched input came from.
 */
dp_status dp_dataset_chunks(const dp_program *p, const dp_tensor *inputs,
                            const char *const *sources, int64_t *chunks, dp_error *err);

/* Chunk k of a data set tensor whose compiled leading dimension is rows. */
dp_tensor dp_dataset_chunk(const dp_tensor *t, int64_t rows, int64_t k);

dp_status dp_runner_new(const dp_program *p, const dp_runner_opts *opts, dp_runner **out,
                        dp_error *err);

/*
 * Runs chunks 0..chunks-1 of inputs as inferences first..first+chunks-1. outputs[i] gets
 * graph output i for the whole set: its buffer is allocated from mem when outputs[i].data is
 * NULL, and otherwise must be one a previous call with the same inputs filled. Over several
 * ranks (opts.dist) it is a collective: each rank runs its share of the chunks, and every
 * rank gets every output and the ADC counts of every chunk.
 */
dp_status dp_runner_run(dp_runner *r, const dp_tensor *inputs, int64_t chunks, uint64_t first,
                        dp_arena *mem, dp_tensor *outputs, dp_error *err);

/* Sets (or, with NULL, clears) every session's analog configuration. */
dp_status dp_runner_set_analog(dp_runner *r, const dp_analog_config *cfg, dp_error *err);

/* New repetitions for every session's analog state (see dp_analog_state_set_repetitions). */
void dp_runner_set_repetitions(dp_runner *r, const int32_t *repetitions);

/* Instruction instr's ADC counts, summed over the sessions (and over the ranks, for the
 * chunks dp_runner_run shared out). */
dp_adc_counts dp_runner_adc_counts(const dp_runner *r, int instr);

/* The session of thread 0, for callers that inspect or steer single inferences. */
dp_session *dp_runner_session(dp_runner *r);

void dp_runner_free(dp_runner *r);

#endif
