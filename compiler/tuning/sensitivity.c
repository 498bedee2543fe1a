/*
 * sensitivity.c: how much each analog layer's noise costs the network's output.
 *
 * analog-model.md section 5: with layer l alone on the core at a probe repetition count N_p
 * and every other layer exact, the normalised output MSE is MSE_l(N_p) = F_l + b_l / N_p,
 * F_l being the part repetition cannot remove (the layer's ADC and static errors). dpcc
 * measures both MSE_l(N_p) and MSE_l(infinity) on the same device instances and takes
 * b_l = N_p (MSE_l(N_p) - MSE_l(infinity)): the floor is measured, not folded into b_l.
 *
 * N_p is where the layer's predicted dynamic noise std is PROBE_NOISE of its output range:
 * its ADC full scale over the profile's headroom where calibration set it, the full scale
 * itself where a QDQ model's output grid did (about 5 effective bits either way): small enough to stay in the linear regime, large enough to stand
 * well above the floor and the Monte Carlo error of a few samples. Measured against G itself,
 * paper_shot's headroom of 16 put the probe at a third of the range, where the first layers'
 * effect saturates: their sensitivities came out several times too small against the later
 * layers', and the schedule gave them too little light.
 *
 * The clean prefix runs once per inference (a sample, or a batch of them where the runs are
 * batched): at each analog layer the state is saved and only the rest of the network is
 * replayed, once per device instance and mode. Over several ranks, each probes a block of
 * the inferences (probe_round).
 */
#include "analog_passes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The probe's noise std as a fraction of G. */
#define PROBE_NOISE 0.02

/* Calibration samples the probes use at least, where the set holds them: the outputs of a
 * few already average many independent draws, and each probe replays the network's suffix.
 * They run as whole inferences: one batch of 16 where the runs are batched (measure.c). */
#define PROBE_SAMPLES 8

/* A probe must raise the output MSE to PROBE_OVER_FLOOR times the layer's floor, or it
 * measures the floor's Monte Carlo error (or the noise dithering the converters) instead of
 * the noise: 8-bit converters can hold a layer's floor above its probe's noise. Such a
 * layer is probed again with PROBE_STEP times fewer repetitions, up to PROBE_RETRIES times. */
#define PROBE_OVER_FLOOR 2.0
#define PROBE_STEP 8
#define PROBE_RETRIES 2

/* N_p: where the layer's predicted dynamic noise falls to PROBE_NOISE G / headroom. */
static int32_t probe_reps(const dpc_analog *A, const dpc_layer *l)
{
    const dp_mvm *m = A->prog->instrs[l->instr].mvm;
    dp_analog_params prm = dp_analog_instr_params(A->prog, m, A->seed, 1);
    int64_t K = m->fan_in < m->core_cols ? m->fan_in : m->core_cols;
    double X = m->input_scale, G = dp_mvm_output_scale(m);
    double x_norm2 = (double)K * m->input_mean_square / (X * X);
    /* a weight row normalised to its largest entry: about a third of K for spread weights */
    dp_analog_var_parts v = dp_analog_variance_parts(&prm, G, K, x_norm2, (double)K / 3);
    /* a model's output grid set G without the headroom calibration's quantiles get */
    double range = l->source[DPC_ADC] == DPC_RANGE_DATA ? G / A->device->headroom : G;
    double target = PROBE_NOISE * range * PROBE_NOISE * range;
    return dpc_round_repetitions(A->device, target > 0 ? v.dynamic / target : 1);
}

double dpc_output_scale(const dp_tensor *clean)
{
    if (!dp_dtype_is_float(clean->dtype))
        return 0;
    int64_t n = dp_numel(clean);
    double mean = 0, var = 0;
    for (int64_t k = 0; k < n; k++)
        mean += dp_load_f64(clean->data, clean->dtype, k);
    mean = n ? mean / (double)n : 0;
    for (int64_t k = 0; k < n; k++) {
        double d = dp_load_f64(clean->data, clean->dtype, k) - mean;
        var += d * d;
    }
    return var > 0 ? var : 1;
}

static double *output_scales(const dpc_analog *A)
{
    double *scale = calloc((size_t)A->prog->n_outputs + 1, sizeof *scale);
    for (int i = 0; scale && i < A->prog->n_outputs; i++)
        scale[i] = dpc_output_scale(&A->clean[i]);
    return scale;
}

