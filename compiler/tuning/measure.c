/*
 * measure.c: running the calibration set on the simulated core and scoring the result
 * against the clean network, for the sensitivity and schedule passes.
 *
 * Each device instance (noise seed) keeps its own runner, so the weights it programs (with
 * their static errors) are programmed once per compilation, not once per measurement; a
 * new schedule only changes the repetition counts.
 *
 * Over several ranks the runners share a measurement's chunks out (dataset.h) and give every
 * rank all of its outputs, so every rank scores the same bits and takes the same decisions.
 */
#include "analog_passes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The runner of `set` simulating device instance `seed` on prog, made on first use. */
static dp_status runner_in(dpc_analog *A, dpc_runners *set, const dp_program *prog,
                           uint32_t seed, dp_runner **out, dp_error *err)
{
    for (int i = 0; i < set->n; i++)
        if (set->seed[i] == seed) {
            *out = set->r[i];
            return DP_OK;
        }
    if (set->n == DPC_MAX_RUNNERS)
        return dp_fail(err, DP_EINTERNAL, "more than %d device instances", DPC_MAX_RUNNERS);
    dp_runner_opts ro = {.threads = A->threads, .dist = A->dist};
    dp_runner *r;
    dp_status st = dp_runner_new(prog, &ro, &r, err);
    if (st != DP_OK)
        return st;
    /* without static errors every device instance programs the same weights: one copy */
    if (A->device->static_weight_std == 0 && !set->bank)
        st = dp_analog_bank_new(prog, &set->bank, err);
    dp_analog_config cfg = {.seed = seed, .bank = set->bank};
    if (st == DP_OK)
        st = dp_runner_set_analog(r, &cfg, err);
    if (st != DP_OK) {
        dp_runner_free(r);
        return st;
    }
    set->r[set->n] = r;
    set->seed[set->n++] = seed;
    *out = r;
    return DP_OK;
}

dp_status dpc_runner_for_seed(dpc_analog *A, uint32_t seed, dp_runner **out, dp_error *err)
{
    return runner_in(A, &A->runners, A->prog, seed, out, err);
}

dp_status dpc_runner_for_runs(dpc_analog *A, uint32_t seed, dp_runner **out, dp_error *err)
{
    if (!A->batched)
        return dpc_runner_for_seed(A, seed, out, err);
    return runner_in(A, &A->batched_runners, A->batched, seed, out, err);
}

static void free_runners(dpc_runners *set)
{
    for (int i = 0; i < set->n; i++)
        dp_runner_free(set->r[i]);
    dp_analog_bank_free(set->bank);
    dp_runner_free(set->ideal);
    memset(set, 0, sizeof *set);
}

void dpc_analog_free(dpc_analog *A)
{
    free_runners(&A->runners);
    free_runners(&A->batched_runners);
    dp_program_free(A->batched);
    A->batched = NULL;
}

bool dpc_batched_matches(const dp_program *prog, const dp_program *batched, int64_t batch)
{
    if (batched->n_instrs != prog->n_instrs || batched->n_inputs != prog->n_inputs ||
        batched->n_outputs != prog->n_outputs)
        return false;
    for (int i = 0; i < prog->n_instrs; i++) {
        const dp_instr *a = &prog->instrs[i], *b = &batched->instrs[i];
        if (!a->mvm != !b->mvm || strcmp(a->op, b->op) != 0 || strcmp(a->name, b->name) != 0)
            return false;
        if (a->mvm && (a->mvm->fan_in != b->mvm->fan_in || a->mvm->outputs != b->mvm->outputs))
            return false;
    }
    for (int i = 0; i < prog->n_inputs + prog->n_outputs; i++) {
        bool in = i < prog->n_inputs;
        int k = in ? i : i - prog->n_inputs;
        const dp_tensor *a = &prog->tensors[in ? prog->inputs[k] : prog->outputs[k]].t;
        const dp_tensor *b = &batched->tensors[in ? batched->inputs[k] : batched->outputs[k]].t;
        if (a->rank < 1 || a->rank != b->rank || a->dtype != b->dtype || a->dims[0] != 1 ||
            b->dims[0] != batch)
            return false;
        for (int d = 1; d < a->rank; d++)
            if (a->dims[d] != b->dims[d])
                return false;
    }
    return true;
}

