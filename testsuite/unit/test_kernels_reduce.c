/*
 * test_kernels_reduce.c: the reduce family (Reduce*, ArgMax/ArgMin, Softmax/LogSoftmax/
 * Hardmax, CumSum, TopK) called through dp_op_find and dp_node_types_infer, as the
 * executor calls them. Expected values come from numpy (/usr/bin/python3, numpy 1.24)
 * unless a comment says otherwise.
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
#define AINTS(nm, ...)                                                                       \
    ((dp_attr){.name = (nm), .kind = DP_ATTR_INTS, .ints = (const int64_t[]){__VA_ARGS__},    \
               .n = sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)})


#include "kernel_harness.h"

static void expect_shape(const dp_tensor *t, int rank, const int64_t *dims)
{
    assert_int_equal(t->rank, rank);
    for (int i = 0; i < rank; i++)
        assert_int_equal(t->dims[i], dims[i]);
}

/* Within float32 rounding of the 7 significant digits the references are printed with. */
static void expect_near(const dp_tensor *t, const double *want, int64_t n)
{
    assert_int_equal(dp_numel(t), n);
    for (int64_t i = 0; i < n; i++) {
        double got = dp_load_f64(t->data, t->dtype, i);
        if (isinf(want[i]) || isnan(want[i])) {
            assert_true(isnan(want[i]) ? isnan(got) : got == want[i]);
            continue;
        }
        if (fabs(got - want[i]) > 1e-6 + 2e-6 * fabs(want[i]))
            fail_msg("element %lld: got %.9g, want %.9g", (long long)i, got, want[i]);
    }
}

static void expect_i64(const dp_tensor *t, const int64_t *want, int64_t n)
{
    assert_int_equal(dp_numel(t), n);
    for (int64_t i = 0; i < n; i++)
        assert_int_equal(dp_load_i64(t->data, t->dtype, i), want[i]);
}

#define SHAPE(t, ...)                                                                        \
    expect_shape(t, sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), (int64_t[]){__VA_ARGS__})
#define NEAR(t, ...)                                                                         \
    expect_near(t, (double[]){__VA_ARGS__}, sizeof((double[]){__VA_ARGS__}) / sizeof(double))
#define EXACT(t, ...)                                                                        \
    expect_i64(t, (int64_t[]){__VA_ARGS__}, sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

/* np.round(np.random.default_rng(7).uniform(-3, 3, (2, 3, 4)), 2).astype(np.float32) */
static float X[24] = {0.75f,  2.38f,  1.65f,  -1.65f, -1.2f,  2.24f,  -2.97f, 1.93f,
                      1.78f,  -0.19f, -1.18f, -1.33f, -1.47f, -0.33f, 0.03f,  0.32f,
                      2.97f,  1.76f,  0.73f,  2.93f,  -1.71f, -2.04f, 0.68f,  -2.74f};
static dp_tensor x234(void) { return (dp_tensor){DP_FLOAT, 3, {2, 3, 4}, X}; }

/* Each reduce op over axes (0, 2) of X with keepdims=0, e.g. np.sum(np.abs(x), axis=(0, 2)). */
static void reduce_ops_match_numpy(void **state)
{
    static const struct {
        const char *op;
        double want[3];
    } cases[] = {
        {"ReduceL1", {8.58, 16.73, 11.65}},
        {"ReduceL2", {3.747666, 6.327693, 4.628337}},
        {"ReduceLogSumExp", {3.076269, 4.139038, 2.269846}},
        {"ReduceMax", {2.38, 2.97, 1.78}},
        {"ReduceMean", {0.21, 1.04875, -0.84125}},
        {"ReduceMin", {-1.65, -2.97, -2.74}},
        {"ReduceProd", {-0.02263125, 172.2672, 3.449793}},
        {"ReduceSum", {1.68, 8.39, -6.73}},
        {"ReduceSumSquare", {14.045, 40.0397, 21.4215}},
    };
    dp_tensor x = x234(), out[1];
    dp_attr a[] = {AINTS("axes", 0, 2), AINT("keepdims", 0)};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(call(cases[i].op, 11, (dp_tensor *[]){&x}, 1, out, 1, a, 2), DP_OK);
        SHAPE(&out[0], 3);
        expect_near(&out[0], cases[i].want, 3);
    }
    /* np.log(np.sum(np.abs(x), axis=(0, 2))), from the absolute values */
    float ax[24];
    for (int i = 0; i < 24; i++)
        ax[i] = fabsf(X[i]);
    dp_tensor xa = {DP_FLOAT, 3, {2, 3, 4}, ax};
    assert_int_equal(call("ReduceLogSum", 11, (dp_tensor *[]){&xa}, 1, out, 1, a, 2), DP_OK);
    NEAR(&out[0], 2.149434, 2.817204, 2.455306);
}

