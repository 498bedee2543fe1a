/*
 * test_kernels_nn.c: the nn family (Conv, ConvTranspose, Gemm, MatMul, Einsum, the pools,
 * the normalisations, LRN) called through dp_op_find and dp_node_types_infer as the
 * executor calls them, and dp_sgemm against a naive triple loop.
 *
 * Inputs come from fill() (small multiples of 1/8, exact in float). Expected values were
 * printed by a script running torch 1.13 and numpy 1.24 in double precision (/usr/bin/python3)
 * on the same inputs; the comment above each test names the torch or numpy call. Where
 * torch has no asymmetric padding, the input was padded with F.pad first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dp_op.h"
#include "gemm.h"
#include "weight_panels.h"

#define AINT(nm, v) ((dp_attr){.name = (nm), .kind = DP_ATTR_INT, .i = (v)})
#define AFLOAT(nm, v) ((dp_attr){.name = (nm), .kind = DP_ATTR_FLOAT, .f = (v)})
#define ASTR(nm, v) ((dp_attr){.name = (nm), .kind = DP_ATTR_STRING, .s = (v)})
#define AINTS(nm, ...)                                                                       \
    ((dp_attr){.name = (nm), .kind = DP_ATTR_INTS, .ints = (const int64_t[]){__VA_ARGS__},    \
               .n = sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)})
#define ATTRS(...) (dp_attr[]){__VA_ARGS__}, sizeof((dp_attr[]){__VA_ARGS__}) / sizeof(dp_attr)
#define NO_ATTRS NULL, 0
#define INS(...)                                                                             \
    (dp_tensor *[]){__VA_ARGS__}, sizeof((dp_tensor *[]){__VA_ARGS__}) / sizeof(dp_tensor *)
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))


#include "kernel_harness.h"

/* Inputs: small multiples of 1/8, the same formula the reference script used. */
static float *fill(float *x, int64_t n, int seed)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)((i * 37 + seed * 11) % 23 - 11) / 8.0f;
    return x;
}
static double *filld(double *x, int64_t n, int seed)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (double)((i * 37 + seed * 11) % 23 - 11) / 8.0;
    return x;
}

static void expect_shape(const dp_tensor *t, int rank, const int64_t *dims)
{
    assert_int_equal(t->rank, rank);
    for (int i = 0; i < rank; i++)
        assert_int_equal(t->dims[i], dims[i]);
}
#define SHAPE(t, ...)                                                                        \
    expect_shape(t, sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), (int64_t[]){__VA_ARGS__})

/* Float32 results against double references: sums of a few hundred terms of size ~1. */
static void expect_near(const dp_tensor *t, const double *want, int64_t n)
{
    assert_int_equal(dp_numel(t), n);
    for (int64_t i = 0; i < n; i++) {
        double got = dp_load_f64(t->data, t->dtype, i);
        if (!(fabs(got - want[i]) <= 2e-5 + 2e-5 * fabs(want[i])))
            fail_msg("element %lld: got %.9g, want %.9g", (long long)i, got, want[i]);
    }
}
#define NEAR(t, want) expect_near(t, want, (int64_t)COUNT(want))

static void expect_i64(const dp_tensor *t, const int64_t *want, int64_t n)
{
    assert_int_equal(dp_numel(t), n);
    for (int64_t i = 0; i < n; i++)
        assert_int_equal(dp_load_i64(t->data, t->dtype, i), want[i]);
}

/* Fails with the status and a message containing `text`. */
static void expect_fail(dp_status got, dp_status want, const char *text)
{
    assert_int_equal(got, want);
    if (!strstr(err.msg, text))
        fail_msg("message '%s' lacks '%s'", err.msg, text);
}

/* ---- expected values: torch/numpy in double, as the comment of the test using each says ---- */
static const double conv2d_want[] = {
    -0.75, -1.125, -1.859375, 1.75, 2.59375, -5.1875, -3.8125, -1.953125, 2.296875, 1.328125,
    -1.671875, -3.4375, -1.4375, 4.453125, -6.359375, -4.78125, -5.90625, 0.84375, 2.6875,
    0.296875, -2.140625, 1.484375, 4.15625, -1.78125, 0.359375, -3.75, -0.609375, -0.765625,
    -4.703125, -0.65625, -0.015625, 0.15625, -1.40625, -2.171875, -0.640625, 1.25, 1.21875,
    -3.1875, 1.296875, 1.6875, 1.875, 0.5625, -0.359375, 1.0625, 3.328125, 0.328125, -4.546875,
    0.375, -2.71875, 2.515625, -0.34375, -2.140625, -4.0625, 2.53125,
};
static const double depthwise_want[] = {
    1.765625, -2.484375, -2.15625, -4.15625, -1.328125, -2.15625, 0.703125, 0.03125, -1.09375,
    -1.65625, 3.078125, 1.015625, 2.5, 2.6875, 1.8125, 0.78125, 1.5, 1.984375, -2.046875, -1.59375,
    1.046875, -2.96875, -2.390625, 4.34375, -1.328125, -1.4375, 2.8125, 3, 1.578125, 0.109375,
    2.015625, 1.09375, -3.0625, 0.390625, 1.953125, -2.171875, 0.34375, -2, 0.75, 0.875, 1.96875,
    2.71875, 0.328125, 2.984375, 3.21875, 1.28125, -1.21875, -2.140625, 0.234375, -2.625,
    -3.484375, 0.453125, -1.765625, -1.921875,
};
static const double pointwise_want[] = {
    0.078125, 2.625, 1.9375, -0.546875, -1.734375, 1.0625, 0.625, -1.609375, -3.546875, -0.5,
    -0.6875, -2.671875, 0.75, 0.8125, -2.359375, 0.9375, 1.53125, -0.234375, 2.3125, 1.625,
    1.28125, -1.671875, 1.125, 0.6875, 1.03125, -3.109375, -0.0625, -0.25, 1.140625, 0.84375,
    0.90625, -2.265625,
};
static const double same_upper_want[] = {
    0.890625, -2.453125, 1.53125, -2.3125, 1.171875, 0.0625, -0.015625, 1.875, -1.140625,
};
static const double same_lower_want[] = {
    -1.28125, 1.359375, 0.078125, 0.15625, 0.890625, -2.453125, 1.296875, -2.3125, 1.171875,
};
static const double conv1d_want[] = {
    0.78125, 0.96875, -0.296875, 0.890625, 0.875, 0.53125, -1.15625, -1.015625, 1.359375,
};
static const double conv3d_want[] = {
    0.359375, -2.75, -3.453125, 3.390625, 0.53125, -3.46875, 3.828125, -3.96875, -3.03125,
    -5.578125, 6.65625, -5.90625, -3.484375, -5.71875, 1.84375, -4.25, -2.765625, 4.734375,
    -2.796875, -6.375, -3.6875, 6.75, -5.8125, -1.84375, -0.890625, 5.25, -1.5, -0.703125,
    1.296875, 2.828125, -3.796875, 7.546875, 4.359375, -0.390625, -3.484375, 9.953125, 5.671875,
    -5.953125, 3.59375, -0.515625, 0.59375, -3.53125, 6.671875, -3.96875, 0.5, -3.78125, 10.4375,
    -5.171875,
};
static const double bigconv_sample[] = {
    -6.078125, 8.109375, -13.65625, 6.4375, -0.25, 4.375, 1.984375, -13.53125, 7.78125, -8.75,
    7.28125, -13.40625, 2.734375, 2.875, 1.75, 6.1875, -13.28125, 11.796875, -11.8125, 9.390625,
    -13.453125, 6.640625,
};
static const double convt_want[] = {
    -0.96875, 0.296875, -1.671875, -1.40625, -2.109375, -1.015625, -1.125, -0.5625, -0.09375,
    -3.46875, -0.015625, -1.6875, -0.734375, -1.21875, -1.125, -0.875, -1.5625, -2.96875, -0.78125,
    -1.28125, -1.421875, -1.203125, -1, 0.125, -2.1875, 0, -1.40625, -1.34375, -1.125, -1.265625,
    -0.5, -2.25, -1.25, -1.25, -1.25, -1.25, -1.25, -1.25, -1.25, -1.25, 1.34375, 0.5, -0.34375,
    0.078125, 0.5, 0.921875, 2.046875, 0.5, 0.65625, 0.25, 1.28125, 1.359375, 0.25, 0.578125,
    0.265625, 0.25, 0.78125, 0.5, 0.21875, -0.484375, 0.5, 1.484375, 1.484375, 0.5, 0.65625, 0.375,
    0.8125, -0.046875, 0.9375, -0.59375, 1.046875, 0.0625, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5,
};
static const double convt_os_want[] = {
    -0.171875, 0.046875, 1.375, -0.375, -1.03125, 0.28125, 0, 0, 0.515625, -0.140625, -1.890625,
    0.515625, -0.34375, 0.09375, 0, 0, 1.109375, -0.203125, -0.453125, -0.671875, -0.21875,
    0.65625, 0, 0, 0.28125, -0.375, -1.03125, 1.375, -0.1875, 0.25, 0, 0, 0.65625, -0.875,
    -0.65625, 0.875, 0.1875, -0.25, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    -0.015625, -0.15625, 0.125, 1.25, -0.09375, -0.9375, 0, 0, 0.046875, 0.46875, -0.171875,
    -1.71875, -0.03125, -0.3125, 0, 0, 0.171875, 1.015625, -0.609375, -0.46875, 0.40625, -0.15625,
    0, 0, -0.1875, 0.234375, 0.6875, -0.859375, 0.125, -0.15625, 0, 0, -0.4375, 0.546875, 0.4375,
    -0.546875, -0.125, 0.15625, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};
