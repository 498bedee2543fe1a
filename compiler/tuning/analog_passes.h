/*
 * analog_passes.h: the passes that need to run the model: calibration, noise sensitivity,
 * the dynamic-precision schedule and the energy report (analog-model.md sections 2 to 5).
 *
 * They work on the lowered program, because measuring means executing, and the compiler
 * executes with the runtime's own kernels and its own simulated core (docs/architecture.md):
 * the schedule is verified on what dprun will run (or on the same model lowered for batches
 * of samples, with the same noise statistics: measure.c). Each pass reads and fills
 * the shared dpc_analog record, and the MVM fields of the program's instructions.
 */
#ifndef DPCC_ANALOG_PASSES_H
#define DPCC_ANALOG_PASSES_H

#include "dataset.h"
#include "energy.h"
#include "exec.h"
#include "report.h"

/* The degradation metric a budget is stated in (analog-model.md section 5). */
typedef enum dpc_metric { DPC_TOP1, DPC_KL, DPC_MSE, DPC_ACCURACY } dpc_metric;

/* GIVEN: the repetitions of an earlier compilation (--schedule from:FILE), taken as they are */
typedef enum dpc_schedule_kind { DPC_SCHEDULE_DYNAMIC, DPC_SCHEDULE_UNIFORM, DPC_SCHEDULE_FIXED,
                                 DPC_SCHEDULE_GIVEN } dpc_schedule_kind;

/* Where a layer's DAC full scale, weight full scales or ADC full scales came from
 * (pass_calibrate, and for the weights the partitioner). */
typedef enum dpc_range_source {
    DPC_RANGE_DATA,       /* calibration's quantiles (the weights: their largest magnitude) */
    DPC_RANGE_MODEL,      /* a QDQ model's grid, which the converter's levels hold */
    DPC_RANGE_REQUANTISED /* that grid, finer than the converter's levels: requantised */
} dpc_range_source;

/* A layer's three converters: its DAC, weight modulators and ADC. */
enum { DPC_DAC, DPC_WEIGHTS, DPC_ADC, DPC_CONVERTERS };

/* What the analog passes learn about one analog instruction. */
typedef struct dpc_layer {
    int instr;
    const char *name, *op;
    int64_t macs;
    double sensitivity;          /* b_l: normalised output MSE x N at the probe */
    double floor_mse;            /* its own ADC and static contribution (N = infinity) */
    int32_t probe;               /* N_p */
    double rep_energy_j;         /* c_l: the energy one more repetition costs */
    int32_t repetitions;         /* the schedule's N_l */
    double effective_bits;
    /* per converter (DPC_DAC...): where its range came from, and for a model's grid the
     * bits that grid needs */
    dpc_range_source source[DPC_CONVERTERS];
    int32_t grid_bits[DPC_CONVERTERS];
    dp_energy energy;            /* per inference at N_l */
    dp_adc_counts counts;        /* ADC conversions and clips over the verification runs */
} dpc_layer;

/* Device instances one compilation simulates at most (--seeds). */
#define DPC_MAX_RUNNERS 16

/* The runners of one program (measure.c): the exact one, and one per device instance. */
typedef struct dpc_runners {
    dp_runner *ideal;
    dp_runner *r[DPC_MAX_RUNNERS];
    uint32_t seed[DPC_MAX_RUNNERS];
    int n;
    dp_analog_bank *bank;        /* shared by all when the device has no static errors */
} dpc_runners;