/* np.sum(x, axis=1, keepdims=True), np.sum(x, axis=-1), np.sum(x) */
static void reduce_sum_axes_attribute_then_input(void **state)
{
    dp_tensor x = x234(), out[1];
    assert_int_equal(call("ReduceSum", 11, (dp_tensor *[]){&x}, 1, out, 1,
                          (dp_attr[]){AINTS("axes", 1)}, 1), DP_OK);
    SHAPE(&out[0], 2, 1, 4);
    NEAR(&out[0], 1.33, 4.43, -2.5, -1.05, -0.21, -0.61, 1.44, 0.51);

    /* opset 13: axes is an input and the attribute is no longer read */
    int64_t axes[] = {-1};
    dp_tensor t_axes = {DP_INT64, 1, {1}, axes};
    assert_int_equal(call("ReduceSum", 13, (dp_tensor *[]){&x, &t_axes}, 2, out, 1,
                          (dp_attr[]){AINT("keepdims", 0)}, 1), DP_OK);
    SHAPE(&out[0], 2, 3);
    NEAR(&out[0], 3.13, 0, -0.92, -1.45, 8.39, -5.81);

    /* an axes input before opset 13 is a malformed node */
    assert_int_equal(call("ReduceSum", 11, (dp_tensor *[]){&x, &t_axes}, 2, out, 1, NULL, 0),
                     DP_EINPUT);

    /* no axes: everything, keepdims default 1 */
    assert_int_equal(call("ReduceSum", 13, (dp_tensor *[]){&x}, 1, out, 1, NULL, 0), DP_OK);
    SHAPE(&out[0], 1, 1, 1);
    NEAR(&out[0], 3.34);

    /* unknown axes at compile time: the shape is dynamic */
    dp_tensor unknown = {DP_INT64, 1, {1}, NULL};
    assert_int_equal(call("ReduceSum", 13, (dp_tensor *[]){&x, &unknown}, 2, out, 1, NULL, 0),
                     DP_DYNAMIC);
}

/* noop_with_empty_axes=1 with an empty axes input returns the input (ONNX ReduceSum-13). */
static void reduce_sum_noop_with_empty_axes(void **state)
{
    dp_tensor x = x234(), out[1];
    dp_tensor none = {DP_INT64, 1, {0}, (int64_t[]){0}};
    assert_int_equal(call("ReduceSum", 13, (dp_tensor *[]){&x, &none}, 2, out, 1,
                          (dp_attr[]){AINT("noop_with_empty_axes", 1)}, 1), DP_OK);
    SHAPE(&out[0], 2, 3, 4);
    assert_memory_equal(out[0].data, X, sizeof X);
    /* and without the flag, an empty axes list reduces everything */
    assert_int_equal(call("ReduceSum", 13, (dp_tensor *[]){&x, &none}, 2, out, 1,
                          (dp_attr[]){AINT("keepdims", 0)}, 1), DP_OK);
    SHAPE(&out[0]);
    NEAR(&out[0], 3.34);
}

/* Reductions over an empty set: the values ONNX's opset-18 test_reduce_*_empty_set expect
 * (sum 0, prod 1, max -inf, min +inf, L1/L2 0, log-sums -inf); mean is numpy's 0/0. */