static const double convt_crop_want[] = {-1.546875, -0.28125, 1.84375, 0.15625, -1.234375, -0.125};
static const double maxpool_want[] = {
    0.625, 1.25, 1.25, 0, 0.625, 1.25, 1.25, 0.875, 0.5, 1.125, 1.125, -0.125, 1.375, 1.375, 0.75,
    0.75, 1.375, 1.375, 1, 0.625, 1.25, 1.25, 0.625, 0.625,
};
static const int64_t maxpool_idx[] = {
    7, 9, 9, 5, 7, 9, 9, 17, 25, 27, 27, 23, 37, 37, 35, 35, 37, 37, 45, 53, 55, 55, 53, 53,
};
static const int64_t maxpool_idx_colmajor[] = {
    6, 16, 16, 25, 6, 16, 16, 27, 9, 19, 19, 28, 36, 36, 55, 55, 36, 36, 47, 58, 39, 39, 58, 58,
};
static const double avgpool_excl_want[] = {
    0.1875, -0.0625, 0.0833333333, 0.875, 0.125, -0.125, -0.138888889, 0.333333333, 0.0416666667,
    -0.208333333, 0.0972222222, 0.25, 0, -0.25, -0.583333333, -0.75,
};
static const double avgpool_incl_want[] = {
    0.0833333333, -0.0416666667, 0.0555555556, 0.291666667, 0.0833333333, -0.125, -0.138888889,
    0.166666667, 0.0277777778, -0.208333333, 0.0972222222, 0.125, 0, -0.125, -0.291666667, -0.1875,
};
static const double avg_same_lower_want[] = {
    -0.25, -0.8125, -0.5, -0.5, -0.34375, -0.03125, -1, -0.125, 0.1875,
};
static const double maxpool3d_want[] = {1.25, 1.125, 1.25, 1.375, 1.375, 1.125, 1.25, 1.125};
static const double avgpool3d_want[] = {
    0.09375, 0, 0.078125, -0.015625, 0.0625, -0.03125, 0.046875, -0.046875,
};
static const double avgpool1d_want[] = {
    0.5, 0.25, -0.0833333333, -0.8125, -0.1875, 0.0416666667, -0.291666667, -0.0625,
};
static const double gap_want[] = {0.03125, -0.15625, 0.375, 0.1875, 0, -0.1875};
static const double gmp_want[] = {1, 1.125, 1.25, 1.375, 0.875, 1};
static const double bn_want[] = {
    -1.60288866, -0.233844535, -1.11394433, -1.99404413, 0.895436845, 1.125, 0.767901759,
    0.997464914, 3.9101917, 0.868931489, 2.82402734, 4.77912319, -0.918366599, -1.7984664,
    -0.429422267, -1.30952206, 1.30354912, 0.946450879, 1.17601403, 0.818915793, 2.3895616,
    4.34465745, 1.30339723, 3.25849308,
};
static const double bn_train_want[] = {
    -1.26039314, 0.772864899, -0.534229552, -1.841324, 0.968345476, 1.30008447, 0.784046035,
    1.11578503, 0.998474928, -2.19664484, -0.142639275, 1.91136629, -0.243764118, -1.55085857,
    0.482399465, -0.824694986, 1.55810368, 1.04206525, 1.37380424, 0.857765812, -0.599084957,
    1.45492061, -1.74019916, 0.313806406,
};
static const double bn_train_mean[] = {0.609375, -0.25625, 1.034375};
static const double bn_train_var[] = {1.11323242, 1.34355469, 0.613232422};
static const double bn_nonspatial_want[] = {
    -1.38530866, 0.0364778625, -1.58629857, -1.46628685, -1.79004908, -1.38959982, 0.400375166,
    -1.71270266, -1.4325737, -1.25389188, -1.40762066, 1.32912346, -0.938788583, 0.930901476,
    -0.417037322, -1.38641086, 0.519336605, -0.829949978, 1.03997499, -0.323462832, -1.27282171,
    0.616926125, -0.722827583, 1.15051543,
};
static const double in_want[] = {
    -0.356771051, 1.28151079, -1.26692763, 0.37135421, 2.00963605, -0.538802366, -1.31322354,
    0.102575581, -0.807580994, -1.71773757, -0.301938452, -1.21209503, 0.356594994, 1.00761523,
    1.65863547, 0.645937323, 1.29695756, 0.284259412, -0.356771051, 1.28151079, -1.26692763,
    0.37135421, 2.00963605, -0.538802366, -1.31322354, 0.102575581, -0.807580994, -1.71773757,
    -0.301938452, -1.21209503, 0.356594994, 1.00761523, 1.65863547, 0.645937323, 1.29695756,
    0.284259412,
};
static const double ln_want[] = {
    -1.55894934, -0.230950783, -1.29721066, 0.49452575, -0.107996279, -1.58079966, -0.160053531,
    -1.13356584, 0.750918139, -0.221048372, -1.56555095, -0.0520572523, -1.41616132, -1.34462829,
    -0.448150354, 1.34301096, 1.4345565, -1.29573479, 1.81258861, -0.144784654, 1.31708614,
    -1.7607896, -1.13872044, 1.64031245,
};
static const double ln_mean[] = {-0.0104166667, -0.09375};
static const double ln_invstd[] = {1.18716888, 1.17081075};
static const double ln_bcast_want[] = {
    -0, -0.681694631, -0.45600888, -0.673965667, 0, 1.48859848, 0.471466808, 0.290609049, 0,
    -0.180857759, -0.734251586, -0.451371502, -0, -1.93458182, 0.251541372, 0.457347949, 0,
    0.205806577, -0.937563295, -0.274408769, -0, -1.44064604, -0.0228673974, 0.676874964,
};
static const double lrn3_want[] = {
    0.779805221, 0.141782767, -0.508793744, 0.503646355, -0.13854345, -0.779519351, 0.210136036,
    -0.429131064, 0.573879345, -0.0689288356, -0.713102407, 0.282736396, -0.355893643, 0.644414161,
    0, -0.644414161, 0.364530417, -0.286512785, 0.715483974, 0.0720303264,
};
static const double lrn4_want[] = {
    0.775048929, 0.143389708, -0.497425953, 0.505396086, -0.139964418, -0.771264436, 0.213182551,
    -0.423563134, 0.574843398, -0.0698877534, -0.700769632, 0.286140471, -0.359680127, 0.650344942,
    0, -0.650344942, 0.366274863, -0.289123782, 0.722197969, 0.0725885097,
};
static const double gemm_want[] = {
    0.2734375, -1.96875, 1.71875, -0.5234375, -1.40625, -3.640625, 1.671875, -0.5625, -0.5703125,
    -2.796875, 0.0078125, -2.21875,
};
static const double gemm_col_want[] = {
    2.671875, 2.6875, 3.0625, 3.078125, -1.8125, -1.78125, 1.84375, 1.875, -1.265625, -1.21875,
    -2.609375, -2.5625,
};
static const double mm_batch_want[] = {
    0.28125, -0.140625, -0.5625, 0.09375, -0.328125, -0.609375, -0.1875, 0.234375, -0.421875, 0,
    -1.5, -0.234375, 1.03125, -0.9375, 0.328125, -0.609375, 0.046875, -0.375, 0.28125, -0.140625,
    0.28125, -0.375, 0.046875, -0.609375, -0.1875, 1.171875, -0.796875, 0.46875, -1.5, -0.234375,
    -0.421875, 0.234375, -0.1875, -0.609375, 0.046875, 0.09375, -0.5625, -0.140625, 0.28125,
    -0.375, 0.609375, -1.359375, -0.09375, 1.171875, -0.796875, 1.203125, 0.078125, -1.046875,
    0.703125, -0.421875, 0.671875, 0.390625, 0.109375, 0.546875, 0.265625, -0.578125, -0.015625,
    0.546875, -0.328125, 0.234375, -1.171875, 0.578125, -0.546875, 1.203125, 0.078125, 0.078125,
    0.515625, 0.234375, 0.671875, 0.390625, 0.609375, -0.265625, 0.296875, -0.578125, -0.015625,
    -0.671875, 1.078125, -0.046875, -1.171875, 0.578125, 0.203125, 0.640625, 0.359375, 0.078125,
    0.515625, 0.359375, -0.515625, 0.046875, 0.609375, -0.265625,
};
static const double mm_vec_mat_want[] = {0.640625, -2.09375, 2, 1.96875, 0.671875, -1.703125};
static const double mm_mat_vec_want[] = {
    -1.171875, 2.40625, -1.203125, 1.65625, -1.953125, 0.90625,
};
static const double mm_stack_want[] = {
    -1.078125, 0.1875, 2.171875, -0.515625, 0.75, 0.828125, -0.296875, -1.78125, 0.328125,
    -0.796875, 0.578125, 0.296875, -1.421875, 0.453125, 0.171875, -0.390625, 0.171875, -1.78125,
    -0.140625, 0.421875, 1.15625, -0.671875, 2.171875, 0.34375, -1.484375, -1.609375, 0.640625,
    -1.78125, -0.609375, 1.640625,
};
static const double es_mm_want[] = {
    -1.28125, 0.546875, 1.65625, -0.46875, 1.359375, 0.359375, -0.203125, 1.03125, 0.109375,
    -0.453125, 0.203125, 0.484375, -3.1875, 0.328125, 0.609375,
};
static const double es_diag_want[] = {-1, 0.25, -1.375, 0.375, -1.25, 0};
static const double es_trace_want[] = {-2.125};
static const double es_implicit_want[] = {
    -0.875, 0.375, -1.25, 0.875, -0.75, 0.5, -0.25, 1, -0.625, -1.375, -0.125, 1.125,
};
static const double es_sum_want[] = {-1.375};
static const double es_bcast_want[] = {-1.546875, 3.4375, -1.640625, 0.109375, 0.0625, 0.015625};
static const double es_outer_want[] = {-0.3125, 0.125, -0.15625, 1.09375, -0.4375, 0.546875};
static const double depthwise_s1_want[] = {
    0.09375, 0.96875, -1.890625, -1.875, 0.1875, 0.78125, -0.0625, 0.125, -0.40625, 1.671875,
    0.625, -0.203125, -0.015625, 1.609375, 0.5625, 1.421875, -2.375, 0.734375, 2.046875, -0.15625,
    0.296875, -3.453125, 2.015625, -2.578125, -3.34375, -0.5, -1, -1.4375, -0.4375, -2.15625,
    -0.34375, -1.390625, -5.0625, 0.96875, -2.234375, -1.03125, -2.515625, -0.78125, -0.84375,
    -1.3125,
};

/* ---- dp_sgemm ---- */

static uint32_t rng_state = 12345;
static float frand(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/*
 * Against a double-precision triple loop, over sizes that reach every edge: partial 12x16
 * tiles, several K (256), M (144) and N (4096) blocks, the matrix-vector paths (M or N of 1),
 * K = 0, empty products, padded leading dimensions, beta 0 over a NaN-filled C and beta 0.5.
 * With A or B packed once (dp_sgemm_packed), the tiled products give the same bits, and
 * with an epilogue, the bits of adding the biases and residual and clamping afterwards.
 */
static void sgemm_matches_naive(void **state)
{
    static const int64_t sizes[][3] = {
        {1, 1, 1},    {1, 37, 300},  {45, 1, 513}, {7, 9, 5},   {8, 8, 8},  {17, 33, 257},
        {150, 20, 30}, {3, 4100, 2}, {19, 23, 600}, {5, 6, 0},  {0, 4, 4},  {4, 0, 4},
        {13, 17, 300},
    };
    const float alpha = 1.25f;
    for (size_t s = 0; s < COUNT(sizes); s++)
        for (int t = 0; t < 8; t++) {
            int64_t M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
            bool ta = t & 1, tb = t & 2;
            float beta = t & 4 ? 0.5f : 0.0f;
            int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 1;
            int64_t na = (ta ? K : M) * lda, nb = (tb ? N : K) * ldb, nc = M * ldc;
            float *A = malloc((size_t)(na + 1) * sizeof(float));
            float *B = malloc((size_t)(nb + 1) * sizeof(float));
            float *C = malloc((size_t)(nc + 1) * sizeof(float));
            float *C0 = malloc((size_t)(nc + 1) * sizeof(float));
            size_t bytes = (dp_sgemm_scratch_size(M, N, K) + 127) / 64 * 64;
            void *scratch = aligned_alloc(64, bytes);
            assert_true(A && B && C && C0 && scratch);
            for (int64_t i = 0; i < na; i++)
                A[i] = frand();
            for (int64_t i = 0; i < nb; i++)
                B[i] = frand();
            for (int64_t i = 0; i < nc; i++)
                C0[i] = C[i] = beta == 0 ? NAN : frand();
            dp_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, scratch);
            for (int side = 0; side < 2 && M > 1 && N > 1 && K > 0; side++) {
                float *packed = malloc(side ? dp_sgemm_packed_b_size(K, N)
                                            : dp_sgemm_packed_a_size(M, K));
                float *Cp = malloc((size_t)(nc + 1) * sizeof(float));
                assert_true(packed && Cp);
                memcpy(Cp, C0, (size_t)(nc + 1) * sizeof(float));
                if (side)
                    dp_sgemm_pack_b(tb, K, N, B, ldb, packed);
                else
                    dp_sgemm_pack_a(ta, M, K, A, lda, packed);
                dp_sgemm_packed(ta, tb, M, N, K, alpha, A, lda, side ? NULL : packed, B, ldb,
                                side ? packed : NULL, beta, Cp, ldc, NULL, scratch);
                for (int64_t i = 0; i < M; i++)
                    assert_memory_equal(Cp + i * ldc, C + i * ldc, (size_t)N * sizeof(float));
                /* with an epilogue: the bias and the residual added and the clamp applied
                 * after, bit for bit, a NaN bias (row 1) staying NaN */
                int64_t ldr = N + 5;
                float *bias = malloc((size_t)M * sizeof(float));
                float *cbias = malloc((size_t)N * sizeof(float));
                float *res = malloc((size_t)(M * ldr) * sizeof(float));
                assert_true(bias && cbias && res);
                for (int64_t i = 0; i < M; i++)
                    bias[i] = i == 1 ? NAN : frand();
                for (int64_t j = 0; j < N; j++)
                    cbias[j] = frand();
                for (int64_t i = 0; i < M * ldr; i++)
                    res[i] = frand();
                const dp_sgemm_epilogue ep = {.row_bias = bias, .col_bias = cbias,
                                              .residual = res, .ldr = ldr, .lo = -1.0f,
                                              .hi = 1.5f};
                memcpy(Cp, C0, (size_t)(nc + 1) * sizeof(float));
                dp_sgemm_packed(ta, tb, M, N, K, alpha, A, lda, side ? NULL : packed, B, ldb,
                                side ? packed : NULL, beta, Cp, ldc, &ep, scratch);
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < N; j++) {
                        float want = C[i * ldc + j] + bias[i];
                        want = want + cbias[j];
                        want = want + res[i * ldr + j];
                        want = want < ep.lo ? ep.lo : want;
                        want = want > ep.hi ? ep.hi : want;
                        assert_memory_equal(&Cp[i * ldc + j], &want, sizeof want);
                    }
                free(bias);
                free(cbias);
                free(res);
                free(packed);
                free(Cp);
            }
            for (int64_t i = 0; i < M; i++) {
                for (int64_t j = 0; j < N; j++) {
                    double ref = 0, mag = 0;
                    for (int64_t p = 0; p < K; p++) {
                        double a = ta ? A[p * lda + i] : A[i * lda + p];
                        double b = tb ? B[j * ldb + p] : B[p * ldb + j];
                        ref += a * b;
                        mag += fabs(a * b);
                    }
                    double c0 = beta == 0 ? 0 : beta * (double)C0[i * ldc + j];
                    double want = alpha * ref + c0, got = C[i * ldc + j];
                    if (!(fabs(got - want) <= 1e-6 * (alpha * mag + fabs(c0)) + 1e-7))
                        fail_msg("%lldx%lldx%lld ta %d tb %d beta %g: C[%lld,%lld] = %.9g, "
                                 "want %.9g", (long long)M, (long long)N, (long long)K, ta, tb,
                                 beta, (long long)i, (long long)j, got, want);
                }
                /* the padding column of C is left alone */
                assert_true(isnan(C0[i * ldc + N]) ? isnan(C[i * ldc + N])
                                                   : C[i * ldc + N] == C0[i * ldc + N]);
            }
            free(A);
            free(B);
            free(C);
            free(C0);
            free(scratch);
        }
}

