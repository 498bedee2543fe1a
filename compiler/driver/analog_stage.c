/*
 * analog_stage.c: calibration data in, a calibrated and scheduled program out.
 *
 * --calib is one tensor file (a batch of the model's single input) or a folder: for a
 * single-input model every .npy and .pb file in it, in name order, joined along the batch
 * axis; for several inputs, input_K.npy or input_K.pb for input K (as the ONNX test data
 * lays them out).
 */
#include "analog_stage.h"

#include "annotate.h"
#include "tensor_io.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Calibration files a folder may hold: enough for any real calibration set. */
#define MAX_CALIB_FILES 4096

void dpc_analog_opts_init(dpc_analog_opts *o)
{
    memset(o, 0, sizeof *o);
    o->metric = DPC_TOP1;
    o->budget = 0.01;
    o->schedule = DPC_SCHEDULE_DYNAMIC;
    o->seeds = 0;
    o->threads = 0;
}

dp_status dpc_set_budget(dpc_analog_opts *o, const char *metric, size_t len, double value,
                         dp_error *err)
{
    static const dpc_metric metrics[] = {DPC_TOP1, DPC_KL, DPC_MSE, DPC_ACCURACY};
    for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++) {
        const char *name = dpc_metric_name(metrics[i]);
        if (strlen(name) != len || strncmp(metric, name, len) != 0)
            continue;
        if (!isfinite(value) || value < 0)
            return dp_fail(err, DP_EUSAGE, "the value must be a finite number >= 0");
        /* top-1 disagreement and an accuracy drop are rates */
        if ((metrics[i] == DPC_TOP1 || metrics[i] == DPC_ACCURACY) && value > 1)
            return dp_fail(err, DP_EUSAGE, "a rate, from 0 to 1");
        o->metric = metrics[i];
        o->budget = value;
        o->budget_given = true;
        return DP_OK;
    }
    return dp_fail(err, DP_EUSAGE, "the metric must be top1, kl, mse or accuracy, not '%.*s'",
                   len > 100 ? 100 : (int)len, metric);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool tensor_suffix(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && strcmp(name + n - 4, ".npy") == 0) || (n > 3 && strcmp(name + n - 3, ".pb") == 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Joins tensors along axis 0; they must agree in dtype and every other dimension. */
static dp_status join(const char *what, dp_tensor *parts, int n, dp_arena *mem, dp_tensor *out,
                      dp_error *err)
{
    *out = parts[0];
    size_t bytes = dp_nbytes(&parts[0]);
    for (int i = 1; i < n; i++) {
        bool same = parts[i].dtype == out->dtype && parts[i].rank == out->rank && out->rank > 0;
        for (int d = 1; same && d < out->rank; d++)
            same = parts[i].dims[d] == out->dims[d];
        if (!same) {
            char a[160], b[160];
            return dp_fail(err, DP_EINPUT, "%s: file %d holds %s[%s], file 0 %s[%s]: they "
                           "cannot be joined along the batch axis", what, i,
                           dp_dtype_name(parts[i].dtype), dp_shape_str(&parts[i], a, sizeof a),
                           dp_dtype_name(parts[0].dtype), dp_shape_str(&parts[0], b, sizeof b));
        }
        out->dims[0] += parts[i].dims[0];
        bytes += dp_nbytes(&parts[i]);
    }
    if (n == 1)
        return DP_OK;
    unsigned char *data = dp_arena_alloc(mem, bytes);
    if (!data)
        return dp_fail(err, DP_ENOMEM, "%s: out of memory for %zu bytes", what, bytes);
    out->data = data;
    for (int i = 0; i < n; i++) {
        memcpy(data, parts[i].data, dp_nbytes(&parts[i]));
        data += dp_nbytes(&parts[i]);
    }
    return DP_OK;
}

/*
 * Calibration data must be finite: a NaN would silently pass through every statistic
 * (ranges, quantiles, the measured budget), an infinity set a full scale no real input
 * reaches. Names the first bad value by sample and element; file may be NULL when the
 * caller's prefix already names it.
 */
static dp_status check_finite(const dp_tensor *t, const char *file, dp_error *err)
{
    char what[200];
    if (dp_describe_nonfinite(t, what, sizeof what) == 0)
        return DP_OK;
    return dp_fail(err, DP_EINPUT, "%s%s%s; calibration needs finite data", file ? file : "",
                   file ? ": " : "", what);
}

/* Every tensor file of a folder, in name order, joined. */
static dp_status read_folder(const char *dir, dp_arena *mem, dp_tensor *out, dp_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return dp_fail(err, DP_EIO, "%s: cannot open the folder: %s", dir, strerror(errno));
    char **names = calloc(MAX_CALIB_FILES, sizeof *names);
    int n = 0;
    dp_status st = names ? DP_OK : dp_fail(err, DP_ENOMEM, "out of memory");
    for (struct dirent *e; st == DP_OK && (e = readdir(d));) {
        if (!tensor_suffix(e->d_name))
            continue;
        if (n == MAX_CALIB_FILES)
            st = dp_fail(err, DP_EINPUT, "%s: more than %d tensor files", dir, MAX_CALIB_FILES);
        else if (!(names[n++] = dp_arena_strdup(mem, e->d_name)))
            st = dp_fail(err, DP_ENOMEM, "out of memory");
    }
    closedir(d);
    if (st == DP_OK && n == 0)
        st = dp_fail(err, DP_EINPUT, "%s: no .npy or .pb files", dir);
    dp_tensor *parts = st == DP_OK ? dp_arena_calloc(mem, (size_t)n, sizeof *parts) : NULL;
    if (st == DP_OK && !parts)
        st = dp_fail(err, DP_ENOMEM, "out of memory");
    if (st == DP_OK)
        qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; st == DP_OK && i < n; i++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path)
            st = dp_fail(err, DP_EINPUT, "%s/%s: path too long", dir, names[i]);
        else if ((st = dp_tensor_read(path, mem, &parts[i], NULL, err)) == DP_OK)
            st = check_finite(&parts[i], path, err);
    }
    if (st == DP_OK)
        st = join(dir, parts, n, mem, out, err);
    free(names);
    return st;
}