static void reduce_empty_set(void **state)
{
    static const struct {
        const char *op;
        double want;
    } cases[] = {
        {"ReduceSum", 0},          {"ReduceProd", 1},        {"ReduceMax", -INFINITY},
        {"ReduceMin", INFINITY},   {"ReduceL1", 0},          {"ReduceL2", 0},
        {"ReduceSumSquare", 0},    {"ReduceLogSum", -INFINITY},
        {"ReduceLogSumExp", -INFINITY}, {"ReduceMean", NAN},
    };
    float none[1];
    dp_tensor x = {DP_FLOAT, 3, {2, 0, 3}, none}, out[1];
    dp_attr a[] = {AINTS("axes", 1)};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(call(cases[i].op, 12, (dp_tensor *[]){&x}, 1, out, 1, a, 1), DP_OK);
        SHAPE(&out[0], 2, 1, 3);
        double want[6];
        for (int j = 0; j < 6; j++)
            want[j] = cases[i].want;
        expect_near(&out[0], want, 6);
    }
    /* every axis of an empty tensor: np.sum(np.zeros((2, 0, 3))) = 0 */
    assert_int_equal(call("ReduceSum", 13, (dp_tensor *[]){&x}, 1, out, 1,
                          (dp_attr[]){AINT("keepdims", 0)}, 1), DP_OK);
    SHAPE(&out[0]);
    NEAR(&out[0], 0);
    /* an empty kept dim: an empty output */
    assert_int_equal(call("ReduceMax", 13, (dp_tensor *[]){&x}, 1, out, 1,
                          (dp_attr[]){AINTS("axes", 2)}, 1), DP_OK);
    SHAPE(&out[0], 2, 0, 1);
    /* from opset 13 ReduceSum's axes are an input: an axes attribute is malformed */
    assert_int_equal(call("ReduceSum", 13, (dp_tensor *[]){&x}, 1, out, 1, a, 1), DP_EINPUT);
}

/* Integers accumulate exactly: 2^62 + (2^62 - 1) - 2^62 wraps nothing in int64; ReduceMax
 * of an empty int32 set is INT32_MIN; uint64 compares as unsigned. */
static void reduce_integers_exact(void **state)
{
    int64_t v[] = {INT64_C(1) << 62, (INT64_C(1) << 62) - 1, -(INT64_C(1) << 62)};
    dp_tensor x = {DP_INT64, 1, {3}, v}, out[1];
    assert_int_equal(call("ReduceSum", 11, (dp_tensor *[]){&x}, 1, out, 1, NULL, 0), DP_OK);
    assert_int_equal(out[0].dtype, DP_INT64);
    EXACT(&out[0], (INT64_C(1) << 62) - 1);

    uint64_t u[] = {1, (UINT64_C(1) << 63) + 5, 7};
    dp_tensor xu = {DP_UINT64, 1, {3}, u};
    assert_int_equal(call("ReduceMax", 11, (dp_tensor *[]){&xu}, 1, out, 1, NULL, 0), DP_OK);
    assert_true(*(uint64_t *)out[0].data == (UINT64_C(1) << 63) + 5);
    assert_int_equal(call("ReduceMin", 11, (dp_tensor *[]){&xu}, 1, out, 1, NULL, 0), DP_OK);
    assert_true(*(uint64_t *)out[0].data == 1);

    int32_t w[] = {7, -3, 5, 4};
    dp_tensor xi = {DP_INT32, 2, {2, 2}, w};
    /* np.mean([[7, -3], [5, 4]], axis=1).astype(np.int32) -> [2, 4] (truncation) */
    assert_int_equal(call("ReduceMean", 11, (dp_tensor *[]){&xi}, 1, out, 1,
                          (dp_attr[]){AINTS("axes", 1), AINT("keepdims", 0)}, 2), DP_OK);
    EXACT(&out[0], 2, 4);
    dp_tensor empty = {DP_INT32, 2, {2, 0}, w};
    assert_int_equal(call("ReduceMax", 12, (dp_tensor *[]){&empty}, 1, out, 1,
                          (dp_attr[]){AINTS("axes", 1)}, 1), DP_OK);
    EXACT(&out[0], INT32_MIN, INT32_MIN);
}

/* Rows longer than the kernel's chunk, reduced and kept. x = np.arange(15000,
 * dtype=np.float32).reshape(3, 5000): x.sum(0)[[0, 4095, 4096, 4999]], x.sum(),
 * x.mean(1). */