/* A column of the product comes out the same bits however many columns are computed with
 * it (narrow products take another kernel than wide ones), which chunked analog products
 * rely on. */
static void sgemm_column_does_not_depend_on_width(void **state)
{
    enum { M = 13, K = 300, N = 20 };
    static float A[M * K], B[K * N], wide[M * N], thin[M * N];
    static unsigned char scratch[1 << 20] __attribute__((aligned(64)));
    assert_true(dp_sgemm_scratch_size(M, N, K) <= sizeof scratch);
    for (int i = 0; i < M * K; i++)
        A[i] = frand();
    for (int i = 0; i < K * N; i++)
        B[i] = frand();
    dp_sgemm(false, false, M, N, K, 1.0f, A, K, B, N, 0.0f, wide, N, scratch);
    for (int n = 2; n <= 5; n++) {
        dp_sgemm(false, false, M, n, K, 1.0f, A, K, B, N, 0.0f, thin, N, scratch);
        for (int i = 0; i < M; i++)
            assert_memory_equal(thin + i * N, wide + i * N, (size_t)n * sizeof(float));
    }
}

/* Only matrices wholly inside the weight blob are packed and kept, once. */
static void weight_panels_only_inside_the_blob(void **state)
{
    float blob[64], outside[16] = {0};
    for (int i = 0; i < 64; i++)
        blob[i] = (float)i;
    dp_weight_panels *w = dp_weight_panels_new(blob, sizeof blob, SIZE_MAX);
    assert_non_null(w);
    const float *a = dp_weight_panels_a(w, false, 4, 4, blob, 4);
    assert_non_null(a);
    assert_ptr_equal(dp_weight_panels_a(w, false, 4, 4, blob, 4), a);
    /* another side or shape of the same address is another matrix */
    const float *b = dp_weight_panels_b(w, true, 8, 8, blob, 8);
    assert_non_null(b);
    assert_true(b != a);
    assert_null(dp_weight_panels_a(w, false, 4, 4, outside, 4));
    /* 8 rows of 8 from blob + 8 would end 8 floats past the blob */
    assert_null(dp_weight_panels_b(w, false, 8, 8, blob + 8, 8));
    assert_null(dp_weight_panels_a(w, true, 8, 8, blob + 1, 8));
    dp_weight_panels_free(w);
}

/* Packed weights stay within their byte budget; past it products pack per call. */
static void weight_panels_keep_to_their_budget(void **state)
{
    float blob[64] = {0};
    size_t one = (dp_sgemm_packed_a_size(4, 4) + 63) / 64 * 64;
    dp_weight_panels *w = dp_weight_panels_new(blob, sizeof blob, one);
    assert_non_null(w);
    assert_non_null(dp_weight_panels_a(w, false, 4, 4, blob, 4));
    /* the one already packed is found again; another would pass the budget */
    assert_non_null(dp_weight_panels_a(w, false, 4, 4, blob, 4));
    assert_null(dp_weight_panels_a(w, false, 4, 4, blob + 16, 4));
    dp_weight_panels_free(w);
}

/* ---- Conv ---- */

/* F.conv2d(F.pad(x, (0, 1, 1, 2)), w, b, stride=(2, 1), dilation=(1, 2), groups=2):
 * x fill(1x4x5x6, 1), w fill(6x2x3x3, 2), b fill(6, 3) */
static void conv_groups_pads_strides_dilations(void **state)
{
    float xb[120], wb[108], bb[6];
    dp_tensor x = {DP_FLOAT, 4, {1, 4, 5, 6}, fill(xb, 120, 1)};
    dp_tensor w = {DP_FLOAT, 4, {6, 2, 3, 3}, fill(wb, 108, 2)};
    dp_tensor b = {DP_FLOAT, 1, {6}, fill(bb, 6, 3)}, out[1];
    assert_int_equal(call("Conv", 11, INS(&x, &w, &b), out, 1,
                          ATTRS(AINT("group", 2), AINTS("pads", 1, 0, 2, 1),
                                AINTS("strides", 2, 1), AINTS("dilations", 1, 2))),
                     DP_OK);
    SHAPE(&out[0], 1, 6, 3, 3);
    NEAR(&out[0], conv2d_want);
    /* the same with kernel_shape given */
    assert_int_equal(call("Conv", 11, INS(&x, &w, &b), out, 1,
                          ATTRS(AINT("group", 2), AINTS("pads", 1, 0, 2, 1),
                                AINTS("strides", 2, 1), AINTS("dilations", 1, 2),
                                AINTS("kernel_shape", 3, 3))),
                     DP_OK);
    NEAR(&out[0], conv2d_want);
}

/* Depthwise, the direct path: F.conv2d(x, w, None, stride=2, padding=1, groups=3),
 * x fill(1x3x5x5, 4), w fill(6x1x3x3, 5) (two output channels per input channel) */
static void conv_depthwise(void **state)
{
    float xb[75], wb[54];
    dp_tensor x = {DP_FLOAT, 4, {1, 3, 5, 5}, fill(xb, 75, 4)};
    dp_tensor w = {DP_FLOAT, 4, {6, 1, 3, 3}, fill(wb, 54, 5)}, out[1];
    assert_int_equal(call("Conv", 11, INS(&x, &w), out, 1,
                          ATTRS(AINT("group", 3), AINTS("pads", 1, 1, 1, 1),
                                AINTS("strides", 2, 2))),
                     DP_OK);
    SHAPE(&out[0], 1, 6, 3, 3);
    NEAR(&out[0], depthwise_want);
}

/* Stride 1, bias: F.conv2d(x, w, b, padding=1, groups=2), x fill(1x2x4x5, 68),
 * w fill(2x1x3x3, 69), b fill(2, 70) */
static void conv_depthwise_stride1(void **state)
{
    float xb[40], wb[18], bb[2];
    dp_tensor x = {DP_FLOAT, 4, {1, 2, 4, 5}, fill(xb, 40, 68)};
    dp_tensor w = {DP_FLOAT, 4, {2, 1, 3, 3}, fill(wb, 18, 69)};
    dp_tensor b = {DP_FLOAT, 1, {2}, fill(bb, 2, 70)}, out[1];
    assert_int_equal(call("Conv", 11, INS(&x, &w, &b), out, 1,
                          ATTRS(AINT("group", 2), AINTS("pads", 1, 1, 1, 1))),
                     DP_OK);
    SHAPE(&out[0], 1, 2, 4, 5);
    NEAR(&out[0], depthwise_s1_want);
}

/* The whole-plane path reads a row's neighbours past its edges and selects them away: a NaN
 * at the start of row 1 reaches only the outputs whose window holds it, not the end of row 0
 * (whose right tap, read flat, lands on it). */
static void conv_depthwise_edges_stay_apart(void **state)
{
    float xb[12], wb[9];
    for (int i = 0; i < 12; i++)
        xb[i] = 1;
    for (int i = 0; i < 9; i++)
        wb[i] = 1;
    xb[4] = NAN; /* row 1, column 0 of a 3 x 4 plane */
    dp_tensor x = {DP_FLOAT, 4, {1, 1, 3, 4}, xb};
    dp_tensor w = {DP_FLOAT, 4, {1, 1, 3, 3}, wb}, out[1];
    assert_int_equal(call("Conv", 11, INS(&x, &w), out, 1,
                          ATTRS(AINT("group", 1), AINTS("pads", 1, 1, 1, 1))),
                     DP_OK);
    SHAPE(&out[0], 1, 1, 3, 4);
    const float *y = out[0].data;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++) {
            /* ones over the window's part inside the plane */
            int rows = 3 - (r == 0) - (r == 2), cols = 3 - (c == 0) - (c == 3);
            if (c <= 1)
                assert_true(isnan(y[r * 4 + c]));
            else
                assert_true(y[r * 4 + c] == (float)(rows * cols));
        }
}

/* 1x1 without im2col: F.conv2d(x, w, b), x fill(2x3x2x2, 6), w fill(4x3x1x1, 7), b fill(4, 8) */
static void conv_pointwise(void **state)
{
    float xb[24], wb[12], bb[4];
    dp_tensor x = {DP_FLOAT, 4, {2, 3, 2, 2}, fill(xb, 24, 6)};
    dp_tensor w = {DP_FLOAT, 4, {4, 3, 1, 1}, fill(wb, 12, 7)};
    dp_tensor b = {DP_FLOAT, 1, {4}, fill(bb, 4, 8)}, out[1];
    assert_int_equal(call("Conv", 1, INS(&x, &w, &b), out, 1, NO_ATTRS), DP_OK);
    SHAPE(&out[0], 2, 4, 2, 2);
    NEAR(&out[0], pointwise_want);
}

/* A 2x2 kernel on 3x3 needs one row and column of padding: SAME_UPPER puts it after
 * (F.conv2d(F.pad(x, (0, 1, 0, 1)), w)), SAME_LOWER before (F.pad(x, (1, 0, 1, 0))); VALID
 * keeps SAME_UPPER's first 2x2. x fill(1x2x3x3, 9), w fill(1x2x2x2, 10). */
static void conv_auto_pad(void **state)
{
    float xb[18], wb[8];
    dp_tensor x = {DP_FLOAT, 4, {1, 2, 3, 3}, fill(xb, 18, 9)};
    dp_tensor w = {DP_FLOAT, 4, {1, 2, 2, 2}, fill(wb, 8, 10)}, out[1];
    assert_int_equal(call("Conv", 11, INS(&x, &w), out, 1, ATTRS(ASTR("auto_pad", "SAME_UPPER"))),
                     DP_OK);
    SHAPE(&out[0], 1, 1, 3, 3);
    NEAR(&out[0], same_upper_want);
    assert_int_equal(call("Conv", 11, INS(&x, &w), out, 1, ATTRS(ASTR("auto_pad", "SAME_LOWER"))),
                     DP_OK);
    NEAR(&out[0], same_lower_want);
    assert_int_equal(call("Conv", 11, INS(&x, &w), out, 1, ATTRS(ASTR("auto_pad", "VALID"))),
                     DP_OK);
    SHAPE(&out[0], 1, 1, 2, 2);
    const double valid[] = {same_upper_want[0], same_upper_want[1], same_upper_want[3],
                            same_upper_want[4]};
    NEAR(&out[0], valid);
}

/* F.conv1d(F.pad(x, (2, 1)), w, stride=2, dilation=2), x fill(1x2x7, 11), w fill(3x2x3, 12);
 * F.conv3d(F.pad(x, (1, 0, 1, 0, 1, 0)), w, b, stride=(1, 2, 1)), x fill(1x2x3x4x4, 13),
 * w fill(2x2x2x3x2, 14), b fill(2, 15) */
static void conv_1d_and_3d(void **state)
{
    float xb[96], wb[48], bb[2];
    dp_tensor x = {DP_FLOAT, 3, {1, 2, 7}, fill(xb, 14, 11)};
    dp_tensor w = {DP_FLOAT, 3, {3, 2, 3}, fill(wb, 18, 12)}, out[1];
    assert_int_equal(call("Conv", 11, INS(&x, &w), out, 1,
                          ATTRS(AINTS("pads", 2, 1), AINTS("strides", 2), AINTS("dilations", 2))),
                     DP_OK);
    SHAPE(&out[0], 1, 3, 3);
    NEAR(&out[0], conv1d_want);

    x = (dp_tensor){DP_FLOAT, 5, {1, 2, 3, 4, 4}, fill(xb, 96, 13)};
    w = (dp_tensor){DP_FLOAT, 5, {2, 2, 2, 3, 2}, fill(wb, 48, 14)};
    dp_tensor b = {DP_FLOAT, 1, {2}, fill(bb, 2, 15)};
    assert_int_equal(call("Conv", 11, INS(&x, &w, &b), out, 1,
                          ATTRS(AINTS("pads", 1, 1, 1, 0, 0, 0), AINTS("strides", 1, 2, 1))),
                     DP_OK);
    SHAPE(&out[0], 1, 2, 3, 2, 4);
    NEAR(&out[0], conv3d_want);
}

