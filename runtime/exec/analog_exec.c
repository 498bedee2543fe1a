/*
 * analog_exec.c: the analog instructions of a noisy (or calibrating) session.
 *
 * A kernel's product C = alpha op(A) op(B) + beta C is mapped onto the core as
 * Y (outputs x vectors) = W (outputs x fan-in) X (fan-in x vectors): for Conv the weights
 * are op(A) and Y is C itself; for Gemm and MatMul the weights are op(B)^T, the vectors are
 * the rows of op(A), and Y is C transposed. Constant weights are programmed once into a
 * bank that sessions can share, one slot per output-channel block (a Conv group), keyed by the layer's channel
 * numbering so every channel has its own static errors and noise. An activation x
 * activation product (attention) programs its "weights" on every call, without static
 * errors: both operands are light, nothing stays in the modulators.
 *
 * Scratch comes from one buffer per state that grows to the largest product seen, so a
 * steady-state inference allocates nothing.
 */
#include "analog_exec.h"

#include "gemm.h"
#include "kernel_util.h"
#include "philox.h"

#include <float.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct layer_state {
    dp_adc_counts counts;
} layer_state;

typedef struct bank_layer {
    dp_analog_weights **slots;   /* programmed weights per output-channel block */
    int64_t n_slots;
} bank_layer;

/*
 * The weights as programmed into the device, per instruction and slot, programmed on first
 * use. Sessions running in parallel share one bank, so a large model's weights are held
 * once; the lock covers finding or programming a slot, once per product call, not per
 * element.
 */
struct dp_analog_bank {
    const dp_program *prog;
    bank_layer *layers;
    dp_arena mem;
    pthread_mutex_t lock;
};

dp_status dp_analog_bank_new(const dp_program *prog, dp_analog_bank **out, dp_error *err)
{
    dp_analog_bank *b = calloc(1, sizeof *b);
    if (b)
        b->layers = calloc((size_t)prog->n_instrs + 1, sizeof *b->layers);
    if (!b || !b->layers) {
        free(b);
        *out = NULL;
        return dp_fail(err, DP_ENOMEM, "out of memory");
    }
    b->prog = prog;
    dp_arena_init(&b->mem, 0);
    pthread_mutex_init(&b->lock, NULL);
    *out = b;
    return DP_OK;
}

void dp_analog_bank_free(dp_analog_bank *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->prog->n_instrs; i++)
        free(b->layers[i].slots);
    free(b->layers);
    dp_arena_free(&b->mem);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

struct dp_analog_state {
    dp_analog_hook hook;         /* first: the kernels' handle is the state itself */
    const dp_program *prog;
    dp_analog_config cfg;
    int32_t *reps;               /* per instruction */
    layer_state *layers;         /* per instruction */
    dp_analog_bank *bank;        /* the weights as programmed */
    bool own_bank;
    dp_arena per_call;           /* weights of activation x activation products */
    int instr;                   /* the instruction running */
    uint64_t inference;
    unsigned char *scratch;
    size_t scratch_cap;
};

dp_analog_params dp_analog_instr_params(const dp_program *prog, const dp_mvm *m, uint32_t seed,
                                        int32_t repetitions)
{
    const dp_device *d = prog->device;
    int64_t n = repetitions > 0 ? repetitions : 1;
    dp_analog_params p = {
        .dac_bits = m->dac_bits, .weight_bits = m->weight_bits, .adc_bits = m->adc_bits,
        .repetitions = dp_device_passes(d, n),
        .photons_per_mac = d->shot_noise ? dp_device_photons_per_mac(d, n) : 0,
        .shot_full_scale = d->shot_model == DP_SHOT_FULL_SCALE,
        .thermal_mac = d->thermal_model == DP_THERMAL_MAC,
        .adc_average = d->adc_mode == DP_ADC_AVERAGE, .dac_unsigned = m->input_unsigned,
        .thermal_std = d->thermal_std, .weight_noise_std = d->weight_noise_std,
        .input_noise_std = d->input_noise_std, .static_weight_std = d->static_weight_std,
        .distortion_k3 = d->distortion_k3, .core_cols = m->core_cols, .seed = seed};
    return repetitions == DP_REPS_NOISELESS ? dp_analog_without_noise(&p) : p;
}

