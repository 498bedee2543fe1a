/*
 * emit_c.c: the C backend. Writes a device program as one C11 file that needs only libc and
 * libm: first the runtime's own executor and kernels (tools/amalgamate.py joins them at
 * build time into dpc_runtime_source), then the program as static data, one function per
 * instruction, and the entry points (docs/c-backend.md). Running the emitted code is running
 * the .dp through the same executor, so the two agree bit for bit, ideal and noisy.
 */
#include "emit_c.h"

#include "crc32.h"
#include "report.h"
#include "tensor_io.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char dpc_runtime_source[];
extern const size_t dpc_runtime_source_len;

#define MAX_PREFIX DPC_PREFIX_MAX

bool dpc_c_prefix_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > MAX_PREFIX || !(isalpha((unsigned char)name[0]) || name[0] == '_'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)name[i]) || name[i] == '_'))
            return false;
    return true;
}

/* An identifier from any text: other characters become '_', a leading digit gets "m_". */
static void sanitise(const char *text, char *buf, size_t n)
{
    size_t used = isdigit((unsigned char)text[0]) ? (size_t)snprintf(buf, n, "m_") : 0;
    for (const char *c = text; *c && used + 1 < n; c++)
        buf[used++] = isalnum((unsigned char)*c) ? *c : '_';
    buf[used] = '\0';
}

/* A C string literal; octal escapes stop after three digits, so nothing following merges. */
static void put_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\' || *c == '?' || *c < 0x20 || *c > 0x7e)
            fprintf(f, "\\%03o", *c);
        else
            fputc(*c, f);
    }
    fputc('"', f);
}

/* Text for a comment: printable ASCII, and never the comment's end. */
static void put_comment_text(FILE *f, const char *s)
{
    for (const char *c = s; *c; c++)
        fputc(*c == '/' && c > s && c[-1] == '*' ? '|' : (*c >= 0x20 && *c <= 0x7e ? *c : '?'), f);
}

/* Exact constants: hexadecimal floating literals, and the macros for what they cannot say. */
static void put_double(FILE *f, double v, const char *suffix)
{
    if (isnan(v))
        fprintf(f, "%sNAN", signbit(v) ? "-" : "");
    else if (isinf(v))
        fprintf(f, "%sINFINITY", v < 0 ? "-" : "");
    else
        fprintf(f, "%a%s", v, suffix);
}

static void put_i64(FILE *f, int64_t v)
{
    if (v == INT64_MIN)
        fputs("(-INT64_MAX - 1)", f);
    else
        fprintf(f, "INT64_C(%lld)", (long long)v);
}

static void put_bytes(FILE *f, const unsigned char *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i += 32) {
        fputs("    \"", f);
        for (uint64_t j = i; j < n && j < i + 32; j++)
            fprintf(f, "\\x%02x", p[j]);
        fputs("\"\n", f);
    }
    if (n == 0)
        fputs("    \"\"\n", f);
}

/* {d0, d1, ...}; {0} for a scalar or an unknown shape (C has no empty initialiser). */
static void put_dims(FILE *f, const dp_tensor *t)
{
    if (t->rank <= 0) {
        fputs("{0}", f);
        return;
    }
    fputc('{', f);
    for (int d = 0; d < t->rank; d++)
        fprintf(f, "%s%lld", d ? ", " : "", (long long)t->dims[d]);
    fputc('}', f);
}

/* "float[1x16x28x28]", "?" for a data-dependent shape. */
static void put_type(FILE *f, const dp_tensor *t)
{
    char buf[160];
    fprintf(f, "%s[%s]", dp_dtype_name(t->dtype), t->rank < 0 ? "?" : dp_shape_str(t, buf, sizeof buf));
}

/* What precedes the amalgamated runtime: its visibility and the floating-point rules. */
static const char runtime_intro[] =
          "#define _GNU_SOURCE\n"
          "\n"
          "/* ======== the dpcc runtime: executor and kernels, as libdprt has them; hidden, so\n"
          " * only the entry points at the end leave the shared object ======== */\n"
          "#pragma GCC diagnostic push\n"
          "#pragma GCC diagnostic ignored \"-Wunused-parameter\"\n"

          "/* as gcc in ISO C mode: no contraction into fused multiply-adds, so that every\n"
          " * compiler computes the bits libdprt does */\n"
          "#if defined(__clang__)\n"
          "#pragma STDC FP_CONTRACT OFF\n"
          "#endif\n"
          "\n";

/* One line per graph input or output of the header comment: index, name, type. */
static void put_io_comment(FILE *f, const dp_program *p, const int32_t *which, int n)
{
    for (int i = 0; i < n; i++) {
        fprintf(f, " *   %d  ", i);
        put_comment_text(f, p->tensors[which[i]].name);
        fputs("  ", f);
        put_type(f, &p->tensors[which[i]].t);
        fputc('\n', f);
    }
}