/* input_K.npy or input_K.pb in dir. */
static dp_status read_input_k(const char *dir, int k, dp_arena *mem, dp_tensor *out, dp_error *err)
{
    static const char *const suffix[] = {"npy", "pb"};
    for (int s = 0; s < 2; s++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/input_%d.%s", dir, k, suffix[s]);
        if (stat(path, &st) != 0)
            continue;
        dp_status rc = dp_tensor_read(path, mem, out, NULL, err);
        return rc == DP_OK ? check_finite(out, path, err) : rc;
    }
    return dp_fail(err, DP_EINPUT, "%s: no input_%d.npy or input_%d.pb for graph input %d", dir,
                   k, k, k);
}

/* The files of --calib path into A->calib (read_calib names it in messages). */
static dp_status read_calib_files(dpc_analog *A, const char *path, dp_error *err)
{
    const dp_program *p = A->prog;
    if (!is_dir(path)) {
        if (p->n_inputs != 1)
            return dp_fail(err, DP_EUSAGE, "the model has %d inputs; give a folder holding "
                           "input_K.npy (or .pb) for each", p->n_inputs);
        dp_status st = dp_tensor_read(path, A->mem, &A->calib[0], NULL, err);
        return st == DP_OK ? check_finite(&A->calib[0], NULL, err) : st;
    }
    if (p->n_inputs == 1)
        return read_folder(path, A->mem, &A->calib[0], err);
    dp_status st = DP_OK;
    for (int k = 0; st == DP_OK && k < p->n_inputs; k++)
        st = read_input_k(path, k, A->mem, &A->calib[k], err);
    return st;
}