/* Enough output positions for two im2col chunks: F.conv2d(x, w, b, padding=1) with
 * x fill(1x20x30x30, 16), w fill(24x20x3x3, 17), b fill(24, 18); every 997th element. */
static void conv_chunked(void **state)
{
    static float xb[18000], wb[4320];
    float bb[24];
    dp_tensor x = {DP_FLOAT, 4, {1, 20, 30, 30}, fill(xb, 18000, 16)};
    dp_tensor w = {DP_FLOAT, 4, {24, 20, 3, 3}, fill(wb, 4320, 17)};
    dp_tensor b = {DP_FLOAT, 1, {24}, fill(bb, 24, 18)}, out[1];
    assert_int_equal(call("Conv", 11, INS(&x, &w, &b), out, 1, ATTRS(AINTS("pads", 1, 1, 1, 1))),
                     DP_OK);
    SHAPE(&out[0], 1, 24, 30, 30);
    const float *y = out[0].data;
    for (size_t i = 0; i < COUNT(bigconv_sample); i++)
        if (!(fabs(y[i * 997] - bigconv_sample[i]) <= 1e-4 * (1 + fabs(bigconv_sample[i]))))
            fail_msg("element %zu: got %.9g, want %.9g", i * 997, y[i * 997], bigconv_sample[i]);
}

/* Shapes and attributes that do not fit are refused before any kernel runs. */
static void conv_rejects_bad_input(void **state)
{
    dp_tensor x = {DP_FLOAT, 4, {1, 4, 5, 5}, NULL}, out[1];
    dp_tensor w = {DP_FLOAT, 4, {2, 3, 3, 3}, NULL};
    expect_fail(call("Conv", 11, INS(&x, &w), out, 1, NO_ATTRS), DP_EINPUT, "input channels");
    w = (dp_tensor){DP_FLOAT, 4, {2, 4, 3, 3}, NULL};
    expect_fail(call("Conv", 11, INS(&x, &w), out, 1, ATTRS(AINT("group", 3))), DP_EINPUT,
                "does not divide X's 4 channels");
    w = (dp_tensor){DP_FLOAT, 4, {3, 2, 3, 3}, NULL};
    expect_fail(call("Conv", 11, INS(&x, &w), out, 1, ATTRS(AINT("group", 2))), DP_EINPUT,
                "does not divide W's 3 output channels");
    expect_fail(call("Conv", 11, INS(&x, &w), out, 1, ATTRS(AINT("group", 0))), DP_EINPUT,
                "group 0");
    w = (dp_tensor){DP_FLOAT, 4, {2, 4, 7, 3}, NULL};
    expect_fail(call("Conv", 11, INS(&x, &w), out, 1, NO_ATTRS), DP_EINPUT,
                "exceeds the padded input size 5");
    w = (dp_tensor){DP_FLOAT, 4, {2, 4, 3, 3}, NULL};
    expect_fail(call("Conv", 11, INS(&x, &w), out, 1, ATTRS(AINTS("pads", 1, -1, 1, 1))),
                DP_EINPUT, "'pads' value -1");
    expect_fail(call("Conv", 11, INS(&x, &w), out, 1, ATTRS(AINTS("pads", 1, 1))), DP_EINPUT,
                "has 2 values, expected 4");
    expect_fail(call("Conv", 11, INS(&x, &w), out, 1, ATTRS(AINTS("strides", 1, 0))),
                DP_EINPUT, "'strides' value 0");
    expect_fail(call("Conv", 11, INS(&x, &w), out, 1, ATTRS(ASTR("auto_pad", "SAME"))),
                DP_EINPUT, "auto_pad");
    expect_fail(call("Conv", 11, INS(&x, &w), out, 1, ATTRS(AINTS("kernel_shape", 3, 2))),
                DP_EINPUT, "kernel_shape[1] is 2");
    dp_tensor b = {DP_FLOAT, 1, {3}, NULL};
    expect_fail(call("Conv", 11, INS(&x, &w, &b), out, 1, NO_ATTRS), DP_EINPUT,
                "2 elements");
    dp_tensor x2 = {DP_FLOAT, 2, {1, 4}, NULL}, w2 = {DP_FLOAT, 2, {2, 4}, NULL};
    expect_fail(call("Conv", 11, INS(&x2, &w2), out, 1, NO_ATTRS), DP_EINPUT, "rank 3 or more");
    dp_tensor x6 = {DP_FLOAT, 6, {1, 1, 2, 2, 2, 2}, NULL};
    dp_tensor w6 = {DP_FLOAT, 6, {1, 1, 1, 1, 1, 1}, NULL};
    expect_fail(call("Conv", 11, INS(&x6, &w6), out, 1, NO_ATTRS), DP_EUNSUPPORTED,
                "4 spatial dimensions");
    dp_tensor xi = {DP_INT32, 4, {1, 4, 5, 5}, NULL}, wi = {DP_INT32, 4, {2, 4, 3, 3}, NULL};
    expect_fail(call("Conv", 11, INS(&xi, &wi), out, 1, NO_ATTRS), DP_EUNSUPPORTED, "int32");
    dp_tensor wd = {DP_DOUBLE, 4, {2, 4, 3, 3}, NULL};
    expect_fail(call("Conv", 11, INS(&x, &wd), out, 1, NO_ATTRS), DP_EINPUT, "input 1 is double");
}

/* An empty batch runs and writes nothing. */
static void conv_empty_batch(void **state)
{
    float xb[1], wb[54];
    dp_tensor x = {DP_FLOAT, 4, {0, 2, 4, 4}, xb};
    dp_tensor w = {DP_FLOAT, 4, {3, 2, 3, 3}, fill(wb, 54, 1)}, out[1];
    assert_int_equal(call("Conv", 11, INS(&x, &w), out, 1, NO_ATTRS), DP_OK);
    SHAPE(&out[0], 0, 3, 2, 2);
    dp_tensor wt = {DP_FLOAT, 4, {2, 3, 3, 3}, wb};
    assert_int_equal(call("ConvTranspose", 11, INS(&x, &wt), out, 1, NO_ATTRS), DP_OK);
    SHAPE(&out[0], 0, 3, 6, 6);
}

/* ---- ConvTranspose ---- */

/* F.conv_transpose2d(x, w, b, stride=(2, 3), output_padding=(1, 0), groups=2)[:, :, 1:, :-1]
 * (pads [1, 0, 0, 1]), x fill(1x2x2x3, 19), w fill(2x1x3x3, 20), b fill(2, 21) */
static void convtranspose_groups_pads(void **state)
{
    float xb[12], wb[18], bb[2];
    dp_tensor x = {DP_FLOAT, 4, {1, 2, 2, 3}, fill(xb, 12, 19)};
    dp_tensor w = {DP_FLOAT, 4, {2, 1, 3, 3}, fill(wb, 18, 20)};
    dp_tensor b = {DP_FLOAT, 1, {2}, fill(bb, 2, 21)}, out[1];
    assert_int_equal(call("ConvTranspose", 11, INS(&x, &w, &b), out, 1,
                          ATTRS(AINT("group", 2), AINTS("strides", 2, 3),
                                AINTS("pads", 1, 0, 0, 1), AINTS("output_padding", 1, 0))),
                     DP_OK);
    SHAPE(&out[0], 1, 2, 5, 8);
    NEAR(&out[0], convt_want);
}

/* output_shape: larger than the 5x6 the input reaches, the output is extended at the end
 * (F.pad(F.conv_transpose2d(x, w, stride=(1, 2), dilation=(2, 1)), (0, 2, 0, 2)), x fill(9, 22),
 * w fill(1x2x2x2, 23)); smaller, it is cropped with the odd element before
 * (F.conv_transpose1d(x, w, stride=2)[:, :, 2:8], x fill(4, 24), w fill(3, 25)). */
static void convtranspose_output_shape(void **state)
{
    float xb[9], wb[8];
    dp_tensor x = {DP_FLOAT, 4, {1, 1, 3, 3}, fill(xb, 9, 22)};
    dp_tensor w = {DP_FLOAT, 4, {1, 2, 2, 2}, fill(wb, 8, 23)}, out[1];
    assert_int_equal(call("ConvTranspose", 11, INS(&x, &w), out, 1,
                          ATTRS(AINTS("strides", 1, 2), AINTS("dilations", 2, 1),
                                AINTS("output_shape", 7, 8))),
                     DP_OK);
    SHAPE(&out[0], 1, 2, 7, 8);
    NEAR(&out[0], convt_os_want);
    /* output_shape may also name N and C; pads are then ignored */
    assert_int_equal(call("ConvTranspose", 11, INS(&x, &w), out, 1,
                          ATTRS(AINTS("strides", 1, 2), AINTS("dilations", 2, 1),
                                AINTS("pads", 1, 1, 1, 1), AINTS("output_shape", 1, 2, 7, 8))),
                     DP_OK);
    NEAR(&out[0], convt_os_want);

    dp_tensor x1 = {DP_FLOAT, 3, {1, 1, 4}, fill(xb, 4, 24)};
    dp_tensor w1 = {DP_FLOAT, 3, {1, 1, 3}, fill(wb, 3, 25)};
    assert_int_equal(call("ConvTranspose", 11, INS(&x1, &w1), out, 1,
                          ATTRS(AINTS("strides", 2), AINTS("output_shape", 6))),
                     DP_OK);
    SHAPE(&out[0], 1, 1, 6);
    NEAR(&out[0], convt_crop_want);
}

static void convtranspose_rejects_bad_input(void **state)
{
    dp_tensor x = {DP_FLOAT, 4, {1, 2, 3, 3}, NULL}, out[1];
    dp_tensor w = {DP_FLOAT, 4, {3, 1, 3, 3}, NULL};
    expect_fail(call("ConvTranspose", 11, INS(&x, &w), out, 1, NO_ATTRS), DP_EINPUT,
                "W's first dimension is 3");
    w = (dp_tensor){DP_FLOAT, 4, {2, 1, 1, 1}, NULL};
    expect_fail(call("ConvTranspose", 11, INS(&x, &w), out, 1,
                     ATTRS(AINTS("pads", 2, 0, 2, 0))), DP_EINPUT, "exceed the output size 3");
    expect_fail(call("ConvTranspose", 11, INS(&x, &w), out, 1,
                     ATTRS(AINTS("output_padding", -1, 0))), DP_EINPUT, "output_padding");
    expect_fail(call("ConvTranspose", 11, INS(&x, &w), out, 1, ATTRS(AINTS("output_shape", 5))),
                DP_EINPUT, "output_shape has 1 values");
    expect_fail(call("ConvTranspose", 11, INS(&x, &w), out, 1,
                     ATTRS(AINTS("strides", 2147483647, 2147483647))), DP_EINPUT, "too large");
}

/* ---- pools ---- */

/* F.max_pool2d(x, (3, 2), stride=2, padding=1, dilation=(1, 2), ceil_mode=True,
 * return_indices=True), x fill(1x2x5x6, 26); torch's indices count within a plane, ONNX's
 * across the tensor (plus 30 per plane), column-major with storage_order 1. */
static void maxpool_with_indices(void **state)
{
    float xb[60];
    dp_tensor x = {DP_FLOAT, 4, {1, 2, 5, 6}, fill(xb, 60, 26)}, out[2];
    assert_int_equal(call("MaxPool", 12, INS(&x), out, 2,
                          ATTRS(AINTS("kernel_shape", 3, 2), AINTS("strides", 2, 2),
                                AINTS("pads", 1, 1, 1, 1), AINTS("dilations", 1, 2),
                                AINT("ceil_mode", 1))),
                     DP_OK);
    SHAPE(&out[0], 1, 2, 3, 4);
    SHAPE(&out[1], 1, 2, 3, 4);
    assert_int_equal(out[1].dtype, DP_INT64);
    NEAR(&out[0], maxpool_want);
    expect_i64(&out[1], maxpool_idx, COUNT(maxpool_idx));
    assert_int_equal(call("MaxPool", 12, INS(&x), out, 2,
                          ATTRS(AINTS("kernel_shape", 3, 2), AINTS("strides", 2, 2),
                                AINTS("pads", 1, 1, 1, 1), AINTS("dilations", 1, 2),
                                AINT("ceil_mode", 1), AINT("storage_order", 1))),
                     DP_OK);
    expect_i64(&out[1], maxpool_idx_colmajor, COUNT(maxpool_idx_colmajor));
}

/* F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False / True),
 * x fill(1x1x6x6, 27); the last window overhangs the padding. */
