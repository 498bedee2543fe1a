/*
 * emit_llvm.c: the LLVM backend, through the LLVM-C API (LLVM 14). The module holds what an
 * emitted .c holds after the runtime: the program's tables and weights as globals, one
 * function per instruction (node_NAME) that runs it through the runtime's executor
 * (dp_session_step), and dpk_run_layers, the sequence. The kernels, the executor and the
 * entry points stay C: they are written beside the output (OUT.rt.c, emit_c.c's glue), so
 * there is one source of truth for every kernel and the outputs are the .dp's bit for bit.
 *
 * The tables are the runtime's own structs. Each is built as a packed LLVM struct whose
 * fields sit at the offsets offsetof gives in this very compilation of the runtime's
 * headers, with zero bytes between, so the layout cannot drift from the C one.
 */
#include "emit_llvm.h"

#ifndef DPCC_WITH_LLVM

dp_status dpc_emit_llvm(const dp_program *prog, const char *out_path, const dpc_c_opts *opts,
                        dp_error *err)
{
    (void)prog;
    (void)out_path;
    (void)opts;
    return dp_fail(err, DP_EUNSUPPORTED, "--emit=llvm: this dpcc was built without the LLVM "
                   "backend (configure with -DDPCC_WITH_LLVM=ON, which needs LLVM 14's llvm-dev); "
                   "use --emit=c");
}

#else

#include "device.h"
#include "tensor_io.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/BitWriter.h>
#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The most fields (values and the gaps between them) of one packed struct. */
#define MAX_PARTS 80

typedef struct emitter {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMTargetDataRef td;
    LLVMTypeRef i8, i32, i64, f32, f64, ptr;
    bool bad_layout; /* a field overlapped the previous one: a bug here, not in the input */
} emitter;

typedef struct field {
    size_t off;
    LLVMValueRef v;
} field;

static LLVMValueRef ci8(emitter *e, int v) { return LLVMConstInt(e->i8, (unsigned long long)v, 0); }
static LLVMValueRef ci32(emitter *e, int64_t v) { return LLVMConstInt(e->i32, (unsigned long long)v, 1); }
static LLVMValueRef ci64(emitter *e, int64_t v) { return LLVMConstInt(e->i64, (unsigned long long)v, 1); }
static LLVMValueRef null_ptr(emitter *e) { return LLVMConstNull(e->ptr); }

/* Floats by their bits: NaN payloads and signed zeros survive, as with the .dp. */
static LLVMValueRef cf32(emitter *e, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return LLVMConstBitCast(LLVMConstInt(e->i32, bits, 0), e->f32);
}

static LLVMValueRef cf64(emitter *e, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return LLVMConstBitCast(LLVMConstInt(e->i64, bits, 0), e->f64);
}

static LLVMValueRef as_ptr(emitter *e, LLVMValueRef g) { return LLVMConstBitCast(g, e->ptr); }

