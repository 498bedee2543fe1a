/*
 * test_sensitivity.c: the arithmetic of the sensitivity pass (compiler/tuning/sensitivity.c)
 * on made-up outputs: the normalised error, and b_l recovered from outputs whose noise
 * follows the model MSE(N) = F + b / N (analog-model.md section 5).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "analog_passes.h"

static float f32(int64_t n, float *data, dp_tensor *t)
{
    memset(t, 0, sizeof *t);
    t->dtype = DP_FLOAT;
    t->rank = 1;
    t->dims[0] = n;
    t->data = data;
    return 0;
}

static double normal(uint64_t *s)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        *s = *s * 6364136223846793005u + 1442695040888963407u;
        u[i] = ((*s >> 11) + 1) * 0x1p-53;
    }
    return sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* The error is the squared difference over the scale, the scale the squared deviations from
 * the mean, averaged over float outputs; an integer output is left out and a NaN counts
 * 1e300. */
static void normalised_error_by_hand(void **state)
{
    (void)state;
    float clean_a[] = {1, 2, 3, 6}, out_a[] = {1, 3, 3, 4};     /* two samples of 2 */
    float clean_b[] = {0, 0, 10, 10}, out_b[] = {1, 1};
    int64_t clean_i[] = {1, 2}, out_i[] = {7};
    dp_tensor clean[3], out[3];
    f32(4, clean_a, &clean[0]);
    f32(4, clean_b, &clean[1]);
    f32(2, out_a, &out[0]);
    f32(2, out_b, &out[1]);
    memset(&clean[2], 0, sizeof clean[2]);
    clean[2].dtype = DP_INT64, clean[2].rank = 1, clean[2].dims[0] = 2, clean[2].data = clean_i;
    memset(&out[2], 0, sizeof out[2]);
    out[2].dtype = DP_INT64, out[2].rank = 1, out[2].dims[0] = 1, out[2].data = out_i;
    double scale[3];
    for (int i = 0; i < 3; i++)
        scale[i] = dpc_output_scale(&clean[i]);
    assert_true(fabs(scale[0] - 14.0) < 1e-12);    /* mean 3: 4 + 1 + 0 + 9 */
    assert_true(fabs(scale[1] - 100.0) < 1e-12);   /* mean 5: 4 x 25 */
    assert_true(scale[2] == 0);
    /* sample 1: a (1, 3) against (3, 6) -> 4 + 9 = 13; b (1, 1) against (10, 10) -> 162 */
    double want = (13.0 / 14 + 162.0 / 100) / 2;
    assert_true(fabs(dpc_sample_error(out, clean, scale, 3, 1) - want) < 1e-12);
    out_a[0] = NAN;
    assert_true(dpc_sample_error(out, clean, scale, 3, 0) >= 1e299 / 14 / 2);
    float flat[] = {2, 2};
    dp_tensor t;
    f32(2, flat, &t);
    assert_true(dpc_output_scale(&t) == 1);
}

/* Outputs with a static error of variance s2 and a dynamic one of variance v / N, measured
 * at the probe and at N = infinity over 4000 samples of 64 outputs: b = N_p (MSE(N_p) -
 * MSE(inf)) comes back as 64 v / scale within 5 standard errors; an error the probe cannot
 * see gives the floor 1e-12. */
static void sensitivity_recovers_the_noise_coefficient(void **state)
{
    (void)state;
    enum { OUTS = 64, SAMPLES = 4000 };
    static float clean_data[OUTS * SAMPLES], out_data[OUTS];
    uint64_t rng = 2024;
    for (int i = 0; i < OUTS * SAMPLES; i++)
        clean_data[i] = (float)(3 * normal(&rng));
    dp_tensor clean, out;
    f32(OUTS * SAMPLES, clean_data, &clean);
    f32(OUTS, out_data, &out);
    double scale = dpc_output_scale(&clean);
    const double v = 0.5, s2 = 0.01;
    const int32_t probe = 16;
    double sum[2] = {0, 0}, sq[2] = {0, 0};
    for (int k = 0; k < SAMPLES; k++)
        for (int m = 0; m < 2; m++) {
            double var = s2 + (m == 0 ? v / probe : 0);
            for (int j = 0; j < OUTS; j++)
                out_data[j] = (float)(clean_data[k * OUTS + j] + sqrt(var) * normal(&rng));
            double e = dpc_sample_error(&out, &clean, &scale, 1, k);
            sum[m] += e;
            sq[m] += e * e;
        }
    double mp = sum[0] / SAMPLES, mi = sum[1] / SAMPLES;
    double se = sqrt((sq[0] / SAMPLES - mp * mp + sq[1] / SAMPLES - mi * mi) / SAMPLES);
    double b = dpc_sensitivity(probe, mp, mi), want = OUTS * v / scale;
    assert_true(fabs(b - want) <= 5 * probe * se);
    assert_true(fabs(mi - OUTS * s2 / scale) <= 5 * se);
    assert_true(dpc_sensitivity(probe, mi, mi + 1e-3) == 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(normalised_error_by_hand),
        cmocka_unit_test(sensitivity_recovers_the_noise_coefficient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