static void emit_header(FILE *f, const dp_program *p, const char *out_path, const char *P,
                        const char *weights_name)
{
    const char *base = strrchr(out_path, '/') ? strrchr(out_path, '/') + 1 : out_path;
    fprintf(f, "/*\n * ");
    put_comment_text(f, base);
    fprintf(f, ": the model '");
    put_comment_text(f, p->model_name);
    fprintf(f, "' compiled by %s", p->producer);
    if (p->device) {
        fprintf(f, " for the device '");
        put_comment_text(f, p->device->name);
        fputc('\'', f);
    }
    fprintf(f, ".\n * %d instructions, %d tensors, %llu bytes of activations, %llu bytes of weights%s.\n",
            p->n_instrs, p->n_tensors, (unsigned long long)p->arena_bytes,
            (unsigned long long)p->weights_bytes, weights_name ? " (in the .weights file)" : "");
    fprintf(f,
        " *\n"
        " * Build:  cc -O2 -std=c11 -shared -fPIC %s -o %s.so -lm\n"
        " * Run:    dprun %s.so -i INPUT... -o OUTDIR [--ideal] [--seed S]\n",
        base, P, P);
    if (weights_name)
        fprintf(f, " * The weights are read from %s, found beside the shared object (or\n"
                   " * the program) holding this code, or where %s_set_weights says.\n",
                weights_name, P);
    fprintf(f,
        " *\n"
        " * Entry points (docs/c-backend.md). Statuses: 0 ok, 1 usage, 2 bad input, 3 unsupported,\n"
        " * 6 out of memory, 7 I/O, 8 internal; %s_last_error() gives the calling thread's last\n"
        " * message. Dtypes use ONNX's TensorProto numbering (1 float, 7 int64, ...); tensors are\n"
        " * dense and row-major.\n"
        " *\n"
        " *   int %s_num_inputs(void);              int %s_num_outputs(void);\n"
        " *   const char *%s_input_name(int i);     const char *%s_output_name(int i);\n"
        " *   int %s_input_dtype(int i);            int %s_output_dtype(int i);\n"
        " *   int %s_input_rank(int i);             int %s_output_rank(int i);   (-1: data-dependent)\n"
        " *   const int64_t *%s_input_dims(int i);  const int64_t *%s_output_dims(int i);\n"
        " *\n"
        " *   int %s_run(const void *const *inputs, void *const *outputs, uint32_t seed, int ideal);\n"
        " *       one inference (index 0): inputs and outputs in graph order, of the shapes above\n"
        " *\n"
        " *   typedef struct %s_session %s_session;\n"
        " *   int %s_open(%s_session **out, uint32_t seed, int ideal);\n"
        " *       ideal: noise-free fp32; otherwise the simulated core with device instance seed\n"
        " *   int %s_infer(%s_session *s, uint64_t index, const void *const *inputs);\n"
        " *       inference `index` of a data set (the noise is keyed by it)\n"
        " *   const void *%s_output(const %s_session *s, int i, int *rank, int64_t *dims);\n"
        " *       output i of the last inference, valid until the next; rank and dims may be NULL\n"
        " *   void %s_close(%s_session *s);\n"
        " *   int %s_set_weights(const char *path);   before the first open: the weights file\n"
        " *   const char *%s_last_error(void);\n"
        " *\n"
        " * Inputs:\n",
        P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P);
    put_io_comment(f, p, p->inputs, p->n_inputs);
    fputs(" * Outputs:\n", f);
    put_io_comment(f, p, p->outputs, p->n_outputs);
    fputs(" */\n", f);
    fputs(runtime_intro, f);
}

static void emit_attr(FILE *f, const dp_attr *a, int instr, int j)
{
    if (a->kind == DP_ATTR_TENSOR && a->t) {
        fprintf(f, "static unsigned char attr_data_%d_%d[] = {", instr, j);
        size_t n = dp_nbytes(a->t);
        for (size_t b = 0; b < n; b++)
            fprintf(f, "%s0x%02x", b ? "," : "", ((const unsigned char *)a->t->data)[b]);
        fprintf(f, "%s};\nstatic const dp_tensor attr_tensor_%d_%d = {.dtype = (dp_dtype)%d, "
                ".rank = %d, .dims = ", n ? "" : "0", instr, j, (int)a->t->dtype, a->t->rank);
        put_dims(f, a->t);
        fprintf(f, ", .data = attr_data_%d_%d};\n", instr, j);
    }
}

static void emit_attr_init(FILE *f, const dp_attr *a, int instr, int j)
{
    fputs("    {.name = ", f);
    put_str(f, a->name);
    fprintf(f, ", .kind = (dp_attr_kind)%d, .i = ", (int)a->kind);
    put_i64(f, a->i);
    fputs(", .f = ", f);
    put_double(f, a->f, "f");
    if (a->s) {
        fputs(", .s = ", f);
        put_str(f, a->s);
    }
    fprintf(f, ", .n = %d", a->n);
    if (a->ints && a->n > 0) {
        fputs(", .ints = (const int64_t[]){", f);
        for (int k = 0; k < a->n; k++) {
            fputs(k ? ", " : "", f);
            put_i64(f, a->ints[k]);
        }
        fputc('}', f);
    }
    if (a->floats && a->n > 0) {
        fputs(", .floats = (const float[]){", f);
        for (int k = 0; k < a->n; k++) {
            fputs(k ? ", " : "", f);
            put_double(f, a->floats[k], "f");
        }
        fputc('}', f);
    }
    if (a->strings && a->n > 0) {
        fputs(", .strings = (const char *const[]){", f);
        for (int k = 0; k < a->n; k++) {
            fputs(k ? ", " : "", f);
            put_str(f, a->strings[k]);
        }
        fputc('}', f);
    }
    if (a->kind == DP_ATTR_TENSOR && a->t)
        fprintf(f, ", .t = &attr_tensor_%d_%d", instr, j);
    fputs("},\n", f);
}

