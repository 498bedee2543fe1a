/*
 * calibrate.c: the converters' full scales from what flows through each analog layer.
 *
 * Two runs over the calibration set. The first is exact and watches each analog input: the
 * DAC full scale X is a high quantile of |x|. The second makes the core report, for every
 * tile pass, the value it would present to the ADC (quantised inputs and weights, no noise):
 * the ADC full scale G is a high quantile of |s|, one per output channel (a programmable
 * gain: channels of small outputs get finer steps). Quantiles, rather than maxima, let a
 * rare outlier clip instead of coarsening every other conversion; the clips are counted and
 * reported. A layer's values are kept in a fixed-size uniform sample (reservoir sampling
 * with a seeded generator), so memory does not grow with the calibration set; a channel's
 * in its DPC_TOP_K largest, which hold the quantile exactly up to (DPC_TOP_K - 1) / (1 -
 * ADC_QUANTILE) values a channel, and beyond give a slightly higher one (fewer clips)
 * (reservoir.c).
 *
 * Both full scales are the device's headroom times the quantiles: a profile without
 * converters to speak of (paper_shot) sets it high enough that nothing clips.
 *
 * A layer whose inputs were never negative gets the unsigned DAC (analog-model.md section
 * 2): all its levels on [0, X].
 *
 * A layer whose inputs a QDQ model quantised (they come from a DequantizeLinear of one
 * constant scale s and zero point z) takes X from the model instead: its inputs lie on the
 * grid (q - z) s (and still do through Flatten, Reshape and the like), which the DAC's
 * levels hold exactly when X is s times their count, 2^b - 1 unsigned (z the type's lowest
 * value: the grid is never negative) or 2^(b-1) signed. Where
 * the grid reaches further than that (a DAC of fewer bits than the model's), X spans it and
 * the DAC requantises it, which dpcc warns of.
 *
 * Where such a layer's output goes to a QuantizeLinear alone (scale s_o, zero point z_o) and
 * its weights are on the model's grid (W_j known before any data: weight_grid.c), G comes
 * from the model too: the output y_j = X W_j a + b_j (a the ADC's value, b_j the bias, then
 * a ReLU if fused) is representable on [(lo - z_o) s_o, (hi - z_o) s_o] only, so G_j =
 * max(|y_lo - b_j|, |y_hi - b_j|) / (X W_j) converts every value the model can represent
 * and nothing else; a ReLU's clip to 0 survives the ADC's clip at -G_j. The ADC's step is
 * then 2 G_j X W_j / 2^b_adc in output units; where that is coarser than s_o the ADC
 * requantises the model's output grid, which dpcc warns of. With several fan-in tiles each
 * tile's partial sum is converted over that range, and a partial sum beyond it clips (the
 * clips are counted and reported).
 */
#include "analog_passes.h"
#include "reservoir.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The quantiles of |x| and |s| taken as full scales (see above). */
#define DAC_QUANTILE 0.9999
#define ADC_QUANTILE 0.9999
/* Made-up calibration inferences when the user gives none. */
#define SYNTHETIC_SAMPLES 16

typedef struct calib_ctx {
    dpc_analog *A;
    dpc_reservoir *res;      /* per instruction; v NULL for digital ones */
    bool failed;
} calib_ctx;

/* The operand of an analog instruction that carries the input vectors. */
static int vector_input(const dp_instr *ins)
{
    return strcmp(ins->op, "MatMul") == 0 && ins->mvm->weight_input == 0 ? 1 : 0;
}

static dp_status watch_inputs(void *ctx, int instr, dp_tensor *const *in, int n_in,
                              dp_tensor *const *out, int n_out, dp_error *err)
{
    calib_ctx *c = ctx;
    dpc_reservoir *r = &c->res[instr];
    if (!r->v)
        return DP_OK;
    const dp_tensor *x = in[vector_input(&c->A->prog->instrs[instr])];
    if (x->dtype != DP_FLOAT)
        return DP_OK;
    const float *v = x->data;
    for (int64_t i = 0, n = dp_numel(x); i < n; i++) {
        r->negative |= v[i] < 0;
        dpc_reservoir_offer(r, v[i]);
    }
    return DP_OK;
}

