/*
 * test_kernels_quant.c: the quantisation family (QuantizeLinear, DequantizeLinear,
 * DynamicQuantizeLinear, ConvInteger, QLinearConv, MatMulInteger, QLinearMatMul) on inputs an
 * ONNX file may carry but no reference accepts: every bad scale, zero point, axis and dtype
 * must be a named error, never a crash or a silent result. Their values are checked against
 * the ONNX backend suite and onnxruntime (testsuite/data/quant, tools/make_quant_cases.py);
 * here only the contracts ONNX leaves open are: NaN quantises to the zero point, and an
 * all-zero input of DynamicQuantizeLinear keeps a scale of 1 (onnxruntime's choice, which
 * testsuite/data/quant checks too).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "dp_op.h"

#define AINT(nm, v) ((dp_attr){.name = (nm), .kind = DP_ATTR_INT, .i = (v)})
#define ATTRS(...) (dp_attr[]){__VA_ARGS__}, sizeof((dp_attr[]){__VA_ARGS__}) / sizeof(dp_attr)
#define NO_ATTRS NULL, 0
#define INS(...)                                                                             \
    (dp_tensor *[]){__VA_ARGS__}, sizeof((dp_tensor *[]){__VA_ARGS__}) / sizeof(dp_tensor *)

#include "kernel_harness.h"

static void expect_fail(dp_status got, dp_status want, const char *text)
{
    assert_int_equal(got, want);
    if (!strstr(err.msg, text))
        fail_msg("message '%s' lacks '%s'", err.msg, text);
}

static float xs[12] = {0.5f, -1.0f, 2.0f, 3.0f, 0.25f, -0.5f, 1.0f, 4.0f, -2.0f, 0.0f, 1.5f, 6.0f};
static uint8_t u8s[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static void quantize_rejects_bad_scales(void **state)
{
    (void)state;
    float bad[] = {0.0f, -0.5f, NAN, INFINITY};
    const char *names[] = {"is 0", "is -0.5", "is nan", "is inf"};
    dp_tensor x = {DP_FLOAT, 2, {3, 4}, xs}, out[1];
    for (int i = 0; i < 4; i++) {
        dp_tensor s = {DP_FLOAT, 0, {0}, &bad[i]};
        expect_fail(call("QuantizeLinear", 13, INS(&x, &s), out, 1, NO_ATTRS), DP_EINPUT,
                    names[i]);
        expect_fail(call("DequantizeLinear", 13, INS(&(dp_tensor){DP_UINT8, 2, {3, 4}, u8s}, &s),
                         out, 1, NO_ATTRS), DP_EINPUT, "finite and positive");
    }
    /* one bad value among per-axis scales; and a scale only known when the node runs, which
     * the kernel checks as it starts */
    float axis_bad[] = {1.0f, 0.5f, 0.0f};
    dp_tensor s3 = {DP_FLOAT, 1, {3}, axis_bad};
    expect_fail(call("QuantizeLinear", 13, INS(&x, &s3), out, 1, ATTRS(AINT("axis", 0))),
                DP_EINPUT, "y_scale's value is 0");
}

static void quantize_rejects_bad_shapes(void **state)
{
    (void)state;
    float s1 = 0.5f, s4[] = {1, 2, 3, 4}, s3[] = {1, 2, 3};
    uint8_t z3[] = {0, 0, 0};
    dp_tensor x = {DP_FLOAT, 2, {3, 4}, xs}, out[1];
    dp_tensor scale4 = {DP_FLOAT, 1, {4}, s4}, scale3 = {DP_FLOAT, 1, {3}, s3};
    /* axis 1 (the default) has 4 elements, not 3 */
    expect_fail(call("QuantizeLinear", 13, INS(&x, &scale3), out, 1, NO_ATTRS), DP_EINPUT,
                "y_scale has 3 values, the input [3x4] 4 along axis 1");
    expect_fail(call("QuantizeLinear", 13, INS(&x, &scale4), out, 1, ATTRS(AINT("axis", 2))),
                DP_EINPUT, "axis 2 is outside [-2, 1]");
    expect_fail(call("QuantizeLinear", 13, INS(&x, &scale4), out, 1, ATTRS(AINT("axis", -3))),
                DP_EINPUT, "axis -3 is outside");
    /* opset 10 has no per-axis form */
    expect_fail(call("QuantizeLinear", 10, INS(&x, &scale4), out, 1, NO_ATTRS), DP_EINPUT,
                "y_scale has shape [4], expected one value");
    /* the zero point is checked as the scale is */
    dp_tensor z = {DP_UINT8, 1, {3}, z3};
    expect_fail(call("QuantizeLinear", 13, INS(&x, &(dp_tensor){DP_FLOAT, 0, {0}, &s1}, &z), out,
                     1, NO_ATTRS), DP_EINPUT, "y_zero_point has 3 values, the input [3x4] 4");
    expect_fail(call("QuantizeLinear", 13, INS(&x, &scale4, &z), out, 1, NO_ATTRS), DP_EINPUT,
                "y_zero_point has 3 values");
    expect_fail(call("QuantizeLinear", 10, INS(&x, &(dp_tensor){DP_FLOAT, 0, {0}, &s1}, &z), out,
                     1, NO_ATTRS), DP_EINPUT, "y_zero_point has shape [3], expected one value");
    dp_tensor s2d = {DP_FLOAT, 2, {1, 4}, s4};
    expect_fail(call("QuantizeLinear", 13, INS(&x, &s2d), out, 1, NO_ATTRS), DP_EUNSUPPORTED,
                "y_scale has shape [1x4]");
}