/* calib_path, or else the in-memory batches (path NULL), into A->calib. */
static dp_status read_calib(dpc_analog *A, const char *path, const dpc_analog_opts *o,
                            dp_error *err)
{
    const dp_program *p = A->prog;
    A->calib = dp_arena_calloc(A->mem, (size_t)p->n_inputs + 1, sizeof *A->calib);
    if (!A->calib)
        return dp_fail(err, DP_ENOMEM, "out of memory");
    dp_status st = DP_OK;
    if (!path) {
        path = "(in memory)";
        if (o->n_calib != p->n_inputs)
            st = dp_fail(err, DP_EUSAGE, "%d calibration tensors for a model of %d inputs",
                         o->n_calib, p->n_inputs);
        for (int k = 0; st == DP_OK && k < p->n_inputs; k++) {
            A->calib[k] = o->calib[k];
            st = A->calib[k].data ? dp_shape_check(&A->calib[k], err, "a calibration tensor")
                                  : dp_fail(err, DP_EUSAGE, "calibration tensor %d has no data", k);
            if (st == DP_OK && (st = check_finite(&A->calib[k], NULL, err)) != DP_OK)
                dp_error_prefix(err, "tensor %d", k);
        }
    } else {
        /* rank 0 reads the files; the others receive the tensors */
        st = dp_dist_leads(A->dist) ? read_calib_files(A, path, err) : DP_OK;
        st = dp_dist_bcast_tensors(A->dist, st, A->calib, p->n_inputs, A->mem, err);
    }
    for (int k = 0; st == DP_OK && k < p->n_inputs; k++)
        if (A->calib[k].dtype != p->tensors[p->inputs[k]].t.dtype)
            st = dp_fail(err, DP_EINPUT, "--calib %s: input %d ('%s') is %s, the model takes %s",
                         path, k, p->tensors[p->inputs[k]].name, dp_dtype_name(A->calib[k].dtype),
                         dp_dtype_name(p->tensors[p->inputs[k]].t.dtype));
    if (st == DP_OK)
        st = dp_dataset_chunks(p, A->calib, NULL, &A->chunks, err);
    if (st != DP_OK)
        dp_error_prefix(err, "--calib %s", path);
    return st;
}

static dp_status read_labels(dpc_analog *A, const char *path, dp_error *err)
{
    dp_tensor t = {0};
    dp_status st = dp_dist_leads(A->dist) ? dp_tensor_read(path, A->mem, &t, NULL, err) : DP_OK;
    if ((st = dp_dist_bcast_tensors(A->dist, st, &t, 1, A->mem, err)) != DP_OK)
        return st;
    if (!dp_dtype_is_integer(t.dtype))
        return dp_fail(err, DP_EINPUT, "--labels %s: %s, expected integer class indices", path,
                       dp_dtype_name(t.dtype));
    int64_t n = dp_numel(&t);
    int64_t *labels = dp_arena_calloc(A->mem, (size_t)n + 1, sizeof *labels);
    if (!labels)
        return dp_fail(err, DP_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++)
        labels[i] = dp_load_i64(t.data, t.dtype, i);
    A->labels = labels;
    A->n_labels = n;
    return DP_OK;
}

/* Seconds between progress lines off a terminal. */
#define PROGRESS_EVERY 5.0

/* Where the progress lines are: the stage running, when it began, when a line last went. */
typedef struct progress_lines {
    const char *stage;
    double begun, printed;
} progress_lines;

/* Off a terminal: a line when a stage starts and ends, and every PROGRESS_EVERY seconds in
 * between, with the time left at the pace so far. */
static void print_progress(void *ctx, const char *stage, double done)
{
    progress_lines *p = ctx;
    double now = dpc_seconds();
    bool fresh = !p->stage || strcmp(p->stage, stage) != 0;
    if (fresh) {
        p->stage = stage;
        p->begun = now;
    }
    if (!fresh && done < 1 && now - p->printed < PROGRESS_EVERY)
        return;
    p->printed = now;
    double spent = now - p->begun;
    if (done >= 1)
        fprintf(stderr, "dpcc: %s done in %.0f s\n", stage, spent);
    else if (done > 0 && spent >= 1)
        fprintf(stderr, "dpcc: %s %.0f%%, %.0f s so far, about %.0f s left\n", stage,
                100 * done, spent, spent * (1 - done) / done);
    else if (done > 0)
        fprintf(stderr, "dpcc: %s %.0f%%\n", stage, 100 * done);
    else
        fprintf(stderr, "dpcc: %s\n", stage);
}

static void draw_progress(void *ctx, const char *stage, double done)
{
    (void)ctx;
    int width = 30, filled = (int)(done * width + 0.5);
    filled = filled < 0 ? 0 : filled > width ? width : filled;
    fprintf(stderr, "\r%-18s [%.*s%*s] %3.0f%%", stage, filled,
            "##############################", width - filled, "", done * 100);
    if (done >= 1)
        fputc('\n', stderr);
    fflush(stderr);
}

