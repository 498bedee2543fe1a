/*
 * schedule.c: the repetition count of every analog layer (analog-model.md section 5).
 *
 * Dynamic: the least energy sum_l c_l N_l with predicted MSE sum_l b_l / N_l <= T has
 * N_l = sqrt(b_l / c_l) * sum_k sqrt(b_k c_k) / T; layers pushed outside [1, N_max] are
 * clamped and the rest re-solved (KKT), counts are rounded (to powers of two where the device
 * wants them) and rounding is repaired greedily, by predicted MSE removed per joule, until
 * the prediction meets T again. T itself is chosen by measurement: a bisection on log T,
 * simulating the whole noisy network on the calibration set for every device instance,
 * keeps the largest T whose measured degradation meets the budget.
 *
 * Uniform: the least common N meeting the measured budget, by bisection on N; it is also
 * the baseline the dynamic schedule's energy is compared with. Fixed: N everywhere. Given:
 * each layer's N from an earlier compilation, measured but not searched.
 */
#include "analog_passes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Both searches stop when their interval is this ratio wide: 3% in N or T moves the
 * energy by about as much, well below the Monte Carlo error of a measurement. */
#define SEARCH_RATIO 1.03

/* The dynamic search's steps at most: from the surrogate's guess, octave steps until the
 * verdict turns (a few), then bisection down to SEARCH_RATIO (about 5 from an octave). */
#define LEVEL_STEPS 16

/* A rate's measurement looks at its first FIRST_LOOK samples, then at twice as many, and
 * so on, and stops once those put the rate EARLY_Z standard errors above the budget: a
 * schedule within the budget is then stopped early with a probability of at most
 * Phi(-4) = 3.2e-5 per look (testsuite/unit/test_schedule.c checks the rule's error rate
 * on Bernoulli streams). Schedules far over the budget, half of a bisection's, stop after
 * a fraction of the set. */
#define FIRST_LOOK 64
#define EARLY_Z 4.0

/* A schedule's measurement, averaged over the device instances: the budget's metric and
 * the fraction of discordant samples (dpc_discordance). */
typedef struct score {
    double metric, discordant;
    int64_t samples;             /* measured, fewer than the set's when stopped early */
} score;

typedef struct sched {
    dpc_analog *A;
    int32_t *reps;               /* per instruction, for the runners */
    int32_t *n;                  /* per layer */
    bool *free_;                 /* per layer, during the KKT re-solve */
    dp_tensor *out;
    score uniform;               /* the uniform baseline's measurement */
} sched;

static int32_t next_up(const dp_device *d, int32_t n)
{
    if (n >= d->max_repetitions)
        return n;
    return d->repetitions_power_of_two ? n * 2 : n + 1;
}

double dpc_predicted_mse(const dpc_layer *layers, int n_layers, const int32_t *n)
{
    double mse = 0;
    for (int l = 0; l < n_layers; l++)
        mse += layers[l].sensitivity / n[l] + layers[l].floor_mse;
    return mse;
}

static double energy_of(const dpc_analog *A, const int32_t *n)
{
    double e = 0;
    for (int l = 0; l < A->n_layers; l++) {
        dp_layer_work w = dp_mvm_work(A->prog->instrs[A->layers[l].instr].mvm, n[l]);
        e += dp_energy_layer(A->device, &w).total;
    }
    return e;
}