dp_status dp_analog_state_new(const dp_program *prog, const dp_analog_config *cfg,
                              dp_analog_state **out, dp_error *err)
{
    *out = NULL;
    if (!prog->device)
        return dp_fail(err, DP_EINPUT, "the program carries no device profile: it can only run "
                       "--ideal (recompile it with this dpcc)");
    for (int i = 0; i < prog->n_instrs; i++) {
        const dp_instr *ins = &prog->instrs[i];
        if (ins->mvm && !cfg->pre_adc && (!(ins->mvm->input_scale > 0) || ins->mvm->n_output_scale == 0))
            return dp_fail(err, DP_EINPUT, "instruction %d (%s '%s') has no calibrated full "
                           "scales: it can only run --ideal (compile with dpcc, which "
                           "calibrates)", i, ins->op, ins->name);
    }
    dp_analog_state *a = calloc(1, sizeof *a);
    if (!a)
        return dp_fail(err, DP_ENOMEM, "out of memory");
    a->reps = calloc((size_t)prog->n_instrs + 1, sizeof *a->reps);
    a->layers = calloc((size_t)prog->n_instrs + 1, sizeof *a->layers);
    if (!a->reps || !a->layers) {
        dp_analog_state_free(a);
        return dp_fail(err, DP_ENOMEM, "out of memory");
    }
    a->prog = prog;
    a->cfg = *cfg;
    a->cfg.repetitions = NULL;
    dp_analog_state_set_repetitions(a, cfg->repetitions);
    a->bank = cfg->bank;
    if (!a->bank) {
        dp_status st = dp_analog_bank_new(prog, &a->bank, err);
        if (st != DP_OK) {
            dp_analog_state_free(a);
            return st;
        }
        a->own_bank = true;
    }
    dp_arena_init(&a->per_call, 0);
    *out = a;
    return DP_OK;
}

void dp_analog_state_free(dp_analog_state *a)
{
    if (!a)
        return;
    if (a->own_bank)
        dp_analog_bank_free(a->bank);
    free(a->layers);
    free(a->reps);
    dp_arena_free(&a->per_call);
    free(a->scratch);
    free(a);
}

dp_adc_counts dp_analog_state_counts(const dp_analog_state *a, int instr)
{
    return a->layers[instr].counts;
}

void dp_analog_state_set_repetitions(dp_analog_state *a, const int32_t *repetitions)
{
    for (int i = 0; i < a->prog->n_instrs; i++) {
        const dp_mvm *m = a->prog->instrs[i].mvm;
        a->reps[i] = !m ? DP_REPS_IDEAL : repetitions ? repetitions[i] : m->repetitions;
        a->layers[i].counts = (dp_adc_counts){0, 0};
    }
}

static dp_status run_product_on_core(dp_analog_hook *h, dp_kctx *k, const dp_product *p);

dp_analog_hook *dp_analog_state_hook(dp_analog_state *a, int instr, uint64_t inference)
{
    if (!a->prog->instrs[instr].mvm || (a->reps[instr] == DP_REPS_IDEAL && !a->cfg.pre_adc))
        return NULL;
    a->hook.product = run_product_on_core;
    /* calibration records the pre-ADC values of matrices, and runs the exact product too */
    a->hook.takes_planes = !a->cfg.pre_adc;
    a->instr = instr;
    a->inference = inference;
    dp_arena_reset(&a->per_call);
    return &a->hook;
}