/* The shared record of the analog passes. */
typedef struct dpc_analog {
    dp_program *prog;
    const dp_device *device;
    /* the calibration set: one tensor per graph input, `chunks` inferences long */
    dp_tensor *calib;
    int64_t chunks;
    int64_t samples;             /* chunks times the compiled batch */
    bool synthetic;              /* made up because no --calib was given */
    const int64_t *labels;       /* one per calibration sample, for the accuracy metric */
    int64_t n_labels;
    dp_tensor *clean;            /* the noise-free outputs on the calibration set */
    uint32_t seed;
    int seeds;                   /* device instances (noise seeds) each measurement averages */
    int threads;
    dp_dist *dist;               /* the ranks measurements are shared out to; NULL: none */
    dpc_layer *layers;
    int n_layers;
    /* the budget and what the schedule achieved */
    dpc_metric metric;
    double budget;
    bool budget_given;           /* by the user; else the default, which may give way */
    bool budget_unmet;           /* the default budget was out of reach (N_max everywhere), or
                                  * a fixed or given schedule measures over the budget */
    dpc_schedule_kind kind;
    int32_t fixed_reps;
    double predicted_mse, measured;
    double margin_cap;           /* the most margin asked of a schedule (schedule.c) */
    bool margin_capped;          /* the schedule meets the budget by less than its error */
    int32_t uniform_reps;        /* the baseline: the least common N meeting the budget */
    double uniform_energy_j, total_energy_j, uniform_measured;
    /* progress on a terminal: called with a stage name and a fraction done */
    void (*progress)(void *ctx, const char *stage, double done);
    void *progress_ctx;
    FILE *log;                   /* the measurements as they happen (dpcc -v); NULL: none */
    double log_start;            /* dpc_seconds() when the stage began, for the log's stamps */
    dp_arena *mem;               /* everything above lives here */
    dpc_runners runners;
    /* The program lowered again for `batch` samples an inference, with the instructions of
     * prog: the schedule's noisy measurements run it (dpc_measure), so that a batch's narrow
     * products stream their weights once. NULL: they run prog. */
    dp_program *batched;
    int64_t batch;
    dpc_runners batched_runners;
    /* how to lower it (dpc_analog_opts.lower_batched), and the memory its graph lives in */
    dp_status (*lower_batched)(void *ctx, const dp_program *prog, int64_t batch, dp_arena *mem,
                               dp_program **out, dp_error *err);
    void *lower_ctx;
    dp_arena *batched_mem;
    const int32_t *given_reps;   /* DPC_SCHEDULE_GIVEN: the repetitions per instruction */
} dpc_analog;

/*
 * Fills A->layers from the program, makes the synthetic calibration set when A->calib is
 * NULL (standard normal floats; integer inputs as indices within the table they gather
 * from), runs it clean into A->clean, and sets every MVM's DAC full scale X and ADC full
 * scale G from quantiles of the observed values; X from the model instead where a layer's
 * inputs come quantised (a QDQ model's DequantizeLinear of one constant scale and zero
 * point: the DAC's levels then hold the model's grid), and G from the model where a
 * QuantizeLinear alone reads the layer's output and its weights are on the model's grid.
 */
dp_status pass_calibrate(dpc_analog *A, dp_error *err);

/* Measures every layer's sensitivity b_l and floor (analog-model.md section 5). */
dp_status pass_noise_sensitivity(dpc_analog *A, dp_error *err);

/* The arithmetic of the sensitivity pass. A float output's normaliser: the sum of its
 * squared deviations from its mean over the calibration set (1 where that is 0; 0 for
 * a non-float output). */
double dpc_output_scale(const dp_tensor *clean);
/* Sample k's squared error against the clean outputs (clean[i] holds every sample's, k
 * at offset k times out[i]'s size), each float output's divided by its scale, averaged
 * over the float outputs; a non-finite difference counts 1e300. */
double dpc_sample_error(const dp_tensor *out, const dp_tensor *clean, const double *scale,
                        int n_outputs, int64_t k);
/* b_l = N_p (MSE(N_p) - MSE(infinity)), at least 1e-12. */
double dpc_sensitivity(int32_t probe, double mse_probe, double mse_inf);

/*
 * Chooses every layer's repetition count for A->kind and the budget, verifies it by
 * simulation, and writes it into the MVM instructions. When even the maximum repetitions
 * everywhere miss the budget: DP_EBUDGET for a budget the user gave, naming the layers whose
 * ADC or static errors cause it; for the default budget, that most precise schedule, with
 * A->budget_unmet set.
 */
dp_status pass_schedule(dpc_analog *A, dp_error *err);

/*
 * The allocation behind the dynamic schedule, for a target T of the repetition-dependent
 * MSE: the least energy sum_l c_l N_l with sum_l b_l / N_l <= T (b_l the layers'
 * sensitivity, c_l their rep_energy_j), N_l = sqrt(b_l / c_l) sum_k sqrt(b_k c_k) / T, layers
 * outside [1, N_max] clamped and the rest re-solved (KKT), rounded as the device wants, and
 * the rounding repaired by the most MSE removed per joule until the prediction meets T
 * (or every layer is at N_max). free_ is scratch, one per layer; n receives the counts.
 */
void dpc_allocate(const dpc_layer *layers, int n_layers, const dp_device *d, double T,
                  bool *free_, int32_t *n);