double dpc_sample_error(const dp_tensor *out, const dp_tensor *clean, const double *scale,
                        int n_outputs, int64_t k)
{
    double total = 0;
    int counted = 0;
    for (int i = 0; i < n_outputs; i++) {
        if (!dp_dtype_is_float(out[i].dtype))
            continue;
        int64_t n = dp_numel(&out[i]), base = k * n;
        double e = 0;
        for (int64_t j = 0; j < n; j++) {
            double d = dp_load_f64(out[i].data, out[i].dtype, j)
                     - dp_load_f64(clean[i].data, clean[i].dtype, base + j);
            e += isfinite(d) ? d * d : 1e300;
        }
        total += e / scale[i];
        counted++;
    }
    return counted ? total / counted : 0;
}

double dpc_sensitivity(int32_t probe, double mse_probe, double mse_inf)
{
    /* a layer whose noise the measurement cannot see still costs something: a floor of
     * 1e-12 keeps the allocation finite and gives it the fewest repetitions */
    return fmax((double)probe * (mse_probe - mse_inf), 1e-12);
}

typedef struct probe_ctx {
    dpc_analog *A;
    dp_session *clean;
    dp_session **noisy;          /* one per device instance */
    int32_t *reps;
    void *state;
    double *scale;
    double (*sum)[2];            /* per layer: squared error at N_p and at infinity */
    double *errors;              /* per inference, layer, device instance and mode: the error */
    const bool *probed;          /* per layer: whether this round probes it */
    dp_tensor *out;
    dp_tensor *in;               /* one inference's inputs */
} probe_ctx;

/* Replays instructions from..end with layer l at `mode` on every device instance. */
static dp_status probe_layer(probe_ctx *c, const dp_program *p, int l, int from, int64_t k,
                             dp_error *err)
{
    int32_t modes[2] = {c->A->layers[l].probe, DP_REPS_NOISELESS};
    for (int s = 0; s < c->A->seeds; s++)
        for (int m = 0; m < 2; m++) {
            dp_session *S = c->noisy[s];
            c->reps[from] = modes[m];
            dp_analog_state_set_repetitions(dp_session_analog(S), c->reps);
            dp_session_resume(S, (uint64_t)k, c->state);
            for (int i = from; i < p->n_instrs; i++) {
                dp_status st = dp_session_step(S, i, err);
                if (st != DP_OK)
                    return st;
            }
            dp_session_outputs(S, c->out);
            c->errors[((k * c->A->n_layers + l) * c->A->seeds + s) * 2 + m]
                = dpc_sample_error(c->out, c->A->clean, c->scale, p->n_outputs, k);
        }
    c->reps[from] = DP_REPS_IDEAL;
    return DP_OK;
}

/* Inference k (one sample, or a batch of them) with each probed layer noisy in turn. */
static dp_status probe_inference(probe_ctx *c, const dp_program *p, int64_t k,
                                 int64_t inferences, dp_error *err)
{
    dpc_analog *A = c->A;
    for (int i = 0; i < p->n_inputs; i++)
        c->in[i] = dp_dataset_chunk(&A->calib[i], p->tensors[p->inputs[i]].t.dims[0], k);
    dp_status st = dp_session_begin(c->clean, (uint64_t)k, c->in, err);
    for (int i = 0, l = 0; st == DP_OK && i < p->n_instrs; i++) {
        if (p->instrs[i].mvm && c->probed[l]) {
            dp_session_save(c->clean, c->state);
            st = probe_layer(c, p, l, i, k, err);
            if (A->progress)
                A->progress(A->progress_ctx, "noise sensitivity",
                            (double)(k * A->n_layers + l + 1) /
                                (double)(inferences * A->n_layers));
        }
        if (p->instrs[i].mvm)
            l++;
        if (st == DP_OK)
            st = dp_session_step(c->clean, i, err);
    }
    return st;
}

/*
 * Probes this rank's share of the inferences, gathers every rank's errors and sums them in
 * the order of one process, inference by inference and instance by instance: the sums are
 * the same bits on any number of ranks.
 */