/* Carves n 64-byte aligned sections of the given sizes out of the state's scratch. */
static dp_status take_scratch(dp_analog_state *a, dp_kctx *k, int n, const size_t *bytes,
                              void **parts)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += (bytes[i] + 63) & ~(size_t)63;
    if (total > a->scratch_cap) {
        free(a->scratch);
        a->scratch = aligned_alloc(64, total);
        a->scratch_cap = a->scratch ? total : 0;
        if (!a->scratch)
            return dp_kfail(k, DP_ENOMEM, "out of memory for %zu bytes of analog scratch", total);
    }
    unsigned char *q = a->scratch;
    for (int i = 0; i < n; i++) {
        parts[i] = bytes[i] ? q : NULL;
        q += (bytes[i] + 63) & ~(size_t)63;
    }
    return DP_OK;
}

/* The product in the core's orientation. */
typedef struct oriented {
    int64_t outputs, vectors, fan_in;
    const float *W;              /* outputs x fan_in, stride ldw; NULL: transposed copy needed */
    int64_t ldw;
    const float *X;              /* fan_in x vectors, stride ldx; NULL: transposed copy needed */
    int64_t ldx;
    float *Y;                    /* outputs x vectors into C directly; NULL: via scratch */
} oriented;

static oriented orient(const dp_product *p)
{
    oriented o = {0};
    o.fan_in = p->K;
    if (p->weights_in_a) {
        o.outputs = p->M;
        o.vectors = p->N;
        if (!p->ta) {
            o.W = p->A;
            o.ldw = p->lda;
        }
        if (!p->tb) {
            o.X = p->B;
            o.ldx = p->ldb;
        }
        if (p->alpha == 1 && p->beta == 0)
            o.Y = p->C;
    } else {
        o.outputs = p->N;
        o.vectors = p->M;
        if (p->tb) {
            o.W = p->B;
            o.ldw = p->ldb;
        }
        if (p->ta) {
            o.X = p->A;
            o.ldx = p->lda;
        }
    }
    return o;
}

/* The weight matrix in the core's orientation, transposed into buf when it must be. */
static const float *weights_of(const dp_product *p, const oriented *o, float *buf, int64_t *ldw)
{
    if (o->W) {
        *ldw = o->ldw;
        return o->W;
    }
    if (p->weights_in_a) /* ta: A is K x M */
        dp_transpose(p->A, p->lda, p->K, p->M, buf, p->K);
    else                 /* !tb: B is K x N */
        dp_transpose(p->B, p->ldb, p->K, p->N, buf, p->K);
    *ldw = o->fan_in;
    return buf;
}