/* static float NAME_I[] = {...}; (one 0 for an empty array, which C does not allow) */
static void emit_floats(FILE *f, const char *name, int i, const float *v, int n)
{
    fprintf(f, "static float %s_%d[] = {", name, i);
    for (int k = 0; k < n; k++) {
        fputs(k ? ", " : "", f);
        put_double(f, v[k], "f");
    }
    fprintf(f, "%s};\n", n ? "" : "0");
}

static void emit_mvm(FILE *f, const dp_mvm *m, int i)
{
    emit_floats(f, "output_scale", i, m->output_scale, m->n_output_scale);
    emit_floats(f, "weight_scale", i, m->weight_scale, m->n_weight_scale);
    fprintf(f, "static dp_mvm mvm_%d = {.core_rows = %d, .core_cols = %d, .fan_in = %lld, "
            ".outputs = %lld, .row_tiles = %lld, .col_tiles = %lld, .macs = %lld, "
            ".repetitions = %d, .dac_bits = %d, .weight_bits = %d, .adc_bits = %d, "
            ".input_scale = ", i, m->core_rows, m->core_cols,
            (long long)m->fan_in, (long long)m->outputs, (long long)m->row_tiles,
            (long long)m->col_tiles, (long long)m->macs, m->repetitions, m->dac_bits,
            m->weight_bits, m->adc_bits);
    put_double(f, m->input_scale, "f");
    fprintf(f, ", .n_output_scale = %d, .output_scale = output_scale_%d, .weight_input = %d, "
            ".input_mean_square = ", m->n_output_scale, i, m->weight_input);
    put_double(f, m->input_mean_square, "f");
    fprintf(f, ", .input_unsigned = %d, .n_weight_scale = %d, .weight_scale = weight_scale_%d, "
            ".weight_grid_bits = %d};\n", m->input_unsigned, m->n_weight_scale, i,
            m->weight_grid_bits);
}

static void emit_device(FILE *f, const dp_device *d)
{
    fputs("static dp_device device = {\n    .name = ", f);
    put_str(f, d->name);
    fputs(",\n    .description = ", f);
    put_str(f, d->description);
    fprintf(f, ",\n    .rows = %d, .cols = %d, .clock_ghz = ", d->rows, d->cols);
    put_double(f, d->clock_ghz, "");
    const struct {
        const char *name;
        double v;
    } reals[] = {{"wavelength_nm", d->wavelength_nm}, {"photons_per_mac", d->photons_per_mac},
                 {"headroom", d->headroom},
                 {"optical_efficiency", d->optical_efficiency}, {"thermal_std", d->thermal_std},
                 {"weight_noise_std", d->weight_noise_std}, {"input_noise_std", d->input_noise_std},
                 {"static_weight_std", d->static_weight_std}, {"distortion_k3", d->distortion_k3},
                 {"dac_conversion_pj", d->dac_conversion_pj},
                 {"adc_conversion_pj", d->adc_conversion_pj}, {"digital_op_pj", d->digital_op_pj},
                 {"memory_byte_pj", d->memory_byte_pj}};
    for (size_t k = 0; k < sizeof reals / sizeof reals[0]; k++) {
        fprintf(f, ",\n    .%s = ", reals[k].name);
        put_double(f, reals[k].v, "");
    }
    fprintf(f, ",\n    .shot_noise = %d, .dac_bits = %d, .weight_bits = %d, .adc_bits = %d, "
            ".remodulate_weights = %d,\n    .max_repetitions = %d, "
            ".repetitions_power_of_two = %d, .shot_model = %d, .adc_mode = %d, .precision = %d, "
            ".thermal_model = %d};\n\n",
            d->shot_noise, d->dac_bits, d->weight_bits, d->adc_bits, d->remodulate_weights,
            d->max_repetitions, d->repetitions_power_of_two, d->shot_model, d->adc_mode,
            d->precision, d->thermal_model);
}

static void emit_tensors(FILE *f, const dp_program *p)
{
    fprintf(f, "static dp_tensor_info tensors[%d] = {\n", p->n_tensors + 1);
    for (int i = 0; i < p->n_tensors; i++) {
        const dp_tensor_info *t = &p->tensors[i];
        fputs("    {.name = ", f);
        put_str(f, t->name);
        fprintf(f, ", .t = {.dtype = (dp_dtype)%d, .rank = %d, .dims = ", (int)t->t.dtype, t->t.rank);
        put_dims(f, &t->t);
        fprintf(f, "}, .storage = (dp_storage)%d, .offset = UINT64_C(%llu), .nbytes = UINT64_C(%llu)},\n",
                (int)t->storage, (unsigned long long)t->offset, (unsigned long long)t->nbytes);
    }
    fputs("};\n\n", f);
}

static void emit_io_list(FILE *f, const char *name, const int32_t *v, int n)
{
    fprintf(f, "static int32_t %s[%d] = {", name, n + 1);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%d", i ? ", " : "", v[i]);
    fprintf(f, "%s};\n", n ? "" : "0");
}