/* A file-local global; constant ones may be merged or placed read-only. */
static LLVMValueRef global(emitter *e, const char *name, LLVMValueRef init, bool constant,
                           unsigned align)
{
    LLVMValueRef g = LLVMAddGlobal(e->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(g, init);
    LLVMSetLinkage(g, LLVMInternalLinkage);
    LLVMSetGlobalConstant(g, constant);
    if (align)
        LLVMSetAlignment(g, align);
    return g;
}

/* A C string as i8*, NULL as null. */
static LLVMValueRef cstr(emitter *e, const char *s)
{
    if (!s)
        return null_ptr(e);
    LLVMValueRef g = global(e, ".str", LLVMConstStringInContext(e->ctx, s, (unsigned)strlen(s), 0),
                            true, 1);
    LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
    return as_ptr(e, g);
}

/*
 * A C struct of size bytes from its fields, given in increasing offset order: a packed
 * struct with zero bytes in the gaps (padding, and fields left zero as in a C initialiser).
 */
static LLVMValueRef pack(emitter *e, const char *type_name, const field *f, int n, size_t size)
{
    LLVMValueRef parts[MAX_PARTS];
    int k = 0;
    size_t at = 0;
    for (int i = 0; i < n && k + 2 < MAX_PARTS; i++) {
        if (f[i].off < at) {
            e->bad_layout = true;
            continue;
        }
        if (f[i].off > at)
            parts[k++] = LLVMConstNull(LLVMArrayType(e->i8, (unsigned)(f[i].off - at)));
        parts[k++] = f[i].v;
        at = f[i].off + (size_t)LLVMStoreSizeOfType(e->td, LLVMTypeOf(f[i].v));
    }
    if (at > size || n * 2 + 1 > MAX_PARTS)
        e->bad_layout = true;
    else if (at < size)
        parts[k++] = LLVMConstNull(LLVMArrayType(e->i8, (unsigned)(size - at)));
    /* named after the C type for the reader (%dp_instr), when its fields have the usual
     * types; otherwise (a field left NULL where others point) a literal struct */
    LLVMTypeRef types[MAX_PARTS];
    for (int i = 0; i < k; i++)
        types[i] = LLVMTypeOf(parts[i]);
    LLVMTypeRef named = LLVMGetTypeByName2(e->ctx, type_name);
    if (!named) {
        named = LLVMStructCreateNamed(e->ctx, type_name);
        LLVMStructSetBody(named, types, (unsigned)k, 1);
    }
    bool same = LLVMCountStructElementTypes(named) == (unsigned)k;
    for (int i = 0; same && i < k; i++)
        same = LLVMStructGetTypeAtIndex(named, (unsigned)i) == types[i];
    return same ? LLVMConstNamedStruct(named, parts, (unsigned)k)
                : LLVMConstStructInContext(e->ctx, parts, (unsigned)k, 1);
}

/* A C array of structs: an LLVM array when the elements share a type, else packed end to
 * end (each is exactly the C struct's size, so the layout is the same). */
static LLVMValueRef array_of(emitter *e, LLVMValueRef *elems, int n)
{
    bool same = n > 0;
    for (int i = 1; same && i < n; i++)
        same = LLVMTypeOf(elems[i]) == LLVMTypeOf(elems[0]);
    return same ? LLVMConstArray(LLVMTypeOf(elems[0]), elems, (unsigned)n)
                : LLVMConstStructInContext(e->ctx, elems, (unsigned)n, 1);
}

#define F(type, member, value) {offsetof(type, member), (value)}

static LLVMValueRef tensor_value(emitter *e, const dp_tensor *t, LLVMValueRef data)
{
    /* as the C backend writes them: the dims of the rank, zeros after */
    LLVMValueRef dims[DP_MAX_RANK];
    for (int d = 0; d < DP_MAX_RANK; d++)
        dims[d] = ci64(e, d < t->rank ? t->dims[d] : 0);
    field f[] = {F(dp_tensor, dtype, ci32(e, t->dtype)), F(dp_tensor, rank, ci32(e, t->rank)),
                 F(dp_tensor, dims, LLVMConstArray(e->i64, dims, DP_MAX_RANK)),
                 F(dp_tensor, data, data ? data : null_ptr(e))};
    return pack(e, "dp_tensor", f, 4, sizeof(dp_tensor));
}

/* An int32 list (tensor indices); an empty one still gets an element, as in the C. */
static LLVMValueRef i32_list(emitter *e, const char *name, const int32_t *v, int n)
{
    LLVMValueRef *c = malloc(((size_t)n + 1) * sizeof *c);
    if (!c)
        return NULL;
    for (int i = 0; i < n; i++)
        c[i] = ci32(e, v[i]);
    if (n == 0)
        c[0] = ci32(e, 0);
    LLVMValueRef g = global(e, name, LLVMConstArray(e->i32, c, (unsigned)(n ? n : 1)), false, 4);
    free(c);
    return as_ptr(e, g);
}

static LLVMValueRef tensors_global(emitter *e, const dp_program *p)
{
    LLVMValueRef *elems = malloc(((size_t)p->n_tensors + 1) * sizeof *elems);
    if (!elems)
        return NULL;
    for (int i = 0; i < p->n_tensors; i++) {
        const dp_tensor_info *t = &p->tensors[i];
        field f[] = {F(dp_tensor_info, name, cstr(e, t->name)),
                     F(dp_tensor_info, t, tensor_value(e, &t->t, NULL)),
                     F(dp_tensor_info, storage, ci32(e, t->storage)),
                     F(dp_tensor_info, offset, ci64(e, (int64_t)t->offset)),
                     F(dp_tensor_info, nbytes, ci64(e, (int64_t)t->nbytes))};
        elems[i] = pack(e, "dp_tensor_info", f, 5, sizeof(dp_tensor_info));
    }
    LLVMValueRef g = global(e, "tensors", array_of(e, elems, p->n_tensors), false, 8);
    free(elems);
    return as_ptr(e, g);
}

static LLVMValueRef attr_value(emitter *e, const dp_attr *a, int instr, int j)
{
    char name[64];
    LLVMValueRef ints = null_ptr(e), floats = null_ptr(e), strings = null_ptr(e), t = null_ptr(e);
    if (a->n > 0 && (a->ints || a->floats || a->strings)) {
        LLVMValueRef *c = malloc((size_t)a->n * sizeof *c);
        if (!c)
            return NULL;
        if (a->ints) {
            for (int k = 0; k < a->n; k++)
                c[k] = ci64(e, a->ints[k]);
            snprintf(name, sizeof name, "attr_ints_%d_%d", instr, j);
            ints = as_ptr(e, global(e, name, LLVMConstArray(e->i64, c, (unsigned)a->n), true, 8));
        }
        if (a->floats) {
            for (int k = 0; k < a->n; k++)
                c[k] = cf32(e, a->floats[k]);
            snprintf(name, sizeof name, "attr_floats_%d_%d", instr, j);
            floats = as_ptr(e, global(e, name, LLVMConstArray(e->f32, c, (unsigned)a->n), true, 4));
        }
        if (a->strings) {
            for (int k = 0; k < a->n; k++)
                c[k] = cstr(e, a->strings[k]);
            snprintf(name, sizeof name, "attr_strings_%d_%d", instr, j);
            strings = as_ptr(e, global(e, name, LLVMConstArray(e->ptr, c, (unsigned)a->n), true, 8));
        }
        free(c);
    }
    if (a->kind == DP_ATTR_TENSOR && a->t) {
        size_t n = dp_nbytes(a->t);
        snprintf(name, sizeof name, "attr_data_%d_%d", instr, j);
        LLVMValueRef data = global(e, name, LLVMConstStringInContext(e->ctx, a->t->data, (unsigned)n, 0),
                                   false, 8);
        snprintf(name, sizeof name, "attr_tensor_%d_%d", instr, j);
        t = as_ptr(e, global(e, name, tensor_value(e, a->t, as_ptr(e, data)), true, 8));
    }
    field f[] = {F(dp_attr, name, cstr(e, a->name)), F(dp_attr, kind, ci32(e, a->kind)),
                 F(dp_attr, i, ci64(e, a->i)), F(dp_attr, f, cf32(e, a->f)),
                 F(dp_attr, s, cstr(e, a->s)), F(dp_attr, n, ci32(e, a->n)),
                 F(dp_attr, ints, ints), F(dp_attr, floats, floats),
                 F(dp_attr, strings, strings), F(dp_attr, t, t)};
    return pack(e, "dp_attr", f, 10, sizeof(dp_attr));
}

/* A global float array NAME_I of v's n values; a null pointer for none, and *ok false when
 * out of memory. */
static LLVMValueRef floats_global(emitter *e, const char *base, int i, const float *v, int n,
                                  bool *ok)
{
    if (n <= 0)
        return null_ptr(e);
    LLVMValueRef *c = malloc((size_t)n * sizeof *c);
    if (!c) {
        *ok = false;
        return NULL;
    }
    for (int k = 0; k < n; k++)
        c[k] = cf32(e, v[k]);
    char name[48];
    snprintf(name, sizeof name, "%s_%d", base, i);
    LLVMValueRef g = as_ptr(e, global(e, name, LLVMConstArray(e->f32, c, (unsigned)n), false, 4));
    free(c);
    return g;
}

static LLVMValueRef mvm_global(emitter *e, const dp_mvm *m, int i)
{
    char name[48];
    bool ok = true;
    LLVMValueRef scale = floats_global(e, "output_scale", i, m->output_scale, m->n_output_scale,
                                       &ok);
    LLVMValueRef wscale = floats_global(e, "weight_scale", i, m->weight_scale, m->n_weight_scale,
                                        &ok);
    if (!ok)
        return NULL;
    field f[] = {F(dp_mvm, core_rows, ci32(e, m->core_rows)), F(dp_mvm, core_cols, ci32(e, m->core_cols)),
                 F(dp_mvm, fan_in, ci64(e, m->fan_in)), F(dp_mvm, outputs, ci64(e, m->outputs)),
                 F(dp_mvm, row_tiles, ci64(e, m->row_tiles)), F(dp_mvm, col_tiles, ci64(e, m->col_tiles)),
                 F(dp_mvm, macs, ci64(e, m->macs)), F(dp_mvm, repetitions, ci32(e, m->repetitions)),
                 F(dp_mvm, dac_bits, ci32(e, m->dac_bits)), F(dp_mvm, weight_bits, ci32(e, m->weight_bits)),
                 F(dp_mvm, adc_bits, ci32(e, m->adc_bits)), F(dp_mvm, input_scale, cf32(e, m->input_scale)),
                 F(dp_mvm, n_output_scale, ci32(e, m->n_output_scale)), F(dp_mvm, output_scale, scale),
                 F(dp_mvm, weight_input, ci32(e, m->weight_input)),
                 F(dp_mvm, input_mean_square, cf32(e, m->input_mean_square)),
                 F(dp_mvm, input_unsigned, ci8(e, m->input_unsigned)),
                 F(dp_mvm, n_weight_scale, ci32(e, m->n_weight_scale)),
                 F(dp_mvm, weight_scale, wscale),
                 F(dp_mvm, weight_grid_bits, ci32(e, m->weight_grid_bits))};
    snprintf(name, sizeof name, "mvm_%d", i);
    return as_ptr(e, global(e, name, pack(e, "dp_mvm", f, (int)(sizeof f / sizeof f[0]), sizeof(dp_mvm)), false, 8));
}

/* dpk_instrs: def stays NULL until the glue's init resolves it through the registry. */
static LLVMValueRef instrs_global(emitter *e, const dp_program *p)
{
    LLVMValueRef *elems = malloc(((size_t)p->n_instrs + 1) * sizeof *elems);
    if (!elems)
        return NULL;
    bool ok = true;
    for (int i = 0; i < p->n_instrs && ok; i++) {
        const dp_instr *ins = &p->instrs[i];
        char name[48];
        snprintf(name, sizeof name, "in_%d", i);
        LLVMValueRef in = i32_list(e, name, ins->in, ins->n_in);
        snprintf(name, sizeof name, "out_%d", i);
        LLVMValueRef out = i32_list(e, name, ins->out, ins->n_out);
        LLVMValueRef attrs = null_ptr(e), mvm = ins->mvm ? mvm_global(e, ins->mvm, i) : null_ptr(e);
        if (ins->n_attrs) {
            LLVMValueRef *a = malloc((size_t)ins->n_attrs * sizeof *a);
            ok = a != NULL;
            for (int j = 0; ok && j < ins->n_attrs; j++)
                ok = (a[j] = attr_value(e, &ins->attrs[j], i, j)) != NULL;
            snprintf(name, sizeof name, "attrs_%d", i);
            if (ok)
                attrs = as_ptr(e, global(e, name, array_of(e, a, ins->n_attrs), false, 8));
            free(a);
        }
        ok = ok && in && out && mvm;
        field f[] = {F(dp_instr, op, cstr(e, ins->op)), F(dp_instr, name, cstr(e, ins->name ? ins->name : "")),
                     F(dp_instr, def, null_ptr(e)), F(dp_instr, opset, ci32(e, ins->opset)),
                     F(dp_instr, n_in, ci32(e, ins->n_in)), F(dp_instr, n_out, ci32(e, ins->n_out)),
                     F(dp_instr, in, in), F(dp_instr, out, out), F(dp_instr, n_attrs, ci32(e, ins->n_attrs)),
                     F(dp_instr, attrs, attrs), F(dp_instr, mvm, mvm)};
        if (ok)
            elems[i] = pack(e, "dp_instr", f, 11, sizeof(dp_instr));
    }
    LLVMValueRef g = NULL;
    if (ok) {
        g = LLVMAddGlobal(e->mod, LLVMTypeOf(array_of(e, elems, p->n_instrs)), "dpk_instrs");
        LLVMSetInitializer(g, array_of(e, elems, p->n_instrs));
        LLVMSetVisibility(g, LLVMHiddenVisibility);
        LLVMSetAlignment(g, 8);
    }
    free(elems);
    return g ? as_ptr(e, g) : NULL;
}

/* A char array member: the string, zero-filled to the array's size. */
static LLVMValueRef char_array(emitter *e, const char *s, size_t size)
{
    char buf[DP_DEVICE_DESCRIPTION_MAX > DP_DEVICE_NAME_MAX ? DP_DEVICE_DESCRIPTION_MAX : DP_DEVICE_NAME_MAX];
    memset(buf, 0, sizeof buf);
    snprintf(buf, size, "%s", s);
    return LLVMConstStringInContext(e->ctx, buf, (unsigned)size, 1);
}

static LLVMValueRef device_global(emitter *e, const dp_device *d)
{
    field f[] = {
        F(dp_device, name, char_array(e, d->name, sizeof d->name)),
        F(dp_device, description, char_array(e, d->description, sizeof d->description)),
        F(dp_device, rows, ci32(e, d->rows)), F(dp_device, cols, ci32(e, d->cols)),
        F(dp_device, clock_ghz, cf64(e, d->clock_ghz)), F(dp_device, wavelength_nm, cf64(e, d->wavelength_nm)),
        F(dp_device, photons_per_mac, cf64(e, d->photons_per_mac)),
        F(dp_device, optical_efficiency, cf64(e, d->optical_efficiency)),
        F(dp_device, thermal_std, cf64(e, d->thermal_std)),
        F(dp_device, thermal_model, ci32(e, d->thermal_model)),
        F(dp_device, shot_noise, ci8(e, d->shot_noise)),
        F(dp_device, shot_model, ci32(e, d->shot_model)),
        F(dp_device, weight_noise_std, cf64(e, d->weight_noise_std)),
        F(dp_device, input_noise_std, cf64(e, d->input_noise_std)),
        F(dp_device, static_weight_std, cf64(e, d->static_weight_std)),
        F(dp_device, distortion_k3, cf64(e, d->distortion_k3)), F(dp_device, dac_bits, ci32(e, d->dac_bits)),
        F(dp_device, weight_bits, ci32(e, d->weight_bits)), F(dp_device, adc_bits, ci32(e, d->adc_bits)),
        F(dp_device, remodulate_weights, ci8(e, d->remodulate_weights)),
        F(dp_device, adc_mode, ci32(e, d->adc_mode)),
        F(dp_device, headroom, cf64(e, d->headroom)),
        F(dp_device, max_repetitions, ci32(e, d->max_repetitions)),
        F(dp_device, repetitions_power_of_two, ci8(e, d->repetitions_power_of_two)),
        F(dp_device, precision, ci32(e, d->precision)),
        F(dp_device, dac_conversion_pj, cf64(e, d->dac_conversion_pj)),
        F(dp_device, adc_conversion_pj, cf64(e, d->adc_conversion_pj)),
        F(dp_device, digital_op_pj, cf64(e, d->digital_op_pj)),
        F(dp_device, memory_byte_pj, cf64(e, d->memory_byte_pj))};
    return as_ptr(e, global(e, "device", pack(e, "dp_device", f, (int)(sizeof f / sizeof f[0]), sizeof(dp_device)),
                            false, 8));
}

/* dpk_program; weights NULL when external (the glue's load_weights sets them). */
static bool program_global(emitter *e, const dp_program *p, bool external)
{
    LLVMValueRef tensors = tensors_global(e, p), instrs = instrs_global(e, p);
    LLVMValueRef inputs = i32_list(e, "graph_inputs", p->inputs, p->n_inputs);
    LLVMValueRef outputs = i32_list(e, "graph_outputs", p->outputs, p->n_outputs);
    LLVMValueRef device = p->device ? device_global(e, p->device) : null_ptr(e);
    LLVMValueRef weights = null_ptr(e);
    if (!tensors || !instrs || !inputs || !outputs)
        return false;
    if (!external) {
        /* one byte more, as in the C: never an empty array (inline weights are at most
         * DPC_C_INLINE_WEIGHTS_MAX bytes, so the length fits LLVM's unsigned) */
        LLVMValueRef w = global(e, "weights", LLVMConstStringInContext(e->ctx, (const char *)p->weights,
                                (unsigned)p->weights_bytes, 0), true, 64);
        weights = as_ptr(e, w);
    }
    field f[] = {F(dp_program, producer, cstr(e, p->producer ? p->producer : "")),
                 F(dp_program, model_name, cstr(e, p->model_name ? p->model_name : "")),
                 F(dp_program, opset, ci32(e, p->opset)), F(dp_program, n_tensors, ci32(e, p->n_tensors)),
                 F(dp_program, tensors, tensors), F(dp_program, n_inputs, ci32(e, p->n_inputs)),
                 F(dp_program, n_outputs, ci32(e, p->n_outputs)), F(dp_program, inputs, inputs),
                 F(dp_program, outputs, outputs), F(dp_program, n_instrs, ci32(e, p->n_instrs)),
                 F(dp_program, instrs, instrs), F(dp_program, arena_bytes, ci64(e, (int64_t)p->arena_bytes)),
                 F(dp_program, weights, weights), F(dp_program, weights_bytes, ci64(e, (int64_t)p->weights_bytes)),
                 F(dp_program, device, device)};
    LLVMValueRef init = pack(e, "dp_program", f, (int)(sizeof f / sizeof f[0]), sizeof(dp_program));
    LLVMValueRef g = LLVMAddGlobal(e->mod, LLVMTypeOf(init), "dpk_program");
    LLVMSetInitializer(g, init);
    LLVMSetVisibility(g, LLVMHiddenVisibility);
    LLVMSetAlignment(g, 8);
    return true;
}

/*
 * node_NAME(session, err) for each instruction, calling dp_session_step(session, i, err),
 * and dpk_run_layers(session, err), which calls them in order and stops at the first
 * status that is not DP_OK (0), returning it.
 */
static dp_status layer_functions(emitter *e, const dp_program *p, dp_error *err)
{
    char (*names)[DPC_LAYER_NAME_MAX] = calloc((size_t)p->n_instrs + 1, sizeof *names);
    LLVMValueRef *fns = calloc((size_t)p->n_instrs + 1, sizeof *fns);
    if (!names || !fns) {
        free(names);
        free(fns);
        return dp_fail(err, DP_ENOMEM, "out of memory emitting LLVM IR");
    }
    dpc_c_layer_names(p, names);
    LLVMTypeRef step_params[] = {e->ptr, e->i32, e->ptr};
    LLVMTypeRef step_type = LLVMFunctionType(e->i32, step_params, 3, 0);
    LLVMValueRef step = LLVMAddFunction(e->mod, "dp_session_step", step_type);
    LLVMSetVisibility(step, LLVMHiddenVisibility);
    LLVMTypeRef layer_params[] = {e->ptr, e->ptr};
    LLVMTypeRef layer_type = LLVMFunctionType(e->i32, layer_params, 2, 0);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(e->ctx);

    for (int i = 0; i < p->n_instrs; i++) {
        LLVMValueRef fn = fns[i] = LLVMAddFunction(e->mod, names[i], layer_type);
        LLVMSetLinkage(fn, LLVMInternalLinkage);
        LLVMValueRef s = LLVMGetParam(fn, 0), er = LLVMGetParam(fn, 1);
        LLVMSetValueName2(s, "session", 7);
        LLVMSetValueName2(er, "err", 3);
        LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(e->ctx, fn, "entry"));
        LLVMValueRef args[] = {s, ci32(e, i), er};
        LLVMBuildRet(b, LLVMBuildCall2(b, step_type, step, args, 3, "status"));
    }

    LLVMValueRef run = LLVMAddFunction(e->mod, "dpk_run_layers", layer_type);
    LLVMSetVisibility(run, LLVMHiddenVisibility);
    LLVMValueRef s = LLVMGetParam(run, 0), er = LLVMGetParam(run, 1);
    LLVMSetValueName2(s, "session", 7);
    LLVMSetValueName2(er, "err", 3);
    LLVMBasicBlockRef block = LLVMAppendBasicBlockInContext(e->ctx, run, "entry");
    LLVMBasicBlockRef failed = LLVMAppendBasicBlockInContext(e->ctx, run, "failed");
    LLVMPositionBuilderAtEnd(b, failed);
    LLVMValueRef status = LLVMBuildPhi(b, e->i32, "status");
    LLVMBuildRet(b, status);
    for (int i = 0; i < p->n_instrs; i++) {
        LLVMPositionBuilderAtEnd(b, block);
        LLVMValueRef args[] = {s, er};
        char vname[DPC_LAYER_NAME_MAX + 8];
        snprintf(vname, sizeof vname, "%s.status", names[i]);
        LLVMValueRef st = LLVMBuildCall2(b, layer_type, fns[i], args, 2, vname);
        LLVMValueRef bad = LLVMBuildICmp(b, LLVMIntNE, st, ci32(e, 0), "");
        LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(
            e->ctx, run, i + 1 < p->n_instrs ? names[i + 1] : "done");
        LLVMMoveBasicBlockBefore(next, failed);
        LLVMBuildCondBr(b, bad, failed, next);
        LLVMAddIncoming(status, &st, &block, 1);
        block = next;
    }
    LLVMPositionBuilderAtEnd(b, block);
    LLVMBuildRet(b, ci32(e, 0));
    if (p->n_instrs == 0)
        LLVMDeleteBasicBlock(failed);
    LLVMDisposeBuilder(b);
    free(names);
    free(fns);
    return DP_OK;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The module in the form out_path's suffix asks for, written atomically. */
static dp_status write_module(emitter *e, LLVMTargetMachineRef tm, const char *out_path, dp_error *err)
{
    char *msg = NULL;
    if (has_suffix(out_path, ".ll")) {
        char *text = LLVMPrintModuleToString(e->mod);
        dp_chunk c = {text, strlen(text)};
        dp_status st = dp_file_write_atomic(out_path, &c, 1, err);
        LLVMDisposeMessage(text);
        return st;
    }
    LLVMMemoryBufferRef buf = NULL;
    if (has_suffix(out_path, ".bc"))
        buf = LLVMWriteBitcodeToMemoryBuffer(e->mod);
    else if (LLVMTargetMachineEmitToMemoryBuffer(tm, e->mod, LLVMObjectFile, &msg, &buf)) {
        dp_status st = dp_fail(err, DP_EINTERNAL, "LLVM cannot emit an object file: %s", msg ? msg : "?");
        LLVMDisposeMessage(msg);
        return st;
    }
    if (!buf)
        return dp_fail(err, DP_ENOMEM, "out of memory writing bitcode");
    dp_chunk c = {LLVMGetBufferStart(buf), LLVMGetBufferSize(buf)};
    dp_status st = dp_file_write_atomic(out_path, &c, 1, err);
    LLVMDisposeMemoryBuffer(buf);
    return st;
}

/* The host's target, position-independent: the object goes into a shared object. */
static dp_status host_machine(LLVMTargetMachineRef *tm, dp_error *err)
{
    if (LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter())
        return dp_fail(err, DP_EUNSUPPORTED, "--emit=llvm: LLVM has no code generator for this host");
    char *triple = LLVMGetDefaultTargetTriple(), *msg = NULL;
    LLVMTargetRef target;
    dp_status st = DP_OK;
    if (LLVMGetTargetFromTriple(triple, &target, &msg))
        st = dp_fail(err, DP_EUNSUPPORTED, "--emit=llvm: no LLVM target for %s: %s", triple, msg ? msg : "?");
    else
        *tm = LLVMCreateTargetMachine(target, triple, "generic", "", LLVMCodeGenLevelDefault,
                                      LLVMRelocPIC, LLVMCodeModelDefault);
    LLVMDisposeMessage(msg);
    LLVMDisposeMessage(triple);
    return st;
}

dp_status dpc_emit_llvm(const dp_program *prog, const char *out_path, const dpc_c_opts *opts,
                        dp_error *err)
{
    char prefix[DPC_PREFIX_MAX + 1];
    dp_status pst = dpc_c_prefix(out_path, opts, prefix, err);
    if (pst != DP_OK)
        return pst;
    bool oom;
    char *wpath = dpc_c_weights_path(prog, out_path, opts, &oom);
    char *glue = dpc_c_sibling_path(out_path, ".rt.c");
    if (oom || !glue) {
        free(wpath);
        free(glue);
        return dp_fail(err, DP_ENOMEM, "out of memory emitting LLVM IR");
    }
    LLVMTargetMachineRef tm = NULL;
    dp_status st = host_machine(&tm, err);
    emitter e = {0};
    if (st == DP_OK) {
        e.ctx = LLVMContextCreate();
        const char *base = strrchr(out_path, '/') ? strrchr(out_path, '/') + 1 : out_path;
        e.mod = LLVMModuleCreateWithNameInContext(base, e.ctx);
        char *triple = LLVMGetTargetMachineTriple(tm);
        LLVMSetTarget(e.mod, triple);
        LLVMDisposeMessage(triple);
        e.td = LLVMCreateTargetDataLayout(tm);
        LLVMSetModuleDataLayout(e.mod, e.td);
        e.i8 = LLVMInt8TypeInContext(e.ctx);
        e.i32 = LLVMInt32TypeInContext(e.ctx);
        e.i64 = LLVMInt64TypeInContext(e.ctx);
        e.f32 = LLVMFloatTypeInContext(e.ctx);
        e.f64 = LLVMDoubleTypeInContext(e.ctx);
        e.ptr = LLVMPointerType(e.i8, 0);
        if (!program_global(&e, prog, wpath != NULL))
            st = dp_fail(err, DP_ENOMEM, "out of memory emitting LLVM IR");
        else if (e.bad_layout)
            st = dp_fail(err, DP_EINTERNAL, "--emit=llvm: a runtime struct's fields are not in "
                         "offset order (emit_llvm.c needs updating)");
    }
    if (st == DP_OK)
        st = layer_functions(&e, prog, err);
    char *msg = NULL;
    if (st == DP_OK && LLVMVerifyModule(e.mod, LLVMReturnStatusAction, &msg))
        st = dp_fail(err, DP_EINTERNAL, "--emit=llvm: the module does not verify: %s", msg);
    LLVMDisposeMessage(msg);
    /* the weights and the runtime first: the object never refers to files not there */
    if (st == DP_OK && wpath) {
        dp_chunk w = {prog->weights, (size_t)prog->weights_bytes};
        st = dp_file_write_atomic(wpath, &w, 1, err);
    }
    const char *wname = wpath && strrchr(wpath, '/') ? strrchr(wpath, '/') + 1 : wpath;
    const char *oname = strrchr(out_path, '/') ? strrchr(out_path, '/') + 1 : out_path;
    if (st == DP_OK)
        st = dpc_emit_c_glue(prog, glue, oname, prefix, wname, err);
    if (st == DP_OK)
        st = write_module(&e, tm, out_path, err);
    if (e.td)
        LLVMDisposeTargetData(e.td);
    if (e.mod)
        LLVMDisposeModule(e.mod);
    if (e.ctx)
        LLVMContextDispose(e.ctx);
    if (tm)
        LLVMDisposeTargetMachine(tm);
    free(wpath);
    free(glue);
    return st;
}

#endif