/* The batched program's analog layers as calibrated on prog: their scales, converters and
 * statistics are the layer's, whatever the batch (only the work per inference differs). */
static void sync_batched(dpc_analog *A)
{
    for (int i = 0; i < A->prog->n_instrs; i++) {
        dp_mvm *to = A->batched->instrs[i].mvm;
        if (!to)
            continue;
        int64_t macs = to->macs;
        *to = *A->prog->instrs[i].mvm;
        to->macs = macs;
    }
}

/*
 * The calibration and the schedule's measurements run the model lowered again for
 * MEASURE_BATCH samples an inference (or the largest power of two below it that divides the
 * calibration set into at least MIN_BATCHES batches): small products, such as the last
 * stages of a ResNet on 28x28 images, then stream their weights once for the batch instead
 * of once a sample. Only where the compiled program takes one sample, the model lowers for
 * the batch with the same instructions, and the batch's activations stay within
 * BATCHED_ARENA_MAX. Powers of two up to 16 divide the measurements' early looks
 * (schedule.c) into whole batches. The noise of a batch's sample differs from what the same
 * sample meets alone (a batch is one inference, its samples its columns), with the same
 * statistics.
 */
#define MEASURE_BATCH 16
#define MIN_BATCHES 4
#define BATCHED_ARENA_MAX ((uint64_t)256 << 20)

void dpc_lower_batched(dpc_analog *A)
{
    const dp_program *p = A->prog;
    bool one = p->n_inputs > 0;
    for (int i = 0; i < p->n_inputs; i++)
        one = one && p->tensors[p->inputs[i]].t.rank > 0 && p->tensors[p->inputs[i]].t.dims[0] == 1;
    if (!A->lower_batched || !one || A->batched)
        return;
    int64_t batch = MEASURE_BATCH;
    while (batch > 1 && (A->chunks % batch != 0 || A->chunks < MIN_BATCHES * batch ||
                         (uint64_t)batch * p->arena_bytes > BATCHED_ARENA_MAX))
        batch /= 2;
    if (batch < 2)
        return;
    dp_program *batched = NULL;
    dp_error why = {0};
    dp_status st = A->lower_batched(A->lower_ctx, p, batch, A->batched_mem, &batched, &why);
    bool fits = st == DP_OK && dpc_batched_matches(p, batched, batch);
    if (A->log) {
        dpc_log_stamp(A);
        if (fits)
            fprintf(A->log, "runs: the model lowered again for batches of %lld\n",
                    (long long)batch);
        else
            fprintf(A->log, "runs: one sample an inference (the model lowered for batches of "
                    "%lld %s)\n", (long long)batch,
                    st == DP_OK ? "has other instructions" : why.msg);
    }
    if (!fits) {
        dp_program_free(batched);
        return;
    }
    A->batched = batched;
    A->batch = batch;
}

const dp_program *dpc_program_for_runs(dpc_analog *A, int64_t *batch)
{
    if (!A->batched) {
        *batch = 1;
        return A->prog;
    }
    sync_batched(A);
    *batch = A->batch;
    return A->batched;
}

dp_adc_counts dpc_measured_counts(dpc_analog *A, uint32_t seed, int instr)
{
    const dpc_runners *set = A->batched ? &A->batched_runners : &A->runners;
    for (int i = 0; i < set->n; i++)
        if (set->seed[i] == seed)
            return dp_runner_adc_counts(set->r[i], instr);
    return (dp_adc_counts){0, 0};
}

/* Chunks c0..c1-1 of a tensor holding `chunks` chunks along its leading dimension. */
static dp_tensor chunk_range(const dp_tensor *t, int64_t chunks, int64_t c0, int64_t c1)
{
    if (c0 == 0 && c1 == chunks)
        return *t;
    dp_tensor v = dp_dataset_chunk(t, t->dims[0] / chunks, c0);
    v.dims[0] *= c1 - c0;
    return v;
}

