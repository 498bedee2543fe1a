/*
 * dpfile.c: the .dp container: writing, reading, validating and listing device programs.
 *
 * Layout (integers little-endian):
 *     0    8  magic "DPCCPROG"
 *     8    4  format version (DP_FORMAT_VERSION)
 *    12    4  flags; none are defined, so they must be 0
 *    16    8  metadata length M
 *    24    8  weights length W
 *    32    4  CRC-32 (IEEE) of the metadata followed by the weights
 *    36   28  zero
 *    64    M  metadata: a dp.Program message (schemas/dp.proto)
 *             zero padding up to the next multiple of 64
 *     B    W  the weight blob, B = 64 + M rounded up to 64; constants' offsets are relative
 *             to it and 64-byte aligned, so in a 64-byte aligned file buffer every constant
 *             is aligned for any element type
 * and nothing after. The loader reads the file into one aligned buffer, checks the header,
 * the sizes and the checksum, converts the metadata, and then validates every index, offset,
 * size, dtype and op, so that nothing a file says can make the executor touch memory
 * outside what it allocated.
 */
#include "dp_program.h"

#include "crc32.h"
#include "dp.pb-c.h"
#include "tensor_io.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_BYTES 64
#define ALIGN 64
#define MAGIC "DPCCPROG"
#define MAX_METADATA ((uint64_t)INT32_MAX) /* protobuf's own limit on a message */
/* No tensor exceeds DP_MAX_ELEMENTS of 8 bytes; the bound keeps offset sums far from overflow. */
#define MAX_ARENA ((uint64_t)DP_MAX_ELEMENTS * 8)