static dp_status probe_round(probe_ctx *c, const dp_program *p, int64_t inferences,
                             dp_error *err)
{
    dpc_analog *A = c->A;
    dp_dist *d = A->dist;
    int ranks = dp_dist_spread(d) ? d->size : 1;
    int64_t lo, hi, per_inference = (int64_t)A->n_layers * A->seeds * 2;
    dp_dist_share(d, dp_dist_spread(d) ? d->rank : 0, inferences, &lo, &hi);
    dp_status st = DP_OK;
    for (int64_t k = lo; st == DP_OK && k < hi; k++)
        st = probe_inference(c, p, k, inferences, err);
    st = dp_dist_agree(d, st, err);
    if (st == DP_OK && ranks > 1) {
        int64_t *bytes = calloc((size_t)ranks, sizeof *bytes);
        if (!bytes)
            return dp_fail(err, DP_ENOMEM, "out of memory for the sensitivity pass");
        for (int r = 0; r < ranks; r++) {
            int64_t a, b;
            dp_dist_share(d, r, inferences, &a, &b);
            bytes[r] = (b - a) * per_inference * (int64_t)sizeof *c->errors;
        }
        st = dp_dist_gather(d, c->errors, bytes, err);
        free(bytes);
    }
    for (int64_t k = 0; st == DP_OK && k < inferences; k++)
        for (int l = 0; l < A->n_layers; l++)
            for (int s = 0; c->probed[l] && s < A->seeds; s++)
                for (int m = 0; m < 2; m++)
                    c->sum[l][m] += c->errors[((k * A->n_layers + l) * A->seeds + s) * 2 + m];
    return st;
}

dp_status pass_noise_sensitivity(dpc_analog *A, dp_error *err)
{
    int64_t batch;
    const dp_program *p = dpc_program_for_runs(A, &batch);
    int64_t inferences = (PROBE_SAMPLES + batch - 1) / batch, chunks = A->chunks / batch;
    inferences = inferences < chunks ? inferences : chunks;
    probe_ctx c = {.A = A};
    dp_session *noisy[DPC_MAX_RUNNERS];
    c.noisy = noisy;
    dp_status st = dp_session_new(p, NULL, &c.clean, err);
    for (int s = 0; st == DP_OK && s < A->seeds; s++) {
        dp_runner *r;
        st = dpc_runner_for_runs(A, A->seed + (uint32_t)s, &r, err);
        if (st == DP_OK)
            noisy[s] = dp_runner_session(r);
    }
    if (st == DP_OK) {
        c.reps = calloc((size_t)p->n_instrs + 1, sizeof *c.reps);
        c.state = malloc(dp_session_state_bytes(c.clean));
        c.scale = output_scales(A);
        c.sum = calloc((size_t)A->n_layers + 1, sizeof *c.sum);
        c.out = calloc((size_t)p->n_outputs + 1, sizeof *c.out);
        c.in = calloc((size_t)p->n_inputs + 1, sizeof *c.in);
        c.errors = calloc((size_t)(inferences * A->n_layers * A->seeds * 2) + 1,
                          sizeof *c.errors);
        if (!c.reps || !c.state || !c.scale || !c.sum || !c.out || !c.in || !c.errors)
            st = dp_fail(err, DP_ENOMEM, "out of memory for the sensitivity pass");
    }
    bool *probed = calloc((size_t)A->n_layers + 1, sizeof *probed);
    if (st == DP_OK && !probed)
        st = dp_fail(err, DP_ENOMEM, "out of memory for the sensitivity pass");
    c.probed = probed;
    for (int l = 0; st == DP_OK && l < A->n_layers; l++) {
        A->layers[l].probe = probe_reps(A, &A->layers[l]);
        probed[l] = true;
    }
    for (int round = 0, left = A->n_layers; st == DP_OK && left > 0; round++) {
        if (st == DP_OK)
            st = probe_round(&c, p, inferences, err);
        left = 0;
        for (int l = 0; st == DP_OK && l < A->n_layers; l++) {
            if (!probed[l])
                continue;
            dpc_layer *L = &A->layers[l];
            double runs = (double)(inferences * batch * A->seeds);
            double at_probe = c.sum[l][0] / runs, at_inf = c.sum[l][1] / runs;
            L->floor_mse = at_inf;
            if (A->log) {
                dpc_log_stamp(A);
                fprintf(A->log, "sensitivity: %s: MSE %.3g at N_p = %d, %.3g at infinity\n",
                        L->name, at_probe, L->probe, at_inf);
            }
            L->sensitivity = dpc_sensitivity(L->probe, at_probe, at_inf);
            probed[l] = at_probe < PROBE_OVER_FLOOR * at_inf && L->probe > 1
                     && round < PROBE_RETRIES;
            if (probed[l]) {
                L->probe = L->probe > PROBE_STEP ? L->probe / PROBE_STEP : 1;
                c.sum[l][0] = c.sum[l][1] = 0;
                left++;
            }
        }
    }
    free(probed);
    /* the probes changed the runners' repetitions: give them back the program's own */
    for (int s = 0; s < A->seeds && st == DP_OK; s++)
        dp_analog_state_set_repetitions(dp_session_analog(noisy[s]), NULL);
    dp_session_free(c.clean);
    free(c.reps);
    free(c.state);
    free(c.scale);
    free(c.sum);
    free(c.errors);
    free(c.out);
    free(c.in);
    return st;
}