static dp_status programmed_weights(dp_analog_state *a, dp_kctx *k, const dp_product *p,
                                    const oriented *o, const dp_analog_params *prm,
                                    dp_analog_weights **w)
{
    int64_t ldw;
    /* the partitioner marks the weight input (always input 1) when it is a constant */
    if (!p->weights_fixed || a->prog->instrs[a->instr].mvm->weight_input != 1) {
        float *buf = o->W ? NULL : dp_arena_alloc(&a->per_call,
                                                  (size_t)(o->outputs * o->fan_in) * sizeof(float));
        if (!o->W && !buf)
            return dp_kfail(k, DP_ENOMEM, "out of memory for the product's operand");
        const float *W = weights_of(p, o, buf, &ldw);
        dp_analog_params dyn = *prm;
        dyn.static_weight_std = 0;
        return dp_analog_prepare(&dyn, (uint32_t)a->instr, (uint32_t)p->channel0, o->outputs,
                                 o->fan_in, W, ldw, NULL, &a->per_call, w, k->err);
    }
    const dp_mvm *m = a->prog->instrs[a->instr].mvm;
    if (m->n_weight_scale > 0 && p->channel0 + o->outputs > m->n_weight_scale)
        return dp_kfail(k, DP_EINPUT, "%d weight full scales for output channels up to %lld",
                        m->n_weight_scale, (long long)(p->channel0 + o->outputs));
    const float *scale = m->n_weight_scale > 0 ? m->weight_scale + p->channel0 : NULL;
    int64_t slot = o->outputs > 0 ? p->channel0 / o->outputs : 0;
    dp_analog_bank *b = a->bank;
    bank_layer *L = &b->layers[a->instr];
    dp_status st = DP_OK;
    pthread_mutex_lock(&b->lock);
    if (slot >= L->n_slots) {
        int64_t n = slot + 1;
        dp_analog_weights **s = realloc(L->slots, (size_t)n * sizeof *s);
        if (s) {
            memset(s + L->n_slots, 0, (size_t)(n - L->n_slots) * sizeof *s);
            L->slots = s;
            L->n_slots = n;
        } else {
            st = dp_kfail(k, DP_ENOMEM, "out of memory");
        }
    }
    if (st == DP_OK && !L->slots[slot]) {
        float *buf = NULL;
        if (!o->W && !(buf = malloc((size_t)(o->outputs * o->fan_in) * sizeof(float) + 1)))
            st = dp_kfail(k, DP_ENOMEM, "out of memory programming the weights");
        else {
            const float *W = weights_of(p, o, buf, &ldw);
            st = dp_analog_prepare(prm, (uint32_t)a->instr, (uint32_t)p->channel0, o->outputs,
                                   o->fan_in, W, ldw, scale, &b->mem, &L->slots[slot], k->err);
        }
        free(buf);
    }
    if (st == DP_OK) {
        *w = L->slots[slot];
        /* A depthwise layer asks for its channels in order, each a few cache lines apart
         * from the last in the bank's arena: the next channel's lines, fetched while this
         * one runs, cost MobileNetV2's noisy run a miss each otherwise. */
        if (slot + 2 < L->n_slots && L->slots[slot + 2])
            __builtin_prefetch(L->slots[slot + 2]);
        if (slot + 1 < L->n_slots && L->slots[slot + 1])
            dp_analog_prefetch(L->slots[slot + 1]);
    }
    pthread_mutex_unlock(&b->lock);
    return st;
}

/* One part of a noisy product split over threads: its own columns, scratch and error. */
typedef struct analog_part {
    const dp_analog_weights *w;
    const dp_analog_params *prm;
    dp_analog_call call;
    int64_t P;
    const float *X;
    int64_t ldx;
    const dp_analog_planes *planes; /* instead of X: columns q0.. of this window's matrix */
    int64_t q0;
    float *Y;
    int64_t ldy;
    void *scratch;
    int64_t clipped;
    dp_status st;
    dp_error err;
} analog_part;

static void run_analog_part(void *ctx, int i)
{
    analog_part *t = (analog_part *)ctx + i;
    if (t->planes)
        t->st = dp_analog_run_planes(t->w, t->prm, &t->call, t->planes, t->q0, t->P, t->Y,
                                     t->scratch, &t->clipped, &t->err);
    else
        t->st = dp_analog_run(t->w, t->prm, &t->call, t->P, t->X, t->ldx, t->Y, t->ldy,
                              t->scratch, &t->clipped, &t->err);
}

/* The parts' results: the first error, or the clip count added up. */
static dp_status gather_parts(dp_kctx *k, const analog_part *ap, int parts, int64_t *clipped)
{
    *clipped = 0;
    for (int i = 0; i < parts; i++) {
        if (ap[i].st != DP_OK) {
            *k->err = ap[i].err;
            return ap[i].st;
        }
        *clipped += ap[i].clipped;
    }
    return DP_OK;
}

/*
 * A depthwise channel's product read straight from its input plane (dp_analog_run_planes),
 * its columns split over the threads as a matrix's are: each part quantises the plane for
 * itself, still a ninth of what the matrix would hold.
 */