void dpc_allocate(const dpc_layer *layers, int n_layers, const dp_device *d, double T,
                  bool *free_, int32_t *n)
{
    double nmax = d->max_repetitions;
    double *x = calloc((size_t)n_layers + 1, sizeof *x);
    for (int l = 0; l < n_layers; l++)
        free_[l] = true;
    for (int round = 0; x && round <= n_layers; round++) {
        double S = 0, budget = T;
        for (int l = 0; l < n_layers; l++) {
            const dpc_layer *L = &layers[l];
            if (free_[l])
                S += sqrt(L->sensitivity * L->rep_energy_j);
            else
                budget -= L->sensitivity / x[l];
        }
        bool changed = false;
        for (int l = 0; l < n_layers; l++) {
            if (!free_[l])
                continue;
            const dpc_layer *L = &layers[l];
            double v = budget > 0 ? sqrt(L->sensitivity / L->rep_energy_j) * S / budget : nmax;
            if (v < 1 || v > nmax) {
                x[l] = v < 1 ? 1 : nmax;
                free_[l] = false;
                changed = true;
            } else {
                x[l] = v;
            }
        }
        if (!changed)
            break;
    }
    for (int l = 0; l < n_layers; l++)
        n[l] = x ? dpc_round_repetitions(d, x[l]) : d->max_repetitions;
    free(x);
    /* repair the rounding: most predicted MSE removed per joule first */
    double floor = 0;
    for (int l = 0; l < n_layers; l++)
        floor += layers[l].floor_mse;
    while (dpc_predicted_mse(layers, n_layers, n) - floor > T * (1 + 1e-9)) {
        int best = -1;
        double best_gain = 0;
        for (int l = 0; l < n_layers; l++) {
            int32_t up = next_up(d, n[l]);
            if (up == n[l])
                continue;
            const dpc_layer *L = &layers[l];
            double gain = (L->sensitivity / n[l] - L->sensitivity / up)
                        / (L->rep_energy_j * (up - n[l]));
            if (best < 0 || gain > best_gain) {
                best = l;
                best_gain = gain;
            }
        }
        if (best < 0)
            break;
        n[best] = next_up(d, n[best]);
    }
    for (int l = 0; l < n_layers; l++)
        DP_ASSERT(n[l] >= 1 && n[l] <= d->max_repetitions);
}

static void allocate(sched *s, double T)
{
    dpc_allocate(s->A->layers, s->A->n_layers, s->A->device, T, s->free_, s->n);
}

/* A fixed or given schedule within what the device runs: DP_EUSAGE naming the first layer
 * outside (the schedule came from the user, --schedule or the API). */
static dp_status check_limits(const dpc_analog *A, const int32_t *n, dp_error *err)
{
    const dp_device *d = A->device;
    for (int l = 0; l < A->n_layers; l++)
        if (!dp_device_repetitions_ok(d, n[l]))
            return dp_fail(err, A->kind == DPC_SCHEDULE_GIVEN ? DP_EINPUT : DP_EUSAGE,
                           "the schedule gives layer '%s' %d repetitions, but the "
                           "device '%s' runs 1 to %d%s", A->layers[l].name, n[l], d->name,
                           d->max_repetitions,
                           d->repetitions_power_of_two ? ", powers of two only" : "");
    return DP_OK;
}

/* The metrics that are rates over samples, with a sampling error (the rest have none). */
static bool is_rate(dpc_metric m)
{
    return m == DPC_TOP1 || m == DPC_ACCURACY;
}

bool dpc_settled_over(dpc_metric metric, double rate, double discordant, int64_t samples,
                      double budget)
{
    if (!is_rate(metric))
        return false;
    double var = metric == DPC_ACCURACY ? discordant - rate * rate : rate * (1 - rate);
    return rate - EARLY_Z * sqrt(fmax(var, 0) / (double)samples) > budget;
}

/* Measures schedule s->n on every device instance; where may_stop, a rate may stop early
 * (FIRST_LOOK). The first measurement of a search must run the whole set. */
static dp_status measure(sched *s, bool may_stop, score *out, dp_error *err)
{
    dpc_analog *A = s->A;
    for (int l = 0; l < A->n_layers; l++)
        s->reps[A->layers[l].instr] = s->n[l];
    int64_t per_chunk = A->samples / A->chunks, done = 0;
    int64_t look = may_stop ? (FIRST_LOOK + per_chunk - 1) / per_chunk : A->chunks;
    double sum_m = 0, sum_q = 0;
    while (done < A->chunks) {
        int64_t upto = look < A->chunks ? look : A->chunks;
        for (int k = 0; k < A->seeds; k++) {
            double m, q;
            dp_status st = dpc_measure(A, s->reps, A->seed + (uint32_t)k, done, upto, s->out,
                                       &m, &q, err);
            if (st != DP_OK)
                return st;
            sum_m += m * (double)(upto - done);
            sum_q += q * (double)(upto - done);
        }
        done = upto;
        look *= 2;
        double runs = (double)done * A->seeds;
        *out = (score){sum_m / runs, sum_q / runs, done * per_chunk};
        if (dpc_settled_over(A->metric, out->metric, out->discordant, out->samples, A->budget))
            break;
    }
    return DP_OK;
}