static void emit_instrs(FILE *f, const dp_program *p)
{
    for (int i = 0; i < p->n_instrs; i++) {
        const dp_instr *ins = &p->instrs[i];
        char name[32];
        snprintf(name, sizeof name, "in_%d", i);
        emit_io_list(f, name, ins->in, ins->n_in);
        snprintf(name, sizeof name, "out_%d", i);
        emit_io_list(f, name, ins->out, ins->n_out);
        for (int j = 0; j < ins->n_attrs; j++)
            emit_attr(f, &ins->attrs[j], i, j);
        if (ins->n_attrs) {
            fprintf(f, "static dp_attr attrs_%d[] = {\n", i);
            for (int j = 0; j < ins->n_attrs; j++)
                emit_attr_init(f, &ins->attrs[j], i, j);
            fputs("};\n", f);
        }
        if (ins->mvm)
            emit_mvm(f, ins->mvm, i);
    }
    /* def is resolved through the registry at the first open */
    fprintf(f, "\nstatic dp_instr instrs[%d] = {\n", p->n_instrs + 1);
    for (int i = 0; i < p->n_instrs; i++) {
        const dp_instr *ins = &p->instrs[i];
        fputs("    {.op = ", f);
        put_str(f, ins->op);
        fputs(", .name = ", f);
        put_str(f, ins->name ? ins->name : "");
        fprintf(f, ", .opset = %d, .n_in = %d, .n_out = %d, .in = in_%d, .out = out_%d, "
                ".n_attrs = %d", ins->opset, ins->n_in, ins->n_out, i, i, ins->n_attrs);
        if (ins->n_attrs)
            fprintf(f, ", .attrs = attrs_%d", i);
        if (ins->mvm)
            fprintf(f, ", .mvm = &mvm_%d", i);
        fputs("},\n", f);
    }
    fputs("};\n\n", f);
}

void dpc_c_layer_names(const dp_program *p, char (*names)[DPC_LAYER_NAME_MAX])
{
    for (int i = 0; i < p->n_instrs; i++) {
        const dp_instr *ins = &p->instrs[i];
        char base[80];
        sanitise(ins->name && *ins->name ? ins->name : ins->op, base, sizeof base);
        snprintf(names[i], DPC_LAYER_NAME_MAX, "node_%s", base);
        for (int k = 0; k < i; k++)
            if (strcmp(names[k], names[i]) == 0) {
                snprintf(names[i], DPC_LAYER_NAME_MAX, "node_%s_%d", base, i);
                break;
            }
    }
}

/* One function per instruction, named after its node, and the sequence that runs them. */
static dp_status emit_layers(FILE *f, const dp_program *p, dp_error *err)
{
    char (*names)[DPC_LAYER_NAME_MAX] = calloc((size_t)p->n_instrs + 1, sizeof *names);
    if (!names)
        return dp_fail(err, DP_ENOMEM, "out of memory emitting C");
    dpc_c_layer_names(p, names);
    for (int i = 0; i < p->n_instrs; i++) {
        const dp_instr *ins = &p->instrs[i];
        fprintf(f, "/* %s '", ins->op);
        put_comment_text(f, ins->name ? ins->name : "");
        fprintf(f, "' (instruction %d):", i);
        for (int j = 0; j < ins->n_in; j++) {
            fputs(j ? ", " : " ", f);
            if (ins->in[j] < 0)
                fputs("(none)", f);
            else
                put_type(f, &p->tensors[ins->in[j]].t);
        }
        fputs(" ->", f);
        for (int j = 0; j < ins->n_out; j++) {
            fputs(j ? ", " : " ", f);
            put_type(f, &p->tensors[ins->out[j]].t);
        }
        const dp_mvm *m = ins->mvm;
        if (m) {
            double bits = dp_mvm_effective_bits(p, m, m->repetitions);
            fprintf(f, "\n * analog: %lld MACs, fan-in %lld over %lld x %lld tiles, %d repetitions, ",
                    (long long)m->macs, (long long)m->fan_in, (long long)m->row_tiles,
                    (long long)m->col_tiles, m->repetitions);
            if (isnan(bits))
                fputs("uncalibrated (runs --ideal only)", f);
            else
                fprintf(f, "%.1f effective bits", bits);
        }
        fprintf(f, " */\nstatic dp_status %s(dp_session *s, dp_error *err)\n{\n"
                "    return dp_session_step(s, %d, err);\n}\n\n", names[i], i);
    }
    fputs("static dp_status run_layers(dp_session *s, dp_error *err)\n{\n"
          "    dp_status st = DP_OK;\n", f);
    if (p->n_instrs == 0) /* a program folded to constants: -Wunused-parameter */
        fputs("    (void)s;\n    (void)err;\n", f);
    for (int i = 0; i < p->n_instrs; i++)
        fprintf(f, "    if (st == DP_OK)\n        st = %s(s, err);\n", names[i]);
    fputs("    return st;\n}\n\n", f);
    free(names);
    return DP_OK;
}