static void reduce_long_rows(void **state)
{
    static float v[15000];
    for (int i = 0; i < 15000; i++)
        v[i] = (float)i;
    dp_tensor x = {DP_FLOAT, 2, {3, 5000}, v}, out[1];
    assert_int_equal(call("ReduceSum", 11, (dp_tensor *[]){&x}, 1, out, 1,
                          (dp_attr[]){AINTS("axes", 0), AINT("keepdims", 0)}, 2), DP_OK);
    SHAPE(&out[0], 5000);
    const float *y = out[0].data;
    expect_near(&(dp_tensor){DP_FLOAT, 1, {4}, (float[]){y[0], y[4095], y[4096], y[4999]}},
                (double[]){15000, 27285, 27288, 29997}, 4);
    assert_int_equal(call("ReduceSum", 11, (dp_tensor *[]){&x}, 1, out, 1, NULL, 0), DP_OK);
    NEAR(&out[0], 112492500);
    assert_int_equal(call("ReduceMean", 11, (dp_tensor *[]){&x}, 1, out, 1,
                          (dp_attr[]){AINTS("axes", 1)}, 1), DP_OK);
    NEAR(&out[0], 2499.5, 7499.5, 12499.5);
}

static void reduce_rejects_bad_axes_and_dtypes(void **state)
{
    dp_tensor x = x234(), out[1];
    assert_int_equal(call("ReduceMean", 11, (dp_tensor *[]){&x}, 1, out, 1,
                          (dp_attr[]){AINTS("axes", 1, -2)}, 1), DP_EINPUT);
    assert_non_null(strstr(err.msg, "repeated"));
    assert_int_equal(call("ReduceMean", 11, (dp_tensor *[]){&x}, 1, out, 1,
                          (dp_attr[]){AINTS("axes", 3)}, 1), DP_EINPUT);
    assert_non_null(strstr(err.msg, "out of range"));
    uint8_t b[2] = {1, 0};
    dp_tensor xb = {DP_BOOL, 1, {2}, b};
    assert_int_equal(call("ReduceSum", 11, (dp_tensor *[]){&xb}, 1, out, 1, NULL, 0),
                     DP_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "bool"));
}

/* a = [[2,5,5,1],[7,0,7,7],[3,3,1,1]]: np.argmax(a, 1); select_last_index as
 * n - 1 - np.argmax(a[:, ::-1], 1); np.argmin(a, 0); likewise reversed. */
static void argmax_argmin_ties_and_last_index(void **state)
{
    float a[] = {2, 5, 5, 1, 7, 0, 7, 7, 3, 3, 1, 1};
    dp_tensor x = {DP_FLOAT, 2, {3, 4}, a}, out[1];
    assert_int_equal(call("ArgMax", 13, (dp_tensor *[]){&x}, 1, out, 1,
                          (dp_attr[]){AINT("axis", 1), AINT("keepdims", 0)}, 2), DP_OK);
    assert_int_equal(out[0].dtype, DP_INT64);
    SHAPE(&out[0], 3);
    EXACT(&out[0], 1, 0, 0);
    assert_int_equal(call("ArgMax", 13, (dp_tensor *[]){&x}, 1, out, 1,
                          (dp_attr[]){AINT("axis", -1), AINT("select_last_index", 1)}, 2),
                     DP_OK);
    SHAPE(&out[0], 3, 1);
    EXACT(&out[0], 2, 3, 1);
    assert_int_equal(call("ArgMin", 11, (dp_tensor *[]){&x}, 1, out, 1, NULL, 0), DP_OK);
    SHAPE(&out[0], 1, 4);
    EXACT(&out[0], 0, 1, 2, 0);
    assert_int_equal(call("ArgMin", 12, (dp_tensor *[]){&x}, 1, out, 1,
                          (dp_attr[]){AINT("axis", -2), AINT("select_last_index", 1),
                                      AINT("keepdims", 0)}, 3), DP_OK);
    EXACT(&out[0], 0, 1, 2, 2);
    assert_int_equal(call("ArgMax", 13, (dp_tensor *[]){&x}, 1, out, 1,
                          (dp_attr[]){AINT("axis", 2)}, 1), DP_EINPUT);
}

/*
 * Softmax with axis=1 on X (2x3x4): before opset 13 the input is flattened to 2x12, from
 * 13 only dim 1 is normalised. Reference: e = np.exp(v - v.max(axis, keepdims=True));
 * e / e.sum(axis, keepdims=True) on x.reshape(2, 12) and on x.
 */