dp_status dpc_measure(dpc_analog *A, const int32_t *repetitions, uint32_t seed, int64_t c0,
                      int64_t c1, dp_tensor *out, double *metric, double *discordant,
                      dp_error *err)
{
    bool whole = c0 == 0 && c1 == A->chunks;
    /* only rates are means over samples; and a partial run cannot size the outputs */
    DP_ASSERT(whole || ((A->metric == DPC_TOP1 || A->metric == DPC_ACCURACY) && out[0].data));
    dp_runner *r = NULL;
    dp_status st;
    /* whole batches run on the batched program, clean and noisy alike */
    bool batched = A->batched && c0 % A->batch == 0 && c1 % A->batch == 0;
    int64_t batch = 1;
    const dp_program *prog = batched ? dpc_program_for_runs(A, &batch) : A->prog;
    dpc_runners *set = batched ? &A->batched_runners : &A->runners;
    if (repetitions) {
        st = runner_in(A, set, prog, seed, &r, err);
        if (st != DP_OK)
            return st;
        dp_runner_set_repetitions(r, repetitions);
    } else {
        if (!set->ideal) {
            dp_runner_opts ro = {.threads = A->threads, .dist = A->dist};
            if ((st = dp_runner_new(prog, &ro, &set->ideal, err)) != DP_OK)
                return st;
        }
        r = set->ideal;
    }
    const dp_program *p = A->prog;
    size_t n_io = (size_t)p->n_inputs + 2 * (size_t)p->n_outputs + 1;
    dp_tensor *in = calloc(n_io, sizeof *in), *part = in + p->n_inputs, *clean = part + p->n_outputs;
    if (!in)
        return dp_fail(err, DP_ENOMEM, "out of memory");
    for (int i = 0; i < p->n_inputs; i++)
        in[i] = chunk_range(&A->calib[i], A->chunks, c0, c1);
    for (int i = 0; i < p->n_outputs; i++)
        part[i] = chunk_range(&out[i], A->chunks, c0, c1);
    st = dp_runner_run(r, in, (c1 - c0) / batch, (uint64_t)(c0 / batch), A->mem, part, err);
    if (whole)
        memcpy(out, part, sizeof *out * (size_t)p->n_outputs);
    if (st == DP_OK && A->clean && A->clean[0].data) {
        /* the rates of the samples run: A's record narrowed to them */
        dpc_analog run = *A;
        int64_t per_chunk = A->samples / A->chunks, skip = c0 * per_chunk;
        for (int i = 0; i < p->n_outputs; i++)
            clean[i] = chunk_range(&A->clean[i], A->chunks, c0, c1);
        run.clean = clean;
        run.labels = A->labels ? A->labels + skip : NULL;
        run.n_labels = A->n_labels > skip ? A->n_labels - skip : 0;
        run.samples = (c1 - c0) * per_chunk;
        *metric = dpc_degradation(&run, A->metric, part);
        if (discordant)
            *discordant = dpc_discordance(&run, part);
    }
    free(in);
    return st;
}

/* Rows and classes of a logits tensor: the last dimension is the class axis. */
static void rows_of(const dp_tensor *t, int64_t *rows, int64_t *classes)
{
    *classes = t->rank > 0 ? t->dims[t->rank - 1] : 1;
    *rows = *classes > 0 ? dp_numel(t) / *classes : 0;
}

static int64_t argmax(const dp_tensor *t, int64_t row, int64_t classes)
{
    int64_t best = 0;
    double bv = -INFINITY;
    for (int64_t c = 0; c < classes; c++) {
        double v = dp_load_f64(t->data, t->dtype, row * classes + c);
        if (v > bv) {
            bv = v;
            best = c;
        }
    }
    return best;
}

static double top1_disagreement(const dp_tensor *clean, const dp_tensor *noisy)
{
    int64_t rows, classes, differ = 0;
    rows_of(clean, &rows, &classes);
    for (int64_t r = 0; r < rows; r++)
        differ += argmax(clean, r, classes) != argmax(noisy, r, classes);
    return rows ? (double)differ / (double)rows : 0;
}