static void watch_adc(void *ctx, int instr, const float *values, int64_t tiles, int64_t rows,
                      int64_t cols, int64_t channel0)
{
    calib_ctx *c = ctx;
    dpc_reservoir *r = &c->res[instr];
    for (int64_t i = 0, n = tiles * rows * cols; i < n; i++)
        dpc_reservoir_offer(r, values[i]);
    if (channel0 < 0 || channel0 + rows > r->channels)
        return;
    for (int64_t t = 0; t < tiles; t++)
        for (int64_t j = 0; j < rows; j++)
            for (int64_t q = 0; q < cols; q++)
                dpc_reservoir_offer_channel(r, channel0 + j, values[(t * rows + j) * cols + q]);
}

/* The instruction that writes tensor t, or -1 (a graph input or a constant). */
static int producer(const dp_program *p, int t)
{
    for (int i = 0; i < p->n_instrs; i++)
        for (int k = 0; k < p->instrs[i].n_out; k++)
            if (p->instrs[i].out[k] == t)
                return i;
    return -1;
}

/* The value of input i of ins where it is a constant of one element (float32, uint8 or
 * int8); false otherwise. */
static bool constant_value(const dp_program *p, const dp_instr *ins, int i, double *v)
{
    if (i >= ins->n_in || ins->in[i] < 0)
        return false;
    const dp_tensor_info *t = &p->tensors[ins->in[i]];
    dp_dtype d = t->t.dtype;
    if (t->storage != DP_STORE_CONST || dp_numel(&t->t) != 1 || !p->weights ||
        (d != DP_FLOAT && d != DP_UINT8 && d != DP_INT8))
        return false;
    *v = dp_load_f64(p->weights + t->offset, d, 0);
    return true;
}

/* Ops whose output holds their first input's values, rearranged: a grid passes through. */
static bool rearranges(const char *op)
{
    static const char *const ops[] = {"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose",
                                      "Identity"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(op, ops[i]) == 0)
            return true;
    return false;
}

/* X for layer l from the model's input grid, as the header says; false where the layer's
 * inputs are not quantised by the model. */
static bool model_dac(dpc_analog *A, dpc_layer *l)
{
    const dp_program *p = A->prog;
    const dp_instr *ins = &p->instrs[l->instr];
    int src = producer(p, ins->in[vector_input(ins)]);
    while (src >= 0 && rearranges(p->instrs[src].op) && p->instrs[src].n_in > 0)
        src = producer(p, p->instrs[src].in[0]);
    if (src < 0 || strcmp(p->instrs[src].op, "DequantizeLinear") != 0)
        return false;
    const dp_instr *dq = &p->instrs[src];
    dp_dtype q = p->tensors[dq->in[0]].t.dtype;
    double s, z = 0, lo = q == DP_INT8 ? -128 : 0, hi = q == DP_INT8 ? 127 : 255;
    bool zero_given = dq->n_in > 2 && dq->in[2] >= 0;
    if ((q != DP_UINT8 && q != DP_INT8) || !constant_value(p, dq, 1, &s) || !(s > 0) ||
        !isfinite(s) || (zero_given && !constant_value(p, dq, 2, &z)))
        return false;
    bool unsigned_ = z == lo;
    int bits = A->device->dac_bits;
    double levels = unsigned_ ? ldexp(1.0, bits) - 1 : ldexp(1.0, bits - 1);
    /* the grid's extent in steps: above zero, or on the wider side of it */
    double extent = unsigned_ || hi - z > z - lo ? hi - z : z - lo;
    dp_mvm *m = ins->mvm;
    m->input_scale = (float)(s * (extent <= levels ? levels : extent));
    m->input_unsigned = unsigned_;
    l->source[DPC_DAC] = extent <= levels ? DPC_RANGE_MODEL : DPC_RANGE_REQUANTISED;
    l->grid_bits[DPC_DAC] = (int32_t)ceil(log2(unsigned_ ? extent + 1 : extent)) + !unsigned_;
    return true;
}