/* The external weights: read once, checked against the size and CRC the emitter saw. */
static const char load_external[] =
    "static const char *weights_path_set;\n"
    "\n"
    "static dp_status load_weights(dp_error *err)\n"
    "{\n"
    "    char path[4096];\n"
    "    Dl_info info;\n"
    "    if (weights_path_set) {\n"
    "        snprintf(path, sizeof path, \"%s\", weights_path_set);\n"
    "    } else if (dladdr((void *)&program, &info) && info.dli_fname) {\n"
    "        const char *slash = strrchr(info.dli_fname, '/');\n"
    "        int dir = slash ? (int)(slash - info.dli_fname + 1) : 0;\n"
    "        snprintf(path, sizeof path, \"%.*s%s\", dir, info.dli_fname, WEIGHTS_FILE);\n"
    "    } else {\n"
    "        return dp_fail(err, DP_EIO, \"cannot tell where this code was loaded from: give \"\n"
    "                       \"the path of \" WEIGHTS_FILE \" with @P_set_weights\");\n"
    "    }\n"
    "    FILE *f = fopen(path, \"rb\");\n"
    "    if (!f)\n"
    "        return dp_fail(err, DP_EIO, \"%s: cannot open the weights: %s\", path, strerror(errno));\n"
    "    unsigned char *w = aligned_alloc(64, ((size_t)WEIGHTS_BYTES + 64) & ~(size_t)63);\n"
    "    size_t got = w ? fread(w, 1, (size_t)WEIGHTS_BYTES + 1, f) : 0;\n"
    "    fclose(f);\n"
    "    if (!w)\n"
    "        return dp_fail(err, DP_ENOMEM, \"out of memory for %llu bytes of weights\",\n"
    "                       (unsigned long long)WEIGHTS_BYTES);\n"
    "    if (got != (size_t)WEIGHTS_BYTES || dp_crc32(0, w, got) != WEIGHTS_CRC32) {\n"
    "        free(w);\n"
    "        return dp_fail(err, DP_EINPUT, \"%s: not the weights this code was compiled with \"\n"
    "                       \"(size or checksum differ)\", path);\n"
    "    }\n"
    "    program.weights = w;\n"
    "    return DP_OK;\n"
    "}\n"
    "\n"
    "/* dlclose unmaps the pointer with the code: free the weights first, or they leak */\n"
    "#if defined(__GNUC__)\n"
    "__attribute__((destructor)) static void free_weights(void)\n"
    "{\n"
    "    free((void *)program.weights);\n"
    "    program.weights = NULL;\n"
    "}\n"
    "#endif\n"
    "\n"
    "DPK_API int @P_set_weights(const char *path)\n"
    "{\n"
    "    weights_path_set = path;\n"
    "    return 0;\n"
    "}\n\n";

static const char load_inline[] =
    "static dp_status load_weights(dp_error *err)\n"
    "{\n"
    "    (void)err;\n"
    "    return DP_OK;\n"
    "}\n"
    "\n"
    "/* the weights are in this file: nothing to set */\n"
    "DPK_API int @P_set_weights(const char *path)\n"
    "{\n"
    "    (void)path;\n"
    "    return 0;\n"
    "}\n\n";

