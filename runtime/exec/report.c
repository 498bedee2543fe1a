/*
 * report.c: per-layer work, energy and bits of MVM instructions, and the JSON report.
 */
#include "report.h"

#include "tensor_io.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

dp_layer_work dp_mvm_work(const dp_mvm *m, int32_t repetitions)
{
    int64_t per_vector = m->fan_in * m->outputs;
    int64_t vectors = per_vector > 0 ? m->macs / per_vector : 0;
    int64_t conversions = m->outputs * vectors * m->col_tiles;
    return (dp_layer_work){
        .macs = m->macs,
        .dac_inputs = vectors * m->fan_in * m->row_tiles,
        .dac_weights = m->outputs * m->fan_in,
        .adc_outputs = conversions,
        .digital_ops = conversions + (conversions - m->outputs * vectors) + m->outputs * vectors,
        .memory_bytes = (int64_t)sizeof(float) * (vectors * m->fan_in + m->outputs * vectors),
        .repetitions = repetitions > 0 ? repetitions : 1,
        .dac_bits = m->dac_bits, .weight_bits = m->weight_bits, .adc_bits = m->adc_bits};
}

double dp_mvm_effective_bits(const dp_program *p, const dp_mvm *m, int32_t repetitions)
{
    if (!p->device || m->n_output_scale < 1 || !(m->input_scale > 0))
        return NAN;
    dp_analog_params prm = dp_analog_instr_params(p, m, 0, repetitions);
    int64_t K = m->fan_in < m->core_cols ? m->fan_in : m->core_cols;
    double X = m->input_scale, G = dp_mvm_output_scale(m);
    double x_norm2 = (double)K * m->input_mean_square / (X * X);
    return dp_analog_effective_bits(G, dp_analog_variance(&prm, G, K, x_norm2, (double)K / 3));
}

double dp_mvm_output_scale(const dp_mvm *m)
{
    double sum_log = 0;
    int n = 0;
    for (int j = 0; j < m->n_output_scale; j++)
        if (m->output_scale[j] > 0) {
            sum_log += log((double)m->output_scale[j]);
            n++;
        }
    return n ? exp(sum_log / n) : 0.0;
}

dp_status dp_report_from_program(const dp_program *p, dp_arena *mem, dp_report *r,
                                 dp_error *err)
{
    memset(r, 0, sizeof *r);
    r->producer = "dprun";
    r->device = p->device;
    r->budget = r->predicted_mse = r->measured = r->floor_mse = r->uniform_energy_j = NAN;
    r->layers = dp_arena_calloc(mem, (size_t)p->n_instrs + 1, sizeof *r->layers);
    if (!r->layers)
        return dp_fail(err, DP_ENOMEM, "out of memory for the report");
    if (!p->device)
        return dp_fail(err, DP_EINPUT, "the program carries no device: no energy to report");
    for (int i = 0; i < p->n_instrs; i++) {
        const dp_mvm *m = p->instrs[i].mvm;
        if (!m)
            continue;
        dp_report_layer *l = &r->layers[r->n_layers++];
        dp_layer_work w = dp_mvm_work(m, m->repetitions);
        l->name = p->instrs[i].name;
        l->op = p->instrs[i].op;
        l->macs = m->macs;
        l->repetitions = m->repetitions;
        l->photons_per_mac = dp_device_photons_per_mac(p->device, m->repetitions);
        l->input_unsigned = m->input_unsigned;
        l->effective_bits = dp_mvm_effective_bits(p, m, m->repetitions);
        l->sensitivity = NAN;
        l->energy = dp_energy_layer(p->device, &w);
        r->macs += m->macs;
        dp_energy_add(&r->total, &l->energy);
    }
    r->optical_aj_per_mac = r->macs ? r->total.optical / (double)r->macs * 1e18 : 0;
    return DP_OK;
}