/*
 * Device instances per measurement when --seeds is not given: enough that a measurement
 * averages about AUTO_DRAWS noisy inferences (a top-1 rate resolved to 0.1%), at least 2
 * so that no schedule is fitted to one instance's static errors, at most AUTO_SEEDS_MAX.
 */
#define AUTO_DRAWS 1024
#define AUTO_SEEDS_MAX 8

static int auto_seeds(int64_t samples)
{
    int64_t k = samples > 0 ? (AUTO_DRAWS + samples - 1) / samples : AUTO_SEEDS_MAX;
    return k < 2 ? 2 : k > AUTO_SEEDS_MAX ? AUTO_SEEDS_MAX : (int)k;
}

dp_status dpc_analog_stage(dp_program *prog, const dpc_analog_opts *o, dp_arena *mem,
                           dp_error *err)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    dpc_analog A = {.prog = prog, .device = prog->device, .seed = o->seed,
                    .threads = o->threads > 0 ? o->threads : cpus > 0 && cpus < 16 ? (int)cpus : 1,
                    .metric = o->metric, .budget = o->budget, .budget_given = o->budget_given,
                    .kind = o->schedule, .fixed_reps = o->fixed_reps, .mem = mem,
                    .lower_batched = o->lower_batched, .lower_ctx = o->lower_ctx,
                    .dist = o->dist};
    dp_arena batched_mem;
    dp_arena_init(&batched_mem, mem->limit);
    A.batched_mem = &batched_mem;
    progress_lines lines = {0};
    bool leads = dp_dist_leads(o->dist);
    if (!leads) {
        /* the other ranks measure as rank 0 does and keep quiet */
    } else if (o->progress_fn) {
        A.progress = o->progress_fn;
        A.progress_ctx = o->progress_ctx;
    } else if (o->progress == DPC_PROGRESS_BAR && !o->verbose)
        A.progress = draw_progress;
    else if (o->progress == DPC_PROGRESS_LINES && !o->verbose) {
        A.progress = print_progress;
        A.progress_ctx = &lines;
    }
    if (o->verbose && leads) {
        A.log = stderr;
        A.log_start = dpc_seconds();
    }
    if (A.metric == DPC_ACCURACY && !o->labels_path)
        return dp_fail(err, DP_EUSAGE, "--budget accuracy=... needs --labels");
    dp_status st = o->calib_path || o->calib ? read_calib(&A, o->calib_path, o, err) : DP_OK;
    if (st == DP_OK && o->labels_path)
        st = read_labels(&A, o->labels_path, err);
    int32_t *given = NULL;
    if (st == DP_OK && A.kind == DPC_SCHEDULE_GIVEN)
        st = dpc_schedule_load(o->dist, o->schedule_from, prog, mem, &given, err);
    A.given_reps = given;
    if (st == DP_OK)
        st = pass_calibrate(&A, err);
    A.samples = A.chunks * (prog->tensors[prog->inputs[0]].t.rank > 0
                            ? prog->tensors[prog->inputs[0]].t.dims[0] : 1);
    A.seeds = o->seeds > 0 ? o->seeds : auto_seeds(A.samples);
    if (st == DP_OK && A.kind != DPC_SCHEDULE_FIXED && A.kind != DPC_SCHEDULE_GIVEN)
        st = pass_noise_sensitivity(&A, err);
    /* a given schedule is not measured: its sensitivities are unknown (null), not zero */
    for (int l = 0; st == DP_OK && A.kind == DPC_SCHEDULE_GIVEN && l < A.n_layers; l++)
        A.layers[l].sensitivity = NAN;
    if (st == DP_OK)
        st = pass_schedule(&A, err);
    if (st == DP_OK) {
        pass_energy(&A);
        if (!o->quiet && leads)
            dpc_print_summary(&A, stderr);
        if (!o->no_warnings && leads)
            dpc_print_warnings(&A, stderr);
        if (o->report_path || o->report_json)
            st = dpc_write_report(&A, leads ? o->report_path : NULL, o->report_json, err);
        if (st == DP_OK && o->report_csv_path && leads)
            st = dpc_write_report_csv(&A, o->report_csv_path, err);
    }
    dpc_analog_free(&A);
    dp_arena_free(&batched_mem);
    return st;
}