/*
 * The sampling error of a rate measured on n calibration samples. Which inputs are fragile
 * varies more from one data set to the next than the noise does between device instances,
 * so n counts samples, not noisy runs. Each sample's verdict x_i has, at the budget p, the
 * variance p (1 - p) for a top-1 disagreement (x_i in {0, 1}), and q - p^2 for an accuracy
 * drop (x_i in {-1, 0, 1}, q the fraction of discordant samples): noise that fixes some
 * samples while it breaks others adds to the error although not to the drop. The error of
 * the mean is sqrt(variance / n).
 */
static double sampling_error(const dpc_analog *A, double discordant)
{
    double n = (double)A->samples, p = A->budget;
    double var = A->metric == DPC_ACCURACY ? fmax(discordant, p) - p * p : p * (1 - p);
    return sqrt(fmax(var, 0) / n);
}

/*
 * Whether a measurement meets the budget: by a margin for its sampling error, so that a
 * schedule at the edge is not accepted on a lucky calibration set and then miss the budget
 * on new data. The error has a floor, sqrt(p (1 - p) / n), the least any schedule at the
 * budget shows; a sloppy schedule (an accuracy drop that is the difference of many broken
 * and fixed samples) adds to it. Where the floor exceeds half of what the device's maximum
 * precision leaves, (p - m_max) / 2, the set is too small to verify the budget: the floor's
 * part of the margin is capped there (A->margin_cap), while the sloppy part stays. Asking
 * the full floor would make every schedule match the maximum, at its energy, and still
 * verify nothing; dropping the margin, as dpcc once did, made a looser budget ask for a
 * smaller measurement than a tighter one. With the cap the accepted measurement grows with
 * the budget, continuously.
 */
static double sampling_floor(const dpc_analog *A)
{
    return sqrt(A->budget * (1 - A->budget) / (double)A->samples);
}

static double margin(const dpc_analog *A, double discordant)
{
    double floor = sampling_floor(A);
    return sampling_error(A, discordant) - floor + fmin(floor, A->margin_cap);
}

static bool meets(const dpc_analog *A, score s)
{
    if (!(s.metric <= A->budget))
        return false;
    if (!is_rate(A->metric))
        return true;
    return s.metric + margin(A, s.discordant) <= A->budget;
}

static bool margin_capped(const dpc_analog *A)
{
    return is_rate(A->metric) && sampling_floor(A) > A->margin_cap;
}

static void set_all(sched *s, int32_t n)
{
    for (int l = 0; l < s->A->n_layers; l++)
        s->n[l] = n;
}