/* The instruction that alone reads tensor t, or -1 (none, several, or t is a graph output). */
static int sole_reader(const dp_program *p, int t)
{
    for (int i = 0; i < p->n_outputs; i++)
        if (p->outputs[i] == t)
            return -1;
    int reader = -1;
    for (int i = 0; i < p->n_instrs; i++)
        for (int k = 0; k < p->instrs[i].n_in; k++)
            if (p->instrs[i].in[k] == t) {
                if (reader >= 0 && reader != i)
                    return -1;
                reader = i;
            }
    return reader;
}

/* Attribute `name` of ins, or NULL. */
static const dp_attr *attr_of(const dp_instr *ins, const char *name)
{
    for (int k = 0; k < ins->n_attrs; k++)
        if (strcmp(ins->attrs[k].name, name) == 0)
            return &ins->attrs[k];
    return NULL;
}

/* Whether the layer's output is its product plus a bias, then at most a ReLU: a fused
 * residual, another activation or Gemm's alpha and beta would move the output's range. */
static bool plain_output(const dp_instr *ins)
{
    const dp_attr *act = attr_of(ins, "dp_activation"), *res = attr_of(ins, "dp_residual");
    const dp_attr *alpha = attr_of(ins, "alpha"), *beta = attr_of(ins, "beta");
    return (!act || (act->kind == DP_ATTR_STRING && strcmp(act->s, "Relu") == 0)) &&
           (!res || (res->kind == DP_ATTR_INT && res->i == 0)) &&
           (!alpha || (alpha->kind == DP_ATTR_FLOAT && alpha->f == 1)) &&
           (!beta || (beta->kind == DP_ATTR_FLOAT && beta->f == 1));
}

/* The layer's bias of output j, where input 2 is a float constant of one value or one per
 * output (0 without one); false for another bias. */
static bool bias_of(const dp_program *p, const dp_instr *ins, int64_t outputs, double *b)
{
    if (ins->n_in < 3 || ins->in[2] < 0) {
        for (int64_t j = 0; j < outputs; j++)
            b[j] = 0;
        return true;
    }
    const dp_tensor_info *t = &p->tensors[ins->in[2]];
    int64_t n = dp_numel(&t->t);
    if (t->storage != DP_STORE_CONST || t->t.dtype != DP_FLOAT || !p->weights ||
        (n != 1 && n != outputs))
        return false;
    for (int64_t j = 0; j < outputs; j++)
        b[j] = dp_load_f64(p->weights + t->offset, DP_FLOAT, n == 1 ? 0 : j);
    return true;
}

/* G for layer l from the model's output grid, as the header says; false where the layer's
 * output is not quantised by the model alone or its W_j are not the model's. */
static bool model_adc(dpc_analog *A, dpc_layer *l, double *bias)
{
    const dp_program *p = A->prog;
    const dp_instr *ins = &p->instrs[l->instr];
    dp_mvm *m = ins->mvm;
    int r = sole_reader(p, ins->out[0]);
    if (r < 0 || strcmp(p->instrs[r].op, "QuantizeLinear") != 0 || !plain_output(ins) ||
        m->n_weight_scale != m->outputs || m->n_output_scale != m->outputs ||
        !(m->input_scale > 0) || !bias_of(p, ins, m->outputs, bias))
        return false;
    const dp_instr *q = &p->instrs[r];
    bool zero_given = q->n_in > 2 && q->in[2] >= 0;
    dp_dtype t = zero_given ? p->tensors[q->in[2]].t.dtype : DP_UINT8;
    double s, z = 0;
    if ((t != DP_UINT8 && t != DP_INT8) || !constant_value(p, q, 1, &s) || !(s > 0) ||
        !isfinite(s) || (zero_given && !constant_value(p, q, 2, &z)))
        return false;
    double y_lo = ((t == DP_INT8 ? -128 : 0) - z) * s, y_hi = ((t == DP_INT8 ? 127 : 255) - z) * s;
    int need = 0;
    for (int64_t j = 0; j < m->outputs; j++) {
        double range = fmax(fabs(y_lo - bias[j]), fabs(y_hi - bias[j]));
        double G = range / ((double)m->input_scale * m->weight_scale[j]);
        /* range >= (y_hi - y_lo) / 2 > 0; only a float overflow keeps calibration's */
        m->output_scale[j] = G > 0 && G < FLT_MAX ? (float)G : m->output_scale[j];
        /* the bits whose step, 2 range / 2^bits in output units, is at most s */
        int bits = (int)ceil(log2(2 * range / s) - 1e-9);
        need = bits > need ? bits : need;
    }
    l->source[DPC_ADC] = need <= m->adc_bits ? DPC_RANGE_MODEL : DPC_RANGE_REQUANTISED;
    l->grid_bits[DPC_ADC] = need;
    return true;
}