/* Mean over rows of KL(softmax(clean) || softmax(noisy)), in nats. */
static double kl_divergence(const dp_tensor *clean, const dp_tensor *noisy)
{
    int64_t rows, classes;
    rows_of(clean, &rows, &classes);
    double total = 0;
    for (int64_t r = 0; r < rows; r++) {
        double mp = -INFINITY, mq = -INFINITY, zp = 0, zq = 0, kl = 0;
        for (int64_t c = 0; c < classes; c++) {
            mp = fmax(mp, dp_load_f64(clean->data, clean->dtype, r * classes + c));
            mq = fmax(mq, dp_load_f64(noisy->data, noisy->dtype, r * classes + c));
        }
        for (int64_t c = 0; c < classes; c++) {
            zp += exp(dp_load_f64(clean->data, clean->dtype, r * classes + c) - mp);
            zq += exp(dp_load_f64(noisy->data, noisy->dtype, r * classes + c) - mq);
        }
        for (int64_t c = 0; c < classes; c++) {
            double a = dp_load_f64(clean->data, clean->dtype, r * classes + c) - mp - log(zp);
            double b = dp_load_f64(noisy->data, noisy->dtype, r * classes + c) - mq - log(zq);
            kl += exp(a) * (a - b);
        }
        total += kl;
    }
    return rows ? total / (double)rows : 0;
}

/* Mean squared error over the clean outputs' variance, averaged over the float outputs. */
static double normalised_mse(const dpc_analog *A, const dp_tensor *noisy)
{
    double sum = 0;
    int counted = 0;
    for (int i = 0; i < A->prog->n_outputs; i++) {
        const dp_tensor *c = &A->clean[i], *y = &noisy[i];
        if (!dp_dtype_is_float(c->dtype))
            continue;
        int64_t n = dp_numel(c);
        double mean = 0, var = 0, err = 0;
        for (int64_t k = 0; k < n; k++)
            mean += dp_load_f64(c->data, c->dtype, k);
        mean = n ? mean / (double)n : 0;
        for (int64_t k = 0; k < n; k++) {
            double v = dp_load_f64(c->data, c->dtype, k), d = dp_load_f64(y->data, y->dtype, k) - v;
            var += (v - mean) * (v - mean);
            err += isfinite(d) ? d * d : INFINITY;
        }
        sum += var > 0 ? err / var : err > 0 ? INFINITY : 0;
        counted++;
    }
    return counted ? sum / counted : 0;
}

static double accuracy(const dpc_analog *A, const dp_tensor *out)
{
    int64_t rows, classes, right = 0;
    rows_of(out, &rows, &classes);
    for (int64_t r = 0; r < rows && r < A->n_labels; r++)
        right += argmax(out, r, classes) == A->labels[r];
    return rows ? (double)right / (double)rows : 0;
}

double dpc_discordance(const dpc_analog *A, const dp_tensor *noisy)
{
    const dp_tensor *clean = &A->clean[0];
    if (A->metric == DPC_TOP1)
        return top1_disagreement(clean, &noisy[0]);
    if (A->metric != DPC_ACCURACY)
        return 0;
    int64_t rows, classes, differ = 0;
    rows_of(clean, &rows, &classes);
    for (int64_t r = 0; r < rows && r < A->n_labels; r++)
        differ += (argmax(clean, r, classes) == A->labels[r])
                != (argmax(&noisy[0], r, classes) == A->labels[r]);
    return rows ? (double)differ / (double)rows : 0;
}

int32_t dpc_round_repetitions(const dp_device *d, double n)
{
    if (!(n > 1))
        return 1;
    if (n >= d->max_repetitions)
        return d->max_repetitions;
    int32_t r = d->repetitions_power_of_two ? (int32_t)1 << (int)lround(log2(n)) : (int32_t)lround(n);
    return r > d->max_repetitions ? d->max_repetitions : r < 1 ? 1 : r;
}

const char *dpc_metric_name(dpc_metric m)
{
    return m == DPC_TOP1 ? "top1" : m == DPC_KL ? "kl" : m == DPC_MSE ? "mse" : "accuracy";
}

double dpc_degradation(const dpc_analog *A, dpc_metric metric, const dp_tensor *noisy)
{
    switch (metric) {
    case DPC_TOP1: return top1_disagreement(&A->clean[0], &noisy[0]);
    case DPC_KL: return kl_divergence(&A->clean[0], &noisy[0]);
    case DPC_MSE: return normalised_mse(A, noisy);
    case DPC_ACCURACY: return accuracy(A, &A->clean[0]) - accuracy(A, &noisy[0]);
    }
    return 0;
}

double dpc_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void dpc_log_stamp(const dpc_analog *A)
{
    if (A->log)
        fprintf(A->log, "[%8.1f s] ", dpc_seconds() - A->log_start);
}
