/*
 * dpfile_read.c: .dp files and buffers into device programs: the header, sizes and
 * checksum checked, the metadata converted, then the whole program validated.
 */
#include "dpfile.h"

#include "crc32.h"
#include "dp.pb-c.h"
#include "tensor_io.h"

#include <stdlib.h>
#include <string.h>

static dp_status check_header(const unsigned char *buf, size_t len, const char *file,
                              uint64_t *meta_len, uint64_t *weights_len, dp_error *err)
{
    if (len < DPF_HEADER_BYTES)
        return dp_fail(err, DP_EINPUT, "%s: truncated: %zu bytes, shorter than the %d-byte header",
                       file, len, DPF_HEADER_BYTES);
    if (memcmp(buf, DPF_MAGIC, 8) != 0)
        return dp_fail(err, DP_EINPUT, "%s: not a dpcc program (the magic is not \"%s\")", file,
                       DPF_MAGIC);
    uint32_t version = (uint32_t)dpf_get_le(buf + 8, 4);
    if (version > DP_FORMAT_VERSION)
        return dp_fail(err, DP_EINPUT, "%s: format version %u, this dprun reads up to %d", file,
                       version, DP_FORMAT_VERSION);
    if (version < 1)
        return dp_fail(err, DP_EINPUT, "%s: format version %u is invalid", file, version);
    uint32_t flags = (uint32_t)dpf_get_le(buf + 12, 4);
    if (flags != 0)
        return dp_fail(err, DP_EINPUT, "%s: unknown header flags 0x%x", file, flags);
    for (int i = 36; i < DPF_HEADER_BYTES; i++)
        if (buf[i] != 0)
            return dp_fail(err, DP_EINPUT, "%s: reserved header byte %d is not zero", file, i);
    *meta_len = dpf_get_le(buf + 16, 8);
    *weights_len = dpf_get_le(buf + 24, 8);
    if (*meta_len > DPF_MAX_METADATA)
        return dp_fail(err, DP_EINPUT, "%s: metadata length %llu is above the limit of %llu", file,
                       (unsigned long long)*meta_len, (unsigned long long)DPF_MAX_METADATA);
    uint64_t blob = dpf_align_up(DPF_HEADER_BYTES + *meta_len);
    uint64_t total = *weights_len > UINT64_MAX - blob ? UINT64_MAX : blob + *weights_len;
    if (total != (uint64_t)len)
        return dp_fail(err, DP_EINPUT,
                       "%s: %s: the file has %zu bytes, the header declares %llu "
                       "(%llu of metadata, %llu of weights)",
                       file, total > (uint64_t)len ? "truncated" : "trailing bytes", len,
                       (unsigned long long)total, (unsigned long long)*meta_len,
                       (unsigned long long)*weights_len);
    for (uint64_t i = DPF_HEADER_BYTES + *meta_len; i < blob; i++)
        if (buf[i] != 0)
            return dp_fail(err, DP_EINPUT, "%s: padding byte %llu after the metadata is not zero",
                           file, (unsigned long long)i);
    uint32_t want = (uint32_t)dpf_get_le(buf + 32, 4);
    uint32_t got = dp_crc32(dp_crc32(0, buf + DPF_HEADER_BYTES, (size_t)*meta_len), buf + blob,
                            (size_t)*weights_len);
    if (got != want)
        return dp_fail(err, DP_EINPUT,
                       "%s: checksum mismatch (header 0x%08x, contents 0x%08x): "
                       "the file is corrupt",
                       file, want, got);
    return DP_OK;
}

static char *dup_str(dp_arena *m, const char *s)
{
    return dp_arena_strdup(m, dpf_str(s));
}

/* A protobuf bytes field as a C string; NULL with *has_nul set when it holds a NUL. */
static char *dup_bytes(dp_arena *m, ProtobufCBinaryData b, bool *has_nul)
{
    *has_nul = b.len && memchr(b.data, 0, b.len) != NULL;
    return *has_nul ? NULL : dp_arena_strndup(m, b.len ? (const char *)b.data : "", b.len);
}

#define OOM(file) dp_fail(err, DP_ENOMEM, "%s: out of memory loading the program", file)

