/*
 * dpfile_disasm.c: a device program listed readably (dpcc --disasm).
 */
#include "dpfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names come from the file: control characters are shown escaped, not sent to the terminal. */
static void put_text(FILE *f, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)dpf_str(s); *c; c++) {
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
    case DP_ATTR_STRING:
        fputc('"', f);
        put_text(f, a->s);
        fputc('"', f);
        break;
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
    fprintf(f,
            "\", opset %d\n  %d tensors, %d instructions, arena %llu bytes, weights %llu "
            "bytes\n",
            p->opset, p->n_tensors, p->n_instrs, (unsigned long long)p->arena_bytes,
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
        int n = (int)strnlen(dpf_str(p->tensors[i].name), NAME_COLUMN);
        width = n > width ? n : width;
    }
    for (int i = 0; i < p->n_tensors; i++) {
        const dp_tensor_info *ti = &p->tensors[i];
        fprintf(f, "  %%%-4d ", i);
        put_text(f, ti->name);
        fprintf(f, "%*s  %s", width - (int)strnlen(dpf_str(ti->name), NAME_COLUMN), "",
                dp_dtype_name(ti->t.dtype));
        put_shape(f, &ti->t);
        fprintf(f, "  %s", dpf_storage_name(ti->storage));
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
            if (m->n_weight_scale > 0)
                fprintf(f, " W=[%d scales]", m->n_weight_scale);
            if (m->weight_grid_bits > 0)
                fprintf(f, " wgrid=%d", m->weight_grid_bits);
        }
        if (ins->n_attrs)
            fputc(' ', f);
        for (int k = 0; k < ins->n_attrs; k++)
            put_attr(f, &ins->attrs[k]);
        fputc('\n', f);
    }
}