/* The size of the table an integer graph input indexes, found at the Gather it feeds. */
static int64_t index_range(const dp_program *p, int tensor)
{
    for (int i = 0; i < p->n_instrs; i++) {
        const dp_instr *ins = &p->instrs[i];
        if (strcmp(ins->op, "Gather") != 0 || ins->n_in < 2 || ins->in[1] != tensor)
            continue;
        const dp_tensor *data = &p->tensors[ins->in[0]].t;
        int64_t axis = 0;
        for (int k = 0; k < ins->n_attrs; k++)
            if (strcmp(ins->attrs[k].name, "axis") == 0)
                axis = ins->attrs[k].i;
        if (data->rank > 0 && axis < 0)
            axis += data->rank;
        if (data->rank > 0 && axis >= 0 && axis < data->rank)
            return data->dims[axis];
    }
    return 0;
}

/* Whether a DequantizeLinear reads integer tensor t as a quantized value (8-bit), and so
 * any value of its type is one the model takes: [*lo, *hi]. */
static bool quantized_input(const dp_program *p, int tensor, int64_t *lo, int64_t *hi)
{
    dp_dtype d = p->tensors[tensor].t.dtype;
    if (d != DP_UINT8 && d != DP_INT8)
        return false;
    for (int i = 0; i < p->n_instrs; i++)
        if (strcmp(p->instrs[i].op, "DequantizeLinear") == 0 && p->instrs[i].in[0] == tensor) {
            *lo = d == DP_INT8 ? -128 : 0;
            *hi = d == DP_INT8 ? 127 : 255;
            return true;
        }
    return false;
}

/* Standard normal floats; integer inputs as indices into the table they select from, or a
 * quantized model's 8-bit inputs uniform over their type; a scalar input one value for each
 * calibration inference. */