/* The budget is out of reach: name the layers whose irreducible errors weigh most. */
static dp_status unreachable(sched *s, double at_max, dp_error *err)
{
    dpc_analog *A = s->A;
    char names[700] = "";
    size_t used = 0;
    bool *taken = calloc((size_t)A->n_layers + 1, sizeof *taken);
    for (int pick = 0; taken && pick < 3 && pick < A->n_layers; pick++) {
        int best = -1;
        for (int l = 0; l < A->n_layers; l++)
            if (!taken[l] && (best < 0 || A->layers[l].floor_mse > A->layers[best].floor_mse))
                best = l;
        taken[best] = true;
        const dp_mvm *m = A->prog->instrs[A->layers[best].instr].mvm;
        dp_adc_counts c = A->layers[best].counts;
        used += (size_t)snprintf(names + used, used < sizeof names ? sizeof names - used : 0,
                                 "%s'%s' (floor MSE %.3g, %d/%d/%d-bit DAC/weights/ADC, %.2g%% "
                                 "of conversions clipped)", pick ? ", " : "", A->layers[best].name,
                                 A->layers[best].floor_mse, m->dac_bits, m->weight_bits, m->adc_bits,
                                 c.conversions ? 100.0 * (double)c.clipped / (double)c.conversions : 0.0);
    }
    free(taken);
    /* without dynamic noise: is it the floor, or too little light even at N_max? */
    for (int l = 0; l < A->n_layers; l++)
        s->reps[A->layers[l].instr] = DP_REPS_NOISELESS;
    double floor = 0, m;
    for (int k = 0; k < A->seeds; k++) {
        dp_status st = dpc_measure(A, s->reps, A->seed + (uint32_t)k, 0, A->chunks, s->out, &m, NULL, err);
        if (st != DP_OK)
            return st;
        floor += m / A->seeds;
    }
    const char *data = A->synthetic ? " (calibrated on synthetic inputs: give --calib real data, "
                                      "whose outputs are less ambiguous)" : "";
    if (floor <= A->budget)
        return dp_fail(err, DP_EBUDGET, "no schedule meets %s <= %g: even %d %s everywhere "
                       "measure %s = %.4g; the converters alone would allow %.4g, so the "
                       "device's light is too weak for this budget: raise photons_per_mac or "
                       "repetitions.max in its profile, or loosen the budget%s",
                       dpc_metric_name(A->metric), A->budget, A->device->max_repetitions,
                       A->device->precision == DP_PRECISION_PHOTONS ? "steps of light"
                                                                    : "repetitions",
                       dpc_metric_name(A->metric), at_max, floor, data);
    return dp_fail(err, DP_EBUDGET, "no schedule meets %s <= %g: even with no noise left the "
                   "converters and static weight errors measure %s = %.4g, and repetition "
                   "cannot remove them; the largest such errors are in %s. Loosen the budget, or "
                   "use a device with more DAC, weight or ADC bits or smaller static errors%s",
                   dpc_metric_name(A->metric), A->budget, dpc_metric_name(A->metric), floor,
                   names, data);
}

/* Appends how much of the set a measurement ran, when it stopped early. */
static void log_stop(const dpc_analog *A, score m)
{
    if (m.samples < A->samples)
        fprintf(A->log, " (stopped after %lld of %lld samples)", (long long)m.samples,
                (long long)A->samples);
}

/*
 * The least common N meeting the budget (to within SEARCH_RATIO), or max repetitions if none
 * does: bisection on log N, since the degradation falls about as a power of N.
 */
static dp_status uniform(sched *s, int32_t *best, score *best_score, dp_error *err)
{
    const dp_device *d = s->A->device;
    int32_t lo = 1, hi = d->max_repetitions;
    score m;
    set_all(s, lo);
    dp_status st = measure(s, true, &m, err);
    if (st != DP_OK)
        return st;
    if (meets(s->A, m)) {
        *best = lo;
        *best_score = m;
        return DP_OK;
    }
    *best = hi;
    best_score->metric = NAN;
    while (st == DP_OK && next_up(d, lo) < hi && hi > SEARCH_RATIO * lo) {
        int32_t mid = d->repetitions_power_of_two
                    ? (int32_t)1 << ((int)log2(lo) + (int)log2(hi) + 1) / 2
                    : (int32_t)lround(sqrt((double)lo * hi));
        if (mid <= lo || mid >= hi)
            break;
        set_all(s, mid);
        st = measure(s, true, &m, err);
        if (s->A->log && st == DP_OK) {
            dpc_log_stamp(s->A);
            fprintf(s->A->log, "uniform: N %d measured %s %.4g", mid,
                    dpc_metric_name(s->A->metric), m.metric);
            log_stop(s->A, m);
            fputc('\n', s->A->log);
        }
        if (st == DP_OK && meets(s->A, m)) {
            hi = mid;
            *best = mid;
            *best_score = m;
        } else {
            lo = mid;
        }
        if (s->A->progress)
            s->A->progress(s->A->progress_ctx, "uniform baseline", 0.5);
    }
    if (st == DP_OK && isnan(best_score->metric)) {
        set_all(s, *best);
        st = measure(s, false, best_score, err);
    }
    return st;
}