static void avgpool_count_include_pad(void **state)
{
    float xb[36];
    dp_tensor x = {DP_FLOAT, 4, {1, 1, 6, 6}, fill(xb, 36, 27)}, out[1];
    for (int incl = 0; incl < 2; incl++) {
        assert_int_equal(call("AveragePool", 11, INS(&x), out, 1,
                              ATTRS(AINTS("kernel_shape", 3, 3), AINTS("strides", 2, 2),
                                    AINTS("pads", 1, 1, 1, 1), AINT("ceil_mode", 1),
                                    AINT("count_include_pad", incl))),
                         DP_OK);
        SHAPE(&out[0], 1, 1, 4, 4);
        expect_near(&out[0], incl ? avgpool_incl_want : avgpool_excl_want, 16);
    }
}

/* SAME_LOWER pads before and, without count_include_pad, averages only real elements:
 * sum / count of F.avg_pool2d(F.pad(t, (1, 0, 1, 0)), 2, stride=1, divisor_override=1) on
 * x fill(1x1x3x3, 28) and on ones. 3-D: F.max_pool3d / F.avg_pool3d(x, 2, stride=(1, 2, 2)),
 * x fill(1x1x3x4x4, 29). 1-D: F.avg_pool1d(x, 3, stride=2, padding=1,
 * count_include_pad=False), x fill(1x2x7, 30). */
static void pools_auto_pad_1d_3d(void **state)
{
    float xb[48];
    dp_tensor x = {DP_FLOAT, 4, {1, 1, 3, 3}, fill(xb, 9, 28)}, out[1];
    assert_int_equal(call("AveragePool", 11, INS(&x), out, 1,
                          ATTRS(AINTS("kernel_shape", 2, 2), ASTR("auto_pad", "SAME_LOWER"))),
                     DP_OK);
    SHAPE(&out[0], 1, 1, 3, 3);
    NEAR(&out[0], avg_same_lower_want);

    x = (dp_tensor){DP_FLOAT, 5, {1, 1, 3, 4, 4}, fill(xb, 48, 29)};
    assert_int_equal(call("MaxPool", 12, INS(&x), out, 1,
                          ATTRS(AINTS("kernel_shape", 2, 2, 2), AINTS("strides", 1, 2, 2))),
                     DP_OK);
    SHAPE(&out[0], 1, 1, 2, 2, 2);
    NEAR(&out[0], maxpool3d_want);
    assert_int_equal(call("AveragePool", 11, INS(&x), out, 1,
                          ATTRS(AINTS("kernel_shape", 2, 2, 2), AINTS("strides", 1, 2, 2))),
                     DP_OK);
    NEAR(&out[0], avgpool3d_want);

    x = (dp_tensor){DP_FLOAT, 3, {1, 2, 7}, fill(xb, 14, 30)};
    assert_int_equal(call("AveragePool", 7, INS(&x), out, 1,
                          ATTRS(AINTS("kernel_shape", 3), AINTS("strides", 2),
                                AINTS("pads", 1, 1))),
                     DP_OK);
    SHAPE(&out[0], 1, 2, 4);
    NEAR(&out[0], avgpool1d_want);
}

/* x fill(2x3x2x2, 31): x.mean(axis=(2, 3)), x.max(axis=(2, 3)); uint8 max by hand. */
static void global_pools_and_uint8(void **state)
{
    float xb[24];
    dp_tensor x = {DP_FLOAT, 4, {2, 3, 2, 2}, fill(xb, 24, 31)}, out[1];
    assert_int_equal(call("GlobalAveragePool", 1, INS(&x), out, 1, NO_ATTRS), DP_OK);
    SHAPE(&out[0], 2, 3, 1, 1);
    NEAR(&out[0], gap_want);
    assert_int_equal(call("GlobalMaxPool", 1, INS(&x), out, 1, NO_ATTRS), DP_OK);
    SHAPE(&out[0], 2, 3, 1, 1);
    NEAR(&out[0], gmp_want);

    uint8_t u[6] = {1, 200, 3, 4, 5, 250};
    dp_tensor xu = {DP_UINT8, 4, {1, 1, 2, 3}, u};
    assert_int_equal(call("MaxPool", 12, INS(&xu), out, 1, ATTRS(AINTS("kernel_shape", 2, 2))),
                     DP_OK);
    assert_int_equal(out[0].dtype, DP_UINT8);
    SHAPE(&out[0], 1, 1, 1, 2);
    const int64_t want[] = {200, 250};
    expect_i64(&out[0], want, 2);
}

/* NaN wins a max, as in numpy and PyTorch, with and without Indices (by hand). */
static void maxpool_propagates_nan(void **state)
{
    float xb[4] = {1, NAN, 3, 2};
    dp_tensor x = {DP_FLOAT, 4, {1, 1, 1, 4}, xb}, out[2];
    for (int n_out = 1; n_out <= 2; n_out++) {
        assert_int_equal(call("MaxPool", 12, INS(&x), out, n_out,
                              ATTRS(AINTS("kernel_shape", 1, 2))),
                         DP_OK);
        const float *y = out[0].data;
        assert_true(isnan(y[0]) && isnan(y[1]) && y[2] == 3);
        if (n_out == 2) {
            const int64_t want[] = {1, 1, 2};
            expect_i64(&out[1], want, 3);
        }
    }
    assert_int_equal(call("GlobalMaxPool", 1, INS(&x), out, 1, NO_ATTRS), DP_OK);
    assert_true(isnan(*(const float *)out[0].data));
}

static void pools_reject_bad_input(void **state)
{
    dp_tensor x = {DP_FLOAT, 4, {1, 1, 4, 4}, NULL}, out[1];
    expect_fail(call("MaxPool", 12, INS(&x), out, 1, NO_ATTRS), DP_EINPUT, "kernel_shape");
    expect_fail(call("MaxPool", 12, INS(&x), out, 1, ATTRS(AINTS("kernel_shape", 2))),
                DP_EINPUT, "expected 2");
    expect_fail(call("AveragePool", 11, INS(&x), out, 1, ATTRS(AINTS("kernel_shape", 5, 2))),
                DP_EINPUT, "exceeds");
    expect_fail(call("AveragePool", 11, INS(&x), out, 1,
                     ATTRS(AINTS("kernel_shape", 2, 2), AINT("ceil_mode", 2))),
                DP_EINPUT, "ceil_mode");
    dp_tensor h = {DP_FLOAT16, 4, {1, 1, 4, 4}, NULL};
    expect_fail(call("AveragePool", 11, INS(&h), out, 1, ATTRS(AINTS("kernel_shape", 2, 2))),
                DP_EUNSUPPORTED, "float16");
    dp_tensor x1 = {DP_FLOAT, 1, {4}, NULL};
    expect_fail(call("GlobalAveragePool", 1, INS(&x1), out, 1, NO_ATTRS), DP_EINPUT, "rank 2");
}

/* ---- normalisation ---- */

/* x fill(2x3x2x2, 32), scale fill(3, 33), B fill(3, 34), mean fill(3, 35),
 * var |fill(3, 36)| + 0.5, epsilon 1e-3: F.batch_norm(..., training=False); with
 * training_mode (momentum 0.8) F.batch_norm(..., training=True) for Y and, for the running
 * statistics, mean * 0.8 + x.mean(axis=(0, 2, 3)) * 0.2 and the same with x.var (biased). */
static void batchnorm_inference_and_training(void **state)
{
    float xb[24], sb[3], bb[3], mb[3], vb[3];
    fill(vb, 3, 36);
    for (int i = 0; i < 3; i++)
        vb[i] = fabsf(vb[i]) + 0.5f;
    dp_tensor x = {DP_FLOAT, 4, {2, 3, 2, 2}, fill(xb, 24, 32)};
    dp_tensor s = {DP_FLOAT, 1, {3}, fill(sb, 3, 33)}, b = {DP_FLOAT, 1, {3}, fill(bb, 3, 34)};
    dp_tensor m = {DP_FLOAT, 1, {3}, fill(mb, 3, 35)}, v = {DP_FLOAT, 1, {3}, vb}, out[3];
    assert_int_equal(call("BatchNormalization", 15, INS(&x, &s, &b, &m, &v), out, 1,
                          ATTRS(AFLOAT("epsilon", 1e-3f))),
                     DP_OK);
    SHAPE(&out[0], 2, 3, 2, 2);
    NEAR(&out[0], bn_want);
    assert_int_equal(call("BatchNormalization", 15, INS(&x, &s, &b, &m, &v), out, 3,
                          ATTRS(AFLOAT("epsilon", 1e-3f), AFLOAT("momentum", 0.8f),
                                AINT("training_mode", 1))),
                     DP_OK);
    NEAR(&out[0], bn_train_want);
    SHAPE(&out[1], 3);
    NEAR(&out[1], bn_train_mean);
    NEAR(&out[2], bn_train_var);

    expect_fail(call("BatchNormalization", 15, INS(&x, &s, &b, &m, &v), out, 3, NO_ATTRS),
                DP_EINPUT, "training_mode");
    expect_fail(call("BatchNormalization", 9, INS(&x, &s, &b, &m, &v), out, 3, NO_ATTRS),
                DP_EUNSUPPORTED, "training outputs");
    dp_tensor s4 = {DP_FLOAT, 1, {4}, NULL};
    expect_fail(call("BatchNormalization", 15, INS(&x, &s4, &b, &m, &v), out, 1, NO_ATTRS),
                DP_EINPUT, "scale must have 3 elements");
}

/* Opset 7's spatial=0: statistics per (c, h, w), parameters fill(3x2x2, 37..39) and
 * var |fill(3x2x2, 40)| + 0.5: numpy (x - mean) / sqrt(var + 1e-5) * scale + B. */
static void batchnorm_non_spatial(void **state)
{
    float xb[24], p[4][12];
    for (int i = 0; i < 4; i++)
        fill(p[i], 12, 37 + i);
    for (int i = 0; i < 12; i++)
        p[3][i] = fabsf(p[3][i]) + 0.5f;
    dp_tensor x = {DP_FLOAT, 4, {2, 3, 2, 2}, fill(xb, 24, 32)}, t[4], out[1];
    for (int i = 0; i < 4; i++)
        t[i] = (dp_tensor){DP_FLOAT, 3, {3, 2, 2}, p[i]};
    assert_int_equal(call("BatchNormalization", 7, INS(&x, &t[0], &t[1], &t[2], &t[3]), out, 1,
                          ATTRS(AINT("spatial", 0))),
                     DP_OK);
    NEAR(&out[0], bn_nonspatial_want);
}

/* F.instance_norm(x, weight=s, bias=b, eps=1e-2), x fill(2x3x2x3, 41), s fill(3, 42),
 * b fill(3, 43); F.local_response_norm(x, 3, alpha=0.2, beta=0.75, k=2.0), x fill(1x5x2x2, 48),
 * and for size 4, numpy with ONNX's window (one channel before, two after). */
static void instancenorm_and_lrn(void **state)
{
    float xb[36], sb[3], bb[3];
    dp_tensor x = {DP_FLOAT, 4, {2, 3, 2, 3}, fill(xb, 36, 41)};
    dp_tensor s = {DP_FLOAT, 1, {3}, fill(sb, 3, 42)}, b = {DP_FLOAT, 1, {3}, fill(bb, 3, 43)};
    dp_tensor out[1];
    assert_int_equal(call("InstanceNormalization", 6, INS(&x, &s, &b), out, 1,
                          ATTRS(AFLOAT("epsilon", 1e-2f))),
                     DP_OK);
    SHAPE(&out[0], 2, 3, 2, 3);
    NEAR(&out[0], in_want);
    dp_tensor s2 = {DP_FLOAT, 1, {2}, NULL};
    expect_fail(call("InstanceNormalization", 6, INS(&x, &s2, &b), out, 1, NO_ATTRS),
                DP_EINPUT, "scale must be 1-D with 3");

    x = (dp_tensor){DP_FLOAT, 4, {1, 5, 2, 2}, fill(xb, 20, 48)};
    assert_int_equal(call("LRN", 13, INS(&x), out, 1,
                          ATTRS(AINT("size", 3), AFLOAT("alpha", 0.2f), AFLOAT("beta", 0.75f),
                                AFLOAT("bias", 2.0f))),
                     DP_OK);
    NEAR(&out[0], lrn3_want);
    assert_int_equal(call("LRN", 13, INS(&x), out, 1,
                          ATTRS(AINT("size", 4), AFLOAT("alpha", 0.2f), AFLOAT("beta", 0.75f),
                                AFLOAT("bias", 2.0f))),
                     DP_OK);
    NEAR(&out[0], lrn4_want);
    expect_fail(call("LRN", 13, INS(&x), out, 1, NO_ATTRS), DP_EINPUT, "'size' is missing");
}