static dp_status attr_from_message(const Dp__Attr *a, dp_attr *d, dp_arena *m, const char *file,
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
                   : d->kind == DP_ATTR_INTS ? a->n_ints
                                             : a->n_strings;
        if (n > INT32_MAX)
            return dpf_fail_at(err, DP_EINPUT, file, where,
                               "attribute '%.200s' has too many values", d->name);
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
            return dpf_fail_at(err, DP_EINPUT, file, where,
                               "tensor attribute '%.200s' has rank %zu, "
                               "above the limit of %d",
                               d->name, it->n_dims, DP_MAX_RANK);
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
            return dpf_fail_at(err, DP_EINPUT, file, where, "tensor attribute '%.200s': %s",
                               d->name,
                               shape_err.code ? shape_err.msg : "data type cannot be stored");
        size_t bytes = dp_nbytes(t);
        if (it->data.len != bytes)
            return dpf_fail_at(err, DP_EINPUT, file, where,
                               "tensor attribute '%.200s' has %zu bytes "
                               "of data, its shape needs %zu",
                               d->name, it->data.len, bytes);
        t->data = dp_arena_memdup(m, it->data.data, bytes);
        if (!t->data)
            return OOM(file);
        break;
    }
    default: break; /* the validator names the unknown kind */
    }
    if (nul)
        return dpf_fail_at(err, DP_EINPUT, file, where,
                           "attribute '%.200s': a string holds a NUL "
                           "byte",
                           d->name);
    return DP_OK;
}

static dp_status mvm_from_message(const Dp__Mvm *s, dp_mvm *d, dp_arena *m, const char *file,
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
        return dpf_fail_at(err, DP_EINPUT, file, where, "too many output scales");
    if (s->n_weight_scale > INT32_MAX)
        return dpf_fail_at(err, DP_EINPUT, file, where, "too many weight scales");
    d->n_output_scale = (int32_t)s->n_output_scale;
    d->output_scale = dp_arena_memdup(m, s->output_scale, s->n_output_scale * sizeof(float));
    d->n_weight_scale = (int32_t)s->n_weight_scale;
    d->weight_scale = dp_arena_memdup(m, s->weight_scale, s->n_weight_scale * sizeof(float));
    d->weight_grid_bits = s->weight_grid_bits;
    return d->output_scale && d->weight_scale ? DP_OK : OOM(file);
}

/* Every field is required: the writer sets them all, so a missing one means a damaged file.
 * Those that came with format version 2 take, in a version 1 file, what that file was
 * compiled for. */
