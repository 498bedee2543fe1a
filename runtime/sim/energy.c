/* energy.c: the per-layer energy model of analog-model.md section 4 (see energy.h). */
#include "energy.h"

#include <math.h>

#define PJ 1e-12
#define NM 1e-9
#define AJ 1e-18

double dp_photon_energy_j(double wavelength_nm)
{
    return DP_PLANCK_J_S * DP_SPEED_OF_LIGHT_M_S / (wavelength_nm * NM);
}

double dp_optical_mac_j(const dp_device *d)
{
    return d->photons_per_mac * dp_photon_energy_j(d->wavelength_nm) / d->optical_efficiency;
}

double dp_optical_mac_aj(const dp_device *d)
{
    return dp_optical_mac_j(d) / AJ;
}

static double scaled(double pj_at_ref, int32_t ref_bits, int32_t bits)
{
    return pj_at_ref * PJ * (bits ? exp2((double)bits - ref_bits) : 1.0);
}

double dp_dac_conversion_j(const dp_device *d, int32_t bits)
{
    return scaled(d->dac_conversion_pj, d->dac_bits, bits);
}

double dp_adc_conversion_j(const dp_device *d, int32_t bits)
{
    return scaled(d->adc_conversion_pj, d->adc_bits, bits);
}

dp_energy dp_energy_layer(const dp_device *d, const dp_layer_work *w)
{
    double n = w->repetitions;
    /* under photon precision, N steps of light in one pass: converted once */
    double passes = (double)dp_device_passes(d, w->repetitions);
    double weight_passes = d->remodulate_weights ? passes : 1.0;
    double conversions = d->adc_mode == DP_ADC_AVERAGE ? passes : 1.0;
    dp_energy e;
    e.optical = n * (double)w->macs * dp_optical_mac_j(d);
    e.dac = passes * (double)w->dac_inputs * dp_dac_conversion_j(d, w->dac_bits)
            + weight_passes * (double)w->dac_weights
                  * dp_dac_conversion_j(d, w->weight_bits ? w->weight_bits : d->weight_bits);
    e.adc = conversions * (double)w->adc_outputs * dp_adc_conversion_j(d, w->adc_bits);
    e.digital = (double)w->digital_ops * d->digital_op_pj * PJ;
    e.memory = (double)w->memory_bytes * d->memory_byte_pj * PJ;
    e.total = e.optical + e.dac + e.adc + e.digital + e.memory;
    return e;
}

void dp_energy_add(dp_energy *sum, const dp_energy *e)
{
    sum->optical += e->optical;
    sum->dac += e->dac;
    sum->adc += e->adc;
    sum->digital += e->digital;
    sum->memory += e->memory;
    sum->total += e->total;
}