/* F.layer_norm(x, (3, 4), s, b, eps=1e-5), x fill(2x3x4, 44), s fill(3x4, 45), b fill(3x4, 46),
 * Mean and InvStdDev from numpy over axes (1, 2); and Scale fill(4, 47) without B, which
 * broadcasts over the normalised block's rows. */
static void layernorm(void **state)
{
    float xb[24], sb[12], bb[12];
    dp_tensor x = {DP_FLOAT, 3, {2, 3, 4}, fill(xb, 24, 44)};
    dp_tensor s = {DP_FLOAT, 2, {3, 4}, fill(sb, 12, 45)};
    dp_tensor b = {DP_FLOAT, 2, {3, 4}, fill(bb, 12, 46)};
    dp_tensor out[3];
    assert_int_equal(call("LayerNormalization", 17, INS(&x, &s, &b), out, 3,
                          ATTRS(AINT("axis", 1))),
                     DP_OK);
    SHAPE(&out[0], 2, 3, 4);
    SHAPE(&out[1], 2, 1, 1);
    SHAPE(&out[2], 2, 1, 1);
    assert_int_equal(out[1].dtype, DP_FLOAT);
    NEAR(&out[0], ln_want);
    NEAR(&out[1], ln_mean);
    NEAR(&out[2], ln_invstd);
    /* axis -2 is axis 1 */
    assert_int_equal(call("LayerNormalization", 17, INS(&x, &s, &b), out, 1,
                          ATTRS(AINT("axis", -2))),
                     DP_OK);
    NEAR(&out[0], ln_want);

    dp_tensor s4 = {DP_FLOAT, 1, {4}, fill(sb, 4, 47)};
    assert_int_equal(call("LayerNormalization", 17, INS(&x, &s4), out, 1, ATTRS(AINT("axis", 1))),
                     DP_OK);
    NEAR(&out[0], ln_bcast_want);

    expect_fail(call("LayerNormalization", 17, INS(&x, &s4), out, 1, ATTRS(AINT("axis", 3))),
                DP_EINPUT, "axis 3");
    dp_tensor s5 = {DP_FLOAT, 1, {5}, NULL};
    expect_fail(call("LayerNormalization", 17, INS(&x, &s5), out, 1, NO_ATTRS), DP_EINPUT,
                "does not broadcast");
}

/* ---- random geometries against the operators' definitions ---- */

static int64_t irand(int64_t lo, int64_t hi)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return lo + (int64_t)((rng_state >> 8) % (uint32_t)(hi - lo + 1));
}

/* Spatial geometry of nsp dimensions, right-aligned into three of which the leading unused
 * ones have size 1, and its attributes kernel_shape, strides, dilations, pads (+ 2 more). */
typedef struct geom {
    int nsp;
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], op[3];
    int64_t ints[5][6];
    dp_attr attrs[7];
} geom;

/* pads up to max_pad, or up to extent - 1 when max_pad < 0 */
static void random_geom(geom *g, int nsp, int64_t max_in, int64_t max_pad, int64_t max_d)
{
    static const char *const names[] = {"kernel_shape", "strides", "dilations", "pads",
                                        "output_padding"};
    g->nsp = nsp;
    for (int j = 0; j < 3; j++) {
        g->in[j] = g->k[j] = g->s[j] = g->d[j] = 1;
        g->pb[j] = g->pe[j] = g->op[j] = 0;
    }
    for (int i = 0; i < nsp; i++) {
        int j = 3 - nsp + i;
        g->k[j] = irand(1, 4);
        g->s[j] = irand(1, 3);
        g->d[j] = irand(1, max_d);
        int64_t extent = (g->k[j] - 1) * g->d[j] + 1, mp = max_pad < 0 ? extent - 1 : max_pad;
        g->pb[j] = irand(0, mp);
        g->pe[j] = irand(0, mp);
        g->op[j] = irand(0, g->s[j] - 1);
        int64_t least = extent - g->pb[j] - g->pe[j];
        least = least > 1 ? least : 1;
        g->in[j] = irand(least, max_in > least ? max_in : least);
        int64_t v[5] = {g->k[j], g->s[j], g->d[j], g->pb[j], g->op[j]};
        for (int a = 0; a < 5; a++)
            g->ints[a][i] = v[a];
        g->ints[3][nsp + i] = g->pe[j];
    }
    for (int a = 0; a < 5; a++)
        g->attrs[a] = (dp_attr){.name = names[a], .kind = DP_ATTR_INTS, .ints = g->ints[a],
                                .n = a == 3 ? 2 * nsp : nsp};
}

static int64_t vol3(const int64_t *d) { return d[0] * d[1] * d[2]; }

/* Flat index p of a d[0] x d[1] x d[2] grid as coordinates c. */
static void coords(int64_t p, const int64_t *d, int64_t *c)
{
    c[0] = p / (d[1] * d[2]);
    c[1] = p / d[2] % d[1];
    c[2] = p % d[2];
}

static int64_t flat(const int64_t *d, const int64_t *c)
{
    return (c[0] * d[1] + c[1]) * d[2] + c[2];
}

static void set_spatial(dp_tensor *t, const geom *g, const int64_t *dims)
{
    t->rank = 2 + g->nsp;
    for (int i = 0; i < g->nsp; i++)
        t->dims[2 + i] = dims[3 - g->nsp + i];
}

static float xbuf[8192], wbuf[4096], bbuf[64];

static void fill_random(float *p, int64_t n)
{
    assert_true(n <= 8192);
    for (int64_t i = 0; i < n; i++)
        p[i] = frand();
}

static void check_close(int trial, int64_t i, double got, double want, double mag)
{
    if (!(fabs(got - want) <= 1e-5 * mag + 1e-6))
        fail_msg("trial %d element %lld: got %.9g, want %.9g", trial, (long long)i, got, want);
}

/*
 * The depthwise 3x3 convolution padded by 1, of stride 1 and 2, on planes wide and long
 * enough for the whole-plane loops' groups of outputs, one of which would start at the
 * second row (16 divides W; a first tap read flat from there lies before the plane, which
 * the sanitizer build catches), bit for bit against the sum they promise: from 0, each tap whose input lies in the plane added in row-major order (a
 * product, then an add), then the bias, then the fused Relu. (Adding 0 for a tap in the
 * padding instead would give the same bits: a sum from +0 is never -0.)
 */
static void conv_depthwise_planes_bit_for_bit(void **state)
{
    enum { N = 2, C = 3, H = 26, W = 32 };
    static float want[N * C * H * W];
    for (int64_t s = 1; s <= 2; s++) {
        int64_t Ho = H / s, Wo = W / s;
        fill_random(xbuf, N * C * H * W);
        fill_random(wbuf, C * 9);
        fill_random(bbuf, C);
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = 0; c < C; c++)
                for (int64_t i = 0; i < Ho; i++)
                    for (int64_t j = 0; j < Wo; j++) {
                        float sum = 0.0f;
                        for (int t = 0; t < 9; t++) {
                            int64_t r = s * i + t / 3 - 1, q = s * j + t % 3 - 1;
                            if (r >= 0 && r < H && q >= 0 && q < W)
                                sum = sum + wbuf[c * 9 + t] *
                                                xbuf[((n * C + c) * H + r) * W + q];
                        }
                        sum = sum + bbuf[c];
                        want[((n * C + c) * Ho + i) * Wo + j] = sum < 0.0f ? 0.0f : sum;
                    }
        dp_tensor x = {DP_FLOAT, 4, {N, C, H, W}, xbuf};
        dp_tensor w = {DP_FLOAT, 4, {C, 1, 3, 3}, wbuf};
        dp_tensor b = {DP_FLOAT, 1, {C}, bbuf}, out[1];
        assert_int_equal(call("Conv", 11, INS(&x, &w, &b), out, 1,
                              ATTRS(AINT("group", C), AINTS("pads", 1, 1, 1, 1),
                                    AINTS("strides", s, s), ASTR("dp_activation", "Relu"))),
                         DP_OK);
        SHAPE(&out[0], N, C, Ho, Wo);
        assert_memory_equal(out[0].data, want, (size_t)(N * C * Ho * Wo) * sizeof(float));
    }
}

/*
 * Conv (im2col in chunks, pointwise, depthwise with its 3x3 rows) on random geometries:
 * y[n, m, o] = B[m] + sum over c of m's group and taps t of x[n, c, o*s - pb + t*d] w[m, c, t].
 */
static void conv_matches_definition(void **state)
{
    for (int trial = 0; trial < 300; trial++) {
        geom g;
        /* every 8th trial the 2-D depthwise shapes with planar paths: 3x3 padded by 1, of
         * stride 1, or of stride 2 over an even input; and 2-D windows whose im2col reads
         * shifted planes: of stride 1 padded to keep the input's size, or of stride 2 over
         * an even input padded to halve it */
        int planar = trial % 8 == 0 ? 1 : trial % 8 == 4 ? 2 : 0;
        int shifted = trial % 8 == 2 ? 1 : trial % 8 == 6 ? 2 : 0;
        bool same_size = shifted != 0;
        int nsp = planar || same_size ? 2 : (int)irand(1, 3);
        random_geom(&g, nsp, nsp == 3 ? 6 : 12, 2, 2);
        bool dw3 = trial % 4 == 0;
        for (int j = 3 - nsp; dw3 && j < 3; j++) {
            int i = j - 3 + nsp;
            g.k[j] = g.ints[0][i] = 3;
            g.d[j] = g.ints[2][i] = 1;
            if (planar) {
                g.s[j] = g.ints[1][i] = planar;
                g.pb[j] = g.pe[j] = g.ints[3][i] = g.ints[3][nsp + i] = 1;
                g.in[j] = planar == 2 ? 2 * irand(1, 6) : g.in[j];
            }
            g.in[j] = g.in[j] + g.pb[j] + g.pe[j] < 3 ? 3 : g.in[j];
        }
        for (int j = 1; same_size && j < 3; j++) {
            int i = j - 1;
            /* stride 1: pads summing to k - 1; stride 2: to k - 2 or k - 1 */
            int64_t pads = g.k[j] - 1 - (shifted == 2 ? irand(0, 1) : 0);
            pads = pads > 0 ? pads : 0;
            g.s[j] = g.ints[1][i] = shifted;
            g.d[j] = g.ints[2][i] = 1;
            g.pb[j] = g.ints[3][i] = irand(0, pads);
            g.pe[j] = g.ints[3][2 + i] = pads - g.pb[j];
            if (shifted == 2)
                g.in[j] = 2 * irand(1, 6);
        }
        int64_t group = irand(1, 3), Cg = dw3 ? 1 : irand(same_size ? 2 : 1, 3);
        int64_t Mg = irand(1, 3);
        int64_t N = irand(1, 2), C = group * Cg, M = group * Mg, taps = vol3(g.k), o[3];
        for (int j = 0; j < 3; j++)
            o[j] = (g.in[j] + g.pb[j] + g.pe[j] - (g.k[j] - 1) * g.d[j] - 1) / g.s[j] + 1;
        dp_tensor x = {DP_FLOAT, 0, {N, C}, xbuf}, w = {DP_FLOAT, 0, {M, Cg}, wbuf};
        dp_tensor b = {DP_FLOAT, 1, {M}, bbuf}, out[1];
        set_spatial(&x, &g, g.in);
        set_spatial(&w, &g, g.k);
        fill_random(xbuf, dp_numel(&x));
        fill_random(wbuf, dp_numel(&w));
        fill_random(bbuf, M);
        /* without kernel_shape half the time: it comes from W */
        dp_attr a[5];
        int na = 0;
        if (trial & 1)
            a[na++] = g.attrs[0];
        for (int i = 1; i < 4; i++)
            a[na++] = g.attrs[i];
        a[na++] = AINT("group", group);
        assert_int_equal(call("Conv", 11, INS(&x, &w, &b), out, 1, a, na), DP_OK);
        for (int j = 3 - nsp; j < 3; j++)
            assert_int_equal(out[0].dims[2 + j - 3 + nsp], o[j]);
        const float *y = out[0].data;
        for (int64_t i = 0; i < dp_numel(&out[0]); i++) {
            int64_t n = i / (M * vol3(o)), m = i / vol3(o) % M, oc[3], tc[3], ic[3];
            coords(i % vol3(o), o, oc);
            double want = bbuf[m], mag = fabs(want);
            for (int64_t c = 0; c < Cg; c++)
                for (int64_t t = 0; t < taps; t++) {
                    coords(t, g.k, tc);
                    bool inside = true;
                    for (int j = 0; j < 3; j++) {
                        ic[j] = oc[j] * g.s[j] - g.pb[j] + tc[j] * g.d[j];
                        inside = inside && ic[j] >= 0 && ic[j] < g.in[j];
                    }
                    if (inside) {
                        double v = (double)xbuf[(n * C + m / Mg * Cg + c) * vol3(g.in) +
                                                flat(g.in, ic)] * wbuf[(m * Cg + c) * taps + t];
                        want += v;
                        mag += fabs(v);
                    }
                }
            check_close(trial, i, y[i], want, mag);
        }
    }
}