static uint64_t align_up(uint64_t x)
{
    return (x + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* ---- messages ---------------------------------------------------------------------------- */

static const char *str(const char *s)
{
    return s ? s : "";
}

static const char *storage_name(dp_storage s)
{
    switch (s) {
    case DP_STORE_ARENA: return "arena";
    case DP_STORE_CONST: return "const";
    case DP_STORE_INPUT: return "input";
    case DP_STORE_DYNAMIC: return "dynamic";
    default: return "?";
    }
}

/* "FILE: WHERE: message", WHERE naming the tensor or instruction. */
static dp_status fail_at(dp_error *err, dp_status code, const char *file, const char *where,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static dp_status fail_at(dp_error *err, dp_status code, const char *file, const char *where,
                         const char *fmt, ...)
{
    char msg[DP_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dp_fail(err, code, "%s: %s: %s", file, where, msg);
}

static const char *tensor_where(char *buf, size_t n, const dp_program *p, int i)
{
    snprintf(buf, n, "tensor %d ('%.200s')", i, str(p->tensors[i].name));
    return buf;
}

static const char *instr_where(char *buf, size_t n, int i, const char *op, const char *name)
{
    snprintf(buf, n, "instruction %d (%.100s '%.200s')", i, str(op), str(name));
    return buf;
}

/* ---- validation -------------------------------------------------------------------------- */

typedef struct vctx {
    const dp_program *p;
    const char *file;
    dp_error *err;
    unsigned char *defined;   /* per tensor: holds a value at this point of the stream */
} vctx;

static bool name_ok(const char *s)
{
    return strnlen(str(s), DP_MAX_NAME + 1) <= DP_MAX_NAME;
}

static dp_status check_tensor(vctx *v, int i)
{
    const dp_program *p = v->p;
    const dp_tensor_info *ti = &p->tensors[i];
    char where[320];
    tensor_where(where, sizeof where, p, i);
    if (!name_ok(ti->name))
        return fail_at(v->err, DP_EINPUT, v->file, where, "name longer than %d bytes",
                       DP_MAX_NAME);
    if (ti->storage < DP_STORE_ARENA || ti->storage > DP_STORE_DYNAMIC)
        return fail_at(v->err, DP_EINPUT, v->file, where, "storage kind %d is not arena (0), "
                       "const (1), input (2) or dynamic (3)", (int)ti->storage);
    if (dp_dtype_size(ti->t.dtype) == 0)
        return fail_at(v->err, DP_EINPUT, v->file, where, "data type %s (%d) cannot be stored",
                       dp_dtype_name(ti->t.dtype), (int)ti->t.dtype);
    if (ti->t.rank == -1) {
        if (ti->storage != DP_STORE_DYNAMIC)
            return fail_at(v->err, DP_EINPUT, v->file, where, "shape unknown (rank -1) but the "
                           "storage is %s; only dynamic tensors may have an unknown shape",
                           storage_name(ti->storage));
        return DP_OK;
    }
    dp_error shape_err = {0};
    if (dp_shape_check(&ti->t, &shape_err, "shape") != DP_OK)
        return fail_at(v->err, DP_EINPUT, v->file, where, "%s", shape_err.msg);
    if (ti->storage == DP_STORE_DYNAMIC)
        return DP_OK; /* allocated per inference from the shape the kernels infer */
    uint64_t need = (uint64_t)dp_nbytes(&ti->t);
    if (ti->nbytes != need) {
        char s[160];
        return fail_at(v->err, DP_EINPUT, v->file, where, "declares %llu bytes, but %s[%s] "
                       "needs %llu", (unsigned long long)ti->nbytes, dp_dtype_name(ti->t.dtype),
                       dp_shape_str(&ti->t, s, sizeof s), (unsigned long long)need);
    }
    if (ti->storage == DP_STORE_CONST) {
        if (ti->offset % ALIGN != 0)
            return fail_at(v->err, DP_EINPUT, v->file, where, "weight offset %llu is not a "
                           "multiple of %d", (unsigned long long)ti->offset, ALIGN);
        if (ti->offset > p->weights_bytes || need > p->weights_bytes - ti->offset)
            return fail_at(v->err, DP_EINPUT, v->file, where, "%llu bytes at offset %llu lie "
                           "outside the %llu-byte weight blob", (unsigned long long)need,
                           (unsigned long long)ti->offset, (unsigned long long)p->weights_bytes);
    } else if (ti->storage == DP_STORE_ARENA) {
        /* Kernels access elements through typed pointers: the offset must keep them aligned. */
        if (ti->offset % dp_dtype_size(ti->t.dtype) != 0)
            return fail_at(v->err, DP_EINPUT, v->file, where, "arena offset %llu is not aligned "
                           "for %s", (unsigned long long)ti->offset, dp_dtype_name(ti->t.dtype));
        if (ti->offset > p->arena_bytes || need > p->arena_bytes - ti->offset)
            return fail_at(v->err, DP_EINPUT, v->file, where, "%llu bytes at offset %llu lie "
                           "outside the %llu-byte activation arena", (unsigned long long)need,
                           (unsigned long long)ti->offset, (unsigned long long)p->arena_bytes);
    }
    return DP_OK;
}

static dp_status check_attr(vctx *v, const char *where, int k, const dp_attr *a)
{
    if (!a->name || !a->name[0])
        return fail_at(v->err, DP_EINPUT, v->file, where, "attribute %d has no name", k);
    if (!name_ok(a->name))
        return fail_at(v->err, DP_EINPUT, v->file, where, "attribute %d has a name longer than "
                       "%d bytes", k, DP_MAX_NAME);
    bool ok = true;
    switch (a->kind) {
    case DP_ATTR_FLOAT:
    case DP_ATTR_INT:
        break;
    case DP_ATTR_STRING:
        ok = a->s != NULL;
        break;
    case DP_ATTR_FLOATS:
        ok = a->n >= 0 && (a->n == 0 || a->floats);
        break;
    case DP_ATTR_INTS:
        ok = a->n >= 0 && (a->n == 0 || a->ints);
        break;
    case DP_ATTR_STRINGS:
        ok = a->n >= 0 && (a->n == 0 || a->strings);
        for (int j = 0; ok && j < a->n; j++)
            ok = a->strings[j] != NULL;
        break;
    case DP_ATTR_TENSOR: {
        if (!a->t)
            return fail_at(v->err, DP_EINPUT, v->file, where, "tensor attribute '%.200s' has no "
                           "tensor", a->name);
        dp_error shape_err = {0};
        if (dp_dtype_size(a->t->dtype) == 0 || dp_shape_check(a->t, &shape_err, "shape") != DP_OK)
            return fail_at(v->err, DP_EINPUT, v->file, where, "tensor attribute '%.200s': %s",
                           a->name, shape_err.code ? shape_err.msg : "data type cannot be stored");
        ok = a->t->data || dp_nbytes(a->t) == 0;
        break;
    }
    default:
        return fail_at(v->err, DP_EINPUT, v->file, where, "attribute '%.200s' has unknown kind %d",
                       a->name, (int)a->kind);
    }
    if (!ok)
        return fail_at(v->err, DP_EINPUT, v->file, where, "attribute '%.200s' has no value",
                       a->name);
    return DP_OK;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return a / b + (a % b != 0);
}

static bool scale_ok(float x)
{
    return isfinite(x) && x >= 0;
}

static dp_status check_mvm(vctx *v, const char *where, const dp_instr *ins)
{
    const dp_mvm *m = ins->mvm;
#define MVM_FAIL(...) fail_at(v->err, DP_EINPUT, v->file, where, "analog fields: " __VA_ARGS__)
    if (m->core_rows < 1 || m->core_cols < 1)
        return MVM_FAIL("core of %dx%d, expected positive rows and columns", m->core_rows,
                        m->core_cols);
    if (m->fan_in < 0 || m->outputs < 0 || m->macs < 0)
        return MVM_FAIL("fan-in %lld, outputs %lld, MACs %lld: expected non-negative counts",
                        (long long)m->fan_in, (long long)m->outputs, (long long)m->macs);
    if (m->row_tiles != ceil_div(m->outputs, m->core_rows)
        || m->col_tiles != ceil_div(m->fan_in, m->core_cols))
        return MVM_FAIL("tiles %lldx%lld, expected ceil(%lld/%d) x ceil(%lld/%d) = %lldx%lld",
                        (long long)m->row_tiles, (long long)m->col_tiles, (long long)m->outputs,
                        m->core_rows, (long long)m->fan_in, m->core_cols,
                        (long long)ceil_div(m->outputs, m->core_rows),
                        (long long)ceil_div(m->fan_in, m->core_cols));
    if (m->repetitions < 1)
        return MVM_FAIL("%d repetitions, expected at least 1", m->repetitions);
    if (m->dac_bits < 1 || m->dac_bits > 32 || m->weight_bits < 1 || m->weight_bits > 32
        || m->adc_bits < 1 || m->adc_bits > 32)
        return MVM_FAIL("DAC %d, weight %d, ADC %d bits, expected 1 to 32 each", m->dac_bits,
                        m->weight_bits, m->adc_bits);
    if (!scale_ok(m->input_scale))
        return MVM_FAIL("input scale %g, expected finite and non-negative", m->input_scale);
    if (!scale_ok(m->input_mean_square))
        return MVM_FAIL("input mean square %g, expected finite and non-negative",
                        m->input_mean_square);
    if (m->n_output_scale != 0 && m->n_output_scale != 1 && m->n_output_scale != m->outputs)
        return MVM_FAIL("%d output scales, expected 0, 1 or one per output (%lld)",
                        m->n_output_scale, (long long)m->outputs);
    if (m->n_output_scale > 0 && !m->output_scale)
        return MVM_FAIL("output scales missing");
    for (int j = 0; j < m->n_output_scale; j++)
        if (!scale_ok(m->output_scale[j]))
            return MVM_FAIL("output scale %d is %g, expected finite and non-negative", j,
                            m->output_scale[j]);
    if (m->weight_input != -1) {
        int wi = m->weight_input;
        if (wi < 0 || wi >= ins->n_in || ins->in[wi] < 0)
            return MVM_FAIL("weight input %d is not one of the instruction's %d inputs", wi,
                            ins->n_in);
        if (v->p->tensors[ins->in[wi]].storage != DP_STORE_CONST)
            return MVM_FAIL("weight input %d (tensor %d) is not a constant", wi, ins->in[wi]);
    }
#undef MVM_FAIL
    return DP_OK;
}

static dp_status check_instr(vctx *v, int i)
{
    const dp_program *p = v->p;
    const dp_instr *ins = &p->instrs[i];
    char where[320];
    instr_where(where, sizeof where, i, ins->op, ins->name);
    if (!ins->op || !ins->op[0])
        return fail_at(v->err, DP_EINPUT, v->file, where, "no op");
    if (!name_ok(ins->op) || !name_ok(ins->name))
        return fail_at(v->err, DP_EINPUT, v->file, where, "op or name longer than %d bytes",
                       DP_MAX_NAME);
    const dp_op_def *def = dp_op_find(ins->op);
    if (!def)
        return fail_at(v->err, DP_EUNSUPPORTED, v->file, where, "op '%.100s' is not supported "
                       "by this runtime", ins->op);
    if (ins->opset < 1)
        return fail_at(v->err, DP_EINPUT, v->file, where, "opset %d, expected 1 or more",
                       ins->opset);
    if (ins->n_in < def->min_in || (def->max_in >= 0 && ins->n_in > def->max_in)
        || ins->n_in > DP_MAX_NODE_INPUTS)
        return fail_at(v->err, DP_EINPUT, v->file, where, "%d inputs, %s takes %d to %d",
                       ins->n_in, def->name, def->min_in,
                       def->max_in >= 0 ? def->max_in : DP_MAX_NODE_INPUTS);
    if (ins->n_out < def->min_out || ins->n_out > def->max_out
        || ins->n_out > DP_MAX_NODE_OUTPUTS)
        return fail_at(v->err, DP_EINPUT, v->file, where, "%d outputs, %s has %d to %d",
                       ins->n_out, def->name, def->min_out, def->max_out);
    for (int j = 0; j < ins->n_in; j++) {
        int t = ins->in[j];
        if (t == -1) {
            if (j < def->min_in)
                return fail_at(v->err, DP_EINPUT, v->file, where, "required input %d is omitted",
                               j);
            continue;
        }
        if (t < 0 || t >= p->n_tensors)
            return fail_at(v->err, DP_EINPUT, v->file, where, "input %d is tensor %d, outside "
                           "the table of %d tensors", j, t, p->n_tensors);
        if (!v->defined[t])
            return fail_at(v->err, DP_EINPUT, v->file, where, "input %d is tensor %d ('%.200s'), "
                           "which is neither a graph input, a constant, nor written by an "
                           "earlier instruction", j, t, str(p->tensors[t].name));
    }
    for (int j = 0; j < ins->n_out; j++) {
        int t = ins->out[j];
        if (t < 0 || t >= p->n_tensors)
            return fail_at(v->err, DP_EINPUT, v->file, where, "output %d is tensor %d, outside "
                           "the table of %d tensors", j, t, p->n_tensors);
        dp_storage s = p->tensors[t].storage;
        if (s == DP_STORE_CONST || s == DP_STORE_INPUT)
            return fail_at(v->err, DP_EINPUT, v->file, where, "output %d is tensor %d ('%.200s'), "
                           "a%s %s, which no instruction may write", j, t,
                           str(p->tensors[t].name), s == DP_STORE_INPUT ? "n" : "",
                           storage_name(s));
        if (v->defined[t])
            return fail_at(v->err, DP_EINPUT, v->file, where, "output %d is tensor %d ('%.200s'), "
                           "which an earlier instruction or output already writes", j, t,
                           str(p->tensors[t].name));
        v->defined[t] = 1;
    }
    if (ins->n_attrs < 0 || (ins->n_attrs > 0 && !ins->attrs))
        return fail_at(v->err, DP_EINPUT, v->file, where, "bad attribute table");
    for (int k = 0; k < ins->n_attrs; k++) {
        dp_status st = check_attr(v, where, k, &ins->attrs[k]);
        if (st != DP_OK)
            return st;
    }
    return ins->mvm ? check_mvm(v, where, ins) : DP_OK;
}

static dp_status check_program(vctx *v)
{
    const dp_program *p = v->p;
    char where[320];
    if (p->n_tensors < 0 || p->n_inputs < 0 || p->n_outputs < 0 || p->n_instrs < 0)
        return dp_fail(v->err, DP_EINPUT, "%s: negative table sizes", v->file);
    if (p->opset < 1)
        return dp_fail(v->err, DP_EINPUT, "%s: opset %d, expected 1 or more", v->file, p->opset);
    if (!name_ok(p->producer) || !name_ok(p->model_name))
        return dp_fail(v->err, DP_EINPUT, "%s: producer or model name longer than %d bytes",
                       v->file, DP_MAX_NAME);
    if (p->arena_bytes > MAX_ARENA)
        return dp_fail(v->err, DP_EINPUT, "%s: activation arena of %llu bytes is above the limit "
                       "of %llu", v->file, (unsigned long long)p->arena_bytes,
                       (unsigned long long)MAX_ARENA);
    if (p->weights_bytes > 0 && !p->weights)
        return dp_fail(v->err, DP_EINPUT, "%s: %llu bytes of weights declared but none present",
                       v->file, (unsigned long long)p->weights_bytes);
    if (p->device) {
        snprintf(where, sizeof where, "%.300s: device", v->file);
        dp_status st = dp_device_check(p->device, where, v->err);
        if (st != DP_OK)
            return st;
    }
    for (int i = 0; i < p->n_tensors; i++) {
        dp_status st = check_tensor(v, i);
        if (st != DP_OK)
            return st;
        v->defined[i] = p->tensors[i].storage == DP_STORE_CONST;
    }
    for (int k = 0; k < p->n_inputs; k++) {
        int t = p->inputs[k];
        if (t < 0 || t >= p->n_tensors)
            return dp_fail(v->err, DP_EINPUT, "%s: graph input %d is tensor %d, outside the table "
                           "of %d tensors", v->file, k, t, p->n_tensors);
        tensor_where(where, sizeof where, p, t);
        if (p->tensors[t].storage != DP_STORE_INPUT)
            return fail_at(v->err, DP_EINPUT, v->file, where, "graph input %d, but its storage "
                           "is %s, not input", k, storage_name(p->tensors[t].storage));
        if (v->defined[t])
            return fail_at(v->err, DP_EINPUT, v->file, where, "listed twice as a graph input");
        v->defined[t] = 1;
    }
    for (int i = 0; i < p->n_instrs; i++) {
        dp_status st = check_instr(v, i);
        if (st != DP_OK)
            return st;
    }
    for (int k = 0; k < p->n_outputs; k++) {
        int t = p->outputs[k];
        if (t < 0 || t >= p->n_tensors)
            return dp_fail(v->err, DP_EINPUT, "%s: graph output %d is tensor %d, outside the "
                           "table of %d tensors", v->file, k, t, p->n_tensors);
        if (!v->defined[t])
            return fail_at(v->err, DP_EINPUT, v->file, tensor_where(where, sizeof where, p, t),
                           "graph output %d, but nothing defines it", k);
    }
    return DP_OK;
}

static dp_status validate(const dp_program *p, const char *file, dp_error *err)
{
    vctx v = {p, file, err, calloc((size_t)(p->n_tensors > 0 ? p->n_tensors : 0) + 1, 1)};
    if (!v.defined)
        return dp_fail(err, DP_ENOMEM, "%s: out of memory validating the program", file);
    dp_status st = check_program(&v);
    free(v.defined);
    return st;
}

/* ---- writing ----------------------------------------------------------------------------- */

/* The message views the device's text in place. */
static void build_device(const dp_device *d, Dp__Device *o)
{
    dp__device__init(o);
    o->name = (char *)d->name;
    o->description = (char *)d->description;
    o->has_core_rows = o->has_core_cols = o->has_clock_ghz = 1;
    o->has_wavelength_nm = o->has_photons_per_mac = o->has_optical_efficiency = 1;
    o->has_thermal_std = o->has_shot_noise = o->has_weight_noise_std = 1;
    o->has_input_noise_std = o->has_static_weight_std = o->has_distortion_k3 = 1;
    o->has_dac_bits = o->has_weight_bits = o->has_adc_bits = o->has_remodulate_weights = 1;
    o->has_max_repetitions = o->has_repetitions_power_of_two = 1;
    o->has_dac_conversion_pj = o->has_adc_conversion_pj = 1;
    o->has_digital_op_pj = o->has_memory_byte_pj = 1;
    o->has_shot_model = o->has_adc_mode = o->has_precision = o->has_thermal_model = 1;
    o->has_headroom = 1;
    o->headroom = d->headroom;
    o->core_rows = d->rows;
    o->core_cols = d->cols;
    o->clock_ghz = d->clock_ghz;
    o->wavelength_nm = d->wavelength_nm;
    o->photons_per_mac = d->photons_per_mac;
    o->optical_efficiency = d->optical_efficiency;
    o->thermal_std = d->thermal_std;
    o->shot_noise = d->shot_noise;
    o->weight_noise_std = d->weight_noise_std;
    o->input_noise_std = d->input_noise_std;
    o->static_weight_std = d->static_weight_std;
    o->distortion_k3 = d->distortion_k3;
    o->dac_bits = d->dac_bits;
    o->weight_bits = d->weight_bits;
    o->adc_bits = d->adc_bits;
    o->remodulate_weights = d->remodulate_weights;
    o->max_repetitions = d->max_repetitions;
    o->repetitions_power_of_two = d->repetitions_power_of_two;
    o->dac_conversion_pj = d->dac_conversion_pj;
    o->adc_conversion_pj = d->adc_conversion_pj;
    o->digital_op_pj = d->digital_op_pj;
    o->memory_byte_pj = d->memory_byte_pj;
    o->shot_model = d->shot_model;
    o->thermal_model = d->thermal_model;
    o->adc_mode = d->adc_mode;
    o->precision = d->precision;
}

/* The message views the program's arrays in place; only the pointer tables come from m. */
static dp_status build_message(const dp_program *p, dp_arena *m, Dp__Program *msg)
{
    dp__program__init(msg);
    msg->has_format_version = 1;
    msg->format_version = DP_FORMAT_VERSION;
    msg->producer = (char *)str(p->producer);
    msg->model_name = (char *)str(p->model_name);
    msg->has_opset = 1;
    msg->opset = p->opset;
    msg->has_arena_bytes = 1;
    msg->arena_bytes = p->arena_bytes;
    msg->has_weights_bytes = 1;
    msg->weights_bytes = p->weights_bytes;
    msg->n_inputs = (size_t)p->n_inputs;
    msg->inputs = p->inputs;
    msg->n_outputs = (size_t)p->n_outputs;
    msg->outputs = p->outputs;
    if (p->device) {
        if (!(msg->device = dp_arena_alloc(m, sizeof *msg->device)))
            return DP_ENOMEM;
        build_device(p->device, msg->device);
    }

    Dp__Tensor *ts = dp_arena_calloc(m, (size_t)p->n_tensors + 1, sizeof *ts);
    Dp__Instr *is = dp_arena_calloc(m, (size_t)p->n_instrs + 1, sizeof *is);
    msg->tensors = dp_arena_calloc(m, (size_t)p->n_tensors + 1, sizeof *msg->tensors);
    msg->instrs = dp_arena_calloc(m, (size_t)p->n_instrs + 1, sizeof *msg->instrs);
    if (!ts || !is || !msg->tensors || !msg->instrs)
        return DP_ENOMEM;
    msg->n_tensors = (size_t)p->n_tensors;
    for (int i = 0; i < p->n_tensors; i++) {
        const dp_tensor_info *ti = &p->tensors[i];
        Dp__Tensor *t = &ts[i];
        dp__tensor__init(t);
        t->name = (char *)str(ti->name);
        t->has_dtype = t->has_rank = t->has_storage = t->has_offset = t->has_nbytes = 1;
        t->dtype = (int32_t)ti->t.dtype;
        t->rank = ti->t.rank;
        t->n_dims = ti->t.rank > 0 ? (size_t)ti->t.rank : 0;
        t->dims = (int64_t *)ti->t.dims;
        t->storage = (Dp__Storage)ti->storage;
        t->offset = ti->offset;
        t->nbytes = ti->storage == DP_STORE_DYNAMIC ? 0 : ti->nbytes;
        msg->tensors[i] = t;
    }
    msg->n_instrs = (size_t)p->n_instrs;
    for (int i = 0; i < p->n_instrs; i++) {
        const dp_instr *ins = &p->instrs[i];
        Dp__Instr *d = &is[i];
        dp__instr__init(d);
        d->op = (char *)str(ins->op);
        d->name = (char *)str(ins->name);
        d->has_opset = 1;
        d->opset = ins->opset;
        d->n_inputs = (size_t)ins->n_in;
        d->inputs = ins->in;
        d->n_outputs = (size_t)ins->n_out;
        d->outputs = ins->out;
        Dp__Attr *as = dp_arena_calloc(m, (size_t)ins->n_attrs + 1, sizeof *as);
        d->attrs = dp_arena_calloc(m, (size_t)ins->n_attrs + 1, sizeof *d->attrs);
        if (!as || !d->attrs)
            return DP_ENOMEM;
        d->n_attrs = (size_t)ins->n_attrs;
        for (int k = 0; k < ins->n_attrs; k++) {
            const dp_attr *a = &ins->attrs[k];
            Dp__Attr *o = &as[k];
            dp__attr__init(o);
            o->name = (char *)a->name;
            o->has_kind = 1;
            o->kind = (Dp__AttrKind)a->kind;
            switch (a->kind) {
            case DP_ATTR_FLOAT: o->has_f = 1; o->f = a->f; break;
            case DP_ATTR_INT: o->has_i = 1; o->i = a->i; break;
            case DP_ATTR_STRING:
                o->has_s = 1;
                o->s.len = strlen(a->s);
                o->s.data = (uint8_t *)a->s;
                break;
            case DP_ATTR_FLOATS: o->n_floats = (size_t)a->n; o->floats = (float *)a->floats; break;
            case DP_ATTR_INTS: o->n_ints = (size_t)a->n; o->ints = (int64_t *)a->ints; break;
            case DP_ATTR_STRINGS:
                o->n_strings = (size_t)a->n;
                o->strings = dp_arena_calloc(m, (size_t)a->n + 1, sizeof *o->strings);
                if (!o->strings)
                    return DP_ENOMEM;
                for (int j = 0; j < a->n; j++) {
                    o->strings[j].len = strlen(a->strings[j]);
                    o->strings[j].data = (uint8_t *)a->strings[j];
                }
                break;
            case DP_ATTR_TENSOR:
                o->t = dp_arena_alloc(m, sizeof *o->t);
                if (!o->t)
                    return DP_ENOMEM;
                dp__inline_tensor__init(o->t);
                o->t->has_dtype = o->t->has_data = 1;
                o->t->dtype = (int32_t)a->t->dtype;
                o->t->n_dims = (size_t)a->t->rank;
                o->t->dims = (int64_t *)a->t->dims;
                o->t->data.len = dp_nbytes(a->t);
                o->t->data.data = a->t->data;
                break;
            }
            d->attrs[k] = o;
        }
        if (ins->mvm) {
            const dp_mvm *mv = ins->mvm;
            Dp__Mvm *o = dp_arena_alloc(m, sizeof *o);
            if (!o)
                return DP_ENOMEM;
            dp__mvm__init(o);
            o->has_core_rows = o->has_core_cols = o->has_fan_in = o->has_outputs = 1;
            o->has_row_tiles = o->has_col_tiles = o->has_macs = o->has_repetitions = 1;
            o->has_dac_bits = o->has_weight_bits = o->has_adc_bits = 1;
            o->has_input_scale = o->has_weight_input = o->has_input_mean_square = 1;
            o->core_rows = mv->core_rows;
            o->core_cols = mv->core_cols;
            o->fan_in = mv->fan_in;
            o->outputs = mv->outputs;
            o->row_tiles = mv->row_tiles;
            o->col_tiles = mv->col_tiles;
            o->macs = mv->macs;
            o->repetitions = mv->repetitions;
            o->dac_bits = mv->dac_bits;
            o->weight_bits = mv->weight_bits;
            o->adc_bits = mv->adc_bits;
            o->input_scale = mv->input_scale;
            o->n_output_scale = (size_t)mv->n_output_scale;
            o->output_scale = mv->output_scale;
            o->weight_input = mv->weight_input;
            o->input_mean_square = mv->input_mean_square;
            o->has_input_unsigned = 1;
            o->input_unsigned = mv->input_unsigned;
            d->mvm = o;
        }
        msg->instrs[i] = d;
    }
    return DP_OK;
}

/* The file as the parts written in order: header, metadata, padding, weights. */
static dp_status pack_parts(const dp_program *prog, const char *path, unsigned char *header,
                            unsigned char **meta_out, dp_chunk parts[4], dp_error *err)
{
    /* A program this runtime would refuse to load is a compiler bug: say so now, not when the
     * file is run. */
    static const unsigned char zeros[ALIGN];
    dp_error bad = {0};
    if (validate(prog, path, &bad) != DP_OK)
        return dp_fail(err, bad.code == DP_ENOMEM ? DP_ENOMEM : DP_EINTERNAL,
                       "not writing an invalid program: %s", bad.msg);
    dp_arena m;
    dp_arena_init(&m, 0);
    Dp__Program msg;
    dp_status st = build_message(prog, &m, &msg);
    size_t meta_len = st == DP_OK ? dp__program__get_packed_size(&msg) : 0;
    unsigned char *meta = st == DP_OK ? malloc(meta_len + 1) : NULL;
    if (!meta) {
        dp_arena_free(&m);
        return dp_fail(err, DP_ENOMEM, "%s: out of memory serialising the program", path);
    }
    if (meta_len > MAX_METADATA) {
        free(meta);
        dp_arena_free(&m);
        return dp_fail(err, DP_EUNSUPPORTED, "%s: program metadata of %zu bytes is above the "
                       "limit of %llu", path, meta_len, (unsigned long long)MAX_METADATA);
    }
    dp__program__pack(&msg, meta);
    dp_arena_free(&m);

    uint32_t crc = dp_crc32(dp_crc32(0, meta, meta_len), prog->weights, prog->weights_bytes);
    memset(header, 0, HEADER_BYTES);
    memcpy(header, MAGIC, 8);
    put_le(header + 8, DP_FORMAT_VERSION, 4);
    put_le(header + 12, 0, 4);
    put_le(header + 16, meta_len, 8);
    put_le(header + 24, prog->weights_bytes, 8);
    put_le(header + 32, crc, 4);
    size_t pad = (size_t)(align_up(HEADER_BYTES + meta_len) - (HEADER_BYTES + meta_len));
    parts[0] = (dp_chunk){header, HEADER_BYTES};
    parts[1] = (dp_chunk){meta, meta_len};
    parts[2] = (dp_chunk){zeros, pad};
    parts[3] = (dp_chunk){prog->weights, (size_t)prog->weights_bytes};
    *meta_out = meta;
    return DP_OK;
}

dp_status dp_program_write(const dp_program *prog, const char *path, dp_error *err)
{
    unsigned char header[HEADER_BYTES], *meta;
    dp_chunk parts[4];
    dp_status st = pack_parts(prog, path, header, &meta, parts, err);
    if (st != DP_OK)
        return st;
    st = dp_file_write_atomic(path, parts, 4, err);
    free(meta);
    return st;
}

dp_status dp_program_pack(const dp_program *prog, unsigned char **buf, size_t *len,
                          dp_error *err)
{
    unsigned char header[HEADER_BYTES], *meta;
    dp_chunk parts[4];
    *buf = NULL;
    *len = 0;
    dp_status st = pack_parts(prog, "(program in memory)", header, &meta, parts, err);
    if (st != DP_OK)
        return st;
    size_t total = 0;
    for (int i = 0; i < 4; i++)
        total += parts[i].len;
    unsigned char *out = malloc(total + 1);
    if (!out) {
        free(meta);
        return dp_fail(err, DP_ENOMEM, "out of memory for a program of %zu bytes", total);
    }
    for (int i = 0; i < 4; i++) {
        if (parts[i].len)
            memcpy(out + *len, parts[i].data, parts[i].len);
        *len += parts[i].len;
    }
    free(meta);
    *buf = out;
    return DP_OK;
}

/* ---- reading ----------------------------------------------------------------------------- */

static dp_status check_header(const unsigned char *buf, size_t len, const char *file,
                              uint64_t *meta_len, uint64_t *weights_len, dp_error *err)
{
    if (len < HEADER_BYTES)
        return dp_fail(err, DP_EINPUT, "%s: truncated: %zu bytes, shorter than the %d-byte header",
                       file, len, HEADER_BYTES);
    if (memcmp(buf, MAGIC, 8) != 0)
        return dp_fail(err, DP_EINPUT, "%s: not a dpcc program (the magic is not \"%s\")", file,
                       MAGIC);
    uint32_t version = (uint32_t)get_le(buf + 8, 4);
    if (version > DP_FORMAT_VERSION)
        return dp_fail(err, DP_EINPUT, "%s: format version %u, this dprun reads up to %d", file,
                       version, DP_FORMAT_VERSION);
    if (version < 1)
        return dp_fail(err, DP_EINPUT, "%s: format version %u is invalid", file, version);
    uint32_t flags = (uint32_t)get_le(buf + 12, 4);
    if (flags != 0)
        return dp_fail(err, DP_EINPUT, "%s: unknown header flags 0x%x", file, flags);
    for (int i = 36; i < HEADER_BYTES; i++)
        if (buf[i] != 0)
            return dp_fail(err, DP_EINPUT, "%s: reserved header byte %d is not zero", file, i);
    *meta_len = get_le(buf + 16, 8);
    *weights_len = get_le(buf + 24, 8);
    if (*meta_len > MAX_METADATA)
        return dp_fail(err, DP_EINPUT, "%s: metadata length %llu is above the limit of %llu",
                       file, (unsigned long long)*meta_len, (unsigned long long)MAX_METADATA);
    uint64_t blob = align_up(HEADER_BYTES + *meta_len);
    uint64_t total = *weights_len > UINT64_MAX - blob ? UINT64_MAX : blob + *weights_len;
    if (total != (uint64_t)len)
        return dp_fail(err, DP_EINPUT, "%s: %s: the file has %zu bytes, the header declares %llu "
                       "(%llu of metadata, %llu of weights)", file,
                       total > (uint64_t)len ? "truncated" : "trailing bytes", len,
                       (unsigned long long)total, (unsigned long long)*meta_len,
                       (unsigned long long)*weights_len);
    for (uint64_t i = HEADER_BYTES + *meta_len; i < blob; i++)
        if (buf[i] != 0)
            return dp_fail(err, DP_EINPUT, "%s: padding byte %llu after the metadata is not zero",
                           file, (unsigned long long)i);
    uint32_t want = (uint32_t)get_le(buf + 32, 4);
    uint32_t got = dp_crc32(dp_crc32(0, buf + HEADER_BYTES, (size_t)*meta_len), buf + blob,
                            (size_t)*weights_len);
    if (got != want)
        return dp_fail(err, DP_EINPUT, "%s: checksum mismatch (header 0x%08x, contents 0x%08x): "
                       "the file is corrupt", file, want, got);
    return DP_OK;
}

static char *dup_str(dp_arena *m, const char *s)
{
    return dp_arena_strdup(m, str(s));
}

/* A protobuf bytes field as a C string; NULL with *has_nul set when it holds a NUL. */
static char *dup_bytes(dp_arena *m, ProtobufCBinaryData b, bool *has_nul)
{
    *has_nul = b.len && memchr(b.data, 0, b.len) != NULL;
    return *has_nul ? NULL : dp_arena_strndup(m, b.len ? (const char *)b.data : "", b.len);
}

#define OOM(file) dp_fail(err, DP_ENOMEM, "%s: out of memory loading the program", file)

static dp_status convert_attr(const Dp__Attr *a, dp_attr *d, dp_arena *m, const char *file,
                              const char *where, dp_error *err)
{
    bool nul = false;
    d->name = dup_str(m, a->name);
    d->kind = (dp_attr_kind)a->kind;
    if (!d->name)
        return OOM(file);
    switch (d->kind) {
    case DP_ATTR_FLOAT: d->f = a->f; break;
    case DP_ATTR_INT: d->i = a->i; break;
    case DP_ATTR_STRING:
        d->s = dup_bytes(m, a->s, &nul);
        if (!d->s && !nul)
            return OOM(file);
        break;
    case DP_ATTR_FLOATS:
    case DP_ATTR_INTS:
    case DP_ATTR_STRINGS: {
        size_t n = d->kind == DP_ATTR_FLOATS ? a->n_floats
                 : d->kind == DP_ATTR_INTS ? a->n_ints : a->n_strings;
        if (n > INT32_MAX)
            return fail_at(err, DP_EINPUT, file, where, "attribute '%.200s' has too many values",
                           d->name);
        d->n = (int)n;
        if (d->kind == DP_ATTR_FLOATS)
            d->floats = dp_arena_memdup(m, a->floats, n * sizeof *a->floats);
        else if (d->kind == DP_ATTR_INTS)
            d->ints = dp_arena_memdup(m, a->ints, n * sizeof *a->ints);
        else {
            char **s = dp_arena_calloc(m, n + 1, sizeof *s);
            if (!s)
                return OOM(file);
            for (size_t j = 0; j < n && !nul; j++)
                if (!(s[j] = dup_bytes(m, a->strings[j], &nul)) && !nul)
                    return OOM(file);
            d->strings = (const char *const *)s;
        }
        if (!d->floats && !d->ints && !d->strings)
            return OOM(file);
        break;
    }
    case DP_ATTR_TENSOR: {
        const Dp__InlineTensor *it = a->t;
        if (!it)
            break; /* the validator names the missing value */
        if (it->n_dims > DP_MAX_RANK)
            return fail_at(err, DP_EINPUT, file, where, "tensor attribute '%.200s' has rank %zu, "
                           "above the limit of %d", d->name, it->n_dims, DP_MAX_RANK);
        dp_tensor *t = dp_arena_alloc(m, sizeof *t);
        if (!t)
            return OOM(file);
        t->dtype = (dp_dtype)it->dtype;
        t->rank = (int)it->n_dims;
        if (it->n_dims)
            memcpy(t->dims, it->dims, it->n_dims * sizeof *it->dims);
        d->t = t;
        dp_error shape_err = {0};
        if (dp_dtype_size(t->dtype) == 0 || dp_shape_check(t, &shape_err, "shape") != DP_OK)
            return fail_at(err, DP_EINPUT, file, where, "tensor attribute '%.200s': %s", d->name,
                           shape_err.code ? shape_err.msg : "data type cannot be stored");
        size_t bytes = dp_nbytes(t);
        if (it->data.len != bytes)
            return fail_at(err, DP_EINPUT, file, where, "tensor attribute '%.200s' has %zu bytes "
                           "of data, its shape needs %zu", d->name, it->data.len, bytes);
        t->data = dp_arena_memdup(m, it->data.data, bytes);
        if (!t->data)
            return OOM(file);
        break;
    }
    default:
        break; /* the validator names the unknown kind */
    }
    if (nul)
        return fail_at(err, DP_EINPUT, file, where, "attribute '%.200s': a string holds a NUL "
                       "byte", d->name);
    return DP_OK;
}

static dp_status convert_mvm(const Dp__Mvm *s, dp_mvm *d, dp_arena *m, const char *file,
                             const char *where, dp_error *err)
{
    d->core_rows = s->core_rows;
    d->core_cols = s->core_cols;
    d->fan_in = s->fan_in;
    d->outputs = s->outputs;
    d->row_tiles = s->row_tiles;
    d->col_tiles = s->col_tiles;
    d->macs = s->macs;
    d->repetitions = s->repetitions;
    d->dac_bits = s->dac_bits;
    d->weight_bits = s->weight_bits;
    d->adc_bits = s->adc_bits;
    d->input_scale = s->input_scale;
    d->weight_input = s->has_weight_input ? s->weight_input : -1;
    d->input_mean_square = s->input_mean_square;
    d->input_unsigned = s->input_unsigned;
    if (s->n_output_scale > INT32_MAX)
        return fail_at(err, DP_EINPUT, file, where, "too many output scales");
    d->n_output_scale = (int32_t)s->n_output_scale;
    d->output_scale = dp_arena_memdup(m, s->output_scale, s->n_output_scale * sizeof(float));
    return d->output_scale ? DP_OK : OOM(file);
}

/* Every field is required: the writer sets them all, so a missing one means a damaged file.
 * Those that came with format version 2 take, in a version 1 file, what that file was
 * compiled for. */
static dp_status convert_device(const Dp__Device *s, dp_device *d, uint32_t version,
                                const char *file, dp_error *err)
{
    char what[400];
    snprintf(what, sizeof what, "%.300s: device", file);
#define TAKE(fld, member)                                                                       \
    do {                                                                                        \
        if (!s->has_##fld)                                                                      \
            return dp_fail(err, DP_EINPUT, "%s: field '%s' is missing", what, #fld);            \
        d->member = s->fld;                                                                     \
    } while (0)
    if (!s->name || !s->description)
        return dp_fail(err, DP_EINPUT, "%s: field '%s' is missing", what,
                       s->name ? "description" : "name");
    dp_status st = dp_device_set_text(d, "name", s->name, what, err);
    if (st == DP_OK)
        st = dp_device_set_text(d, "description", s->description, what, err);
    if (st != DP_OK)
        return st;
    TAKE(core_rows, rows);
    TAKE(core_cols, cols);
    TAKE(clock_ghz, clock_ghz);
    TAKE(wavelength_nm, wavelength_nm);
    TAKE(photons_per_mac, photons_per_mac);
    TAKE(optical_efficiency, optical_efficiency);
    TAKE(thermal_std, thermal_std);
    TAKE(shot_noise, shot_noise);
    TAKE(weight_noise_std, weight_noise_std);
    TAKE(input_noise_std, input_noise_std);
    TAKE(static_weight_std, static_weight_std);
    TAKE(distortion_k3, distortion_k3);
    TAKE(dac_bits, dac_bits);
    TAKE(weight_bits, weight_bits);
    TAKE(adc_bits, adc_bits);
    TAKE(remodulate_weights, remodulate_weights);
    TAKE(max_repetitions, max_repetitions);
    TAKE(repetitions_power_of_two, repetitions_power_of_two);
    TAKE(dac_conversion_pj, dac_conversion_pj);
    TAKE(adc_conversion_pj, adc_conversion_pj);
    TAKE(digital_op_pj, digital_op_pj);
    TAKE(memory_byte_pj, memory_byte_pj);
    if (version >= 2) {
        TAKE(shot_model, shot_model);
        TAKE(thermal_model, thermal_model);
        TAKE(adc_mode, adc_mode);
        TAKE(precision, precision);
        TAKE(headroom, headroom);
    } else {
        d->shot_model = DP_SHOT_FULL_SCALE;
        d->thermal_model = DP_THERMAL_OUTPUT;
        d->adc_mode = DP_ADC_INTEGRATE;
        d->precision = DP_PRECISION_REPETITIONS;
        d->headroom = 1;
    }
#undef TAKE
    return DP_OK; /* the validator checks the values */
}

/* Copies the message into p's arena, checking what the copy itself depends on (counts and
 * ranks that size arrays); the validator checks the rest. */
static dp_status convert(const Dp__Program *msg, uint32_t version, dp_program *p,
                         const char *file, dp_error *err)
{
    dp_arena *m = &p->mem;
    char where[320];
    if (msg->has_format_version && msg->format_version != version)
        return dp_fail(err, DP_EINPUT, "%s: metadata is format version %u, the header %u", file,
                       msg->format_version, version);
    if (msg->weights_bytes != p->weights_bytes)
        return dp_fail(err, DP_EINPUT, "%s: metadata declares %llu bytes of weights, the header "
                       "%llu", file, (unsigned long long)msg->weights_bytes,
                       (unsigned long long)p->weights_bytes);
    if (msg->n_tensors > INT32_MAX || msg->n_inputs > INT32_MAX || msg->n_outputs > INT32_MAX
        || msg->n_instrs > INT32_MAX)
        return dp_fail(err, DP_EINPUT, "%s: tables larger than 2^31 entries", file);
    p->producer = dup_str(m, msg->producer);
    p->model_name = dup_str(m, msg->model_name);
    p->opset = msg->opset;
    p->arena_bytes = msg->arena_bytes;
    p->n_tensors = (int32_t)msg->n_tensors;
    p->n_inputs = (int32_t)msg->n_inputs;
    p->n_outputs = (int32_t)msg->n_outputs;
    p->n_instrs = (int32_t)msg->n_instrs;
    p->tensors = dp_arena_calloc(m, msg->n_tensors + 1, sizeof *p->tensors);
    p->inputs = dp_arena_memdup(m, msg->inputs, msg->n_inputs * sizeof *msg->inputs);
    p->outputs = dp_arena_memdup(m, msg->outputs, msg->n_outputs * sizeof *msg->outputs);
    p->instrs = dp_arena_calloc(m, msg->n_instrs + 1, sizeof *p->instrs);
    if (!p->producer || !p->model_name || !p->tensors || !p->inputs || !p->outputs || !p->instrs)
        return OOM(file);
    if (msg->device) {
        if (!(p->device = dp_arena_calloc(m, 1, sizeof *p->device)))
            return OOM(file);
        dp_status st = convert_device(msg->device, p->device, version, file, err);
        if (st != DP_OK)
            return st;
    }

    for (size_t i = 0; i < msg->n_tensors; i++) {
        const Dp__Tensor *t = msg->tensors[i];
        dp_tensor_info *ti = &p->tensors[i];
        if (!(ti->name = dup_str(m, t->name)))
            return OOM(file);
        int32_t rank = t->rank;
        tensor_where(where, sizeof where, p, (int)i);
        if (rank < -1 || rank > DP_MAX_RANK)
            return fail_at(err, DP_EINPUT, file, where, "rank %d is outside -1..%d", rank,
                           DP_MAX_RANK);
        if ((size_t)(rank < 0 ? 0 : rank) != t->n_dims)
            return fail_at(err, DP_EINPUT, file, where, "rank %d but %zu dimensions", rank,
                           t->n_dims);
        ti->t.dtype = (dp_dtype)t->dtype;
        ti->t.rank = rank;
        if (t->n_dims)
            memcpy(ti->t.dims, t->dims, t->n_dims * sizeof *t->dims);
        ti->storage = (dp_storage)t->storage;
        ti->offset = t->offset;
        ti->nbytes = t->nbytes;
    }
    for (size_t i = 0; i < msg->n_instrs; i++) {
        const Dp__Instr *s = msg->instrs[i];
        dp_instr *d = &p->instrs[i];
        d->op = dup_str(m, s->op);
        d->name = dup_str(m, s->name);
        if (!d->op || !d->name)
            return OOM(file);
        instr_where(where, sizeof where, (int)i, d->op, d->name);
        d->def = dp_op_find(d->op);
        d->opset = s->opset;
        if (s->n_inputs > DP_MAX_NODE_INPUTS || s->n_outputs > DP_MAX_NODE_OUTPUTS)
            return fail_at(err, DP_EINPUT, file, where, "%zu inputs and %zu outputs, above the "
                           "limits of %d and %d", s->n_inputs, s->n_outputs, DP_MAX_NODE_INPUTS,
                           DP_MAX_NODE_OUTPUTS);
        if (s->n_attrs > INT32_MAX)
            return fail_at(err, DP_EINPUT, file, where, "too many attributes");
        d->n_in = (int32_t)s->n_inputs;
        d->n_out = (int32_t)s->n_outputs;
        d->n_attrs = (int32_t)s->n_attrs;
        d->in = dp_arena_memdup(m, s->inputs, s->n_inputs * sizeof *s->inputs);
        d->out = dp_arena_memdup(m, s->outputs, s->n_outputs * sizeof *s->outputs);
        dp_attr *attrs = dp_arena_calloc(m, s->n_attrs + 1, sizeof *attrs);
        if (!d->in || !d->out || !attrs)
            return OOM(file);
        d->attrs = attrs;
        for (size_t k = 0; k < s->n_attrs; k++) {
            dp_status st = convert_attr(s->attrs[k], &attrs[k], m, file, where, err);
            if (st != DP_OK)
                return st;
        }
        if (s->mvm) {
            dp_mvm *mv = dp_arena_alloc(m, sizeof *mv);
            if (!mv)
                return OOM(file);
            d->mvm = mv;
            dp_status st = convert_mvm(s->mvm, mv, m, file, where, err);
            if (st != DP_OK)
                return st;
        }
    }
    return DP_OK;
}

/* Parses buf (64-byte aligned, owned: freed on failure, else by dp_program_free). */
static dp_status parse_owned(unsigned char *buf, size_t len, const char *file, dp_program **out,
                             dp_error *err)
{
    *out = NULL;
    uint64_t meta_len = 0, weights_len = 0;
    dp_status st = check_header(buf, len, file, &meta_len, &weights_len, err);
    if (st != DP_OK) {
        free(buf);
        return st;
    }
    Dp__Program *msg = dp__program__unpack(NULL, (size_t)meta_len, buf + HEADER_BYTES);
    if (!msg) {
        free(buf);
        return dp_fail(err, DP_EINPUT, "%s: the metadata is not a valid program message", file);
    }
    dp_program *p = calloc(1, sizeof *p);
    if (!p) {
        dp__program__free_unpacked(msg, NULL);
        free(buf);
        return OOM(file);
    }
    dp_arena_init(&p->mem, 0);
    p->file_buf = buf;
    p->weights = buf + align_up(HEADER_BYTES + meta_len);
    p->weights_bytes = weights_len;
    st = convert(msg, (uint32_t)get_le(buf + 8, 4), p, file, err);
    dp__program__free_unpacked(msg, NULL);
    if (st == DP_OK)
        st = validate(p, file, err);
    if (st != DP_OK) {
        dp_program_free(p);
        return st;
    }
    *out = p;
    return DP_OK;
}

dp_status dp_program_read(const char *path, dp_program **out, dp_error *err)
{
    unsigned char *buf;
    size_t len;
    *out = NULL;
    dp_status st = dp_file_read(path, NULL, UINT64_MAX, &buf, &len, err);
    return st == DP_OK ? parse_owned(buf, len, path, out, err) : st;
}

dp_status dp_program_parse(const void *buf, size_t len, dp_program **out, dp_error *err)
{
    *out = NULL;
    if (len > SIZE_MAX - 2 * ALIGN)
        return dp_fail(err, DP_ENOMEM, "program of %zu bytes is too large", len);
    /* A private aligned copy: constants point into it, and the caller's buffer may go. */
    unsigned char *copy = aligned_alloc(ALIGN, (size_t)align_up(len + 1));
    if (!copy)
        return dp_fail(err, DP_ENOMEM, "out of memory for a program of %zu bytes", len);
    if (len)
        memcpy(copy, buf, len);
    return parse_owned(copy, len, "(program in memory)", out, err);
}

void dp_program_free(dp_program *prog)
{
    if (!prog)
        return;
    dp_arena_free(&prog->mem);
    free(prog->file_buf);
    free(prog);
}

/* ---- listing ----------------------------------------------------------------------------- */

/* Names come from the file: control characters are shown escaped, not sent to the terminal. */
static void put_text(FILE *f, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)str(s); *c; c++) {
        if (*c < 0x20 || *c == 0x7f || *c == '"' || *c == '\\')
            fprintf(f, "\\x%02x", *c);
        else
            fputc(*c, f);
    }
}

static void put_shape(FILE *f, const dp_tensor *t)
{
    char s[160];
    fprintf(f, "[%s]", t->rank < 0 ? "?" : dp_shape_str(t, s, sizeof s));
}

static void put_operand(FILE *f, const dp_program *p, int t, bool with_shape)
{
    if (t < 0) {
        fputs("-", f);
        return;
    }
    fprintf(f, "%%%d ", t);
    put_text(f, p->tensors[t].name);
    if (with_shape || p->tensors[t].storage == DP_STORE_CONST)
        put_shape(f, &p->tensors[t].t);
}

enum { LIST_MAX = 16 };    /* list elements shown before "..." */
enum { NAME_COLUMN = 24 }; /* widest tensor name the listing pads to */

static void put_attr(FILE *f, const dp_attr *a)
{
    fputc(' ', f);
    put_text(f, a->name);
    fputc('=', f);
    switch (a->kind) {
    case DP_ATTR_FLOAT: fprintf(f, "%g", a->f); break;
    case DP_ATTR_INT: fprintf(f, "%lld", (long long)a->i); break;
    case DP_ATTR_STRING: fputc('"', f); put_text(f, a->s); fputc('"', f); break;
    case DP_ATTR_TENSOR:
        fprintf(f, "%s", dp_dtype_name(a->t->dtype));
        put_shape(f, a->t);
        if (dp_numel(a->t) == 1)
            fprintf(f, "{%g}", dp_load_f64(a->t->data, a->t->dtype, 0));
        break;
    case DP_ATTR_FLOATS:
    case DP_ATTR_INTS:
    case DP_ATTR_STRINGS:
        fputc('[', f);
        for (int j = 0; j < a->n && j < LIST_MAX; j++) {
            if (j)
                fputc(',', f);
            if (a->kind == DP_ATTR_FLOATS)
                fprintf(f, "%g", a->floats[j]);
            else if (a->kind == DP_ATTR_INTS)
                fprintf(f, "%lld", (long long)a->ints[j]);
            else {
                fputc('"', f);
                put_text(f, a->strings[j]);
                fputc('"', f);
            }
        }
        fprintf(f, "%s]", a->n > LIST_MAX ? ",..." : "");
        break;
    }
}

void dp_program_disasm(const dp_program *prog, FILE *f)
{
    const dp_program *p = prog;
    fprintf(f, "program \"");
    put_text(f, p->model_name);
    fprintf(f, "\": format %d, producer \"", DP_FORMAT_VERSION);
    put_text(f, p->producer);
    fprintf(f, "\", opset %d\n  %d tensors, %d instructions, arena %llu bytes, weights %llu "
            "bytes\n", p->opset, p->n_tensors, p->n_instrs, (unsigned long long)p->arena_bytes,
            (unsigned long long)p->weights_bytes);
    if (p->device) {
        char *json = dp_device_to_json(p->device);
        fprintf(f, "device %s", json ? json : "(out of memory)\n");
        free(json);
    }
    fputs("inputs: ", f);
    for (int k = 0; k < p->n_inputs; k++) {
        fputs(k ? ", " : "", f);
        put_operand(f, p, p->inputs[k], true);
    }
    fputs("\noutputs:", f);
    for (int k = 0; k < p->n_outputs; k++) {
        fputs(k ? ", " : " ", f);
        put_operand(f, p, p->outputs[k], true);
    }
    fputs("\n\ntensors:\n", f);
    int width = 0; /* of the name column, so that long names do not stretch every line */
    for (int i = 0; i < p->n_tensors; i++) {
        int n = (int)strnlen(str(p->tensors[i].name), NAME_COLUMN);
        width = n > width ? n : width;
    }
    for (int i = 0; i < p->n_tensors; i++) {
        const dp_tensor_info *ti = &p->tensors[i];
        fprintf(f, "  %%%-4d ", i);
        put_text(f, ti->name);
        fprintf(f, "%*s  %s", width - (int)strnlen(str(ti->name), NAME_COLUMN), "",
                dp_dtype_name(ti->t.dtype));
        put_shape(f, &ti->t);
        fprintf(f, "  %s", storage_name(ti->storage));
        if (ti->storage == DP_STORE_ARENA || ti->storage == DP_STORE_CONST)
            fprintf(f, " @%llu +%llu", (unsigned long long)ti->offset,
                    (unsigned long long)ti->nbytes);
        fputc('\n', f);
    }
    fputs("\ninstructions:\n", f);
    for (int i = 0; i < p->n_instrs; i++) {
        const dp_instr *ins = &p->instrs[i];
        fprintf(f, "  %4d  %s  ", i, ins->mvm ? "mvm" : "   ");
        put_text(f, ins->op);
        fputs("  \"", f);
        put_text(f, ins->name);
        fputs("\"  in: ", f);
        for (int j = 0; j < ins->n_in; j++) {
            fputs(j ? ", " : "", f);
            put_operand(f, p, ins->in[j], false);
        }
        fputs(" -> ", f);
        for (int j = 0; j < ins->n_out; j++) {
            fputs(j ? ", " : "", f);
            put_operand(f, p, ins->out[j], true);
        }
        if (ins->mvm) {
            const dp_mvm *m = ins->mvm;
            fprintf(f, "  N=%d dac=%d w=%d adc=%d tiles=%lldx%lld", m->repetitions, m->dac_bits,
                    m->weight_bits, m->adc_bits, (long long)m->row_tiles, (long long)m->col_tiles);
            if (m->input_scale > 0)
                fprintf(f, " X=%g%s", m->input_scale, m->input_unsigned ? " (unsigned)" : "");
            if (m->n_output_scale == 1)
                fprintf(f, " G=%g", m->output_scale[0]);
            else if (m->n_output_scale > 1)
                fprintf(f, " G=[%d scales]", m->n_output_scale);
        }
        if (ins->n_attrs)
            fputc(' ', f);
        for (int k = 0; k < ins->n_attrs; k++)
            put_attr(f, &ins->attrs[k]);
        fputc('\n', f);
    }
}