static void softmax_opset11_vs_opset13(void **state)
{
    dp_tensor x = x234(), out[1];
    dp_attr a[] = {AINT("axis", 1)};
    assert_int_equal(call("Softmax", 11, (dp_tensor *[]){&x}, 1, out, 1, a, 1), DP_OK);
    SHAPE(&out[0], 2, 3, 4);
    NEAR(&out[0], 0.05006522, 0.2555266, 0.1231406, 0.004541814, 0.007122982, 0.2221442,
         0.001213279, 0.162931, 0.140236, 0.01955687, 0.007266877, 0.006254658, 0.004437615,
         0.0138754, 0.01988801, 0.02657889, 0.3761986, 0.1121814, 0.04004954, 0.3614477,
         0.003490752, 0.002509585, 0.0380963, 0.001246223);
    assert_int_equal(call("Softmax", 13, (dp_tensor *[]){&x}, 1, out, 1, a, 1), DP_OK);
    NEAR(&out[0], 0.2535921, 0.5139027, 0.9355713, 0.02614334, 0.03607959, 0.4467655,
         0.009217993, 0.937854, 0.7103283, 0.03933182, 0.05521073, 0.03600271, 0.01155247,
         0.107924, 0.2028688, 0.06827831, 0.97936, 0.8725563, 0.4085277, 0.9285203,
         0.009087495, 0.01951976, 0.3886035, 0.003201413);
    /* opset 13 default axis -1: the float32 last-axis fast path */
    assert_int_equal(call("Softmax", 13, (dp_tensor *[]){&x}, 1, out, 1, NULL, 0), DP_OK);
    NEAR(&out[0], 0.1155509, 0.5897573, 0.2842093, 0.01048254, 0.01810568, 0.5646613,
         0.003083995, 0.4141491, 0.8091422, 0.1128404, 0.04192888, 0.03608851, 0.06850296,
         0.2141929, 0.307009, 0.4102952, 0.4227534, 0.1260639, 0.04500569, 0.406177,
         0.0769857, 0.05534685, 0.840183, 0.02748443);
    /* the same in double, through the general path */
    double xd[24];
    for (int i = 0; i < 24; i++)
        xd[i] = X[i];
    dp_tensor x64 = {DP_DOUBLE, 3, {2, 3, 4}, xd};
    assert_int_equal(call("Softmax", 13, (dp_tensor *[]){&x64}, 1, out, 1, a, 1), DP_OK);
    assert_int_equal(out[0].dtype, DP_DOUBLE);
    NEAR(&out[0], 0.2535921, 0.5139027, 0.9355713, 0.02614334, 0.03607959, 0.4467655,
         0.009217993, 0.937854, 0.7103283, 0.03933182, 0.05521073, 0.03600271, 0.01155247,
         0.107924, 0.2028688, 0.06827831, 0.97936, 0.8725563, 0.4085277, 0.9285203,
         0.009087495, 0.01951976, 0.3886035, 0.003201413);
}

/* np.log of the softmaxes above. */
static void logsoftmax_opset11_vs_opset13(void **state)
{
    dp_tensor x = x234(), out[1];
    dp_attr a[] = {AINT("axis", 1)};
    assert_int_equal(call("LogSoftmax", 11, (dp_tensor *[]){&x}, 1, out, 1, a, 1), DP_OK);
    NEAR(&out[0], -2.994429, -1.364429, -2.094429, -5.394429, -4.944429, -1.504429, -6.714429,
         -1.814429, -1.964429, -3.934429, -4.924429, -5.074429, -5.417638, -4.277638,
         -3.917638, -3.627638, -0.977638, -2.187638, -3.217638, -1.017638, -5.657638,
         -5.987638, -3.267638, -6.687638);
    assert_int_equal(call("LogSoftmax", 13, (dp_tensor *[]){&x}, 1, out, 1, a, 1), DP_OK);
    NEAR(&out[0], -1.372028, -0.6657213, -0.06659795, -3.644161, -3.322028, -0.8057215,
         -4.686598, -0.06416104, -0.3420281, -3.235721, -2.896598, -3.324161, -4.460856,
         -2.226328, -1.595196, -2.684163, -0.02085595, -0.1363281, -0.8951957, -0.07416306,
         -4.700856, -3.936328, -0.9451957, -5.744163);
}