/* The predicted normalised MSE of counts n: sum_l b_l / n_l + F_l. */
double dpc_predicted_mse(const dpc_layer *layers, int n_layers, const int32_t *n);

/* Per-layer energy and bits at the chosen schedule, and the total. */
void pass_energy(dpc_analog *A);

/*
 * Writes the report (docs/report.md gives its schema) to path unless it is NULL, and hands
 * its JSON text to *json (malloc'd) unless json is NULL.
 */
dp_status dpc_write_report(const dpc_analog *A, const char *path, char **json, dp_error *err);

/* Writes the report's layers as CSV (dp_report_csv) to path. */
dp_status dpc_write_report_csv(const dpc_analog *A, const char *path, dp_error *err);

/* The human summary dpcc prints on stderr. */
void dpc_print_summary(const dpc_analog *A, FILE *f);

/* What the user should know about the schedule (a budget out of reach, too little or made-up
 * calibration data), one "warning: " line each. */
void dpc_print_warnings(const dpc_analog *A, FILE *f);

/*
 * Shared by the passes: runs calibration chunks c0..c1-1 with `repetitions` per instruction
 * (NULL: ideal) and device instance `seed`, into their rows of out (one tensor per graph
 * output, allocated from A->mem by the first run, which must be of the whole set), and
 * returns the budget metric of those rows against A->clean and, where `discordant` is not
 * NULL, dpc_discordance. A part of the set is measured only for the rates (top-1, accuracy),
 * whose whole-set value is the mean of the parts'.
 */
dp_status dpc_measure(dpc_analog *A, const int32_t *repetitions, uint32_t seed, int64_t c0,
                      int64_t c1, dp_tensor *out, double *metric, double *discordant,
                      dp_error *err);

/* Seconds on a monotonic clock, for the log's stamps and progress estimates. */
double dpc_seconds(void);

/* Starts a line of A->log (where there is one) with the seconds since A->log_start. */
void dpc_log_stamp(const dpc_analog *A);

/* The runner simulating device instance `seed` on A->prog, made on first use. */
dp_status dpc_runner_for_seed(dpc_analog *A, uint32_t seed, dp_runner **out, dp_error *err);

/* The same on the program the runs execute (dpc_program_for_runs). */
dp_status dpc_runner_for_runs(dpc_analog *A, uint32_t seed, dp_runner **out, dp_error *err);

/* The ADC conversions and clips of instruction `instr` in the last noisy measurement of
 * device instance `seed` (a dpc_measure with repetitions). */
dp_adc_counts dpc_measured_counts(dpc_analog *A, uint32_t seed, int instr);

/* Whether `batched` is prog lowered again for `batch` samples an inference, instruction for
 * instruction (the same analog layers at the same indices, every input and output `batch`
 * times as long), so that dpc_measure may run it instead (A->batched). */
bool dpc_batched_matches(const dp_program *prog, const dp_program *batched, int64_t batch);

/* Sets A->batched and A->batch where the calibration set and the model allow (measure.c);
 * else leaves them, and the runs take one sample an inference. */
void dpc_lower_batched(dpc_analog *A);

/* The program the calibration and schedule runs execute, A->batched (its analog layers made
 * A->prog's again) or A->prog, and its samples an inference. */
const dp_program *dpc_program_for_runs(dpc_analog *A, int64_t *batch);

/* Frees the runners. */
void dpc_analog_free(dpc_analog *A);

/* A repetition count the device allows nearest n: in [1, max], a power of two if it must be. */
int32_t dpc_round_repetitions(const dp_device *d, double n);

/* "top1", "kl", "mse" or "accuracy". */
const char *dpc_metric_name(dpc_metric m);

/* The degradation of noisy against clean outputs in A's metric (normalised MSE for DPC_MSE). */
double dpc_degradation(const dpc_analog *A, dpc_metric metric, const dp_tensor *noisy);

/* Whether a rate measured on `samples` samples (with its discordant fraction) already lies
 * enough standard errors over the budget for its measurement to stop (schedule.c). */
bool dpc_settled_over(dpc_metric metric, double rate, double discordant, int64_t samples,
                      double budget);

/* The fraction of samples whose verdict the noise changes: top-1 disagreements, or for the
 * accuracy metric the samples right clean and wrong noisy or the reverse (0 for others). */
double dpc_discordance(const dpc_analog *A, const dp_tensor *noisy);

#endif
