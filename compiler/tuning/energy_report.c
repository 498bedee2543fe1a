/*
 * energy_report.c: the energy and precision of the chosen schedule, as the report file and
 * as the short table dpcc prints.
 */
#include "analog_passes.h"

#include <math.h>

void pass_energy(dpc_analog *A)
{
    A->total_energy_j = 0;
    for (int l = 0; l < A->n_layers; l++) {
        dpc_layer *L = &A->layers[l];
        const dp_mvm *m = A->prog->instrs[L->instr].mvm;
        dp_layer_work w = dp_mvm_work(m, m->repetitions);
        L->repetitions = m->repetitions;
        L->energy = dp_energy_layer(A->device, &w);
        L->effective_bits = dp_mvm_effective_bits(A->prog, m, m->repetitions);
        A->total_energy_j += L->energy.total;
    }
}

/* Why the budget is not met, for the report and the warning; NULL where it is. */
static const char *budget_warning(const dpc_analog *A)
{
    if (!A->budget_unmet)
        return NULL;
    if (A->kind == DPC_SCHEDULE_FIXED || A->kind == DPC_SCHEDULE_GIVEN)
        return "the schedule, taken as given, measures over the budget";
    return "the default budget is out of reach: every layer runs at the device's maximum "
           "precision";
}

static void fill_report(const dpc_analog *A, dp_report *r, dp_report_layer *rows)
{
    *r = (dp_report){.producer = "dpcc", .device = A->device, .metric = dpc_metric_name(A->metric),
                     .budget = A->budget, .predicted_mse = A->predicted_mse,
                     .measured = A->measured, .uniform_repetitions = A->uniform_reps,
                     .uniform_energy_j = A->uniform_energy_j,
                     .synthetic_calibration = A->synthetic, .unverified_margin = A->margin_capped,
                     .budget_warning = budget_warning(A),
                     .calibration_samples = A->chunks, .n_layers = A->n_layers, .layers = rows};
    r->floor_mse = 0;
    for (int l = 0; l < A->n_layers; l++) {
        const dpc_layer *L = &A->layers[l];
        const dp_mvm *m = A->prog->instrs[L->instr].mvm;
        rows[l] = (dp_report_layer){.name = L->name, .op = L->op, .macs = L->macs,
                                    .repetitions = L->repetitions,
                                    .photons_per_mac = dp_device_photons_per_mac(A->device,
                                                                              L->repetitions),
                                    .input_unsigned = m->input_unsigned,
                                    .effective_bits = L->effective_bits,
                                    .sensitivity = L->sensitivity, .energy = L->energy,
                                    .counts = L->counts};
        r->macs += L->macs;
        r->floor_mse += L->floor_mse;
        dp_energy_add(&r->total, &L->energy);
    }
    r->optical_aj_per_mac = r->macs ? r->total.optical / (double)r->macs * 1e18 : 0;
    if (A->kind == DPC_SCHEDULE_FIXED || A->kind == DPC_SCHEDULE_GIVEN)
        r->uniform_energy_j = NAN;
}

dp_status dpc_write_report(const dpc_analog *A, const char *path, char **json, dp_error *err)
{
    dp_report r;
    dp_report_layer *rows = dp_arena_calloc(A->mem, (size_t)A->n_layers + 1, sizeof *rows);
    if (!rows)
        return dp_fail(err, DP_ENOMEM, "out of memory for the report");
    fill_report(A, &r, rows);
    dp_status st = path ? dp_report_write(&r, path, err) : DP_OK;
    if (st == DP_OK && json && !(*json = dp_report_json(&r)))
        st = dp_fail(err, DP_ENOMEM, "out of memory for the report");
    return st;
}

dp_status dpc_write_report_csv(const dpc_analog *A, const char *path, dp_error *err)
{
    dp_report r;
    dp_report_layer *rows = dp_arena_calloc(A->mem, (size_t)A->n_layers + 1, sizeof *rows);
    if (!rows)
        return dp_fail(err, DP_ENOMEM, "out of memory for the report");
    fill_report(A, &r, rows);
    return dp_report_write_csv(&r, path, err);
}