static double want_buf[1 << 16], mag_buf[1 << 16];

/*
 * ConvTranspose on random geometries: y[n, m, i*s - pb + t*d] = B[m] + the sum of
 * x[n, c, i] w[c, m', t] over the input channels c of m's group (m' = m's index in it).
 */
static void convtranspose_matches_definition(void **state)
{
    for (int trial = 0; trial < 200; trial++) {
        geom g;
        int nsp = (int)irand(1, 3);
        random_geom(&g, nsp, nsp == 3 ? 3 : 6, -1, 2);
        int64_t o[3];
        for (int j = 0; j < 3; j++) {
            int64_t full = g.s[j] * (g.in[j] - 1) + g.op[j] + (g.k[j] - 1) * g.d[j] + 1;
            if (full - g.pb[j] - g.pe[j] < 1) /* pads that leave nothing: drop them */
                g.pb[j] = g.pe[j] = g.ints[3][j - 3 + nsp] = g.ints[3][j + nsp + nsp - 3] = 0;
            o[j] = full - g.pb[j] - g.pe[j];
        }
        int64_t group = irand(1, 3), Cg = irand(1, 3), Mg = irand(1, 3), N = irand(1, 2);
        int64_t C = group * Cg, M = group * Mg, taps = vol3(g.k);
        dp_tensor x = {DP_FLOAT, 0, {N, C}, xbuf}, w = {DP_FLOAT, 0, {C, Mg}, wbuf};
        dp_tensor b = {DP_FLOAT, 1, {M}, bbuf}, out[1];
        set_spatial(&x, &g, g.in);
        set_spatial(&w, &g, g.k);
        fill_random(xbuf, dp_numel(&x));
        fill_random(wbuf, dp_numel(&w));
        fill_random(bbuf, M);
        dp_attr a[6];
        int na = 0;
        for (int i = trial & 1 ? 0 : 1; i < 5; i++)
            a[na++] = g.attrs[i];
        a[na++] = AINT("group", group);
        assert_int_equal(call("ConvTranspose", 11, INS(&x, &w, &b), out, 1, a, na), DP_OK);
        for (int j = 3 - nsp; j < 3; j++)
            assert_int_equal(out[0].dims[2 + j - 3 + nsp], o[j]);
        int64_t ny = dp_numel(&out[0]);
        assert_true(ny <= (int64_t)COUNT(want_buf));
        for (int64_t i = 0; i < ny; i++) {
            want_buf[i] = bbuf[i / vol3(o) % M];
            mag_buf[i] = fabs(want_buf[i]);
        }
        for (int64_t i = 0; i < dp_numel(&x); i++) {
            int64_t n = i / (C * vol3(g.in)), c = i / vol3(g.in) % C, ic[3], tc[3], oc[3];
            coords(i % vol3(g.in), g.in, ic);
            for (int64_t mm = 0; mm < Mg; mm++)
                for (int64_t t = 0; t < taps; t++) {
                    coords(t, g.k, tc);
                    bool inside = true;
                    for (int j = 0; j < 3; j++) {
                        oc[j] = ic[j] * g.s[j] - g.pb[j] + tc[j] * g.d[j];
                        inside = inside && oc[j] >= 0 && oc[j] < o[j];
                    }
                    if (!inside)
                        continue;
                    int64_t yi = (n * M + c / Cg * Mg + mm) * vol3(o) + flat(o, oc);
                    double v = (double)xbuf[i] * wbuf[(c * Mg + mm) * taps + t];
                    want_buf[yi] += v;
                    mag_buf[yi] += fabs(v);
                }
        }
        const float *y = out[0].data;
        for (int64_t i = 0; i < ny; i++)
            check_close(trial, i, y[i], want_buf[i], mag_buf[i]);
    }
}

/*
 * MaxPool (values and Indices) and AveragePool (either count_include_pad) on random
 * geometries, ceil_mode included: every window's maximum (the first, in row-major order) or
 * mean over its taps inside the input, divided by the taps inside the padded input when
 * count_include_pad is set. A window with no tap in the input yields -inf (max) or NaN
 * (average without count_include_pad). MaxPool runs with and without Indices, which take
 * different loops.
 */
static void pools_match_definition(void **state)
{
    for (int trial = 0; trial < 300; trial++) {
        bool is_max = trial & 1, ceil_mode = irand(0, 1), incl = irand(0, 1);
        geom g;
        int nsp = (int)irand(1, 3);
        random_geom(&g, nsp, nsp == 3 ? 6 : 12, -1, is_max ? 3 : 1);
        int64_t o[3];
        for (int j = 0; j < 3; j++) {
            int64_t span = g.in[j] + g.pb[j] + g.pe[j] - (g.k[j] - 1) * g.d[j] - 1;
            o[j] = (ceil_mode ? span + g.s[j] - 1 : span) / g.s[j] + 1;
            if (ceil_mode && (o[j] - 1) * g.s[j] >= g.in[j] + g.pb[j])
                o[j]--;
        }
        int64_t planes = irand(1, 2) * irand(1, 3);
        dp_tensor x = {DP_FLOAT, 0, {1, planes}, xbuf}, out[2];
        set_spatial(&x, &g, g.in);
        fill_random(xbuf, dp_numel(&x));
        /* coarse values, so that windows hold equal maxima */
        for (int64_t i = 0; i < dp_numel(&x); i++)
            xbuf[i] = roundf(xbuf[i] * 4) / 4;
        dp_attr a[7];
        int na = 0;
        for (int i = 0; i < 4; i++)
            if (i != 2 || is_max)
                a[na++] = g.attrs[i];
        a[na++] = AINT("ceil_mode", ceil_mode);
        if (!is_max)
            a[na++] = AINT("count_include_pad", incl);
        bool indices = is_max && trial % 4 == 1;
        assert_int_equal(call(is_max ? "MaxPool" : "AveragePool", 12, INS(&x), out,
                              indices ? 2 : 1, a, na),
                         DP_OK);
        for (int j = 3 - nsp; j < 3; j++)
            assert_int_equal(out[0].dims[2 + j - 3 + nsp], o[j]);
        const float *y = out[0].data;
        const int64_t *ind = out[1].data;
        for (int64_t i = 0; i < dp_numel(&out[0]); i++) {
            int64_t pl = i / vol3(o), oc[3], tc[3], ic[3], count = 0, padded = 1, at = -1;
            coords(i % vol3(o), o, oc);
            double sum = 0, best = -INFINITY;
            for (int64_t t = 0; t < vol3(g.k); t++) {
                coords(t, g.k, tc);
                bool inside = true;
                for (int j = 0; j < 3; j++) {
                    ic[j] = oc[j] * g.s[j] - g.pb[j] + tc[j] * g.d[j];
                    inside = inside && ic[j] >= 0 && ic[j] < g.in[j];
                }
                if (!inside)
                    continue;
                float v = xbuf[pl * vol3(g.in) + flat(g.in, ic)];
                sum += v;
                count++;
                if (at < 0 || v > best) {
                    best = v;
                    at = pl * vol3(g.in) + flat(g.in, ic);
                }
            }
            for (int j = 0; j < 3; j++) {
                int64_t n = 0, start = oc[j] * g.s[j] - g.pb[j];
                for (int64_t t = 0; t < g.k[j]; t++)
                    n += start + t * g.d[j] < g.in[j] + g.pe[j];
                padded *= n;
            }
            if (is_max) {
                if (y[i] != (float)best || (indices && ind[i] != at))
                    fail_msg("trial %d element %lld: got %.9g at %lld, want %.9g at %lld", trial,
                             (long long)i, y[i], (long long)(indices ? ind[i] : at), best,
                             (long long)at);
            } else if (!incl && count == 0) {
                assert_true(isnan(y[i]));
            } else {
                check_close(trial, i, y[i], sum / (double)(incl ? padded : count), fabs(sum));
            }
        }
    }
}

/* ---- Gemm, MatMul ---- */

/* numpy: 0.5 * a.T @ b.T + 2 * c with a fill(5x3, 49), b fill(4x5, 50), c fill(4, 51);
 * a.T @ b.T + c2 with c2 fill(3x1, 52). */
static void gemm_attributes_and_bias(void **state)
{
    float ab[15], bb[20], cb[4], c2b[3];
    dp_tensor a = {DP_FLOAT, 2, {5, 3}, fill(ab, 15, 49)};
    dp_tensor b = {DP_FLOAT, 2, {4, 5}, fill(bb, 20, 50)};
    dp_tensor c = {DP_FLOAT, 1, {4}, fill(cb, 4, 51)}, c2 = {DP_FLOAT, 2, {3, 1}, fill(c2b, 3, 52)};
    dp_tensor out[1];
    assert_int_equal(call("Gemm", 13, INS(&a, &b, &c), out, 1,
                          ATTRS(AINT("transA", 1), AINT("transB", 1), AFLOAT("alpha", 0.5f),
                                AFLOAT("beta", 2.0f))),
                     DP_OK);
    SHAPE(&out[0], 3, 4);
    NEAR(&out[0], gemm_want);
    assert_int_equal(call("Gemm", 13, INS(&a, &b, &c2), out, 1,
                          ATTRS(AINT("transA", 1), AINT("transB", 1))),
                     DP_OK);
    NEAR(&out[0], gemm_col_want);
    /* beta 0 ignores C, NaNs and all */
    float nan3[3] = {NAN, NAN, NAN};
    dp_tensor cn = {DP_FLOAT, 2, {3, 1}, nan3};
    assert_int_equal(call("Gemm", 13, INS(&a, &b, &cn), out, 1,
                          ATTRS(AINT("transA", 1), AINT("transB", 1), AFLOAT("beta", 0))),
                     DP_OK);
    double want[12];
    for (int i = 0; i < 12; i++)
        want[i] = gemm_col_want[i] - c2b[i / 4];
    NEAR(&out[0], want);
    /* double runs too */
    double ad[15], bd[20];
    dp_tensor a64 = {DP_DOUBLE, 2, {5, 3}, filld(ad, 15, 49)};
    dp_tensor b64 = {DP_DOUBLE, 2, {4, 5}, filld(bd, 20, 50)};
    assert_int_equal(call("Gemm", 13, INS(&a64, &b64), out, 1,
                          ATTRS(AINT("transA", 1), AINT("transB", 1))),
                     DP_OK);
    assert_int_equal(out[0].dtype, DP_DOUBLE);
    NEAR(&out[0], want);

    expect_fail(call("Gemm", 13, INS(&a, &b, &c), out, 1, NO_ATTRS), DP_EINPUT,
                "inner dimensions 3 and 4");
    dp_tensor cbad = {DP_FLOAT, 2, {2, 4}, NULL};
    expect_fail(call("Gemm", 13, INS(&a, &b, &cbad), out, 1,
                     ATTRS(AINT("transA", 1), AINT("transB", 1))),
                DP_EINPUT, "does not broadcast to 3x4");
    dp_tensor a3 = {DP_FLOAT, 3, {1, 5, 3}, NULL};
    expect_fail(call("Gemm", 13, INS(&a3, &b), out, 1, NO_ATTRS), DP_EINPUT, "2-D");
}

/* numpy matmul: fill(2x1x3x4, 53) @ fill(3x4x5, 54); fill(4, 55) @ fill(2x4x3, 56);
 * fill(2x3x4, 57) @ fill(4, 58); fill(2x3x4, 59) @ fill(4x5, 60). */