static dp_status make_synthetic(dpc_analog *A, dp_error *err)
{
    const dp_program *p = A->prog;
    uint64_t rng = A->seed ^ 0x5eed5eedu;
    A->chunks = SYNTHETIC_SAMPLES;
    A->synthetic = true;
    A->calib = dp_arena_calloc(A->mem, (size_t)p->n_inputs + 1, sizeof *A->calib);
    if (!A->calib)
        return dp_fail(err, DP_ENOMEM, "out of memory for the calibration set");
    for (int i = 0; i < p->n_inputs; i++) {
        dp_tensor t = p->tensors[p->inputs[i]].t;
        /* a scalar has no batch dimension: one value for each inference, which is what
         * dp_dataset_chunk takes the k-th of */
        if (t.rank > 0)
            t.dims[0] *= A->chunks;
        int64_t n = t.rank > 0 ? dp_numel(&t) : A->chunks, range = 0, lo = 0, hi;
        if (quantized_input(p, p->inputs[i], &lo, &hi))
            range = hi - lo + 1;
        else if (dp_dtype_is_integer(t.dtype) && (range = index_range(p, p->inputs[i])) <= 0)
            return dp_fail(err, DP_EUNSUPPORTED, "input '%s' (%s) selects from no table: give "
                           "--calib data", p->tensors[p->inputs[i]].name, dp_dtype_name(t.dtype));
        if (!dp_dtype_is_integer(t.dtype) && !dp_dtype_is_float(t.dtype))
            return dp_fail(err, DP_EUNSUPPORTED, "input '%s' is %s: give --calib data",
                           p->tensors[p->inputs[i]].name, dp_dtype_name(t.dtype));
        t.data = dp_arena_alloc(A->mem, (size_t)n * dp_dtype_size(t.dtype));
        if (!t.data)
            return dp_fail(err, DP_ENOMEM, "out of memory for the calibration set");
        for (int64_t k = 0; k < n; k++) {
            if (range > 0) {
                dp_store_i64(t.data, t.dtype, k,
                             lo + (int64_t)(dpc_splitmix64(&rng) % (uint64_t)range));
                continue;
            }
            /* Box-Muller on two 53-bit uniforms; u1 in (0, 1] keeps the log finite */
            double u1 = ((dpc_splitmix64(&rng) >> 11) + 1) * 0x1p-53;
            double u2 = (dpc_splitmix64(&rng) >> 11) * 0x1p-53;
            dp_store_f64(t.data, t.dtype, k, sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
        }
        A->calib[i] = t;
    }
    return DP_OK;
}

static dp_status collect_layers(dpc_analog *A, dp_error *err)
{
    const dp_program *p = A->prog;
    A->layers = dp_arena_calloc(A->mem, (size_t)p->n_instrs + 1, sizeof *A->layers);
    if (!A->layers)
        return dp_fail(err, DP_ENOMEM, "out of memory");
    A->n_layers = 0;
    for (int i = 0; i < p->n_instrs; i++) {
        const dp_instr *ins = &p->instrs[i];
        if (!ins->mvm)
            continue;
        dpc_layer *l = &A->layers[A->n_layers++];
        l->instr = i;
        l->name = ins->name;
        l->op = ins->op;
        l->macs = ins->mvm->macs;
        l->repetitions = ins->mvm->repetitions;
        /* the partitioner set the weights' full scales from a model's grid where it could */
        l->grid_bits[DPC_WEIGHTS] = ins->mvm->weight_grid_bits;
        l->source[DPC_WEIGHTS] = ins->mvm->n_weight_scale > 0 ? DPC_RANGE_MODEL
                                 : ins->mvm->weight_grid_bits > 0 ? DPC_RANGE_REQUANTISED
                                                                  : DPC_RANGE_DATA;
    }
    return DP_OK;
}

static dp_status make_reservoirs(calib_ctx *c, dp_error *err)
{
    for (int i = 0; i < c->A->n_layers; i++) {
        int64_t channels = c->A->prog->instrs[c->A->layers[i].instr].mvm->outputs;
        if (!dpc_reservoir_init(&c->res[c->A->layers[i].instr], c->A->seed + (uint64_t)i,
                                channels))
            return dp_fail(err, DP_ENOMEM, "out of memory for calibration statistics");
    }
    return DP_OK;
}

static void free_reservoirs(calib_ctx *c)
{
    for (int i = 0; i < c->A->prog->n_instrs; i++)
        dpc_reservoir_free(&c->res[i]);
}

static dp_status run_watched(dpc_analog *A, calib_ctx *c, bool adc, dp_error *err)
{
    dp_runner_opts ro = {.threads = A->threads};
    if (!adc) {
        ro.session.observe = watch_inputs;
        ro.session.observe_ctx = c;
    }
    dp_runner *r;
    int64_t batch;
    const dp_program *p = dpc_program_for_runs(A, &batch);
    dp_status st = dp_runner_new(p, &ro, &r, err);
    if (st != DP_OK)
        return st;
    if (adc) {
        dp_analog_config cfg = {.seed = A->seed, .pre_adc = watch_adc, .pre_adc_ctx = c};
        st = dp_runner_set_analog(r, &cfg, err);
    }
    dp_tensor *out = dp_arena_calloc(A->mem, (size_t)A->prog->n_outputs + 1, sizeof *out);
    if (st == DP_OK && !out)
        st = dp_fail(err, DP_ENOMEM, "out of memory");
    int64_t runs = A->chunks / batch;
    for (int64_t k = 0; st == DP_OK && k < runs; k++) {
        /* one inference at a time, for the progress bar */
        dp_tensor *in = dp_arena_calloc(A->mem, (size_t)p->n_inputs + 1, sizeof *in);
        if (!in) {
            st = dp_fail(err, DP_ENOMEM, "out of memory");
            break;
        }
        for (int i = 0; i < p->n_inputs; i++)
            in[i] = dp_dataset_chunk(&A->calib[i], p->tensors[p->inputs[i]].t.dims[0], k);
        memset(out, 0, sizeof *out * (size_t)p->n_outputs);
        st = dp_runner_run(r, in, 1, (uint64_t)k, A->mem, out, err);
        if (A->progress)
            A->progress(A->progress_ctx, "calibration", (double)(k + 1 + (adc ? runs : 0))
                        / (double)(2 * runs));
    }
    dp_runner_free(r);
    return st;
}

/* For dpcc -v: where the calibration's time goes. */
static void log_phase(const dpc_analog *A, const char *what)
{
    if (!A->log)
        return;
    dpc_log_stamp(A);
    fprintf(A->log, "calibration: %s measured\n", what);
}

dp_status pass_calibrate(dpc_analog *A, dp_error *err)
{
    dp_program *p = A->prog;
    dp_status st = collect_layers(A, err);
    if (st == DP_OK && !A->calib)
        st = make_synthetic(A, err);
    if (st != DP_OK)
        return st;
    if (A->n_labels && A->n_labels != A->chunks * p->tensors[p->inputs[0]].t.dims[0])
        return dp_fail(err, DP_EINPUT, "%lld labels for %lld calibration samples",
                       (long long)A->n_labels,
                       (long long)(A->chunks * p->tensors[p->inputs[0]].t.dims[0]));
    A->clean = dp_arena_calloc(A->mem, (size_t)p->n_outputs + 1, sizeof *A->clean);
    calib_ctx c = {.A = A, .res = calloc((size_t)p->n_instrs + 1, sizeof *c.res)};
    if (!A->clean || !c.res) {
        free(c.res);
        return dp_fail(err, DP_ENOMEM, "out of memory");
    }
    dpc_lower_batched(A);
    double metric;
    st = dpc_measure(A, NULL, A->seed, 0, A->chunks, A->clean, &metric, NULL, err);
    log_phase(A, "the clean outputs");
    if (st == DP_OK)
        st = make_reservoirs(&c, err);
    if (st == DP_OK)
        st = run_watched(A, &c, false, err);
    log_phase(A, "the DAC ranges");
    for (int i = 0; st == DP_OK && i < A->n_layers; i++) {
        dpc_layer *l = &A->layers[i];
        dpc_reservoir *r = &c.res[l->instr];
        dp_mvm *m = p->instrs[l->instr].mvm;
        m->input_mean_square = r->seen ? (float)(r->sum2 / (double)r->seen) : 0;
        if (!model_dac(A, l)) {
            double X = dpc_reservoir_quantile(r, DAC_QUANTILE) * A->device->headroom;
            m->input_scale = X > 0 && isfinite(X) ? (float)X : 1.0f;
            m->input_unsigned = r->seen > 0 && !r->negative;
        }
        dpc_reservoir_restart(r);
    }
    if (st == DP_OK)
        st = run_watched(A, &c, true, err);
    log_phase(A, "the ADC ranges");
    for (int i = 0; st == DP_OK && i < A->n_layers; i++) {
        dp_mvm *m = p->instrs[A->layers[i].instr].mvm;
        dpc_reservoir *r = &c.res[A->layers[i].instr];
        double G = dpc_reservoir_quantile(r, ADC_QUANTILE) * A->device->headroom;
        G = G > 0 && isfinite(G) ? G : 1.0;
        int64_t n = r->channels > 0 ? r->channels : 1;
        m->output_scale = dp_arena_alloc(&p->mem, (size_t)n * sizeof *m->output_scale);
        if (!m->output_scale) {
            st = dp_fail(err, DP_ENOMEM, "out of memory");
            break;
        }
        /* a channel that never lit up (all-zero weights) keeps the layer's scale */
        for (int64_t j = 0; j < n; j++) {
            double g = r->channels > 0
                       ? dpc_reservoir_channel_quantile(r, j, ADC_QUANTILE) * A->device->headroom
                       : G;
            m->output_scale[j] = (float)(g > 0 && isfinite(g) ? g : G);
        }
        m->n_output_scale = (int32_t)n;
        double *bias = malloc((size_t)n * sizeof *bias);
        if (!bias) {
            st = dp_fail(err, DP_ENOMEM, "out of memory");
            break;
        }
        model_adc(A, &A->layers[i], bias);
        free(bias);
    }
    free_reservoirs(&c);
    free(c.res);
    return st;
}