void dpc_print_summary(const dpc_analog *A, FILE *f)
{
    dp_report r;
    dp_report_layer *rows = dp_arena_calloc(A->mem, (size_t)A->n_layers + 1, sizeof *rows);
    if (!rows)
        return;
    fill_report(A, &r, rows);
    /* under photon precision the schedule's figure is the light, not a count of passes */
    bool photons = A->device->precision == DP_PRECISION_PHOTONS;
    fprintf(f, "%-40s %-13s %10s %8s %6s %11s %11s %7s\n", "layer", "op", "MACs",
            photons ? "photons" : "N", "bits", "sensitivity", "energy", "clips");
    for (int l = 0; l < r.n_layers; l++) {
        const dp_report_layer *L = &rows[l];
        fprintf(f, "%-40.40s %-13s %10.3g %8.4g %6.2f %11.3g %9.3g J %6.2g%%\n", L->name, L->op,
                (double)L->macs, photons ? L->photons_per_mac : (double)L->repetitions,
                L->effective_bits, L->sensitivity,
                L->energy.total, L->counts.conversions
                    ? 100.0 * (double)L->counts.clipped / (double)L->counts.conversions : 0.0);
    }
    fprintf(f, "total %.4g J per inference, %.3g aJ/MAC optical, %s = %.4g measured (budget %g)",
            r.total.total, r.optical_aj_per_mac, r.metric, r.measured, r.budget);
    if (A->budget_unmet)
        ; /* no search ran: the warning says what the schedule is */
    else if (r.uniform_energy_j > 0 && photons)
        fprintf(f, "; uniform %.4g photons/MAC would take %.4g J: %.1f%% saved",
                dp_device_photons_per_mac(A->device, r.uniform_repetitions), r.uniform_energy_j,
                100 * (1 - r.total.total / r.uniform_energy_j));
    else if (r.uniform_energy_j > 0)
        fprintf(f, "; uniform N=%d would take %.4g J: %.1f%% saved", r.uniform_repetitions,
                r.uniform_energy_j, 100 * (1 - r.total.total / r.uniform_energy_j));
    fputc('\n', f);
    const dp_energy *e = &r.total;
    if (e->total > 0)
        fprintf(f, "energy split: optical %.3g%%, DAC %.3g%%, ADC %.3g%%, digital %.3g%%, "
                "memory %.3g%%\n", 100 * e->optical / e->total, 100 * e->dac / e->total,
                100 * e->adc / e->total, 100 * e->digital / e->total, 100 * e->memory / e->total);
    /* a quantized model's layers: which converter ranges the model set; calibration (or
     * for the weights their largest magnitude) set the rest */
    int from_model[DPC_CONVERTERS] = {0}, requantised[DPC_CONVERTERS] = {0}, any = 0;
    const char *calibrated = NULL;
    for (int l = 0; l < A->n_layers; l++) {
        const dpc_layer *L = &A->layers[l];
        for (int c = 0; c < DPC_CONVERTERS; c++) {
            from_model[c] += L->source[c] != DPC_RANGE_DATA;
            requantised[c] += L->source[c] == DPC_RANGE_REQUANTISED;
            any += L->source[c] != DPC_RANGE_DATA;
        }
        if (L->source[DPC_DAC] == DPC_RANGE_DATA && !calibrated)
            calibrated = L->name ? L->name : "";
    }
    if (!any)
        return;
    fprintf(f, "DAC ranges from the model's scales: %d of %d layers (%d requantised)",
            from_model[DPC_DAC], A->n_layers, requantised[DPC_DAC]);
    if (calibrated)
        fprintf(f, "; calibrated: '%s'%s", calibrated,
                from_model[DPC_DAC] < A->n_layers - 1 ? " and others" : "");
    fprintf(f, "; weight levels: %d (%d requantised); ADC ranges: %d (%d requantised); %s from "
            "%s calibration data\n", from_model[DPC_WEIGHTS], requantised[DPC_WEIGHTS],
            from_model[DPC_ADC], requantised[DPC_ADC],
            from_model[DPC_DAC] == A->n_layers && from_model[DPC_ADC] == A->n_layers
                ? "the schedule" : "the other ranges and the schedule",
            A->synthetic ? "synthetic" : "the");
}

/* Where converter c of some layers requantises the model's grid: a warning naming the first. */
static void warn_requantised(const dpc_analog *A, int c, FILE *f)
{
    static const char *const what[DPC_CONVERTERS][2] = {
        {"the DAC requantises the model's input grid", "the device's DAC has"},
        {"the weight modulators requantise the model's weight grid", "the device's modulators have"},
        {"the ADC requantises the model's output grid", "the device's ADC has"}};
    const int bits[DPC_CONVERTERS] = {A->device->dac_bits, A->device->weight_bits,
                                      A->device->adc_bits};
    int n = 0;
    const dpc_layer *first = NULL;
    for (int i = 0; i < A->n_layers; i++)
        if (A->layers[i].source[c] == DPC_RANGE_REQUANTISED && !n++)
            first = &A->layers[i];
    if (first)
        fprintf(f, "warning: %s of %d layer%s: '%s' needs %d bits, %s %d\n", what[c][0], n,
                n > 1 ? "s" : "", first->name ? first->name : "", first->grid_bits[c],
                what[c][1], bits[c]);
}

void dpc_print_warnings(const dpc_analog *A, FILE *f)
{
    if (A->budget_unmet && (A->kind == DPC_SCHEDULE_FIXED || A->kind == DPC_SCHEDULE_GIVEN))
        fprintf(f, "warning: the %s schedule measures %s = %.4g on the calibration data, over "
                "the budget of %g\n", A->kind == DPC_SCHEDULE_FIXED ? "fixed" : "given",
                dpc_metric_name(A->metric), A->measured, A->budget);
    else if (A->budget_unmet)
        fprintf(f, "warning: the default budget, %s <= %g, is out of reach on this device and "
                "calibration data: the most precise schedule (%d %s everywhere) measures %s = "
                "%.4g, and the program is compiled with it; give --budget for another goal\n",
                dpc_metric_name(A->metric), A->budget, A->device->max_repetitions,
                A->device->precision == DP_PRECISION_PHOTONS ? "steps of light" : "repetitions",
                dpc_metric_name(A->metric), A->measured);
    if (A->margin_capped)
        fprintf(f, "warning: the schedule meets the budget on the %lld calibration samples, but "
                "by less than their sampling error: give more calibration data to be confident "
                "it holds on new data\n", (long long)A->samples);
    bool all_model = A->n_layers > 0;
    for (int i = 0; i < A->n_layers; i++)
        all_model &= A->layers[i].source[DPC_DAC] != DPC_RANGE_DATA &&
                     A->layers[i].source[DPC_ADC] != DPC_RANGE_DATA;
    if (A->synthetic)
        fprintf(f, "warning: calibrated on synthetic inputs (no --calib): %s may not fit real "
                "data\n", all_model ? "the schedule" : "full scales and the schedule");
    for (int c = 0; c < DPC_CONVERTERS; c++)
        warn_requantised(A, c, f);
}
