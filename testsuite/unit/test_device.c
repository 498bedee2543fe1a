/*
 * test_device.c: device profiles and the energy model: the shipped profiles load, every kind
 * of bad profile is refused with DP_EINPUT naming the key, a device survives the JSON writer
 * and a .dp round trip, and the energy model agrees with numbers computed by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "dp_program.h"
#include "energy.h"
#include "tensor_io.h"

/* profiles/NAME, found through DPCC_SOURCE_DIR (ctest sets it) or this file's own path. */
static const char *profile_path(const char *name)
{
    static char path[1024];
    const char *src = getenv("DPCC_SOURCE_DIR");
    if (src)
        snprintf(path, sizeof path, "%s/profiles/%s", src, name);
    else
        snprintf(path, sizeof path, "%.*s/../../profiles/%s",
                 (int)(strrchr(__FILE__, '/') - __FILE__), __FILE__, name);
    return path;
}

/* A valid profile, one key per line so that a case can change or drop exactly one. */
static const char base[] =
    "{\n"
    "  \"name\": \"unit\",\n"
    "  \"core\": {\n"
    "    \"rows\": 16,\n"
    "    \"cols\": 32,\n"
    "    \"clock_ghz\": 5\n"
    "  },\n"
    "  \"optics\": {\n"
    "    \"wavelength_nm\": 1550,\n"
    "    \"photons_per_mac\": 10\n"
    "  },\n"
    "  \"noise\": {\n"
    "    \"thermal_std\": 0.001\n"
    "  },\n"
    "  \"converters\": {\n"
    "    \"dac_bits\": 8,\n"
    "    \"weight_bits\": 6,\n"
    "    \"adc_bits\": 8\n"
    "  },\n"
    "  \"repetitions\": {\n"
    "    \"max\": 64\n"
    "  },\n"
    "  \"energy\": {\n"
    "    \"dac_conversion_pj\": 0.5,\n"
    "    \"adc_conversion_pj\": 2,\n"
    "    \"digital_op_pj\": 1,\n"
    "    \"memory_byte_pj\": 0.25\n"
    "  }\n"
    "}\n";

/* base with the first occurrence of `from` replaced by `to`; malloc'd. */
static char *edit(const char *from, const char *to)
{
    const char *at = strstr(base, from);
    if (!at)
        fail_msg("'%s' is not in the base profile", from);
    size_t head = (size_t)(at - base), from_len = strlen(from), to_len = strlen(to);
    char *s = malloc(sizeof base + to_len);
    memcpy(s, base, head);
    memcpy(s + head, to, to_len);
    strcpy(s + head + to_len, at + from_len);
    return s;
}

static void parse_ok(const char *json, dp_device *d)
{
    dp_error err = {0};
    if (dp_device_parse(json, strlen(json), "unit.json", d, &err) != DP_OK)
        fail_msg("valid profile refused: %s", err.msg);
}

