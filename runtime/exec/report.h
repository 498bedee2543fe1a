/*
 * report.h: what an analog layer costs and how precise it is, and the JSON report that
 * dpcc --report and dprun --report write (docs/report.md gives the schema).
 *
 * Both tools derive a layer's work, energy and effective bits from the same MVM fields and
 * device through these functions, so the compile-time prediction and the run-time account
 * agree by construction; dpcc adds what only it knows (sensitivities, the budget).
 */
#ifndef DP_REPORT_H
#define DP_REPORT_H

#include "analog_exec.h"
#include "energy.h"

/*
 * The work of one inference of an MVM instruction at `repetitions`: its MACs; one DAC
 * conversion per input value per row tile (each row tile of the core sees the whole input
 * vector); one per weight per pass (weights are modulated once per pass and fan out over
 * the input vectors); one ADC conversion per output per fan-in tile; and on the digital
 * side a rescale per conversion, the partial-sum adds and the bias add.
 */
dp_layer_work dp_mvm_work(const dp_mvm *m, int32_t repetitions);

/*
 * The predicted effective bits of the layer's outputs at `repetitions` (analog-model.md
 * section 3), for a typical output: a full tile pass with the calibrated mean square input
 * and a weight row whose squared norm is a third of its fan-in.
 */
double dp_mvm_effective_bits(const dp_program *p, const dp_mvm *m, int32_t repetitions);

/* The layer's typical ADC full scale, for predictions made per layer: the geometric mean of
 * its per-output full scales (their mean effective bits); 0 while uncalibrated. */
double dp_mvm_output_scale(const dp_mvm *m);

typedef struct dp_report_layer {
    const char *name, *op;
    int64_t macs;
    int32_t repetitions;
    double photons_per_mac;      /* in each pass (dp_device_photons_per_mac) */
    bool input_unsigned;         /* the DAC spans [0, X] */
    double effective_bits;
    double sensitivity;          /* b_l; NAN when unknown (dprun) */
    dp_energy energy;
    dp_adc_counts counts;
} dp_report_layer;

typedef struct dp_report {
    const char *producer;        /* "dpcc" or "dprun" */
    const dp_device *device;
    int64_t macs;                /* per inference */
    dp_energy total;             /* per inference */
    double optical_aj_per_mac;
    /* the budget (dpcc only: metric NULL for dprun) */
    const char *metric;
    double budget, predicted_mse, measured, floor_mse;
    int32_t uniform_repetitions;
    double uniform_energy_j;
    bool synthetic_calibration;
    bool unverified_margin;      /* met without the margin for calibration sampling error */
    const char *budget_warning;  /* dpcc: why the budget is not met; NULL where it is */
    int64_t calibration_samples;
    int64_t inferences;          /* dprun: how many inferences the counts cover */
    int64_t nonfinite_inputs;    /* dprun: input values that were NaN or infinite */
    int n_layers;
    dp_report_layer *layers;
} dp_report;

/* The per-layer rows and totals of a program at its own repetition counts. */
dp_status dp_report_from_program(const dp_program *p, dp_arena *mem, dp_report *r,
                                 dp_error *err);

/* r as JSON text (malloc'd: the caller frees it), or NULL when out of memory. */
char *dp_report_json(const dp_report *r);

/* The report schema's version (docs/report.md): raised when a key changes meaning or goes;
 * new keys do not raise it. */
#define DP_REPORT_SCHEMA_VERSION 1

/*
 * r's layers as CSV text (malloc'd), one row each after a header row: name, op, macs,
 * repetitions, photons_per_mac, input_dac, effective_bits, sensitivity, energy_j and its
 * optical, dac, adc, digital and memory parts, adc_conversions, adc_clipped. NULL when out of
 * memory.
 */
char *dp_report_csv(const dp_report *r);

/* Writes r's layers as CSV to path (through a temporary renamed into place). */
dp_status dp_report_write_csv(const dp_report *r, const char *path, dp_error *err);

/* Writes r as JSON to path (through a temporary renamed into place). */
dp_status dp_report_write(const dp_report *r, const char *path, dp_error *err);

#endif