static const char entry_points[] =
    "static _Thread_local char last_error[DP_ERROR_MAX];\n"
    "static pthread_once_t init_once = PTHREAD_ONCE_INIT;\n"
    "static dp_status init_status;\n"
    "static dp_error init_err;\n"
    "\n"
    "static int failed(dp_status st, const dp_error *err)\n"
    "{\n"
    "    snprintf(last_error, sizeof last_error, \"%s\", err->msg);\n"
    "    return (int)st;\n"
    "}\n"
    "\n"
    "/* Op definitions from the registry, and the weights: once per process. */\n"
    "static void init(void)\n"
    "{\n"
    "    for (int i = 0; i < program.n_instrs; i++) {\n"
    "        instrs[i].def = dp_op_find(instrs[i].op);\n"
    "        if (!instrs[i].def) {\n"
    "            init_status = dp_fail(&init_err, DP_EUNSUPPORTED, \"instruction %d: op %s is \"\n"
    "                                  \"not in this runtime\", i, instrs[i].op);\n"
    "            return;\n"
    "        }\n"
    "    }\n"
    "    init_status = load_weights(&init_err);\n"
    "}\n"
    "\n"
    "typedef struct @P_session @P_session;\n"
    "struct @P_session {\n"
    "    dp_session *s;\n"
    "    dp_tensor out[N_OUTPUTS + 1];\n"
    "};\n"
    "\n"
    "static const dp_tensor_info *io_info(int i, int output)\n"
    "{\n"
    "    if (i < 0 || i >= (output ? program.n_outputs : program.n_inputs))\n"
    "        return NULL;\n"
    "    return &program.tensors[output ? program.outputs[i] : program.inputs[i]];\n"
    "}\n"
    "\n"
    "DPK_API int @P_num_inputs(void) { return program.n_inputs; }\n"
    "DPK_API int @P_num_outputs(void) { return program.n_outputs; }\n"
    "DPK_API const char *@P_input_name(int i) { return io_info(i, 0) ? io_info(i, 0)->name : NULL; }\n"
    "DPK_API const char *@P_output_name(int i) { return io_info(i, 1) ? io_info(i, 1)->name : NULL; }\n"
    "DPK_API int @P_input_dtype(int i) { return io_info(i, 0) ? (int)io_info(i, 0)->t.dtype : 0; }\n"
    "DPK_API int @P_output_dtype(int i) { return io_info(i, 1) ? (int)io_info(i, 1)->t.dtype : 0; }\n"
    "DPK_API int @P_input_rank(int i) { return io_info(i, 0) ? io_info(i, 0)->t.rank : -1; }\n"
    "DPK_API int @P_output_rank(int i) { return io_info(i, 1) ? io_info(i, 1)->t.rank : -1; }\n"
    "DPK_API const int64_t *@P_input_dims(int i) { return io_info(i, 0) ? io_info(i, 0)->t.dims : NULL; }\n"
    "DPK_API const int64_t *@P_output_dims(int i) { return io_info(i, 1) ? io_info(i, 1)->t.dims : NULL; }\n"
    "DPK_API const char *@P_last_error(void) { return last_error; }\n"
    "\n"
    "DPK_API void @P_close(@P_session *k)\n"
    "{\n"
    "    if (k) {\n"
    "        dp_session_free(k->s);\n"
    "        free(k);\n"
    "    }\n"
    "}\n"
    "\n"
    "DPK_API int @P_open(@P_session **out, uint32_t seed, int ideal)\n"
    "{\n"
    "    dp_error err = {0};\n"
    "    *out = NULL;\n"
    "    pthread_once(&init_once, init);\n"
    "    if (init_status != DP_OK)\n"
    "        return failed(init_status, &init_err);\n"
    "    @P_session *k = calloc(1, sizeof *k);\n"
    "    if (!k)\n"
    "        return failed(dp_fail(&err, DP_ENOMEM, \"out of memory\"), &err);\n"
    "    dp_status st = dp_session_new(&program, NULL, &k->s, &err);\n"
    "    if (st == DP_OK && !ideal) {\n"
    "        dp_analog_config cfg = {.seed = seed};\n"
    "        st = dp_session_set_analog(k->s, &cfg, &err);\n"
    "    }\n"
    "    if (st != DP_OK) {\n"
    "        @P_close(k);\n"
    "        return failed(st, &err);\n"
    "    }\n"
    "    *out = k;\n"
    "    return 0;\n"
    "}\n"
    "\n"
    "DPK_API int @P_infer(@P_session *k, uint64_t index, const void *const *inputs)\n"
    "{\n"
    "    dp_error err = {0};\n"
    "    dp_tensor in[N_INPUTS + 1];\n"
    "    for (int i = 0; i < program.n_inputs; i++) {\n"
    "        in[i] = program.tensors[program.inputs[i]].t;\n"
    "        in[i].data = (void *)inputs[i];\n"
    "    }\n"
    "    dp_status st = dp_session_begin(k->s, index, in, &err);\n"
    "    if (st == DP_OK)\n"
    "        st = run_layers(k->s, &err);\n"
    "    if (st != DP_OK)\n"
    "        return failed(st, &err);\n"
    "    dp_session_outputs(k->s, k->out);\n"
    "    return 0;\n"
    "}\n"
    "\n"
    "DPK_API const void *@P_output(const @P_session *k, int i, int *rank, int64_t *dims)\n"
    "{\n"
    "    if (i < 0 || i >= program.n_outputs)\n"
    "        return NULL;\n"
    "    const dp_tensor *t = &k->out[i];\n"
    "    if (rank)\n"
    "        *rank = t->rank;\n"
    "    for (int d = 0; dims && d < t->rank; d++)\n"
    "        dims[d] = t->dims[d];\n"
    "    return t->data;\n"
    "}\n"
    "\n"
    "DPK_API int @P_run(const void *const *inputs, void *const *outputs, uint32_t seed, int ideal)\n"
    "{\n"
    "    @P_session *k;\n"
    "    int st = @P_open(&k, seed, ideal);\n"
    "    if (st == 0)\n"
    "        st = @P_infer(k, 0, inputs);\n"
    "    for (int i = 0; st == 0 && i < program.n_outputs; i++) {\n"
    "        dp_error err = {0};\n"
    "        if (program.tensors[program.outputs[i]].t.rank < 0)\n"
    "            st = failed(dp_fail(&err, DP_EUNSUPPORTED, \"output %d has a data-dependent \"\n"
    "                                \"shape: run it with @P_open, @P_infer and @P_output\", i), &err);\n"
    "        else\n"
    "            memcpy(outputs[i], k->out[i].data, dp_nbytes(&k->out[i]));\n"
    "    }\n"
    "    @P_close(k);\n"
    "    return st;\n"
    "}\n"
    "\n"
    "/* How dprun finds the prefix of the entry points (the ABI's version is in the name). */\n"
    "DPK_API const char dpcc_kernel_v1[] = \"@P\";\n";

/* Writes text with every "@P" replaced by the prefix. */
static void put_template(FILE *f, const char *text, const char *prefix)
{
    for (const char *c = text; *c; c++) {
        if (c[0] == '@' && c[1] == 'P') {
            fputs(prefix, f);
            c++;
        } else {
            fputc(*c, f);
        }
    }
}

/* After the runtime: the includes and macros the entry points need. */
static void emit_glue_prelude(FILE *f, const dp_program *p, const char *banner)
{
    fprintf(f, "\n#pragma GCC diagnostic pop\n\n"
            "/* ======== %s ======== */\n"
            "#include <dlfcn.h>\n#include <errno.h>\n#include <pthread.h>\n\n"
            "#define DPK_API __attribute__((visibility(\"default\")))\n", banner);
    fprintf(f, "#define N_INPUTS %d\n#define N_OUTPUTS %d\n\n", p->n_inputs, p->n_outputs);
}

/* What load_external checks the .weights file against. */
static void emit_weights_defs(FILE *f, const dp_program *p, const char *weights_name)
{
    fprintf(f, "#define WEIGHTS_FILE ");
    put_str(f, weights_name);
    fprintf(f, "\n#define WEIGHTS_BYTES UINT64_C(%llu)\n#define WEIGHTS_CRC32 UINT32_C(0x%08x)\n\n",
            (unsigned long long)p->weights_bytes, dp_crc32(0, p->weights, (size_t)p->weights_bytes));
}