/* A number, or null where it is unknown or not finite (JSON has no NaN). */
static void add_number(cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static cJSON *energy_json(const dp_energy *e)
{
    cJSON *o = cJSON_CreateObject();
    add_number(o, "optical", e->optical);
    add_number(o, "dac", e->dac);
    add_number(o, "adc", e->adc);
    add_number(o, "digital", e->digital);
    add_number(o, "memory", e->memory);
    return o;
}

static cJSON *report_json(const dp_report *r)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "schema_version", DP_REPORT_SCHEMA_VERSION);
    cJSON_AddStringToObject(root, "dpcc_version", DP_VERSION);
    cJSON_AddStringToObject(root, "producer", r->producer);
    if (r->device) {
        cJSON_AddStringToObject(root, "device", r->device->name);
        cJSON *a = cJSON_AddObjectToObject(root, "analog_model");
        cJSON_AddStringToObject(a, "shot_model", dp_shot_model_name(r->device->shot_model));
        cJSON_AddStringToObject(a, "thermal_model",
                                dp_thermal_model_name(r->device->thermal_model));
        cJSON_AddStringToObject(a, "adc_mode", dp_adc_mode_name(r->device->adc_mode));
        cJSON_AddStringToObject(a, "precision", dp_precision_name(r->device->precision));
    }
    add_number(root, "total_energy_j", r->total.total);
    add_number(root, "optical_energy_per_mac_aj", r->optical_aj_per_mac);
    add_number(root, "macs", (double)r->macs);
    cJSON_AddItemToObject(root, "energy_breakdown_j", energy_json(&r->total));
    if (r->metric) {
        cJSON *d = cJSON_AddObjectToObject(root, "degradation");
        cJSON_AddStringToObject(d, "metric", r->metric);
        add_number(d, "budget", r->budget);
        add_number(d, "predicted", r->predicted_mse);
        add_number(d, "measured", r->measured);
        add_number(d, "floor_mse", r->floor_mse);
        cJSON_AddBoolToObject(d, "sampling_margin", !r->unverified_margin);
        cJSON_AddBoolToObject(d, "met", !r->budget_warning);
        if (r->budget_warning)
            cJSON_AddStringToObject(d, "warning", r->budget_warning);
        cJSON *u = cJSON_AddObjectToObject(root, "baseline_uniform");
        add_number(u, "repetitions", r->uniform_repetitions);
        add_number(u, "total_energy_j", r->uniform_energy_j);
        add_number(root, "energy_saved_vs_uniform",
                   r->uniform_energy_j > 0 ? 1 - r->total.total / r->uniform_energy_j : NAN);
        cJSON *c = cJSON_AddObjectToObject(root, "calibration");
        cJSON_AddBoolToObject(c, "synthetic", r->synthetic_calibration);
        add_number(c, "samples", (double)r->calibration_samples);
        if (r->synthetic_calibration)
            cJSON_AddStringToObject(c, "warning", "no --calib data: the schedule, and the "
                                    "full scales a quantized model's scales do not set, come "
                                    "from synthetic inputs (standard normal, or random "
                                    "indices), not from the model's real data");
    } else {
        add_number(root, "inferences", (double)r->inferences);
        add_number(root, "nonfinite_inputs", (double)r->nonfinite_inputs);
    }
    cJSON *layers = cJSON_AddArrayToObject(root, "layers");
    for (int i = 0; i < r->n_layers; i++) {
        const dp_report_layer *l = &r->layers[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", l->name ? l->name : "");
        cJSON_AddStringToObject(o, "op", l->op);
        add_number(o, "macs", (double)l->macs);
        add_number(o, "repetitions", l->repetitions);
        add_number(o, "photons_per_mac", l->photons_per_mac);
        cJSON_AddStringToObject(o, "input_dac", l->input_unsigned ? "unsigned" : "signed");
        add_number(o, "effective_bits", l->effective_bits);
        add_number(o, "sensitivity", l->sensitivity);
        add_number(o, "energy_j", l->energy.total);
        cJSON_AddItemToObject(o, "breakdown", energy_json(&l->energy));
        add_number(o, "adc_conversions", (double)l->counts.conversions);
        add_number(o, "adc_clipped", (double)l->counts.clipped);
        cJSON_AddItemToArray(layers, o);
    }
    return root;
}

char *dp_report_json(const dp_report *r)
{
    cJSON *root = report_json(r);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return text;
}

/* A CSV field: quoted, its quotes doubled, where a comma, quote or line break would split it. */
static void csv_text(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* A number, or an empty field where it is unknown or not finite. */
static void csv_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, ",%.10g", v);
    else
        fputc(',', f);
}

char *dp_report_csv(const dp_report *r)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    if (!f)
        return NULL;
    fputs("name,op,macs,repetitions,photons_per_mac,input_dac,effective_bits,sensitivity,"
          "energy_j,optical_j,dac_j,adc_j,digital_j,memory_j,adc_conversions,adc_clipped\n", f);
    for (int i = 0; i < r->n_layers; i++) {
        const dp_report_layer *l = &r->layers[i];
        csv_text(f, l->name ? l->name : "");
        fputc(',', f);
        csv_text(f, l->op);
        fprintf(f, ",%lld,%d", (long long)l->macs, l->repetitions);
        csv_number(f, l->photons_per_mac);
        fprintf(f, ",%s", l->input_unsigned ? "unsigned" : "signed");
        const double v[] = {l->effective_bits, l->sensitivity, l->energy.total, l->energy.optical,
                            l->energy.dac, l->energy.adc, l->energy.digital, l->energy.memory};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
            csv_number(f, v[k]);
        fprintf(f, ",%lld,%lld\n", (long long)l->counts.conversions, (long long)l->counts.clipped);
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

dp_status dp_report_write_csv(const dp_report *r, const char *path, dp_error *err)
{
    char *text = dp_report_csv(r);
    if (!text)
        return dp_fail(err, DP_ENOMEM, "%s: out of memory writing the report", path);
    dp_chunk part = {text, strlen(text)};
    dp_status st = dp_file_write_atomic(path, &part, 1, err);
    free(text);
    return st;
}

dp_status dp_report_write(const dp_report *r, const char *path, dp_error *err)
{
    char *text = dp_report_json(r);
    if (!text)
        return dp_fail(err, DP_ENOMEM, "%s: out of memory writing the report", path);
    dp_chunk parts[2] = {{text, strlen(text)}, {"\n", 1}};
    dp_status st = dp_file_write_atomic(path, parts, 2, err);
    free(text);
    return st;
}