static void quantize_rejects_bad_dtypes(void **state)
{
    (void)state;
    float s = 0.5f;
    double xd[12] = {0};
    int64_t si = 1;
    int8_t zi = 0;
    dp_tensor scale = {DP_FLOAT, 0, {0}, &s}, out[1];
    dp_tensor u = {DP_UINT8, 2, {3, 4}, u8s}, zs8 = {DP_INT8, 0, {0}, &zi};
    expect_fail(call("QuantizeLinear", 13, INS(&(dp_tensor){DP_DOUBLE, 2, {3, 4}, xd}, &scale),
                     out, 1, NO_ATTRS), DP_EUNSUPPORTED, "x is double");
    expect_fail(call("QuantizeLinear", 13,
                     INS(&(dp_tensor){DP_FLOAT, 2, {3, 4}, xs}, &scale,
                         &(dp_tensor){DP_INT32, 0, {0}, &si}),
                     out, 1, NO_ATTRS), DP_EUNSUPPORTED, "y_zero_point is int32");
    expect_fail(call("DequantizeLinear", 13, INS(&u, &scale, &zs8), out, 1, NO_ATTRS),
                DP_EINPUT, "x_zero_point is int8, expected uint8");
    expect_fail(call("DequantizeLinear", 13, INS(&u, &(dp_tensor){DP_INT64, 0, {0}, &si}), out,
                     1, NO_ATTRS), DP_EINPUT, "x_scale is int64, expected float");
}

/* NaN has no place on the grid: it takes the zero point, as 0 would; infinities saturate. */
static void quantize_nan_and_infinity(void **state)
{
    (void)state;
    float x[] = {NAN, INFINITY, -INFINITY, 1e30f}, s = 0.25f;
    int8_t z = -3;
    dp_tensor out[3];
    assert_int_equal(call("QuantizeLinear", 13,
                          INS(&(dp_tensor){DP_FLOAT, 1, {4}, x}, &(dp_tensor){DP_FLOAT, 0, {0}, &s},
                              &(dp_tensor){DP_INT8, 0, {0}, &z}),
                          out, 1, NO_ATTRS), DP_OK);
    const int8_t *y = out[0].data;
    assert_int_equal(out[0].dtype, DP_INT8);
    assert_int_equal(y[0], -3);
    assert_int_equal(y[1], 127);
    assert_int_equal(y[2], -128);
    assert_int_equal(y[3], 127);
    /* DynamicQuantizeLinear: an all-zero input keeps scale 1; NaN takes no part in the range */
    float zeros[3] = {0}, with_nan[] = {NAN, -1.0f, 1.0f};
    assert_int_equal(call("DynamicQuantizeLinear", 11, INS(&(dp_tensor){DP_FLOAT, 1, {3}, zeros}),
                          out, 3, NO_ATTRS), DP_OK);
    assert_true(*(float *)out[1].data == 1.0f);
    assert_int_equal(*(uint8_t *)out[2].data, 0);
    assert_int_equal(call("DynamicQuantizeLinear", 11,
                          INS(&(dp_tensor){DP_FLOAT, 1, {3}, with_nan}), out, 3, NO_ATTRS), DP_OK);
    assert_true(*(float *)out[1].data == 2.0f / 255.0f);
}