/* Large inputs must not overflow exp: the numpy reference above on [1000, 1001]. */
static void softmax_is_stable_and_handles_empty(void **state)
{
    float big[] = {1000, 1001};
    dp_tensor x = {DP_FLOAT, 2, {1, 2}, big}, out[1];
    assert_int_equal(call("Softmax", 13, (dp_tensor *[]){&x}, 1, out, 1, NULL, 0), DP_OK);
    NEAR(&out[0], 0.2689414, 0.7310586);
    assert_int_equal(call("LogSoftmax", 13, (dp_tensor *[]){&x}, 1, out, 1, NULL, 0), DP_OK);
    NEAR(&out[0], -1.313262, -0.3132617);
    dp_tensor empty = {DP_FLOAT, 2, {0, 3}, big};
    assert_int_equal(call("Softmax", 13, (dp_tensor *[]){&empty}, 1, out, 1, NULL, 0), DP_OK);
    SHAPE(&out[0], 0, 3);
    int32_t iv[2] = {1, 2};
    dp_tensor xi = {DP_INT32, 1, {2}, iv};
    assert_int_equal(call("Softmax", 13, (dp_tensor *[]){&xi}, 1, out, 1, NULL, 0),
                     DP_EUNSUPPORTED);
    assert_int_equal(call("Softmax", 13, (dp_tensor *[]){&x}, 1, out, 1,
                          (dp_attr[]){AINT("axis", 2)}, 1), DP_EINPUT);
}

/* h = [[[1,4,2],[4,0,3]],[[0,0,0],[9,1,9]]], axis 1: one-hot of np.argmax over h.reshape(2, 6)
 * (opset 11) and over dim 1 of h (opset 13), via np.put_along_axis. */
static void hardmax_opset11_vs_opset13(void **state)
{
    float h[] = {1, 4, 2, 4, 0, 3, 0, 0, 0, 9, 1, 9};
    dp_tensor x = {DP_FLOAT, 3, {2, 2, 3}, h}, out[1];
    dp_attr a[] = {AINT("axis", 1)};
    assert_int_equal(call("Hardmax", 11, (dp_tensor *[]){&x}, 1, out, 1, a, 1), DP_OK);
    NEAR(&out[0], 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0);
    assert_int_equal(call("Hardmax", 13, (dp_tensor *[]){&x}, 1, out, 1, a, 1), DP_OK);
    NEAR(&out[0], 0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 1, 1);
}

/* c = [[1,2,3],[4,5,6]] int32: np.cumsum(c, 1); exclusive as np.cumsum(c, 1) - c; reverse
 * as np.flip(np.cumsum(np.flip(c, 0), 0), 0); reverse exclusive likewise minus c. */
static void cumsum_exclusive_reverse(void **state)
{
    int32_t c[] = {1, 2, 3, 4, 5, 6};
    dp_tensor x = {DP_INT32, 2, {2, 3}, c}, out[1];
    dp_tensor ax1 = {DP_INT64, 0, {0}, (int64_t[]){1}};
    dp_tensor ax0 = {DP_INT32, 1, {1}, (int32_t[]){0}};
    dp_tensor axm1 = {DP_INT32, 0, {0}, (int32_t[]){-1}};
    assert_int_equal(call("CumSum", 14, (dp_tensor *[]){&x, &ax1}, 2, out, 1, NULL, 0), DP_OK);
    assert_int_equal(out[0].dtype, DP_INT32);
    EXACT(&out[0], 1, 3, 6, 4, 9, 15);
    assert_int_equal(call("CumSum", 14, (dp_tensor *[]){&x, &ax1}, 2, out, 1,
                          (dp_attr[]){AINT("exclusive", 1)}, 1), DP_OK);
    EXACT(&out[0], 0, 1, 3, 0, 4, 9);
    assert_int_equal(call("CumSum", 11, (dp_tensor *[]){&x, &ax0}, 2, out, 1,
                          (dp_attr[]){AINT("reverse", 1)}, 1), DP_OK);
    EXACT(&out[0], 5, 7, 9, 4, 5, 6);
    assert_int_equal(call("CumSum", 14, (dp_tensor *[]){&x, &axm1}, 2, out, 1,
                          (dp_attr[]){AINT("reverse", 1), AINT("exclusive", 1)}, 2), DP_OK);
    EXACT(&out[0], 5, 3, 0, 11, 6, 0);
    double cd[] = {1, 2, 3, 4, 5, 6};
    dp_tensor xd = {DP_DOUBLE, 2, {2, 3}, cd};
    assert_int_equal(call("CumSum", 14, (dp_tensor *[]){&xd, &ax1}, 2, out, 1, NULL, 0), DP_OK);
    NEAR(&out[0], 1, 3, 6, 4, 9, 15);
    dp_tensor ax2 = {DP_INT64, 0, {0}, (int64_t[]){2}};
    assert_int_equal(call("CumSum", 14, (dp_tensor *[]){&x, &ax2}, 2, out, 1, NULL, 0),
                     DP_EINPUT);
}