static dp_status emit_program(FILE *f, const dp_program *p, const char *P,
                              const char *weights_name, dp_error *err)
{
    emit_glue_prelude(f, p, "the program");
    if (p->device)
        emit_device(f, p->device);
    emit_tensors(f, p);
    emit_io_list(f, "graph_inputs", p->inputs, p->n_inputs);
    emit_io_list(f, "graph_outputs", p->outputs, p->n_outputs);
    fputc('\n', f);
    emit_instrs(f, p);
    if (weights_name) {
        emit_weights_defs(f, p, weights_name);
    } else {
        fprintf(f, "/* the weight blob: %llu bytes */\n"
                "static _Alignas(64) const unsigned char weights[UINT64_C(%llu) + 1] =\n",
                (unsigned long long)p->weights_bytes, (unsigned long long)p->weights_bytes);
        put_bytes(f, p->weights, p->weights_bytes);
        fputs(";\n\n", f);
    }
    fputs("static dp_program program = {\n    .producer = ", f);
    put_str(f, p->producer ? p->producer : "");
    fputs(",\n    .model_name = ", f);
    put_str(f, p->model_name ? p->model_name : "");
    fprintf(f, ",\n    .opset = %d, .n_tensors = %d, .tensors = tensors,\n"
            "    .n_inputs = %d, .n_outputs = %d, .inputs = graph_inputs, .outputs = graph_outputs,\n"
            "    .n_instrs = %d, .instrs = instrs, .arena_bytes = UINT64_C(%llu),\n"
            "    .weights = %s, .weights_bytes = UINT64_C(%llu), .device = %s};\n\n",
            p->opset, p->n_tensors, p->n_inputs, p->n_outputs, p->n_instrs,
            (unsigned long long)p->arena_bytes, weights_name ? "NULL" : "weights",
            (unsigned long long)p->weights_bytes, p->device ? "&device" : "NULL");
    dp_status st = emit_layers(f, p, err);
    if (st != DP_OK)
        return st;
    put_template(f, weights_name ? load_external : load_inline, P);
    put_template(f, entry_points, P);
    return DP_OK;
}

/* out_path with its suffix (.c, .ll, .bc or .o, if any) replaced by ext; malloc'd. */
char *dpc_c_sibling_path(const char *out_path, const char *ext)
{
    static const char *const suffixes[] = {".c", ".ll", ".bc", ".o"};
    size_t n = strlen(out_path);
    for (size_t k = 0; k < sizeof suffixes / sizeof suffixes[0]; k++) {
        size_t m = strlen(suffixes[k]);
        if (n >= m && strcmp(out_path + n - m, suffixes[k]) == 0) {
            n -= m;
            break;
        }
    }
    size_t size = n + strlen(ext) + 1;
    char *w = malloc(size);
    if (w)
        snprintf(w, size, "%.*s%s", (int)n, out_path, ext);
    return w;
}

/*
 * The name of an entry point with this prefix that the runtime already uses (its kernels
 * have file-static functions such as size_infer and relu_run, which the amalgamation puts
 * in the same translation unit), or NULL.
 */
static const char *prefix_clash(const char *prefix)
{
    static const char *const entries[] = {
        "num_inputs", "num_outputs", "input_name", "output_name", "input_dtype", "output_dtype",
        "input_rank", "output_rank", "input_dims", "output_dims", "run", "session", "open",
        "infer", "output", "close", "set_weights", "last_error"};
    /* one search per whole name: a search per occurrence of a short prefix ("m") was
     * quadratic under ASan, whose strstr measures the rest of the 0.5 MB source each time */
    for (size_t k = 0; k < sizeof entries / sizeof entries[0]; k++) {
        char name[DPC_PREFIX_MAX + 32];
        size_t n = (size_t)snprintf(name, sizeof name, "%s_%s", prefix, entries[k]);
        for (const char *at = dpc_runtime_source; (at = strstr(at, name)) != NULL; at++) {
            bool starts = at == dpc_runtime_source
                          || !(isalnum((unsigned char)at[-1]) || at[-1] == '_');
            if (starts && !(isalnum((unsigned char)at[n]) || at[n] == '_'))
                return entries[k];
        }
    }
    return NULL;
}

dp_status dpc_c_prefix(const char *out_path, const dpc_c_opts *opts, char prefix[DPC_PREFIX_MAX + 1],
                       dp_error *err)
{
    if (opts->prefix) {
        snprintf(prefix, DPC_PREFIX_MAX + 1, "%s", opts->prefix);
        const char *clash = prefix_clash(prefix);
        if (clash)
            return dp_fail(err, DP_EUSAGE, "--prefix %s: the runtime the kernel carries already "
                           "defines %s_%s; choose another prefix", prefix, prefix, clash);
        return DP_OK;
    }
    const char *base = strrchr(out_path, '/') ? strrchr(out_path, '/') + 1 : out_path;
    size_t n = strcspn(base, ".");
    char stem[MAX_PREFIX + 1];
    snprintf(stem, sizeof stem, "%.*s", (int)(n < MAX_PREFIX ? n : MAX_PREFIX), base);
    sanitise(stem[0] ? stem : "model", prefix, MAX_PREFIX + 1);
    /* a file named after an op (relu.c): the stem and _model, which no kernel uses */
    if (prefix_clash(prefix)) {
        size_t used = strlen(prefix);
        snprintf(prefix + (used > MAX_PREFIX - 6 ? MAX_PREFIX - 6 : used), 7, "_model");
    }
    return DP_OK;
}