/* Keeps s->n as *best when it meets the budget with less energy than *best. */
static void keep_if_better(sched *s, score m, int32_t *best, score *best_score)
{
    const dpc_analog *A = s->A;
    if (!meets(A, m))
        return;
    if (isnan(best_score->metric) || energy_of(A, s->n) < energy_of(A, best)) {
        memcpy(best, s->n, sizeof *best * (size_t)A->n_layers);
        *best_score = m;
    }
}

/*
 * The caller has measured that N_max everywhere meets the budget, and that the uniform
 * schedule of A->uniform_reps does (at A->uniform_measured): the search starts from it, so
 * the dynamic schedule never costs more than the uniform one.
 *
 * The search is on log T, within [sum b / N_max, sum b]. Its first guess is the surrogate's:
 * the T of the uniform schedule, whose predicted MSE the allocation matches with less
 * energy. From there it steps an octave at a time, up while schedules meet the budget and
 * down while they do not, until the verdict turns, then bisects to SEARCH_RATIO.
 */
static dp_status dynamic(sched *s, dp_error *err)
{
    dpc_analog *A = s->A;
    double sum_b = 0;
    score m, best_score = s->uniform;
    for (int l = 0; l < A->n_layers; l++)
        sum_b += A->layers[l].sensitivity;
    int32_t *best = calloc((size_t)A->n_layers + 1, sizeof *best);
    if (!best)
        return dp_fail(err, DP_ENOMEM, "out of memory");
    for (int l = 0; l < A->n_layers; l++)
        best[l] = A->uniform_reps;
    /* uniform at N = 1 meets the budget: nothing is cheaper */
    bool done = A->uniform_reps == 1, met = false, missed = false;
    dp_status st = DP_OK;
    double lo = log(sum_b / A->device->max_repetitions), hi = log(sum_b);
    double t = fmin(fmax(log(sum_b / A->uniform_reps), lo), hi);
    for (int step = 0; st == DP_OK && !done && step < LEVEL_STEPS && hi - lo > log(SEARCH_RATIO);
         step++) {
        double T = exp(t);
        allocate(s, T);
        if ((st = measure(s, true, &m, err)) != DP_OK)
            break;
        keep_if_better(s, m, best, &best_score);
        if (A->log) {
            dpc_log_stamp(A);
            fprintf(A->log, "schedule: T %.3g, predicted MSE %.3g, %.3g J, measured %s %.4g", T,
                    dpc_predicted_mse(A->layers, A->n_layers, s->n), energy_of(A, s->n),
                    dpc_metric_name(A->metric), m.metric);
            log_stop(A, m);
            fputs(", N:", A->log);
            for (int l = 0; l < A->n_layers; l++)
                fprintf(A->log, " %d", s->n[l]);
            fputc('\n', A->log);
        }
        bool ok = meets(A, m);
        if (ok)
            lo = t;
        else
            hi = t;
        met |= ok;
        missed |= !ok;
        t = ok ? t + M_LN2 : t - M_LN2;
        if ((met && missed) || !(t > lo && t < hi))
            t = 0.5 * (lo + hi);
        if (A->progress)
            A->progress(A->progress_ctx, "schedule", (double)(step + 1) / LEVEL_STEPS);
    }
    /* the search stops when it is narrow enough, mostly before LEVEL_STEPS */
    if (A->progress && st == DP_OK)
        A->progress(A->progress_ctx, "schedule", 1.0);
    if (st == DP_OK) {
        memcpy(s->n, best, sizeof *best * (size_t)A->n_layers);
        A->measured = best_score.metric;
        A->margin_capped = margin_capped(A);
        A->predicted_mse = dpc_predicted_mse(A->layers, A->n_layers, best);
    }
    free(best);
    return st;
}