/* t = [3,1,3,2,3,1]: np.argsort(-t, kind='stable')[:3] = [0,2,4] and
 * np.argsort(t, kind='stable')[:3] = [1,5,3]: ties go to the lower index. */
static void topk_ties_and_opsets(void **state)
{
    float t[] = {3, 1, 3, 2, 3, 1};
    dp_tensor x = {DP_FLOAT, 1, {6}, t}, out[2];
    dp_tensor k3 = {DP_INT64, 1, {1}, (int64_t[]){3}};
    assert_int_equal(call("TopK", 11, (dp_tensor *[]){&x, &k3}, 2, out, 2, NULL, 0), DP_OK);
    assert_int_equal(out[0].dtype, DP_FLOAT);
    assert_int_equal(out[1].dtype, DP_INT64);
    SHAPE(&out[0], 3);
    NEAR(&out[0], 3, 3, 3);
    EXACT(&out[1], 0, 2, 4);
    assert_int_equal(call("TopK", 11, (dp_tensor *[]){&x, &k3}, 2, out, 2,
                          (dp_attr[]){AINT("largest", 0)}, 1), DP_OK);
    NEAR(&out[0], 1, 1, 2);
    EXACT(&out[1], 1, 5, 3);
    /* opset 1: k is an attribute */
    assert_int_equal(call("TopK", 1, (dp_tensor *[]){&x}, 1, out, 2,
                          (dp_attr[]){AINT("k", 3)}, 1), DP_OK);
    EXACT(&out[1], 0, 2, 4);
    /* k > dim, and k unknown at compile time */
    dp_tensor k7 = {DP_INT64, 1, {1}, (int64_t[]){7}};
    assert_int_equal(call("TopK", 10, (dp_tensor *[]){&x, &k7}, 2, out, 2, NULL, 0), DP_EINPUT);
    assert_non_null(strstr(err.msg, "k = 7"));
    dp_tensor kq = {DP_INT64, 1, {1}, NULL};
    assert_int_equal(call("TopK", 10, (dp_tensor *[]){&x, &kq}, 2, out, 2, NULL, 0), DP_DYNAMIC);

    /* t2 = [[4,1],[4,8],[9,8]] int64 along axis 0, k=2:
     * np.argsort(-t2, axis=0, kind='stable')[:2] = [[2,1],[0,2]], values [[9,8],[4,8]] */
    int64_t t2[] = {4, 1, 4, 8, 9, 8};
    dp_tensor x2 = {DP_INT64, 2, {3, 2}, t2};
    dp_tensor k2 = {DP_INT64, 1, {1}, (int64_t[]){2}};
    assert_int_equal(call("TopK", 11, (dp_tensor *[]){&x2, &k2}, 2, out, 2,
                          (dp_attr[]){AINT("axis", -2)}, 1), DP_OK);
    SHAPE(&out[0], 2, 2);
    EXACT(&out[0], 9, 8, 4, 8);
    EXACT(&out[1], 2, 1, 0, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reduce_ops_match_numpy),
        cmocka_unit_test(reduce_sum_axes_attribute_then_input),
        cmocka_unit_test(reduce_sum_noop_with_empty_axes),
        cmocka_unit_test(reduce_empty_set),
        cmocka_unit_test(reduce_integers_exact),
        cmocka_unit_test(reduce_long_rows),
        cmocka_unit_test(reduce_rejects_bad_axes_and_dtypes),
        cmocka_unit_test(argmax_argmin_ties_and_last_index),
        cmocka_unit_test(softmax_opset11_vs_opset13),
        cmocka_unit_test(logsoftmax_opset11_vs_opset13),
        cmocka_unit_test(softmax_is_stable_and_handles_empty),
        cmocka_unit_test(hardmax_opset11_vs_opset13),
        cmocka_unit_test(cumsum_exclusive_reverse),
        cmocka_unit_test(topk_ties_and_opsets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