static dp_status planes_product(dp_analog_state *a, dp_kctx *k, const dp_product *p,
                                const dp_analog_weights *w, const dp_analog_params *prm,
                                const dp_analog_call *call)
{
    if (p->M != 1 || p->K != 9 || p->alpha != 1 || p->beta != 0 || !p->weights_in_a)
        return dp_kfail(k, DP_EINTERNAL, "a window's product of another shape");
    int64_t bounds[DP_MAX_PARTS + 1], widest;
    int parts = dp_parallel_split(k->parallel, 9.0 * (double)p->N, p->N, DP_NOISE_BLOCK,
                                  bounds, &widest);
    size_t each = (dp_analog_planes_scratch_size(p->planes, widest) + 63) / 64 * 64;
    size_t bytes = each * (size_t)parts;
    void *scratch = NULL;
    dp_status st = take_scratch(a, k, 1, &bytes, &scratch);
    if (st != DP_OK)
        return st;
    analog_part ap[DP_MAX_PARTS];
    for (int i = 0; i < parts; i++) {
        int64_t q0 = bounds[i];
        ap[i] = (analog_part){.w = w, .prm = prm, .call = *call, .P = bounds[i + 1] - q0,
                              .planes = p->planes, .q0 = q0, .Y = p->C + q0,
                              .scratch = (char *)scratch + each * (size_t)i};
        ap[i].call.col0 += (uint64_t)q0;
    }
    if (parts == 1)
        run_analog_part(ap, 0);
    else
        k->parallel->run(k->parallel, parts, run_analog_part, ap);
    int64_t clipped;
    if ((st = gather_parts(k, ap, parts, &clipped)) != DP_OK)
        return st;
    a->layers[a->instr].counts.conversions += w->tiles * p->N;
    a->layers[a->instr].counts.clipped += clipped;
    return DP_OK;
}

/* The core's outputs Y (its orientation, rows ldy apart) into the product's C, as alpha, beta
 * and the product's orientation ask. */
static void store_outputs(const dp_product *p, const float *Y, int64_t ldy)
{
    if (!p->weights_in_a && p->alpha == 1 && p->beta == 0) {
        dp_transpose(Y, ldy, p->N, p->M, p->C, p->ldc);
        return;
    }
    for (int64_t i = 0; i < p->M; i++)
        for (int64_t j = 0; j < p->N; j++) {
            float y = p->weights_in_a ? Y[i * ldy + j] : Y[j * ldy + i];
            float *c = &p->C[i * p->ldc + j];
            *c = p->alpha * y + (p->beta == 0 ? 0 : p->beta * *c);
        }
}

/*
 * A matrix operand's product on the core, its columns split over the threads: their noise is
 * keyed by the global column, so the parts give the same bits as the whole; a part per whole
 * noise block. Calibration records every part's pre-ADC values in one layout, so it stays
 * whole.
 */
