/*
 * analog_exec.h: how a session runs its analog instructions when it is not ideal.
 *
 * The kernels of Conv, ConvTranspose, Gemm and MatMul hand their matrix products to
 * dp_kernel_product; in a noisy session the executor points them at this module, which
 * turns each product into the optical core's orientation (output channels x fan-in times
 * fan-in x input vectors), programs the layer's weights once, and runs dp_analog_run
 * with the layer's calibrated full scales and repetition count.
 */
#ifndef DP_ANALOG_EXEC_H
#define DP_ANALOG_EXEC_H

#include "analog.h"
#include "dp_program.h"

/* Per-instruction repetition settings besides a count N >= 1. */
enum {
    DP_REPS_IDEAL = 0,      /* exact fp32, as --ideal */
    DP_REPS_NOISELESS = -1  /* N = infinity: quantisation, static errors and the ADC only */
};

/*
 * Calibration's view of the core: with pre_adc set, every analog instruction computes its
 * exact fp32 product (so later layers see clean activations) and also reports what each
 * noiseless tile pass would present to the ADC: values[(t * rows + j) * cols + p] for tile
 * t of `tiles`, output channel channel0 + j of the layer (j < rows), input vector p of
 * `cols`. A layer of several products (Conv groups) reports each with its first channel.
 */
typedef void (*dp_pre_adc_fn)(void *ctx, int instr, const float *values, int64_t tiles,
                              int64_t rows, int64_t cols, int64_t channel0);

/*
 * The weights of a program as programmed into one device instance, shareable by sessions
 * (threads) simulating that instance, or any instances when the device has no static
 * errors. It must outlive the sessions using it.
 */
typedef struct dp_analog_bank dp_analog_bank;
dp_status dp_analog_bank_new(const dp_program *prog, dp_analog_bank **out, dp_error *err);
void dp_analog_bank_free(dp_analog_bank *b);

typedef struct dp_analog_config {
    uint32_t seed;                  /* the device instance and its noise */
    const int32_t *repetitions;     /* per instruction: N, DP_REPS_IDEAL or _NOISELESS;
                                     * NULL: each MVM's own repetition count */
    dp_pre_adc_fn pre_adc;          /* calibration (above); NULL otherwise */
    void *pre_adc_ctx;
    dp_analog_bank *bank;           /* shared programmed weights; NULL: the state's own */
} dp_analog_config;

/* Conversions and clipped conversions of one instruction's ADC, summed over inferences. */
typedef struct dp_adc_counts {
    int64_t conversions, clipped;
} dp_adc_counts;

typedef struct dp_analog_state dp_analog_state;

/*
 * DP_EINPUT when the program cannot run noisy: no device, or an analog instruction without
 * calibrated full scales (compile with dpcc, which calibrates).
 */
dp_status dp_analog_state_new(const dp_program *prog, const dp_analog_config *cfg,
                              dp_analog_state **out, dp_error *err);
void dp_analog_state_free(dp_analog_state *a);

/*
 * The hook for instruction `instr` of inference `inference`, or NULL when it runs exactly
 * (a digital instruction, or DP_REPS_IDEAL without calibration).
 */
dp_analog_hook *dp_analog_state_hook(dp_analog_state *a, int instr, uint64_t inference);

dp_adc_counts dp_analog_state_counts(const dp_analog_state *a, int instr);

/*
 * New repetition counts (as dp_analog_config.repetitions; NULL: the program's), keeping the
 * programmed weights, and zero ADC counts: what a schedule search changes between runs.
 */
void dp_analog_state_set_repetitions(dp_analog_state *a, const int32_t *repetitions);

/* The parameters instruction instr's products run with: the device, its bits and N. */
dp_analog_params dp_analog_instr_params(const dp_program *prog, const dp_mvm *m, uint32_t seed,
                                        int32_t repetitions);

#endif