dp_status pass_schedule(dpc_analog *A, dp_error *err)
{
    sched s = {.A = A};
    A->margin_cap = INFINITY;
    s.reps = calloc((size_t)A->prog->n_instrs + 1, sizeof *s.reps);
    s.n = calloc((size_t)A->n_layers + 1, sizeof *s.n);
    s.free_ = calloc((size_t)A->n_layers + 1, sizeof *s.free_);
    s.out = dp_arena_calloc(A->mem, (size_t)A->prog->n_outputs + 1, sizeof *s.out);
    dp_status st = DP_OK;
    if (!s.reps || !s.n || !s.free_ || !s.out)
        st = dp_fail(err, DP_ENOMEM, "out of memory for the schedule");
    for (int l = 0; st == DP_OK && l < A->n_layers; l++) {
        const dp_mvm *mv = A->prog->instrs[A->layers[l].instr].mvm;
        dp_layer_work w1 = dp_mvm_work(mv, 1), w2 = dp_mvm_work(mv, 2);
        A->layers[l].rep_energy_j = dp_energy_layer(A->device, &w2).total
                                  - dp_energy_layer(A->device, &w1).total;
        if (!(A->layers[l].rep_energy_j > 0))
            A->layers[l].rep_energy_j = 1e-30;
    }
    score m = {0, 0, 0};
    if (st == DP_OK && (A->kind == DPC_SCHEDULE_FIXED || A->kind == DPC_SCHEDULE_GIVEN)) {
        set_all(&s, A->fixed_reps);
        for (int l = 0; A->kind == DPC_SCHEDULE_GIVEN && l < A->n_layers; l++)
            s.n[l] = A->given_reps[A->layers[l].instr];
        st = check_limits(A, s.n, err);
        if (st == DP_OK)
            st = measure(&s, false, &m, err);
        A->measured = m.metric;
        A->predicted_mse = dpc_predicted_mse(A->layers, A->n_layers, s.n);
        /* nothing was searched, but the user should know when the schedule breaks it */
        A->budget_unmet = st == DP_OK && !(A->measured <= A->budget);
    } else if (st == DP_OK) {
        /* can any schedule meet the budget? */
        set_all(&s, A->device->max_repetitions);
        st = measure(&s, false, &m, err);
        for (int l = 0; st == DP_OK && l < A->n_layers; l++)
            A->layers[l].counts = dpc_measured_counts(A, A->seed, A->layers[l].instr);
        /* the most precise schedule within the budget reaches it: the margin's floor is
         * capped at half of what it leaves (meets) */
        if (st == DP_OK && m.metric <= A->budget)
            A->margin_cap = (A->budget - m.metric) / 2;
        /* the default budget gives way to the best the device does; the user's does not */
        bool out_of_reach = st == DP_OK && !(m.metric <= A->budget);
        A->budget_unmet = out_of_reach && !A->budget_given;
        if (out_of_reach && A->budget_given)
            st = unreachable(&s, m.metric, err);
        if (st == DP_OK && A->budget_unmet) {
            A->measured = A->uniform_measured = m.metric;
            A->uniform_reps = A->device->max_repetitions;
            A->uniform_energy_j = energy_of(A, s.n);
            A->predicted_mse = dpc_predicted_mse(A->layers, A->n_layers, s.n);
        } else if (st == DP_OK) {
            st = uniform(&s, &A->uniform_reps, &s.uniform, err);
            A->uniform_measured = s.uniform.metric;
        }
        if (st == DP_OK && !A->budget_unmet) {
            int32_t *un = s.n;
            set_all(&s, A->uniform_reps);
            A->uniform_energy_j = energy_of(A, un);
            if (A->kind == DPC_SCHEDULE_UNIFORM) {
                A->measured = A->uniform_measured;
                A->margin_capped = margin_capped(A);
                A->predicted_mse = dpc_predicted_mse(A->layers, A->n_layers, s.n);
            } else {
                st = dynamic(&s, err);
            }
        }
    }
    for (int l = 0; st == DP_OK && l < A->n_layers; l++) {
        A->layers[l].repetitions = s.n[l];
        A->prog->instrs[A->layers[l].instr].mvm->repetitions = s.n[l];
        s.reps[A->layers[l].instr] = s.n[l];
    }
    /* the ADC counts of the chosen schedule on the first device instance, for the report */
    if (st == DP_OK)
        st = dpc_measure(A, s.reps, A->seed, 0, A->chunks, s.out, &m.metric, NULL, err);
    for (int l = 0; st == DP_OK && l < A->n_layers; l++)
        A->layers[l].counts = dpc_measured_counts(A, A->seed, A->layers[l].instr);
    free(s.reps);
    free(s.n);
    free(s.free_);
    return st;
}