static void qlinear_conv_rejects_bad_parameters(void **state)
{
    (void)state;
    uint8_t xq[1 * 2 * 3 * 3] = {0}, wq[4 * 2 * 1 * 1] = {0}, zu = 0;
    float one = 1.0f, two[] = {1, 1}, four[] = {1, 1, 1, 1};
    int64_t b64[4] = {0};
    dp_tensor x = {DP_UINT8, 4, {1, 2, 3, 3}, xq}, w = {DP_UINT8, 4, {4, 2, 1, 1}, wq};
    dp_tensor s = {DP_FLOAT, 0, {0}, &one}, z = {DP_UINT8, 0, {0}, &zu}, out[1];
    dp_tensor s2 = {DP_FLOAT, 1, {2}, two}, s4 = {DP_FLOAT, 1, {4}, four};
    assert_int_equal(call("QLinearConv", 10, INS(&x, &s, &z, &w, &s4, &z, &s, &z), out, 1,
                          NO_ATTRS), DP_OK);
    /* one w_scale per output channel (4), not per input channel */
    expect_fail(call("QLinearConv", 10, INS(&x, &s, &z, &w, &s2, &z, &s, &z), out, 1, NO_ATTRS),
                DP_EINPUT, "w_scale has 2 values, the input [4x2x1x1] 4 along axis 0");
    /* x's scale is per tensor */
    expect_fail(call("QLinearConv", 10, INS(&x, &s2, &z, &w, &s, &z, &s, &z), out, 1, NO_ATTRS),
                DP_EINPUT, "x_scale has shape [2], expected one value");
    expect_fail(call("QLinearConv", 10,
                     INS(&x, &s, &z, &w, &s, &z, &s, &z, &(dp_tensor){DP_INT64, 1, {4}, b64}),
                     out, 1, NO_ATTRS), DP_EINPUT, "B is int64, expected int32");
    dp_tensor xf = {DP_FLOAT, 4, {1, 2, 3, 3}, NULL};
    expect_fail(call("ConvInteger", 10, INS(&xf, &w), out, 1, NO_ATTRS), DP_EUNSUPPORTED,
                "x is float, expected uint8 or int8");
    dp_tensor w3 = {DP_UINT8, 4, {4, 3, 1, 1}, wq};
    expect_fail(call("ConvInteger", 10, INS(&x, &w3), out, 1, NO_ATTRS), DP_EINPUT,
                "input channels");
}

static void integer_matmul_rejects_bad_parameters(void **state)
{
    (void)state;
    uint8_t aq[6] = {0}, bq[12] = {0}, zq[4] = {0};
    float one = 1.0f, zero = 0.0f;
    dp_tensor a = {DP_UINT8, 2, {2, 3}, aq}, b = {DP_UINT8, 2, {3, 4}, bq}, out[1];
    dp_tensor za2 = {DP_UINT8, 1, {2}, zq}, za3 = {DP_UINT8, 1, {3}, zq};
    dp_tensor zb4 = {DP_UINT8, 1, {4}, zq}, zb2d = {DP_UINT8, 2, {1, 4}, zq};
    /* a per row, b per column */
    assert_int_equal(call("MatMulInteger", 10, INS(&a, &b, &za2, &zb4), out, 1, NO_ATTRS), DP_OK);
    expect_fail(call("MatMulInteger", 10, INS(&a, &b, &za3), out, 1, NO_ATTRS), DP_EINPUT,
                "a_zero_point has 3 values, the input [2x3] 2 along axis 0");
    expect_fail(call("MatMulInteger", 10, INS(&a, &b, &za2, &za3), out, 1, NO_ATTRS), DP_EINPUT,
                "b_zero_point has 3 values");
    expect_fail(call("MatMulInteger", 10, INS(&a, &b, &za2, &zb2d), out, 1, NO_ATTRS),
                DP_EUNSUPPORTED, "b_zero_point has shape [1x4]");
    expect_fail(call("MatMulInteger", 10, INS(&b, &a), out, 1, NO_ATTRS), DP_EINPUT,
                "inner dimensions 4 and 2");
    /* a 1-D A has no rows to give zero points */
    dp_tensor a1 = {DP_UINT8, 1, {3}, aq};
    expect_fail(call("MatMulInteger", 10, INS(&a1, &b, &za3), out, 1, NO_ATTRS), DP_EINPUT,
                "a_zero_point has shape [3], expected one value");
    dp_tensor s = {DP_FLOAT, 0, {0}, &one}, s0 = {DP_FLOAT, 0, {0}, &zero};
    dp_tensor z = {DP_UINT8, 0, {0}, zq};
    assert_int_equal(call("QLinearMatMul", 10, INS(&a, &s, &z, &b, &s, &z, &s, &z), out, 1,
                          NO_ATTRS), DP_OK);
    expect_fail(call("QLinearMatMul", 10, INS(&a, &s, &z, &b, &s, &z, &s0, &z), out, 1, NO_ATTRS),
                DP_EINPUT, "y_scale is 0");
    int32_t z32 = 0;
    expect_fail(call("QLinearMatMul", 10,
                     INS(&a, &s, &z, &b, &s, &z, &s, &(dp_tensor){DP_INT32, 0, {0}, &z32}), out,
                     1, NO_ATTRS), DP_EUNSUPPORTED, "y_zero_point is int32");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quantize_rejects_bad_scales),
        cmocka_unit_test(quantize_rejects_bad_shapes),
        cmocka_unit_test(quantize_rejects_bad_dtypes),
        cmocka_unit_test(quantize_nan_and_infinity),
        cmocka_unit_test(qlinear_conv_rejects_bad_parameters),
        cmocka_unit_test(integer_matmul_rejects_bad_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