static void shipped_profiles_load(void **state)
{
    dp_device d;
    dp_error err = {0};
    if (dp_device_load(profile_path("homodyne_shot.json"), &d, &err) != DP_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(d.name, "homodyne_shot");
    assert_int_equal(d.rows, 128);
    assert_int_equal(d.cols, 128);
    assert_true(d.wavelength_nm == 1550);
    assert_true(d.shot_noise && d.remodulate_weights && !d.repetitions_power_of_two);
    assert_int_equal(d.dac_bits, 8);
    assert_int_equal(d.weight_bits, 8);
    assert_int_equal(d.adc_bits, 8);
    /* 10 photons of h c / 1550 nm = 1.2816e-19 J each (docs/device-profiles.md) */
    assert_true(fabs(dp_optical_mac_aj(&d) - 1.2816) < 1e-4);
    /* left out of the profile: analog-model.md revision 2's defaults */
    assert_int_equal(d.shot_model, DP_SHOT_SIGNAL);
    assert_int_equal(d.thermal_model, DP_THERMAL_OUTPUT);
    assert_int_equal(d.adc_mode, DP_ADC_INTEGRATE);
    assert_int_equal(d.precision, DP_PRECISION_REPETITIONS);

    /* the founding paper's regimes: continuous light, and thermal noise on the MACs' range */
    if (dp_device_load(profile_path("paper_shot.json"), &d, &err) != DP_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(d.precision, DP_PRECISION_PHOTONS);
    assert_int_equal(d.shot_model, DP_SHOT_SIGNAL);
    assert_true(d.thermal_std == 0 && d.wavelength_nm == 1550 && d.headroom == 16);
    assert_true(d.dac_conversion_pj == 0 && d.adc_conversion_pj == 0 && d.digital_op_pj == 0 &&
                d.memory_byte_pj == 0);
    if (dp_device_load(profile_path("paper_thermal.json"), &d, &err) != DP_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(d.thermal_model, DP_THERMAL_MAC);
    assert_true(!d.shot_noise && d.thermal_std == 0.01);
    assert_int_equal(d.adc_bits, 8);

    if (dp_device_load(profile_path("thermal_limited.json"), &d, &err) != DP_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(d.name, "thermal_limited");
    assert_true(d.repetitions_power_of_two && !d.remodulate_weights);
    assert_int_equal(d.adc_bits, 10);
    /* Thermal noise dominates shot noise: s_th G against sqrt(K / n), for any full scale G
     * of at least one MAC unit at a full core's fan-in. */
    assert_true(d.thermal_std * 1.0 > 2 * sqrt(d.cols / d.photons_per_mac));
}

static void defaults_fill_optional_keys(void **state)
{
    dp_device d;
    parse_ok(base, &d);
    assert_string_equal(d.name, "unit");
    assert_string_equal(d.description, "");
    assert_int_equal(d.rows, 16);
    assert_int_equal(d.cols, 32);
    assert_true(d.optical_efficiency == 1);
    assert_true(d.shot_noise);
    assert_true(d.weight_noise_std == 0 && d.input_noise_std == 0);
    assert_true(d.static_weight_std == 0 && d.distortion_k3 == 0);
    assert_true(d.remodulate_weights);
    assert_false(d.repetitions_power_of_two);
    assert_int_equal(d.max_repetitions, 64);
    assert_int_equal(d.shot_model, DP_SHOT_SIGNAL);
    assert_int_equal(d.thermal_model, DP_THERMAL_OUTPUT);
    assert_int_equal(d.adc_mode, DP_ADC_INTEGRATE);
    assert_int_equal(d.precision, DP_PRECISION_REPETITIONS);
    assert_true(d.headroom == 1);
}

typedef struct bad {
    const char *from, *to;   /* the edit of base; from NULL: `to` is the whole text */
    const char *needle;      /* in the message, after "unit.json: " */
} bad;

static const bad bads[] = {
    /* malformed JSON, with the position cJSON reports */
    {"\"rows\": 16,", "\"rows\": 16,,", "malformed JSON near line 4, column 17"},
    {NULL, "", "malformed JSON near line 1, column 1"},
    {NULL, "{\"name\": \"x\"", "malformed JSON"},
    {"}\n}\n", "}\n}\n}", "malformed JSON: text after the profile at line 30, column 1"},
    {NULL, "[1, 2]", "expected a JSON object at the top level, found an array"},
    /* missing required keys */
    {"\"name\": \"unit\",", "", "missing required key 'name'"},
    {"\"thermal_std\": 0.001", "", "missing required key 'noise.thermal_std'"},
    {"\"clock_ghz\": 5", "\"clock_gz\": 5", "unknown key 'core.clock_gz' (did you mean "
                                              "'core.clock_ghz'?)"},
    /* unknown and repeated keys */
    {"\"thermal_std\"", "\"thermal_sd\"", "unknown key 'noise.thermal_sd' (did you mean "
                                          "'noise.thermal_std'?)"},
    {"\"noise\"", "\"nosie\"", "unknown key 'nosie' (did you mean 'noise'?)"},
    {"\"name\": \"unit\",", "\"name\": \"unit\", \"thermal_std\": 0,",
     "unknown key 'thermal_std' (did you mean 'noise.thermal_std'?)"},
    {"\"name\": \"unit\",", "\"name\": \"unit\", \"colour\": 0,", "unknown key 'colour'"},
    {"\"rows\": 16,", "\"rows\": 16, \"rows\": 8,", "core.rows: the key appears twice"},
    {"\"name\": \"unit\",", "\"name\": \"unit\", \"name\": \"u\",", "name: the key appears twice"},
    {"\"name\": \"unit\",", "\"name\": \"unit\", \"core\": {},", "core: the key appears twice"},
    /* wrong types */
    {"\"rows\": 16", "\"rows\": \"16\"", "core.rows: expected an integer, found a string"},
    {"\"thermal_std\": 0.001", "\"thermal_std\": null", "noise.thermal_std: expected a number, "
                                                        "found null"},
    {"\"thermal_std\": 0.001", "\"thermal_std\": 0.001, \"shot_noise\": 1",
     "noise.shot_noise: expected true or false, found a number"},
    {"\"name\": \"unit\"", "\"name\": [\"unit\"]", "name: expected a string, found an array"},
    {"\"thermal_std\": 0.001", "\"thermal_std\": 0.001, \"shot_model\": 1",
     "noise.shot_model: expected a string, found a number"},
    /* a word that is not one of the choices, which the message lists */
    {"\"thermal_std\": 0.001", "\"thermal_std\": 0.001, \"shot_model\": \"full\"",
     "noise.shot_model: \"full\" is not \"signal\" or \"full_scale\""},
    {"\"thermal_std\": 0.001", "\"thermal_std\": 0.001, \"thermal_model\": \"MAC\"",
     "noise.thermal_model: \"MAC\" is not \"output\" or \"mac\""},
    {"\"dac_bits\": 8", "\"dac_bits\": 8, \"adc_mode\": \"averaged\"",
     "converters.adc_mode: \"averaged\" is not \"integrate\" or \"average\""},
    {"\"max\": 64", "\"max\": 64, \"precision\": \"photon\"",
     "repetitions.precision: \"photon\" is not \"repetitions\" or \"photons\""},
    {"\"noise\": {\n    \"thermal_std\": 0.001\n  }", "\"noise\": 0.001",
     "noise: expected an object, found a number"},
    /* values out of range */
    {"\"thermal_std\": 0.001", "\"thermal_std\": -0.1", "noise.thermal_std: -0.1 is out of "
                                                        "range, expected a value in [0, 1]"},
    {"\"adc_bits\": 8", "\"adc_bits\": 0", "converters.adc_bits: 0 is out of range, expected "
                                           "an integer in [1, 24]"},
    {"\"dac_bits\": 8", "\"dac_bits\": 25", "converters.dac_bits: 25 is out of range"},
    {"\"rows\": 16", "\"rows\": 0", "core.rows: 0 is out of range"},
    {"\"cols\": 32", "\"cols\": 1e12", "core.cols: 1000000000000 is out of range"},
    {"\"rows\": 16", "\"rows\": 12.5", "core.rows: 12.5 is not an integer"},
    {"\"wavelength_nm\": 1550", "\"wavelength_nm\": 1.55", "optics.wavelength_nm: 1.55 is out "
                                                           "of range"},
    {"\"photons_per_mac\": 10", "\"photons_per_mac\": 0", "optics.photons_per_mac: 0 is out of "
                                                          "range, expected a value in (0, "},
    {"\"photons_per_mac\": 10", "\"photons_per_mac\": 1e999", "optics.photons_per_mac: inf is "
                                                              "not a finite number"},
    {"\"photons_per_mac\": 10", "\"photons_per_mac\": 10, \"efficiency\": 1.5",
     "optics.efficiency: 1.5 is out of range, expected a value in (0, 1]"},
    {"\"thermal_std\": 0.001", "\"thermal_std\": 0.001, \"distortion_k3\": 0.34",
     "noise.distortion_k3: 0.34 is out of range, expected a value in [0, 0.333"},
    {"\"thermal_std\": 0.001", "\"thermal_std\": 0.001, \"weight_std\": -1e-3",
     "noise.weight_std: -0.001 is out of range"},
    {"\"clock_ghz\": 5", "\"clock_ghz\": 5e9", "core.clock_ghz: 5000000000 is out of range"},
    {"\"memory_byte_pj\": 0.25", "\"memory_byte_pj\": -1", "energy.memory_byte_pj: -1 is out"},
    {"\"max\": 64", "\"max\": 0", "repetitions.max: 0 is out of range"},
    {"\"max\": 64", "\"max\": 48, \"power_of_two\": true", "repetitions.max: 48 is not a power "
                                                          "of two"},
    /* text */
    {"\"name\": \"unit\"", "\"name\": \"\"", "name: empty"},
    {"\"name\": \"unit\"", "\"name\": \"" "0123456789012345678901234567890123456789"
                                          "012345678901234567890123\"",
     "name: 64 bytes, longer than the limit of 63"},
    {"\"name\": \"unit\"", "\"name\": \"u\\u0001\"", "name: byte 1 is 0x01, expected printable"},
    {"\"name\": \"unit\"", "\"name\": \"caf\\u00e9\"", "name: byte 3 is 0xc3"},
    {"\"name\": \"unit\",", "\"name\": \"unit\", \"description\": \"a\\nb\",",
     "description: byte 1 is 0x0a, expected no control characters"},
};

static void bad_profiles_are_refused(void **state)
{
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        const bad *b = &bads[i];
        char *json = b->from ? edit(b->from, b->to) : strdup(b->to);
        dp_device d;
        dp_error err = {0};
        dp_status st = dp_device_parse(json, strlen(json), "unit.json", &d, &err);
        char want[512];
        snprintf(want, sizeof want, "unit.json: %s", b->needle);
        if (st != DP_EINPUT || !strstr(err.msg, want))
            fail_msg("case %zu: status %d, message '%s', want '%s' in:\n%s", i, st, err.msg,
                     want, json);
        free(json);
    }
}

static void nul_bytes_and_files(void **state)
{
    dp_device d;
    dp_error err = {0};
    char with_nul[sizeof base];
    memcpy(with_nul, base, sizeof base);
    with_nul[4] = '\0';
    assert_int_equal(dp_device_parse(with_nul, sizeof base - 1, "unit.json", &d, &err),
                     DP_EINPUT);
    assert_non_null(strstr(err.msg, "unit.json: a NUL byte at line 2, column 3"));

    char dir[] = "/tmp/test_device_XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/bad.json", dir);
    char *json = edit("\"adc_bits\": 8", "\"adc_bits\": true");
    dp_chunk part = {json, strlen(json)};
    assert_int_equal(dp_file_write_atomic(path, &part, 1, &err), DP_OK);
    dp_error_clear(&err);
    assert_int_equal(dp_device_load(path, &d, &err), DP_EINPUT);
    char want[256];
    snprintf(want, sizeof want, "%s: converters.adc_bits: expected an integer, found a boolean",
             path);
    assert_string_equal(err.msg, want);
    free(json);

    /* Larger than any profile: refused before parsing. */
    size_t big = (size_t)DP_DEVICE_FILE_MAX + 1;
    char *spaces = malloc(big);
    memset(spaces, ' ', big);
    part = (dp_chunk){spaces, big};
    dp_error_clear(&err);
    assert_int_equal(dp_file_write_atomic(path, &part, 1, &err), DP_OK);
    assert_int_equal(dp_device_load(path, &d, &err), DP_EINPUT);
    assert_non_null(strstr(err.msg, "above the limit"));
    free(spaces);
    unlink(path);

    dp_error_clear(&err);
    assert_int_equal(dp_device_load(path, &d, &err), DP_EIO);
    assert_non_null(strstr(err.msg, path));
    rmdir(dir);
}

static void same_device(const dp_device *a, const dp_device *b)
{
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->description, b->description);
    assert_int_equal(a->rows, b->rows);
    assert_int_equal(a->cols, b->cols);
    assert_true(a->clock_ghz == b->clock_ghz);
    assert_true(a->wavelength_nm == b->wavelength_nm);
    assert_true(a->photons_per_mac == b->photons_per_mac);
    assert_true(a->optical_efficiency == b->optical_efficiency);
    assert_true(a->thermal_std == b->thermal_std);
    assert_int_equal(a->shot_noise, b->shot_noise);
    assert_true(a->weight_noise_std == b->weight_noise_std);
    assert_true(a->input_noise_std == b->input_noise_std);
    assert_true(a->static_weight_std == b->static_weight_std);
    assert_true(a->distortion_k3 == b->distortion_k3);
    assert_int_equal(a->dac_bits, b->dac_bits);
    assert_int_equal(a->weight_bits, b->weight_bits);
    assert_int_equal(a->adc_bits, b->adc_bits);
    assert_int_equal(a->remodulate_weights, b->remodulate_weights);
    assert_int_equal(a->max_repetitions, b->max_repetitions);
    assert_int_equal(a->repetitions_power_of_two, b->repetitions_power_of_two);
    assert_true(a->dac_conversion_pj == b->dac_conversion_pj);
    assert_true(a->adc_conversion_pj == b->adc_conversion_pj);
    assert_true(a->digital_op_pj == b->digital_op_pj);
    assert_true(a->memory_byte_pj == b->memory_byte_pj);
    assert_int_equal(a->shot_model, b->shot_model);
    assert_int_equal(a->thermal_model, b->thermal_model);
    assert_int_equal(a->adc_mode, b->adc_mode);
    assert_int_equal(a->precision, b->precision);
    assert_true(a->headroom == b->headroom);
}

/* Every field away from its default, with values that %g would round. */
static void unusual_device(dp_device *d)
{
    char *json = edit("\"name\": \"unit\",",
                      "\"name\": \"unit \\\"quoted\\\"\", \"description\": \"caf\\u00e9 \\\\ x\",");
    parse_ok(json, d);
    free(json);
    d->clock_ghz = 1.0 / 3;
    d->photons_per_mac = 12.345678901234567;
    d->optical_efficiency = 0.7;
    d->shot_noise = false;
    d->weight_noise_std = 0.01;
    d->input_noise_std = 0.02;
    d->static_weight_std = 0.003;
    d->distortion_k3 = 0.1;
    d->remodulate_weights = false;
    d->repetitions_power_of_two = true;
    d->shot_model = DP_SHOT_FULL_SCALE;
    d->thermal_model = DP_THERMAL_MAC;
    d->adc_mode = DP_ADC_AVERAGE;
    d->precision = DP_PRECISION_PHOTONS;
    d->headroom = 16.25;
}

static void json_writer_round_trips(void **state)
{
    dp_device d, back;
    unusual_device(&d);
    char *json = dp_device_to_json(&d);
    assert_non_null(json);
    assert_non_null(strstr(json, "\n  \"core\": {\"rows\":16,\"cols\":32,"));
    parse_ok(json, &back);
    same_device(&d, &back);
    free(json);

    for (int i = 0; i < 2; i++) {
        dp_error err = {0};
        assert_int_equal(dp_device_load(profile_path(i ? "thermal_limited.json"
                                                       : "homodyne_shot.json"), &d, &err),
                         DP_OK);
        json = dp_device_to_json(&d);
        parse_ok(json, &back);
        same_device(&d, &back);
        free(json);
    }
}

/* No tensors and no instructions: the smallest valid program. */
static dp_program *empty_program(dp_device *device)
{
    dp_program *p = calloc(1, sizeof *p);
    dp_arena_init(&p->mem, 0);
    p->producer = "test_device";
    p->model_name = "empty";
    p->opset = 13;
    p->device = device;
    return p;
}

static void dp_file_carries_the_device(void **state)
{
    char dir[] = "/tmp/test_device_XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/empty.dp", dir);
    dp_device d;
    unusual_device(&d);
    dp_program *p = empty_program(&d), *q = NULL;
    dp_error err = {0};
    assert_int_equal(dp_program_write(p, path, &err), DP_OK);
    assert_int_equal(dp_program_read(path, &q, &err), DP_OK);
    assert_non_null(q->device);
    same_device(&d, q->device);

    char *text = NULL;
    size_t n = 0;
    FILE *out = open_memstream(&text, &n);
    dp_program_disasm(q, out);
    fclose(out);
    assert_non_null(strstr(text, "device {\n  \"name\": \"unit \\\"quoted\\\"\",\n"));
    assert_non_null(strstr(text, "\"repetitions\": {\"max\":64,\"power_of_two\":true,"
                                 "\"precision\":\"photons\"}"));
    assert_non_null(strstr(text, "\"shot_model\":\"full_scale\""));
    assert_non_null(strstr(text, "\"thermal_model\":\"mac\""));
    assert_non_null(strstr(text, "\"adc_mode\":\"average\""));
    free(text);
    dp_program_free(q);

    /* A program without a device (as every file before devices) reads back without one. */
    p->device = NULL;
    assert_int_equal(dp_program_write(p, path, &err), DP_OK);
    assert_int_equal(dp_program_read(path, &q, &err), DP_OK);
    assert_null(q->device);
    dp_program_free(q);

    /* The writer applies the loader's checks: a bad device is a compiler bug. */
    d.thermal_std = -1;
    p->device = &d;
    assert_int_equal(dp_program_write(p, path, &err), DP_EINTERNAL);
    assert_non_null(strstr(err.msg, "device: noise.thermal_std: -1 is out of range"));
    assert_int_equal(access(path, F_OK), 0); /* the earlier file is left as it was */
    dp_program_free(p);
    unlink(path);
    rmdir(dir);
}