static dp_status device_from_message(const Dp__Device *s, dp_device *d, uint32_t version,
                                     const char *file, dp_error *err)
{
    char what[400];
    snprintf(what, sizeof what, "%.300s: device", file);
#define TAKE(fld, member)                                                                          \
    do {                                                                                           \
        if (!s->has_##fld)                                                                         \
            return dp_fail(err, DP_EINPUT, "%s: field '%s' is missing", what, #fld);               \
        d->member = s->fld;                                                                        \
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

/* Tensor i of p from its message; the rank sizes the copy of the dimensions. */
static dp_status tensor_from_message(const Dp__Tensor *t, dp_program *p, int i, const char *file,
                                     dp_error *err)
{
    dp_tensor_info *ti = &p->tensors[i];
    char where[320];
    if (!(ti->name = dup_str(&p->mem, t->name)))
        return OOM(file);
    int32_t rank = t->rank;
    dpf_tensor_where(where, sizeof where, p, i);
    if (rank < -1 || rank > DP_MAX_RANK)
        return dpf_fail_at(err, DP_EINPUT, file, where, "rank %d is outside -1..%d", rank,
                           DP_MAX_RANK);
    if ((size_t)(rank < 0 ? 0 : rank) != t->n_dims)
        return dpf_fail_at(err, DP_EINPUT, file, where, "rank %d but %zu dimensions", rank,
                           t->n_dims);
    ti->t.dtype = (dp_dtype)t->dtype;
    ti->t.rank = rank;
    if (t->n_dims)
        memcpy(ti->t.dims, t->dims, t->n_dims * sizeof *t->dims);
    ti->storage = (dp_storage)t->storage;
    ti->offset = t->offset;
    ti->nbytes = t->nbytes;
    return DP_OK;
}

/* Instruction i of p from its message; its counts size the copies of its tables. */
static dp_status instr_from_message(const Dp__Instr *s, dp_program *p, int i, const char *file,
                                    dp_error *err)
{
    dp_arena *m = &p->mem;
    dp_instr *d = &p->instrs[i];
    char where[320];
    d->op = dup_str(m, s->op);
    d->name = dup_str(m, s->name);
    if (!d->op || !d->name)
        return OOM(file);
    dpf_instr_where(where, sizeof where, i, d->op, d->name);
    d->def = dp_op_find(d->op);
    d->opset = s->opset;
    if (s->n_inputs > DP_MAX_NODE_INPUTS || s->n_outputs > DP_MAX_NODE_OUTPUTS)
        return dpf_fail_at(err, DP_EINPUT, file, where,
                           "%zu inputs and %zu outputs, above the "
                           "limits of %d and %d",
                           s->n_inputs, s->n_outputs, DP_MAX_NODE_INPUTS, DP_MAX_NODE_OUTPUTS);
    if (s->n_attrs > INT32_MAX)
        return dpf_fail_at(err, DP_EINPUT, file, where, "too many attributes");
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
        dp_status st = attr_from_message(s->attrs[k], &attrs[k], m, file, where, err);
        if (st != DP_OK)
            return st;
    }
    if (s->mvm) {
        dp_mvm *mv = dp_arena_alloc(m, sizeof *mv);
        if (!mv)
            return OOM(file);
        d->mvm = mv;
        return mvm_from_message(s->mvm, mv, m, file, where, err);
    }
    return DP_OK;
}

/* Copies the message into p's arena, checking what the copy itself depends on (counts and
 * ranks that size arrays); the validator checks the rest. */
static dp_status program_from_message(const Dp__Program *msg, uint32_t version, dp_program *p,
                                      const char *file, dp_error *err)
{
    dp_arena *m = &p->mem;
    if (msg->has_format_version && msg->format_version != version)
        return dp_fail(err, DP_EINPUT, "%s: metadata is format version %u, the header %u", file,
                       msg->format_version, version);
    if (msg->weights_bytes != p->weights_bytes)
        return dp_fail(err, DP_EINPUT,
                       "%s: metadata declares %llu bytes of weights, the header "
                       "%llu",
                       file, (unsigned long long)msg->weights_bytes,
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
        dp_status st = device_from_message(msg->device, p->device, version, file, err);
        if (st != DP_OK)
            return st;
    }

    for (size_t i = 0; i < msg->n_tensors; i++) {
        dp_status st = tensor_from_message(msg->tensors[i], p, (int)i, file, err);
        if (st != DP_OK)
            return st;
    }
    for (size_t i = 0; i < msg->n_instrs; i++) {
        dp_status st = instr_from_message(msg->instrs[i], p, (int)i, file, err);
        if (st != DP_OK)
            return st;
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
    Dp__Program *msg = dp__program__unpack(NULL, (size_t)meta_len, buf + DPF_HEADER_BYTES);
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
    p->weights = buf + dpf_align_up(DPF_HEADER_BYTES + meta_len);
    p->weights_bytes = weights_len;
    st = program_from_message(msg, (uint32_t)dpf_get_le(buf + 8, 4), p, file, err);
    dp__program__free_unpacked(msg, NULL);
    if (st == DP_OK)
        st = dpf_validate(p, file, err);
    if (st != DP_OK) {
        dp_program_free(p);
        return st;
    }
    *out = p;
    return DP_OK;
}

dp_status dp_program_read_dist(dp_dist *d, const char *path, dp_program **out, dp_error *err)
{
    unsigned char *buf;
    size_t len;
    *out = NULL;
    dp_status st = dp_file_read_dist(d, path, NULL, UINT64_MAX, &buf, &len, err);
    return st == DP_OK ? parse_owned(buf, len, path, out, err) : st;
}

dp_status dp_program_read(const char *path, dp_program **out, dp_error *err)
{
    return dp_program_read_dist(NULL, path, out, err);
}

dp_status dp_program_parse(const void *buf, size_t len, dp_program **out, dp_error *err)
{
    *out = NULL;
    if (len > SIZE_MAX - 2 * DPF_ALIGN)
        return dp_fail(err, DP_ENOMEM, "program of %zu bytes is too large", len);
    /* A private aligned copy: constants point into it, and the caller's buffer may go. */
    unsigned char *copy = aligned_alloc(DPF_ALIGN, (size_t)dpf_align_up(len + 1));
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
