/*
 * energy.h: the energy model of analog-model.md section 4: what one analog layer costs on a
 * device, split into optical, converter, digital and memory energy.
 *
 * Pure functions of a dp_device and counts the caller derives from the layer's tiling, so
 * that the schedule, the compile-time report and dprun's report agree by construction.
 */
#ifndef DP_ENERGY_H
#define DP_ENERGY_H

#include "device.h"

/* SI defining constants (exact): the only physics constants in the code. */
#define DP_PLANCK_J_S 6.62607015e-34
#define DP_SPEED_OF_LIGHT_M_S 299792458.0

/* The work of one analog layer for one inference. "One pass" is one repetition of the whole
 * layer: every tile pass once. */
typedef struct dp_layer_work {
    int64_t macs;           /* M: multiply-accumulates of one pass */
    int64_t dac_inputs;     /* input DAC conversions of one pass */
    int64_t dac_weights;    /* weight DAC conversions of one pass */
    int64_t adc_outputs;    /* ADC conversions: outputs x fan-in tiles, once after integration */
    int64_t digital_ops;    /* partial-sum adds, rescales and bias adds */
    int64_t memory_bytes;   /* bytes the digital side reads and writes for the layer */
    int32_t repetitions;    /* N >= 1 */
    int32_t dac_bits, weight_bits, adc_bits;   /* the layer's widths; 0: the device's */
} dp_layer_work;

/* Joules, per inference. */
typedef struct dp_energy {
    double optical, dac, adc, digital, memory, total;
} dp_energy;

/* h c / lambda: one photon's energy. */
double dp_photon_energy_j(double wavelength_nm);

/* Optical energy of one MAC of one repetition: n h c / lambda / efficiency. */
double dp_optical_mac_j(const dp_device *d);

/* The same in attojoules, the founding paper's unit. */
double dp_optical_mac_aj(const dp_device *d);

/*
 * One conversion at `bits` (0: the device's width). The profile gives the energy at its own
 * width; another width scales it by 2^(bits - profile bits), as at a constant Walden figure
 * of merit. Weights go through the DAC, so their conversions use the DAC's energy.
 */
double dp_dac_conversion_j(const dp_device *d, int32_t bits);
double dp_adc_conversion_j(const dp_device *d, int32_t bits);

/*
 * analog-model.md section 4, with P the passes: N, or 1 under photon precision, where N
 * counts steps of the profile's light in one pass:
 *   optical = N M E_mac
 *   dac     = P dac_inputs E_dac(b_dac) + k dac_weights E_dac(b_w), k = P where the device
 *             re-modulates weights every repetition, else 1 (weights held while the N
 *             repetitions run; pass 0 for weights that stay resident across inferences)
 *   adc     = adc_outputs E_adc(b_adc), times P with the averaging ADC
 *   digital = digital_ops E_op,  memory = memory_bytes E_byte
 */
dp_energy dp_energy_layer(const dp_device *d, const dp_layer_work *w);

/* sum += e, field by field: a network's total from its layers. */
void dp_energy_add(dp_energy *sum, const dp_energy *e);

#endif
