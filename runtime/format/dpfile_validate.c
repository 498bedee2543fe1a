/*
 * dpfile_validate.c: the .dp validator: every index, offset, size, dtype and op a file
 * says is checked before the executor may touch memory by it.
 */
#include "dpfile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct vctx {
    const dp_program *p;
    const char *file;
    dp_error *err;
    unsigned char *defined; /* per tensor: holds a value at this point of the stream */
} vctx;

static bool name_ok(const char *s)
{
    return strnlen(dpf_str(s), DP_MAX_NAME + 1) <= DP_MAX_NAME;
}

static dp_status check_tensor(vctx *v, int i)
{
    const dp_program *p = v->p;
    const dp_tensor_info *ti = &p->tensors[i];
    char where[320];
    dpf_tensor_where(where, sizeof where, p, i);
    if (!name_ok(ti->name))
        return dpf_fail_at(v->err, DP_EINPUT, v->file, where, "name longer than %d bytes",
                           DP_MAX_NAME);
    if (ti->storage < DP_STORE_ARENA || ti->storage > DP_STORE_DYNAMIC)
        return dpf_fail_at(v->err, DP_EINPUT, v->file, where,
                           "storage kind %d is not arena (0), "
                           "const (1), input (2) or dynamic (3)",
                           (int)ti->storage);
    if (dp_dtype_size(ti->t.dtype) == 0)
        return dpf_fail_at(v->err, DP_EINPUT, v->file, where, "data type %s (%d) cannot be stored",
                           dp_dtype_name(ti->t.dtype), (int)ti->t.dtype);
    if (ti->t.rank == -1) {
        if (ti->storage != DP_STORE_DYNAMIC)
            return dpf_fail_at(v->err, DP_EINPUT, v->file, where,
                               "shape unknown (rank -1) but the "
                               "storage is %s; only dynamic tensors may have an unknown shape",
                               dpf_storage_name(ti->storage));
        return DP_OK;
    }
    dp_error shape_err = {0};
    if (dp_shape_check(&ti->t, &shape_err, "shape") != DP_OK)
        return dpf_fail_at(v->err, DP_EINPUT, v->file, where, "%s", shape_err.msg);
    if (ti->storage == DP_STORE_DYNAMIC)
        return DP_OK; /* allocated per inference from the shape the kernels infer */
    uint64_t need = (uint64_t)dp_nbytes(&ti->t);
    if (ti->nbytes != need) {
        char s[160];
        return dpf_fail_at(v->err, DP_EINPUT, v->file, where,
                           "declares %llu bytes, but %s[%s] "
                           "needs %llu",
                           (unsigned long long)ti->nbytes, dp_dtype_name(ti->t.dtype),
                           dp_shape_str(&ti->t, s, sizeof s), (unsigned long long)need);
    }
    if (ti->storage == DP_STORE_CONST) {
        if (ti->offset % DPF_ALIGN != 0)
            return dpf_fail_at(v->err, DP_EINPUT, v->file, where,
                               "weight offset %llu is not a "
                               "multiple of %d",
                               (unsigned long long)ti->offset, DPF_ALIGN);
        if (ti->offset > p->weights_bytes || need > p->weights_bytes - ti->offset)
            return dpf_fail_at(v->err, DP_EINPUT, v->file, where,
                               "%llu bytes at offset %llu lie "
                               "outside the %llu-byte weight blob",
                               (unsigned long long)need, (unsigned long long)ti->offset,
                               (unsigned long long)p->weights_bytes);
    } else if (ti->storage == DP_STORE_ARENA) {
        /* Kernels access elements through typed pointers: the offset must keep them aligned. */
        if (ti->offset % dp_dtype_size(ti->t.dtype) != 0)
            return dpf_fail_at(v->err, DP_EINPUT, v->file, where,
                               "arena offset %llu is not aligned "
                               "for %s",
                               (unsigned long long)ti->offset, dp_dtype_name(ti->t.dtype));
        if (ti->offset > p->arena_bytes || need > p->arena_bytes - ti->offset)
            return dpf_fail_at(v->err, DP_EINPUT, v->file, where,
                               "%llu bytes at offset %llu lie "
                               "outside the %llu-byte activation arena",
                               (unsigned long long)need, (unsigned long long)ti->offset,
                               (unsigned long long)p->arena_bytes);
    }
    return DP_OK;
}