static void matmul_broadcasting(void **state)
{
    float ab[24], bb[60];
    dp_tensor a = {DP_FLOAT, 4, {2, 1, 3, 4}, fill(ab, 24, 53)};
    dp_tensor b = {DP_FLOAT, 3, {3, 4, 5}, fill(bb, 60, 54)}, out[1];
    assert_int_equal(call("MatMul", 13, INS(&a, &b), out, 1, NO_ATTRS), DP_OK);
    SHAPE(&out[0], 2, 3, 3, 5);
    NEAR(&out[0], mm_batch_want);

    a = (dp_tensor){DP_FLOAT, 1, {4}, fill(ab, 4, 55)};
    b = (dp_tensor){DP_FLOAT, 3, {2, 4, 3}, fill(bb, 24, 56)};
    assert_int_equal(call("MatMul", 13, INS(&a, &b), out, 1, NO_ATTRS), DP_OK);
    SHAPE(&out[0], 2, 3);
    NEAR(&out[0], mm_vec_mat_want);

    a = (dp_tensor){DP_FLOAT, 3, {2, 3, 4}, fill(ab, 24, 57)};
    b = (dp_tensor){DP_FLOAT, 1, {4}, fill(bb, 4, 58)};
    assert_int_equal(call("MatMul", 13, INS(&a, &b), out, 1, NO_ATTRS), DP_OK);
    SHAPE(&out[0], 2, 3);
    NEAR(&out[0], mm_mat_vec_want);

    a = (dp_tensor){DP_FLOAT, 3, {2, 3, 4}, fill(ab, 24, 59)};
    b = (dp_tensor){DP_FLOAT, 2, {4, 5}, fill(bb, 20, 60)};
    assert_int_equal(call("MatMul", 13, INS(&a, &b), out, 1, NO_ATTRS), DP_OK);
    SHAPE(&out[0], 2, 3, 5);
    NEAR(&out[0], mm_stack_want);

    /* an empty inner dimension gives zeros */
    dp_tensor e1 = {DP_FLOAT, 2, {2, 0}, ab}, e2 = {DP_FLOAT, 2, {0, 3}, bb};
    assert_int_equal(call("MatMul", 13, INS(&e1, &e2), out, 1, NO_ATTRS), DP_OK);
    const double zeros[6] = {0};
    NEAR(&out[0], zeros);

    dp_tensor bad = {DP_FLOAT, 3, {3, 5, 2}, NULL};
    expect_fail(call("MatMul", 13, INS(&a, &bad), out, 1, NO_ATTRS), DP_EINPUT,
                "inner dimensions 4 and 5");
    dp_tensor bad2 = {DP_FLOAT, 3, {3, 4, 2}, NULL};
    assert_int_equal(call("MatMul", 13, INS(&a, &bad2), out, 1, NO_ATTRS), DP_EINPUT);
    dp_tensor xi = {DP_INT8, 2, {2, 2}, NULL};
    expect_fail(call("MatMul", 13, INS(&xi, &xi), out, 1, NO_ATTRS), DP_EUNSUPPORTED, "int8");
}

/* ---- Einsum ---- */

/* numpy.einsum on doubles: A fill(3x4, 61), B fill(4x5, 62), D fill(2x3x3, 63). */
static void einsum_equations(void **state)
{
    double ab[12], bb[20], db[24], eb[4];
    dp_tensor A = {DP_DOUBLE, 2, {3, 4}, filld(ab, 12, 61)};
    dp_tensor B = {DP_DOUBLE, 2, {4, 5}, filld(bb, 20, 62)};
    dp_tensor D = {DP_DOUBLE, 3, {2, 3, 3}, filld(db, 18, 63)}, out[1];
    assert_int_equal(call("Einsum", 12, INS(&A, &B), out, 1, ATTRS(ASTR("equation", "ij,jk->ik"))),
                     DP_OK);
    assert_int_equal(out[0].dtype, DP_DOUBLE);
    SHAPE(&out[0], 3, 5);
    NEAR(&out[0], es_mm_want);
    assert_int_equal(call("Einsum", 12, INS(&D), out, 1, ATTRS(ASTR("equation", " ...ii ->...i"))),
                     DP_OK);
    SHAPE(&out[0], 2, 3);
    NEAR(&out[0], es_diag_want);
    dp_tensor D0 = {DP_DOUBLE, 2, {3, 3}, db};
    assert_int_equal(call("Einsum", 12, INS(&D0), out, 1, ATTRS(ASTR("equation", "ii"))), DP_OK);
    assert_int_equal(out[0].rank, 0);
    NEAR(&out[0], es_trace_want);
    assert_int_equal(call("Einsum", 12, INS(&A), out, 1, ATTRS(ASTR("equation", "ba"))), DP_OK);
    SHAPE(&out[0], 4, 3);
    NEAR(&out[0], es_implicit_want);
    assert_int_equal(call("Einsum", 12, INS(&A), out, 1, ATTRS(ASTR("equation", "ij->"))), DP_OK);
    NEAR(&out[0], es_sum_want);
    dp_tensor E = {DP_DOUBLE, 3, {2, 3, 4}, filld(db, 24, 64)};
    dp_tensor v = {DP_DOUBLE, 1, {4}, filld(eb, 4, 65)};
    assert_int_equal(call("Einsum", 12, INS(&E, &v), out, 1,
                          ATTRS(ASTR("equation", "...j,j->..."))),
                     DP_OK);
    SHAPE(&out[0], 2, 3);
    NEAR(&out[0], es_bcast_want);
    dp_tensor p = {DP_DOUBLE, 1, {2}, filld(ab, 2, 66)}, q = {DP_DOUBLE, 1, {3}, filld(bb, 3, 67)};
    assert_int_equal(call("Einsum", 12, INS(&p, &q), out, 1, ATTRS(ASTR("equation", "i,j"))),
                     DP_OK);
    SHAPE(&out[0], 2, 3);
    NEAR(&out[0], es_outer_want);

    /* integers sum exactly; an empty summed axis gives zeros */
    int64_t ib[4] = {1, 2, 3, 4};
    dp_tensor I = {DP_INT64, 2, {2, 2}, ib};
    assert_int_equal(call("Einsum", 12, INS(&I), out, 1, ATTRS(ASTR("equation", "ij->j"))), DP_OK);
    const int64_t col_sums[] = {4, 6};
    expect_i64(&out[0], col_sums, 2);
    dp_tensor e1 = {DP_DOUBLE, 2, {3, 0}, ab}, e2 = {DP_DOUBLE, 2, {0, 2}, bb};
    assert_int_equal(call("Einsum", 12, INS(&e1, &e2), out, 1, ATTRS(ASTR("equation", "ij,jk"))),
                     DP_OK);
    const double zeros[6] = {0};
    NEAR(&out[0], zeros);
}

/*
 * Float Einsum against the double Einsum of the same inputs (checked against numpy above):
 * equations that are batched matrix products (dp_sgemm's path, outputs in any axis order,
 * "..." batches) and near misses that the generic loop keeps (a size-1 batch broadcast, a
 * label summed on one operand, a repeated label).
 */
static void einsum_float_matches_double(void **state)
{
    static const struct {
        const char *eq;
        int ra, rb;
        int64_t da[5], db[5];
    } cases[] = {
        {"BGHID,BGHJD->BGHIJ", 5, 5, {2, 2, 3, 7, 8}, {2, 2, 3, 5, 8}},
        {"BGHIJ,BGHJD->BGHID", 5, 5, {2, 2, 3, 7, 5}, {2, 2, 3, 5, 8}},
        {"bij,bjk->kbi", 3, 3, {3, 4, 6}, {3, 6, 5}},
        {"...ij,...jk->...ik", 4, 4, {2, 3, 4, 6}, {2, 3, 6, 5}},
        {"ij,kj", 2, 2, {33, 40}, {17, 40}},
        {"i,j->ij", 1, 1, {5}, {7}},
        {"bij,xjk->bik", 3, 3, {3, 4, 6}, {1, 6, 5}},
        {"bij,bjk->bk", 3, 3, {3, 4, 6}, {3, 6, 5}},
        {"bii,bij->bj", 3, 3, {3, 4, 4}, {3, 4, 5}},
    };
    enum { MAXN = 2048 };
    static float fa[MAXN], fb[MAXN], got[MAXN];
    static double da[MAXN], db[MAXN];
    for (size_t c = 0; c < COUNT(cases); c++) {
        dp_tensor FA = {DP_FLOAT, cases[c].ra, {0}, fill(fa, MAXN, 71)};
        dp_tensor FB = {DP_FLOAT, cases[c].rb, {0}, fill(fb, MAXN, 72)};
        dp_tensor DA = {DP_DOUBLE, cases[c].ra, {0}, filld(da, MAXN, 71)};
        dp_tensor DB = {DP_DOUBLE, cases[c].rb, {0}, filld(db, MAXN, 72)};
        memcpy(FA.dims, cases[c].da, sizeof cases[c].da);
        memcpy(DA.dims, cases[c].da, sizeof cases[c].da);
        memcpy(FB.dims, cases[c].db, sizeof cases[c].db);
        memcpy(DB.dims, cases[c].db, sizeof cases[c].db);
        assert_true(dp_numel(&FA) <= MAXN && dp_numel(&FB) <= MAXN);
        dp_tensor out[1];
        assert_int_equal(call("Einsum", 12, INS(&FA, &FB), out, 1,
                              ATTRS(ASTR("equation", cases[c].eq))),
                         DP_OK);
        assert_true(dp_numel(&out[0]) <= MAXN);
        memcpy(got, out[0].data, (size_t)dp_numel(&out[0]) * sizeof(float));
        dp_tensor f = out[0];
        f.data = got;
        assert_int_equal(call("Einsum", 12, INS(&DA, &DB), out, 1,
                              ATTRS(ASTR("equation", cases[c].eq))),
                         DP_OK);
        assert_int_equal(f.rank, out[0].rank);
        for (int d = 0; d < f.rank; d++)
            assert_int_equal(f.dims[d], out[0].dims[d]);
        expect_near(&f, out[0].data, dp_numel(&out[0]));
    }
}

static void einsum_rejects_bad_equations(void **state)
{
    dp_tensor A = {DP_DOUBLE, 2, {3, 4}, NULL}, B = {DP_DOUBLE, 2, {5, 6}, NULL}, out[1];
    expect_fail(call("Einsum", 12, INS(&A), out, 1, ATTRS(ASTR("equation", "ij,jk"))), DP_EINPUT,
                "2 operands");
    expect_fail(call("Einsum", 12, INS(&A), out, 1, ATTRS(ASTR("equation", "ijk"))), DP_EINPUT,
                "rank 2");
    expect_fail(call("Einsum", 12, INS(&A), out, 1, ATTRS(ASTR("equation", "i-j"))), DP_EINPUT,
                "invalid character");
    expect_fail(call("Einsum", 12, INS(&A), out, 1, ATTRS(ASTR("equation", "ij->k"))), DP_EINPUT,
                "on no input");
    expect_fail(call("Einsum", 12, INS(&A), out, 1, ATTRS(ASTR("equation", "ij->ii"))), DP_EINPUT,
                "repeated");
    expect_fail(call("Einsum", 12, INS(&A), out, 1, ATTRS(ASTR("equation", "...i->i"))), DP_EINPUT,
                "must include '...'");
    expect_fail(call("Einsum", 12, INS(&A), out, 1, ATTRS(ASTR("equation", "i..j"))), DP_EINPUT,
                "malformed");
    expect_fail(call("Einsum", 12, INS(&A, &B), out, 1, ATTRS(ASTR("equation", "ij,jk"))),
                DP_EINPUT, "has size 5");
    expect_fail(call("Einsum", 12, INS(&A), out, 1, NO_ATTRS), DP_EINPUT, "'equation' is missing");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sgemm_matches_naive),
        cmocka_unit_test(sgemm_column_does_not_depend_on_width),
        cmocka_unit_test(weight_panels_only_inside_the_blob),
        cmocka_unit_test(weight_panels_keep_to_their_budget),
        cmocka_unit_test(conv_groups_pads_strides_dilations),
        cmocka_unit_test(conv_depthwise),
        cmocka_unit_test(conv_depthwise_stride1),
        cmocka_unit_test(conv_depthwise_edges_stay_apart),
        cmocka_unit_test(conv_depthwise_planes_bit_for_bit),
        cmocka_unit_test(conv_pointwise),
        cmocka_unit_test(conv_auto_pad),
        cmocka_unit_test(conv_1d_and_3d),
        cmocka_unit_test(conv_chunked),
        cmocka_unit_test(conv_rejects_bad_input),
        cmocka_unit_test(conv_empty_batch),
        cmocka_unit_test(convtranspose_groups_pads),
        cmocka_unit_test(convtranspose_output_shape),
        cmocka_unit_test(convtranspose_rejects_bad_input),
        cmocka_unit_test(conv_matches_definition),
        cmocka_unit_test(convtranspose_matches_definition),
        cmocka_unit_test(maxpool_with_indices),
        cmocka_unit_test(avgpool_count_include_pad),
        cmocka_unit_test(pools_auto_pad_1d_3d),
        cmocka_unit_test(global_pools_and_uint8),
        cmocka_unit_test(maxpool_propagates_nan),
        cmocka_unit_test(pools_reject_bad_input),
        cmocka_unit_test(pools_match_definition),
        cmocka_unit_test(batchnorm_inference_and_training),
        cmocka_unit_test(batchnorm_non_spatial),
        cmocka_unit_test(instancenorm_and_lrn),
        cmocka_unit_test(layernorm),
        cmocka_unit_test(gemm_attributes_and_bias),
        cmocka_unit_test(matmul_broadcasting),
        cmocka_unit_test(einsum_equations),
        cmocka_unit_test(einsum_float_matches_double),
        cmocka_unit_test(einsum_rejects_bad_equations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