static void close_to(double got, double want)
{
    if (!(fabs(got - want) <= 1e-12 * fabs(want)))
        fail_msg("got %.17g, want %.17g", got, want);
}

static void energy_matches_hand_computation(void **state)
{
    /* h c / 1550 nm = 6.62607015e-34 * 299792458 / 1.55e-6 J */
    close_to(dp_photon_energy_j(1550), 1.2815779723541474e-19);
    assert_true(fabs(dp_photon_energy_j(1550) - 1.2816e-19) < 0.0001e-19);

    dp_device d;
    char *json = edit("\"photons_per_mac\": 10", "\"photons_per_mac\": 10, \"efficiency\": 0.5");
    parse_ok(json, &d);
    free(json);
    close_to(dp_optical_mac_j(&d), 10 * 1.2815779723541474e-19 / 0.5);
    close_to(dp_optical_mac_aj(&d), 2.5631559447082948);

    /* base: DAC 0.5 pJ at 8 bits, weights at 6 bits, ADC 2 pJ at 8 bits, 1 pJ per op,
     * 0.25 pJ per byte, weights re-modulated every repetition. */
    dp_layer_work w = {.macs = 1000, .dac_inputs = 100, .dac_weights = 64, .adc_outputs = 20,
                       .digital_ops = 30, .memory_bytes = 400, .repetitions = 4};
    dp_energy e = dp_energy_layer(&d, &w);
    close_to(e.optical, 4 * 1000 * 10 * 1.2815779723541474e-19 / 0.5);
    close_to(e.dac, 4 * 100 * 0.5e-12 + 4 * 64 * 0.5e-12 / 4);  /* 6-bit weights: 1/4 */
    close_to(e.adc, 20 * 2e-12);
    close_to(e.digital, 30 * 1e-12);
    close_to(e.memory, 400 * 0.25e-12);
    close_to(e.total, e.optical + e.dac + e.adc + e.digital + e.memory);

    /* Weights held in the modulators: converted once, not once per repetition. */
    d.remodulate_weights = false;
    close_to(dp_energy_layer(&d, &w).dac, 4 * 100 * 0.5e-12 + 64 * 0.5e-12 / 4);

    /* Other widths than the profile's scale by 2^(bits - profile bits). */
    w.dac_bits = 10;
    w.weight_bits = 8;
    w.adc_bits = 6;
    e = dp_energy_layer(&d, &w);
    close_to(e.dac, 4 * 100 * 2e-12 + 64 * 0.5e-12);
    close_to(e.adc, 20 * 0.5e-12);
    close_to(dp_adc_conversion_j(&d, 0), 2e-12);
    close_to(dp_dac_conversion_j(&d, 9), 1e-12);

    dp_energy sum = {0};
    dp_energy_add(&sum, &e);
    dp_energy_add(&sum, &e);
    close_to(sum.total, 2 * e.total);
    close_to(sum.optical, 2 * e.optical);
    close_to(sum.memory, 2 * e.memory);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shipped_profiles_load),
        cmocka_unit_test(defaults_fill_optional_keys),
        cmocka_unit_test(bad_profiles_are_refused),
        cmocka_unit_test(nul_bytes_and_files),
        cmocka_unit_test(json_writer_round_trips),
        cmocka_unit_test(dp_file_carries_the_device),
        cmocka_unit_test(energy_matches_hand_computation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