static dp_status check_attr(vctx *v, const char *where, int k, const dp_attr *a)
{
    if (!a->name || !a->name[0])
        return dpf_fail_at(v->err, DP_EINPUT, v->file, where, "attribute %d has no name", k);
    if (!name_ok(a->name))
        return dpf_fail_at(v->err, DP_EINPUT, v->file, where,
                           "attribute %d has a name longer than "
                           "%d bytes",
                           k, DP_MAX_NAME);
    bool ok = true;
    switch (a->kind) {
    case DP_ATTR_FLOAT:
    case DP_ATTR_INT: break;
    case DP_ATTR_STRING: ok = a->s != NULL; break;
    case DP_ATTR_FLOATS: ok = a->n >= 0 && (a->n == 0 || a->floats); break;
    case DP_ATTR_INTS: ok = a->n >= 0 && (a->n == 0 || a->ints); break;
    case DP_ATTR_STRINGS:
        ok = a->n >= 0 && (a->n == 0 || a->strings);
        for (int j = 0; ok && j < a->n; j++)
            ok = a->strings[j] != NULL;
        break;
    case DP_ATTR_TENSOR: {
        if (!a->t)
            return dpf_fail_at(v->err, DP_EINPUT, v->file, where,
                               "tensor attribute '%.200s' has no "
                               "tensor",
                               a->name);
        dp_error shape_err = {0};
        if (dp_dtype_size(a->t->dtype) == 0 || dp_shape_check(a->t, &shape_err, "shape") != DP_OK)
            return dpf_fail_at(v->err, DP_EINPUT, v->file, where, "tensor attribute '%.200s': %s",
                               a->name,
                               shape_err.code ? shape_err.msg : "data type cannot be stored");
        ok = a->t->data || dp_nbytes(a->t) == 0;
        break;
    }
    default:
        return dpf_fail_at(v->err, DP_EINPUT, v->file, where,
                           "attribute '%.200s' has unknown kind %d", a->name, (int)a->kind);
    }
    if (!ok)
        return dpf_fail_at(v->err, DP_EINPUT, v->file, where, "attribute '%.200s' has no value",
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

/*
 * The MAC count the compiler wrote must be the instruction's own (partition_analog.c): fan-in
 * times the output's elements for Conv, Gemm and MatMul, at most the input's elements times
 * the outputs for ConvTranspose. It prices the energy report: a file must not make it
 * anything it likes. Shapes unknown until run time leave it unchecked.
 */
static dp_status check_macs(vctx *v, const char *where, const dp_instr *ins)
{
    const dp_mvm *m = ins->mvm;
    const dp_program *p = v->p;
    if (ins->n_in < 1 || ins->n_out < 1 || ins->in[0] < 0 || ins->in[0] >= p->n_tensors
        || ins->out[0] < 0 || ins->out[0] >= p->n_tensors)
        return DP_OK; /* check_instr names the bad operand */
    const dp_tensor *x = &p->tensors[ins->in[0]].t, *y = &p->tensors[ins->out[0]].t;
    bool transpose = strcmp(ins->op, "ConvTranspose") == 0;
    const dp_tensor *t = transpose ? x : y;
    if (t->rank < 0)
        return DP_OK;
    int64_t per = transpose ? m->outputs : m->fan_in, want;
    if (dp_mul_i64(dp_numel(t), per, &want) != 0)
        return dpf_fail_at(v->err, DP_EINPUT, v->file, where, "analog fields: %lld MACs "
                           "overflow", (long long)m->macs);
    if (transpose ? m->macs > want : m->macs != want)
        return dpf_fail_at(v->err, DP_EINPUT, v->file, where,
                           "analog fields: %lld MACs, but the shapes give %s%lld",
                           (long long)m->macs, transpose ? "at most " : "", (long long)want);
    return DP_OK;
}

static dp_status check_mvm(vctx *v, const char *where, const dp_instr *ins)
{
    const dp_mvm *m = ins->mvm;
#define MVM_FAIL(...) dpf_fail_at(v->err, DP_EINPUT, v->file, where, "analog fields: " __VA_ARGS__)
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
    if (v->p->device && !dp_device_repetitions_ok(v->p->device, m->repetitions))
        return MVM_FAIL("%d repetitions, but the program's device '%.100s' runs 1 to %d%s",
                        m->repetitions, dpf_str(v->p->device->name),
                        v->p->device->max_repetitions,
                        v->p->device->repetitions_power_of_two ? ", powers of two only" : "");
    dp_status st = check_macs(v, where, ins);
    if (st != DP_OK)
        return st;
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
    if (m->n_weight_scale != 0 && (m->n_weight_scale != m->outputs || m->weight_input == -1))
        return MVM_FAIL("%d weight scales, expected none or, with constant weights, one per "
                        "output (%lld)", m->n_weight_scale, (long long)m->outputs);
    if (m->n_weight_scale > 0 && !m->weight_scale)
        return MVM_FAIL("weight scales missing");
    for (int j = 0; j < m->n_weight_scale; j++)
        if (!(m->weight_scale[j] > 0) || !isfinite(m->weight_scale[j]))
            return MVM_FAIL("weight scale %d is %g, expected finite and positive", j,
                            m->weight_scale[j]);
    if (m->weight_grid_bits < 0 || m->weight_grid_bits > 32)
        return MVM_FAIL("weight grid of %d bits, expected 0 to 32", m->weight_grid_bits);
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
    dpf_instr_where(where, sizeof where, i, ins->op, ins->name);
    if (!ins->op || !ins->op[0])
        return dpf_fail_at(v->err, DP_EINPUT, v->file, where, "no op");
    if (!name_ok(ins->op) || !name_ok(ins->name))
        return dpf_fail_at(v->err, DP_EINPUT, v->file, where, "op or name longer than %d bytes",
                           DP_MAX_NAME);
    const dp_op_def *def = dp_op_find(ins->op);
    if (!def)
        return dpf_fail_at(v->err, DP_EUNSUPPORTED, v->file, where,
                           "op '%.100s' is not supported "
                           "by this runtime",
                           ins->op);
    if (ins->opset < 1)
        return dpf_fail_at(v->err, DP_EINPUT, v->file, where, "opset %d, expected 1 or more",
                           ins->opset);
    if (ins->n_in < def->min_in || (def->max_in >= 0 && ins->n_in > def->max_in)
        || ins->n_in > DP_MAX_NODE_INPUTS)
        return dpf_fail_at(v->err, DP_EINPUT, v->file, where, "%d inputs, %s takes %d to %d",
                           ins->n_in, def->name, def->min_in,
                           def->max_in >= 0 ? def->max_in : DP_MAX_NODE_INPUTS);
    if (ins->n_out < def->min_out || ins->n_out > def->max_out || ins->n_out > DP_MAX_NODE_OUTPUTS)
        return dpf_fail_at(v->err, DP_EINPUT, v->file, where, "%d outputs, %s has %d to %d",
                           ins->n_out, def->name, def->min_out, def->max_out);
    for (int j = 0; j < ins->n_in; j++) {
        int t = ins->in[j];
        if (t == -1) {
            if (j < def->min_in)
                return dpf_fail_at(v->err, DP_EINPUT, v->file, where,
                                   "required input %d is omitted", j);
            continue;
        }
        if (t < 0 || t >= p->n_tensors)
            return dpf_fail_at(v->err, DP_EINPUT, v->file, where,
                               "input %d is tensor %d, outside "
                               "the table of %d tensors",
                               j, t, p->n_tensors);
        if (!v->defined[t])
            return dpf_fail_at(v->err, DP_EINPUT, v->file, where,
                               "input %d is tensor %d ('%.200s'), "
                               "which is neither a graph input, a constant, nor written by an "
                               "earlier instruction",
                               j, t, dpf_str(p->tensors[t].name));
    }
    for (int j = 0; j < ins->n_out; j++) {
        int t = ins->out[j];
        if (t < 0 || t >= p->n_tensors)
            return dpf_fail_at(v->err, DP_EINPUT, v->file, where,
                               "output %d is tensor %d, outside "
                               "the table of %d tensors",
                               j, t, p->n_tensors);
        dp_storage s = p->tensors[t].storage;
        if (s == DP_STORE_CONST || s == DP_STORE_INPUT)
            return dpf_fail_at(v->err, DP_EINPUT, v->file, where,
                               "output %d is tensor %d ('%.200s'), "
                               "a%s %s, which no instruction may write",
                               j, t, dpf_str(p->tensors[t].name), s == DP_STORE_INPUT ? "n" : "",
                               dpf_storage_name(s));
        if (v->defined[t])
            return dpf_fail_at(v->err, DP_EINPUT, v->file, where,
                               "output %d is tensor %d ('%.200s'), "
                               "which an earlier instruction or output already writes",
                               j, t, dpf_str(p->tensors[t].name));
        v->defined[t] = 1;
    }
    if (ins->n_attrs < 0 || (ins->n_attrs > 0 && !ins->attrs))
        return dpf_fail_at(v->err, DP_EINPUT, v->file, where, "bad attribute table");
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
    if (p->arena_bytes > DPF_MAX_ARENA)
        return dp_fail(v->err, DP_EINPUT,
                       "%s: activation arena of %llu bytes is above the limit "
                       "of %llu",
                       v->file, (unsigned long long)p->arena_bytes,
                       (unsigned long long)DPF_MAX_ARENA);
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
            return dp_fail(v->err, DP_EINPUT,
                           "%s: graph input %d is tensor %d, outside the table "
                           "of %d tensors",
                           v->file, k, t, p->n_tensors);
        dpf_tensor_where(where, sizeof where, p, t);
        if (p->tensors[t].storage != DP_STORE_INPUT)
            return dpf_fail_at(v->err, DP_EINPUT, v->file, where,
                               "graph input %d, but its storage "
                               "is %s, not input",
                               k, dpf_storage_name(p->tensors[t].storage));
        if (v->defined[t])
            return dpf_fail_at(v->err, DP_EINPUT, v->file, where, "listed twice as a graph input");
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
            return dp_fail(v->err, DP_EINPUT,
                           "%s: graph output %d is tensor %d, outside the "
                           "table of %d tensors",
                           v->file, k, t, p->n_tensors);
        if (!v->defined[t])
            return dpf_fail_at(v->err, DP_EINPUT, v->file,
                               dpf_tensor_where(where, sizeof where, p, t),
                               "graph output %d, but nothing defines it", k);
    }
    return DP_OK;
}

dp_status dpf_validate(const dp_program *p, const char *file, dp_error *err)
{
    vctx v = {p, file, err, calloc((size_t)(p->n_tensors > 0 ? p->n_tensors : 0) + 1, 1)};
    if (!v.defined)
        return dp_fail(err, DP_ENOMEM, "%s: out of memory validating the program", file);
    dp_status st = check_program(&v);
    free(v.defined);
    return st;
}
