/*
 * analog_stage.h: the part of a compilation that runs the model: reading the calibration
 * data and labels, then calibration, noise sensitivity, the schedule and the energy report,
 * on the lowered program.
 */
#ifndef DPCC_ANALOG_STAGE_H
#define DPCC_ANALOG_STAGE_H

#include "analog_passes.h"

/* Progress on stderr: none, a bar redrawn in place (a terminal), or a line every few seconds
 * with the stage, the share done and an estimate of the time left (a log, a pipe). */
typedef enum dpc_progress { DPC_PROGRESS_NONE, DPC_PROGRESS_BAR, DPC_PROGRESS_LINES } dpc_progress;

typedef struct dpc_analog_opts {
    const char *calib_path;      /* a .npy/.pb batch, or a folder of them; NULL: synthetic */
    const char *labels_path;     /* int labels for the accuracy metric; NULL: none */
    const char *report_path;     /* NULL: no report file */
    const char *report_csv_path; /* NULL: no CSV of the layers */
    const dp_tensor *calib;      /* in memory, one batch per graph input; used when
                                    calib_path is NULL (n_calib must equal the inputs) */
    int n_calib;
    char **report_json;          /* non-NULL: receives the report's JSON text (malloc'd) */
    dpc_metric metric;
    double budget;
    bool budget_given;           /* set by the user: exit 4 when no schedule meets it; else the
                                  * default, and out of reach it gives way to the best schedule */
    dpc_schedule_kind schedule;
    int32_t fixed_reps;
    uint32_t seed;
    int seeds;                   /* device instances every measurement averages; 0: auto */
    int threads;                 /* 0: one per processor */
    dp_dist *dist;               /* the ranks the measurements are shared out to (rank 0
                                    alone prints and writes the reports); NULL: none */
    dpc_progress progress;       /* how progress shows on stderr */
    /* or, where set, who is told instead (the C API's callback) */
    void (*progress_fn)(void *ctx, const char *stage, double done);
    void *progress_ctx;
    bool quiet;                  /* no summary table */
    bool no_warnings;            /* no warnings either (-q) */
    bool verbose;                /* log every measurement on stderr */
    const char *schedule_from;   /* DPC_SCHEDULE_GIVEN: an annotated model or a report JSON */
    /* Where set, lowers the model again for `batch` samples an inference into mem (which
     * outlives the program), for the measurements of the schedule (measure.c); NULL: they
     * run the program itself. */
    dp_status (*lower_batched)(void *ctx, const dp_program *prog, int64_t batch, dp_arena *mem,
                               dp_program **out, dp_error *err);
    void *lower_ctx;
} dpc_analog_opts;

void dpc_analog_opts_init(dpc_analog_opts *o);

/*
 * Sets the degradation budget: the one rule of dpcc --budget METRIC=VALUE and
 * dpcc_set_budget, so that the library refuses what the tool refuses. The metric is the first
 * len bytes of metric (the tool's is followed by "=VALUE"): top1, kl, mse or accuracy; the
 * value is finite and >= 0, and at most 1 for the rates (top1, accuracy). A refusal is
 * DP_EUSAGE with a message for the caller to put its own name before; o is then unchanged.
 */
dp_status dpc_set_budget(dpc_analog_opts *o, const char *metric, size_t len, double value,
                         dp_error *err);

/* Calibrates and schedules prog (whose device is set) in place. */
dp_status dpc_analog_stage(dp_program *prog, const dpc_analog_opts *o, dp_arena *mem,
                           dp_error *err);

#endif
