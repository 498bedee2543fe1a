/*
 * device.h: a device profile: every parameter of the simulated analog core, read from a JSON
 * profile (docs/device-profiles.md) or from a .dp that carries the device it was compiled for.
 *
 * The fields are the quantities of analog-model.md; nothing about a device is a constant in
 * code. One range check (dp_device_check) serves the JSON loader and the .dp loader alike, and
 * names a bad field by its JSON key path ("noise.thermal_std") whichever file it came from.
 */
#ifndef DP_DEVICE_H
#define DP_DEVICE_H

#include "dp_base.h"

#include <stdbool.h>
#include <stdio.h>

/* Capacities of the text fields, the terminating NUL included. */
#define DP_DEVICE_NAME_MAX 64
#define DP_DEVICE_DESCRIPTION_MAX 512

/* What shot noise scales with (analog-model.md section 2). SIGNAL: the light that reaches the
 * detector carries the signal's own power, std |x^| |w^_j| / sqrt(K n) (the founding paper's
 * model); FULL_SCALE: every MAC is charged full-scale light, std sqrt(K / n). */
typedef enum dp_shot_model { DP_SHOT_SIGNAL = 0, DP_SHOT_FULL_SCALE = 1 } dp_shot_model;

/* What thermal noise is relative to. OUTPUT: the ADC full scale, std s_th G_j; MAC: the full
 * range of the pass's MACs, std s_th sqrt(K) r_w r_x, r the span of the normalised weights
 * (2) and inputs (2, or 1 for the unsigned DAC): the founding paper's code. */
typedef enum dp_thermal_model { DP_THERMAL_OUTPUT = 0, DP_THERMAL_MAC = 1 } dp_thermal_model;

/* INTEGRATE: the detector averages the N repetitions and the ADC converts once; AVERAGE: every
 * repetition is converted and the N conversions averaged digitally. */
typedef enum dp_adc_mode { DP_ADC_INTEGRATE = 0, DP_ADC_AVERAGE = 1 } dp_adc_mode;

/* What the schedule sets per layer. REPETITIONS: N passes of n photons per MAC each; PHOTONS:
 * one pass of N x n photons per MAC, N in [1, max_repetitions], so the profile's n is the
 * step (and least amount) of light a layer can be given. */
typedef enum dp_precision { DP_PRECISION_REPETITIONS = 0, DP_PRECISION_PHOTONS = 1 } dp_precision;

/* Profiles are a few hundred bytes; anything near this is not a profile. */
#define DP_DEVICE_FILE_MAX ((uint64_t)1 << 20)

typedef struct dp_device {
    char name[DP_DEVICE_NAME_MAX];                  /* non-empty */
    char description[DP_DEVICE_DESCRIPTION_MAX];

    /* core */
    int32_t rows;               /* R: outputs of one tile pass */
    int32_t cols;               /* C: inputs (fan-in) of one tile pass */
    double clock_ghz;           /* tile passes (repetitions) per nanosecond */

    /* optics */
    double wavelength_nm;
    double photons_per_mac;     /* n: detected photons per MAC per repetition (the step of
                                 * light under DP_PRECISION_PHOTONS) */
    double optical_efficiency;  /* (0, 1]: detected / emitted optical energy */

    /* noise, per repetition (analog-model.md section 2) */
    double thermal_std;         /* s_th, relative to what thermal_model says */
    int32_t thermal_model;      /* dp_thermal_model */
    bool shot_noise;            /* simulate homodyne shot noise */
    int32_t shot_model;         /* dp_shot_model */
    double weight_noise_std;    /* s_w: dynamic, per weight read, on the [-1, 1] scale */
    double input_noise_std;     /* s_x: dynamic, per input, on the [-1, 1] scale */
    double static_weight_std;   /* s_static: programming error, fixed per device instance */
    double distortion_k3;       /* y -> y - k3 y^3 on the normalised output y = s / G */

    /* converters */
    int32_t dac_bits;
    int32_t weight_bits;
    int32_t adc_bits;
    bool remodulate_weights;    /* weights pass through the DAC every repetition (homodyne) */
    int32_t adc_mode;           /* dp_adc_mode */
    double headroom;            /* >= 1: DAC and ADC full scales are this many times the
                                 * calibrated quantiles */

    /* repetitions */
    int32_t max_repetitions;    /* N_max */
    bool repetitions_power_of_two;
    int32_t precision;          /* dp_precision */

    /* energy; converter energies hold at dac_bits and adc_bits (energy.h scales them) */
    double dac_conversion_pj;
    double adc_conversion_pj;
    double digital_op_pj;
    double memory_byte_pj;
} dp_device;

/*
 * What a layer's count N means on this device: under photon precision one pass of N steps of
 * the profile's light, else N passes of it. The passes, and the photons per MAC in each.
 * Inline: the emitted C kernel carries the code that calls them, not this file's JSON reader.
 */
static inline int64_t dp_device_passes(const dp_device *d, int64_t n)
{
    return d->precision == DP_PRECISION_PHOTONS ? 1 : n;
}

static inline double dp_device_photons_per_mac(const dp_device *d, int64_t n)
{
    return d->photons_per_mac * (double)(n / dp_device_passes(d, n));
}

/* The profile's word for a choice-valued field ("signal", "average", "photons"...). */
const char *dp_shot_model_name(int32_t model);
const char *dp_thermal_model_name(int32_t model);
const char *dp_adc_mode_name(int32_t mode);
const char *dp_precision_name(int32_t precision);

/* Reads a JSON profile of at most DP_DEVICE_FILE_MAX bytes. Errors name path and key. */
dp_status dp_device_load(const char *path, dp_device *out, dp_error *err);

/*
 * Parses a JSON profile of len bytes (no terminator needed). `what` names the source in
 * messages. Every problem is DP_EINPUT: malformed JSON (with line and column), a missing
 * required key, an unknown or repeated key, a wrong type, or a value out of range.
 */
dp_status dp_device_parse(const char *json, size_t len, const char *what, dp_device *out,
                          dp_error *err);

/*
 * The range checks of every field, and those between fields, as DP_EINPUT
 * "WHAT: key.path: problem". The JSON loader and the .dp loader both end with it.
 */
dp_status dp_device_check(const dp_device *d, const char *what, dp_error *err);

/* Whether the device can run an analog layer at n repetitions: 1 <= n <= max_repetitions,
 * and a power of two where repetitions.power_of_two says so. */
bool dp_device_repetitions_ok(const dp_device *d, int64_t n);

/*
 * Sets the text field `key` ("name" or "description") to value, refusing a value that does
 * not fit its capacity: the one place text enters a dp_device.
 */
dp_status dp_device_set_text(dp_device *d, const char *key, const char *value, const char *what,
                             dp_error *err);

/*
 * The device as a JSON profile that dp_device_parse reads back to the same values, one group
 * per line. malloc'd (free it); NULL when out of memory.
 */
char *dp_device_to_json(const dp_device *d);

#endif