static dp_status matrix_product(dp_analog_state *a, dp_kctx *k, const dp_product *p,
                                const oriented *o, const dp_analog_weights *w,
                                const dp_analog_params *prm, const dp_analog_call *core_call)
{
    bool calibrating = a->cfg.pre_adc != NULL;
    int64_t tiles = w->tiles;
    int64_t bounds[DP_MAX_PARTS + 1], widest;
    int parts = dp_parallel_split(calibrating ? NULL : k->parallel,
                                  (double)o->outputs * (double)o->vectors * (double)o->fan_in,
                                  o->vectors, DP_NOISE_BLOCK, bounds, &widest);
    size_t each = (dp_analog_scratch_size(w, widest) + 63) / 64 * 64;
    size_t bytes[4] = {
        o->X ? 0 : (size_t)(o->fan_in * o->vectors) * sizeof(float),
        o->Y && !calibrating ? 0 : (size_t)(o->outputs * o->vectors) * sizeof(float),
        each * (size_t)parts,
        calibrating ? (size_t)(tiles * o->outputs * o->vectors) * sizeof(float) : 0};
    void *part[4];
    dp_status st = take_scratch(a, k, 4, bytes, part);
    if (st != DP_OK)
        return st;
    const float *X = o->X;
    int64_t ldx = o->ldx;
    if (!X) {
        if (p->weights_in_a) /* tb: B is N x K */
            dp_transpose(p->B, p->ldb, p->N, p->K, part[0], p->N);
        else                 /* !ta: A is M x K */
            dp_transpose(p->A, p->lda, p->M, p->K, part[0], p->M);
        X = part[0];
        ldx = o->vectors;
    }
    float *Y = o->Y && !calibrating ? o->Y : part[1];
    int64_t ldy = o->Y && !calibrating ? p->ldc : o->vectors;
    dp_analog_call call = *core_call;
    call.pre_adc = part[3];
    int64_t clipped = 0;
    analog_part ap[DP_MAX_PARTS];
    for (int i = 0; i < parts; i++) {
        int64_t q0 = bounds[i];
        ap[i] = (analog_part){.w = w, .prm = prm, .call = call, .P = bounds[i + 1] - q0,
                              .X = X + q0, .ldx = ldx, .Y = Y + q0, .ldy = ldy,
                              .scratch = (char *)part[2] + each * (size_t)i};
        ap[i].call.col0 += (uint64_t)q0;
    }
    if (parts == 1)
        run_analog_part(ap, 0);
    else
        k->parallel->run(k->parallel, parts, run_analog_part, ap);
    if ((st = gather_parts(k, ap, parts, &clipped)) != DP_OK)
        return st;
    if (calibrating) {
        a->cfg.pre_adc(a->cfg.pre_adc_ctx, a->instr, part[3], tiles, o->outputs, o->vectors,
                       p->channel0);
        return DP_OK;
    }
    a->layers[a->instr].counts.conversions += tiles * o->outputs * o->vectors;
    a->layers[a->instr].counts.clipped += clipped;
    if (Y != o->Y)
        store_outputs(p, Y, ldy);
    return DP_OK;
}

/* The analog hook: the core's parameters and full scales for this instruction, then the
 * product by its operand's kind. */
static dp_status run_product_on_core(dp_analog_hook *h, dp_kctx *k, const dp_product *p)
{
    dp_analog_state *a = (dp_analog_state *)h;
    const dp_mvm *m = a->prog->instrs[a->instr].mvm;
    bool calibrating = a->cfg.pre_adc != NULL;
    if (calibrating) /* the exact product carries on; the core's view is only observed */
        dp_sgemm(p->ta, p->tb, p->M, p->N, p->K, p->alpha, p->A, p->lda, p->B, p->ldb, p->beta,
                 p->C, p->ldc, p->scratch);
    if (p->M == 0 || p->N == 0)
        return DP_OK;
    oriented o = orient(p);
    dp_analog_params prm = dp_analog_instr_params(a->prog, m, a->cfg.seed,
                                                  calibrating ? DP_REPS_NOISELESS : a->reps[a->instr]);
    if (calibrating) {
        prm.static_weight_std = 0;
        prm.distortion_k3 = 0;
    }
    dp_analog_weights *w;
    dp_status st = programmed_weights(a, k, p, &o, &prm, &w);
    if (st != DP_OK)
        return st;
    /* static errors belong to programmed weights: an operand programmed per call (an
     * activation x activation product) has none */
    prm.static_weight_std = w->params.static_weight_std;
    static const float unbounded = FLT_MAX / 4;
    int64_t n_scale = m->n_output_scale;
    if (!calibrating && n_scale != 1 && p->channel0 + o.outputs > n_scale)
        return dp_kfail(k, DP_EINPUT, "%lld output full scales for output channels up to %lld",
                        (long long)n_scale, (long long)(p->channel0 + o.outputs));
    dp_analog_call call = {
        .x_scale = m->input_scale > 0 ? m->input_scale : 1,
        .adc_scale = calibrating ? &unbounded : n_scale == 1 ? m->output_scale
                                                             : m->output_scale + p->channel0,
        .n_adc_scale = calibrating || n_scale == 1 ? 1 : o.outputs,
        .inference = (uint32_t)a->inference,
        .col0 = (uint64_t)p->vector0};
    if (p->planes)
        return planes_product(a, k, p, w, &prm, &call);
    return matrix_product(a, k, p, &o, w, &prm, &call);
}
