/*
 * dpfile_write.c: device programs into .dp files and buffers (layout in dpfile.h).
 */
#include "dpfile.h"

#include "crc32.h"
#include "dp.pb-c.h"
#include "tensor_io.h"

#include <stdlib.h>
#include <string.h>

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

static void build_tensor(const dp_tensor_info *ti, Dp__Tensor *t)
{
    dp__tensor__init(t);
    t->name = (char *)dpf_str(ti->name);
    t->has_dtype = t->has_rank = t->has_storage = t->has_offset = t->has_nbytes = 1;
    t->dtype = (int32_t)ti->t.dtype;
    t->rank = ti->t.rank;
    t->n_dims = ti->t.rank > 0 ? (size_t)ti->t.rank : 0;
    t->dims = (int64_t *)ti->t.dims;
    t->storage = (Dp__Storage)ti->storage;
    t->offset = ti->offset;
    t->nbytes = ti->storage == DP_STORE_DYNAMIC ? 0 : ti->nbytes;
}

/* A STRINGS attribute's table and a TENSOR attribute's header come from m. */
static dp_status build_attr(const dp_attr *a, dp_arena *m, Dp__Attr *o)
{
    dp__attr__init(o);
    o->name = (char *)a->name;
    o->has_kind = 1;
    o->kind = (Dp__AttrKind)a->kind;
    switch (a->kind) {
    case DP_ATTR_FLOAT:
        o->has_f = 1;
        o->f = a->f;
        break;
    case DP_ATTR_INT:
        o->has_i = 1;
        o->i = a->i;
        break;
    case DP_ATTR_STRING:
        o->has_s = 1;
        o->s.len = strlen(a->s);
        o->s.data = (uint8_t *)a->s;
        break;
    case DP_ATTR_FLOATS:
        o->n_floats = (size_t)a->n;
        o->floats = (float *)a->floats;
        break;
    case DP_ATTR_INTS:
        o->n_ints = (size_t)a->n;
        o->ints = (int64_t *)a->ints;
        break;
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
    return DP_OK;
}

static void build_mvm(const dp_mvm *mv, Dp__Mvm *o)
{
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
    o->n_weight_scale = (size_t)mv->n_weight_scale;
    o->weight_scale = mv->weight_scale;
    o->has_weight_grid_bits = 1;
    o->weight_grid_bits = mv->weight_grid_bits;
}

/* The attribute and MVM messages, and the tables pointing to them, come from m. */
static dp_status build_instr(const dp_instr *ins, dp_arena *m, Dp__Instr *d)
{
    dp__instr__init(d);
    d->op = (char *)dpf_str(ins->op);
    d->name = (char *)dpf_str(ins->name);
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
        dp_status st = build_attr(&ins->attrs[k], m, &as[k]);
        if (st != DP_OK)
            return st;
        d->attrs[k] = &as[k];
    }
    if (ins->mvm) {
        if (!(d->mvm = dp_arena_alloc(m, sizeof *d->mvm)))
            return DP_ENOMEM;
        build_mvm(ins->mvm, d->mvm);
    }
    return DP_OK;
}

/* The message views the program's arrays in place; only the pointer tables come from m. */
static dp_status build_message(const dp_program *p, dp_arena *m, Dp__Program *msg)
{
    dp__program__init(msg);
    msg->has_format_version = 1;
    msg->format_version = DP_FORMAT_VERSION;
    msg->producer = (char *)dpf_str(p->producer);
    msg->model_name = (char *)dpf_str(p->model_name);
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
        build_tensor(&p->tensors[i], &ts[i]);
        msg->tensors[i] = &ts[i];
    }
    msg->n_instrs = (size_t)p->n_instrs;
    for (int i = 0; i < p->n_instrs; i++) {
        dp_status st = build_instr(&p->instrs[i], m, &is[i]);
        if (st != DP_OK)
            return st;
        msg->instrs[i] = &is[i];
    }
    return DP_OK;
}

/* The file as the parts written in order: header, metadata, padding, weights. */
static dp_status pack_parts(const dp_program *prog, const char *path, unsigned char *header,
                            unsigned char **meta_out, dp_chunk parts[4], dp_error *err)
{
    /* A program this runtime would refuse to load is a compiler bug: say so now, not when the
     * file is run. */
    static const unsigned char zeros[DPF_ALIGN];
    dp_error bad = {0};
    if (dpf_validate(prog, path, &bad) != DP_OK)
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
    if (meta_len > DPF_MAX_METADATA) {
        free(meta);
        dp_arena_free(&m);
        return dp_fail(err, DP_EUNSUPPORTED,
                       "%s: program metadata of %zu bytes is above the "
                       "limit of %llu",
                       path, meta_len, (unsigned long long)DPF_MAX_METADATA);
    }
    dp__program__pack(&msg, meta);
    dp_arena_free(&m);

    uint32_t crc = dp_crc32(dp_crc32(0, meta, meta_len), prog->weights, prog->weights_bytes);
    memset(header, 0, DPF_HEADER_BYTES);
    memcpy(header, DPF_MAGIC, 8);
    dpf_put_le(header + 8, DP_FORMAT_VERSION, 4);
    dpf_put_le(header + 12, 0, 4);
    dpf_put_le(header + 16, meta_len, 8);
    dpf_put_le(header + 24, prog->weights_bytes, 8);
    dpf_put_le(header + 32, crc, 4);
    size_t pad =
        (size_t)(dpf_align_up(DPF_HEADER_BYTES + meta_len) - (DPF_HEADER_BYTES + meta_len));
    parts[0] = (dp_chunk){header, DPF_HEADER_BYTES};
    parts[1] = (dp_chunk){meta, meta_len};
    parts[2] = (dp_chunk){zeros, pad};
    parts[3] = (dp_chunk){prog->weights, (size_t)prog->weights_bytes};
    *meta_out = meta;
    return DP_OK;
}

dp_status dp_program_write(const dp_program *prog, const char *path, dp_error *err)
{
    unsigned char header[DPF_HEADER_BYTES], *meta;
    dp_chunk parts[4];
    dp_status st = pack_parts(prog, path, header, &meta, parts, err);
    if (st != DP_OK)
        return st;
    st = dp_file_write_atomic(path, parts, 4, err);
    free(meta);
    return st;
}

dp_status dp_program_pack(const dp_program *prog, unsigned char **buf, size_t *len, dp_error *err)
{
    unsigned char header[DPF_HEADER_BYTES], *meta;
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