char *dpc_c_weights_path(const dp_program *prog, const char *out_path, const dpc_c_opts *opts,
                         bool *oom)
{
    bool external = opts->external_weights || prog->weights_bytes > DPC_C_INLINE_WEIGHTS_MAX;
    char *path = external ? dpc_c_sibling_path(out_path, ".weights") : NULL;
    *oom = external && !path;
    return path;
}

dp_status dpc_emit_c(const dp_program *prog, const char *out_path, const dpc_c_opts *opts,
                     dp_error *err)
{
    char prefix[DPC_PREFIX_MAX + 1];
    dp_status pst = dpc_c_prefix(out_path, opts, prefix, err);
    if (pst != DP_OK)
        return pst;
    bool oom;
    char *wpath = dpc_c_weights_path(prog, out_path, opts, &oom);
    char *head = NULL, *body = NULL;
    size_t head_len = 0, body_len = 0;
    FILE *hf = open_memstream(&head, &head_len), *bf = open_memstream(&body, &body_len);
    dp_status st = DP_OK;
    if (!hf || !bf || oom) {
        st = dp_fail(err, DP_ENOMEM, "out of memory emitting C");
    } else {
        const char *wname = wpath && strrchr(wpath, '/') ? strrchr(wpath, '/') + 1 : wpath;
        emit_header(hf, prog, out_path, prefix, wname);
        st = emit_program(bf, prog, prefix, wname, err);
    }
    if (hf && fclose(hf) != 0 && st == DP_OK)
        st = dp_fail(err, DP_ENOMEM, "out of memory emitting C");
    if (bf && fclose(bf) != 0 && st == DP_OK)
        st = dp_fail(err, DP_ENOMEM, "out of memory emitting C");
    /* the weights first: a .c never refers to a .weights file that is not there */
    if (st == DP_OK && wpath) {
        dp_chunk w = {prog->weights, (size_t)prog->weights_bytes};
        st = dp_file_write_atomic(wpath, &w, 1, err);
    }
    if (st == DP_OK) {
        dp_chunk parts[3] = {{head, head_len}, {dpc_runtime_source, dpc_runtime_source_len},
                             {body, body_len}};
        st = dp_file_write_atomic(out_path, parts, 3, err);
    }
    free(head);
    free(body);
    free(wpath);
    return st;
}

/*
 * The companion of an LLVM-compiled program: the same runtime and the same entry points as
 * an emitted .c, the program itself (data and layers) being in the object the IR becomes,
 * under the hidden names dpk_program, dpk_instrs and dpk_run_layers.
 */
dp_status dpc_emit_c_glue(const dp_program *prog, const char *path, const char *object_name,
                          const char *prefix, const char *weights_name, dp_error *err)
{
    char *head = NULL, *body = NULL;
    size_t head_len = 0, body_len = 0;
    FILE *hf = open_memstream(&head, &head_len), *bf = open_memstream(&body, &body_len);
    dp_status st = DP_OK;
    if (!hf || !bf) {
        st = dp_fail(err, DP_ENOMEM, "out of memory emitting C");
    } else {
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        fputs("/*\n * ", hf);
        put_comment_text(hf, base);
        fputs(": the runtime and the entry points of ", hf);
        put_comment_text(hf, object_name);
        fputs(", the model '", hf);
        put_comment_text(hf, prog->model_name);
        fprintf(hf, "' compiled by %s\n * to LLVM IR (dpcc --emit=llvm).\n"
                " * Build:  cc -O2 -std=c11 -shared -fPIC OBJECT.o %s -o %s.so -lm\n"
                " * (an .ll or .bc first becomes OBJECT.o: llc -O2 -relocation-model=pic -filetype=obj)\n"
                " * The entry points are those of an emitted .c (docs/c-backend.md).\n */\n",
                prog->producer, base, prefix);
        fputs(runtime_intro, hf);
        emit_glue_prelude(bf, prog, "the entry points; the program is in the LLVM object");
        fputs("/* defined by the LLVM object, hidden like the runtime */\n"
              "extern dp_program dpk_program __attribute__((visibility(\"hidden\")));\n"
              "extern dp_instr dpk_instrs[] __attribute__((visibility(\"hidden\")));\n"
              "dp_status dpk_run_layers(dp_session *s, dp_error *err) "
              "__attribute__((visibility(\"hidden\")));\n"
              "#define program dpk_program\n#define instrs dpk_instrs\n"
              "#define run_layers dpk_run_layers\n\n", bf);
        if (weights_name)
            emit_weights_defs(bf, prog, weights_name);
        put_template(bf, weights_name ? load_external : load_inline, prefix);
        put_template(bf, entry_points, prefix);
    }
    if (hf && fclose(hf) != 0 && st == DP_OK)
        st = dp_fail(err, DP_ENOMEM, "out of memory emitting C");
    if (bf && fclose(bf) != 0 && st == DP_OK)
        st = dp_fail(err, DP_ENOMEM, "out of memory emitting C");
    if (st == DP_OK) {
        dp_chunk parts[3] = {{head, head_len}, {dpc_runtime_source, dpc_runtime_source_len},
                             {body, body_len}};
        st = dp_file_write_atomic(path, parts, 3, err);
    }
    free(head);
    free(body);
    return st;
}
