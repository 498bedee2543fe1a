/*
 * test_kernels_elementwise.c: the elementwise kernel family through the op registry and
 * the types/infer driver, as the runtime calls it.
 *
 * Unless a comment says otherwise, expected values were computed with numpy 1.24
 * (/usr/bin/python3) from the same inputs and pasted here: float32 results as numpy's
 * float64 evaluation of the formula in the ONNX spec, integers and bit patterns exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "dp_op.h"
#include "mt19937.h"

static dp_arena arena;
static dp_error err;

/* Runs op like the runtime: types and infer, then run on outputs it allocates unzeroed. */
static dp_status run(const char *name, int opset, const dp_attr *attrs, int n_attrs,
                     dp_tensor **in, int n_in, dp_tensor **out, int n_out)
{
    const dp_op_def *op = dp_op_find(name);
    assert_non_null(op);
    dp_error_clear(&err);
    dp_kctx k = {.node = "n", .op = name, .opset = opset, .attrs = attrs, .n_attrs = n_attrs,
                 .in = in, .n_in = n_in, .out = out, .n_out = n_out, .scratch = &arena,
                 .err = &err};
    dp_status st = dp_node_types_infer(op, &k);
    if (st != DP_OK)
        return st;
    for (int i = 0; i < n_out; i++) {
        size_t n = dp_nbytes(out[i]);
        out[i]->data = dp_arena_alloc(&arena, n + 1);
        memset(out[i]->data, 0xa5, n + 1);
    }
    st = op->run(&k);
    for (int i = 0; i < n_out; i++)
        assert_int_equal(((uint8_t *)out[i]->data)[dp_nbytes(out[i])], 0xa5); /* no overrun */
    return st;
}

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define RUN(name, opset, attrs, n_attrs, ins, outs) \
    run(name, opset, attrs, n_attrs, ins, N(ins), outs, N(outs))

static void expect_f32(const dp_tensor *t, const double *want, int n)
{
    assert_int_equal(t->dtype, DP_FLOAT);
    assert_int_equal(dp_numel(t), n);
    for (int i = 0; i < n; i++) {
        float got = ((const float *)t->data)[i];
        if (isnan(want[i]))
            assert_true(isnan(got));
        else if (fabs(got - want[i]) > 1e-6 * (1 + fabs(want[i])))
            fail_msg("element %d: got %.9g, want %.9g", i, got, want[i]);
    }
}

static void expect_i64(const dp_tensor *t, const int64_t *want, int n)
{
    assert_int_equal(dp_numel(t), n);
    for (int i = 0; i < n; i++)
        assert_int_equal(dp_load_i64(t->data, t->dtype, i), want[i]);
}

/* Raw bit patterns of a float16 or bfloat16 tensor. */
static void expect_u16(const dp_tensor *t, const uint16_t *want, int n)
{
    assert_int_equal(dp_numel(t), n);
    for (int i = 0; i < n; i++)
        assert_int_equal(((const uint16_t *)t->data)[i], want[i]);
}

static void expect_shape(const dp_tensor *t, int rank, const int64_t *dims)
{
    assert_int_equal(t->rank, rank);
    for (int i = 0; i < rank; i++)
        assert_int_equal(t->dims[i], dims[i]);
}

static dp_attr attr_i(const char *name, int64_t v)
{
    return (dp_attr){.name = name, .kind = DP_ATTR_INT, .i = v};
}

static dp_attr attr_f(const char *name, float v)
{
    return (dp_attr){.name = name, .kind = DP_ATTR_FLOAT, .f = v};
}

static int setup(void **state)
{
    dp_arena_init(&arena, 0);
    return 0;
}

static int teardown(void **state)
{
    dp_arena_free(&arena);
    return 0;
}

static void add_broadcasts_rows_and_scalars(void **state)
{
    dp_tensor a = {DP_FLOAT, 2, {2, 3}, (float[]){1.5, -2, 3, 4, 5.25, -6}};
    dp_tensor b = {DP_FLOAT, 1, {3}, (float[]){10, -20, 0.5}}, y;
    dp_tensor *in[] = {&a, &b}, *out[] = {&y};
    assert_int_equal(RUN("Add", 14, NULL, 0, in, out), DP_OK);
    expect_shape(&y, 2, (int64_t[]){2, 3});
    expect_f32(&y, (double[]){11.5, -22.0, 3.5, 14.0, -14.75, -5.5}, 6);

    /* x + 2.5 with x = arange(5) * 0.7 - 1 in float32 */
    dp_tensor x = {DP_FLOAT, 1, {5}, (float[]){-1.0f, -0.3f, 0.4f, 1.1f, 1.8f}};
    dp_tensor s = {DP_FLOAT, 0, {0}, (float[]){2.5}};
    dp_tensor *in2[] = {&s, &x};
    assert_int_equal(RUN("Add", 14, NULL, 0, in2, out), DP_OK);
    expect_f32(&y, (double[]){1.5, 2.200000047683716, 2.9000000953674316, 3.5999999046325684,
                              4.300000190734863}, 5);
}

static void mul_broadcasts_both_ways(void **state)
{
    dp_tensor a = {DP_FLOAT, 3, {2, 1, 3}, (float[]){1, 2, 3, 4, 5, 6}};
    dp_tensor b = {DP_FLOAT, 2, {4, 1}, (float[]){1, -1, 2, 0.5}}, y;
    dp_tensor *in[] = {&a, &b}, *out[] = {&y};
    assert_int_equal(RUN("Mul", 14, NULL, 0, in, out), DP_OK);
    expect_shape(&y, 3, (int64_t[]){2, 4, 3});
    expect_f32(&y, (double[]){1, 2, 3, -1, -2, -3, 2, 4, 6, 0.5, 1, 1.5,
                              4, 5, 6, -4, -5, -6, 8, 10, 12, 2, 2.5, 3}, 24);
}

static void broadcast_mismatch_and_empty(void **state)
{
    dp_tensor a = {DP_FLOAT, 1, {3}, (float[]){1, 2, 3}};
    dp_tensor b = {DP_FLOAT, 1, {4}, (float[]){1, 2, 3, 4}}, y;
    dp_tensor *in[] = {&a, &b}, *out[] = {&y};
    assert_int_equal(RUN("Sub", 14, NULL, 0, in, out), DP_EINPUT);
    assert_non_null(strstr(err.msg, "Sub node 'n'"));

    dp_tensor e = {DP_FLOAT, 2, {0, 3}, NULL};
    dp_tensor *in2[] = {&e, &a};
    assert_int_equal(RUN("Add", 14, NULL, 0, in2, out), DP_OK);
    expect_shape(&y, 2, (int64_t[]){0, 3});

    dp_tensor mixed = {DP_INT32, 1, {3}, (int32_t[]){1, 2, 3}};
    dp_tensor *in3[] = {&a, &mixed};
    assert_int_equal(RUN("Add", 14, NULL, 0, in3, out), DP_EINPUT);
}

/* Before opset 7: B aligned with A from axis when broadcast=1; PRelu's slope per channel. */
static void legacy_broadcast_before_opset_7(void **state)
{
    dp_tensor a = {DP_FLOAT, 2, {2, 3}, (float[]){1, 2, 3, 4, 5, 6}};
    dp_tensor b = {DP_FLOAT, 1, {2}, (float[]){10, 20}}, y;
    dp_tensor *in[] = {&a, &b}, *out[] = {&y};
    dp_attr attrs[] = {attr_i("broadcast", 1), attr_i("axis", 0)};
    assert_int_equal(RUN("Add", 6, attrs, 2, in, out), DP_OK);
    expect_shape(&y, 2, (int64_t[]){2, 3});
    expect_f32(&y, (double[]){11, 12, 13, 24, 25, 26}, 6);
    attrs[1].i = 2;
    assert_int_equal(RUN("Add", 6, attrs, 2, in, out), DP_EINPUT);

    dp_tensor x = {DP_FLOAT, 3, {2, 3, 2}, (float[]){-6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5}};
    dp_tensor s = {DP_FLOAT, 1, {3}, (float[]){0.5, 2, -1}};
    dp_tensor *in2[] = {&x, &s};
    assert_int_equal(RUN("PRelu", 6, NULL, 0, in2, out), DP_OK);
    expect_f32(&y, (double[]){-3, -2.5, -8, -6, 2, 1, 0, 1, 2, 3, 4, 5}, 12);
}

static void integer_arithmetic_wraps_and_truncates(void **state)
{
    dp_tensor a = {DP_UINT8, 1, {3}, (uint8_t[]){1, 2, 200}};
    dp_tensor b = {DP_UINT8, 1, {3}, (uint8_t[]){3, 1, 100}}, y;
    dp_tensor *in[] = {&a, &b}, *out[] = {&y};
    assert_int_equal(RUN("Sub", 14, NULL, 0, in, out), DP_OK);
    assert_int_equal(y.dtype, DP_UINT8);
    expect_i64(&y, (int64_t[]){254, 1, 100}, 3);

    /* numpy: trunc(a / b) in float64, then int32 (INT32_MIN / -1 wraps) */
    dp_tensor c = {DP_INT32, 1, {5}, (int32_t[]){7, -7, 7, -7, INT32_MIN}};
    dp_tensor d = {DP_INT32, 1, {5}, (int32_t[]){2, 2, -2, -2, -1}};
    dp_tensor *in2[] = {&c, &d};
    assert_int_equal(RUN("Div", 14, NULL, 0, in2, out), DP_OK);
    expect_i64(&y, (int64_t[]){3, -3, -3, 3, INT32_MIN}, 5);

    dp_tensor e = {DP_INT64, 1, {2}, (int64_t[]){INT64_MIN, 6}};
    dp_tensor f = {DP_INT64, 0, {0}, (int64_t[]){-1}};
    dp_tensor *in3[] = {&e, &f};
    assert_int_equal(RUN("Div", 14, NULL, 0, in3, out), DP_OK);
    expect_i64(&y, (int64_t[]){INT64_MIN, -6}, 2);
}

static void integer_division_by_zero_fails(void **state)
{
    dp_tensor a = {DP_INT32, 1, {2}, (int32_t[]){1, 2}};
    dp_tensor b = {DP_INT32, 1, {2}, (int32_t[]){1, 0}}, y;
    dp_tensor *in[] = {&a, &b}, *out[] = {&y};
    assert_int_equal(RUN("Div", 14, NULL, 0, in, out), DP_EINPUT);
    assert_non_null(strstr(err.msg, "division by zero"));
    assert_int_equal(RUN("Mod", 13, NULL, 0, in, out), DP_EINPUT);

    /* float division by zero is IEEE: inf */
    dp_tensor fa = {DP_FLOAT, 1, {1}, (float[]){1}}, fb = {DP_FLOAT, 1, {1}, (float[]){0}};
    dp_tensor *in2[] = {&fa, &fb};
    assert_int_equal(RUN("Div", 14, NULL, 0, in2, out), DP_OK);
    assert_true(isinf(((float *)y.data)[0]));
}

static void mod_follows_divisor_or_dividend(void **state)
{
    dp_tensor a = {DP_INT32, 1, {5}, (int32_t[]){7, -7, 7, -7, 5}};
    dp_tensor b = {DP_INT32, 1, {5}, (int32_t[]){3, 3, -3, -3, -1}}, y;
    dp_tensor *in[] = {&a, &b}, *out[] = {&y};
    assert_int_equal(RUN("Mod", 13, NULL, 0, in, out), DP_OK);
    expect_i64(&y, (int64_t[]){1, 2, -2, -1, 0}, 5); /* np.mod */
    dp_attr fmod = attr_i("fmod", 1);
    assert_int_equal(RUN("Mod", 13, &fmod, 1, in, out), DP_OK);
    expect_i64(&y, (int64_t[]){1, -1, 1, -1, 0}, 5); /* np.fmod */

    dp_tensor fa = {DP_FLOAT, 1, {4}, (float[]){5.5, -5.5, 5.5, -5.5}};
    dp_tensor fb = {DP_FLOAT, 1, {4}, (float[]){2, 2, -2, -2}};
    dp_tensor *in2[] = {&fa, &fb};
    assert_int_equal(RUN("Mod", 13, &fmod, 1, in2, out), DP_OK);
    expect_f32(&y, (double[]){1.5, -1.5, 1.5, -1.5}, 4);
    assert_int_equal(RUN("Mod", 13, NULL, 0, in2, out), DP_EINPUT); /* floats need fmod=1 */

    dp_tensor ua = {DP_UINT64, 1, {2}, (uint64_t[]){UINT64_MAX, 10}};
    dp_tensor ub = {DP_UINT64, 1, {2}, (uint64_t[]){10, 3}};
    dp_tensor *in3[] = {&ua, &ub};
    assert_int_equal(RUN("Mod", 13, NULL, 0, in3, out), DP_OK);
    expect_i64(&y, (int64_t[]){5, 1}, 2);
}

static void pow_same_and_mixed_types(void **state)
{
    dp_tensor a = {DP_FLOAT, 1, {4}, (float[]){2, 3, 0.5, 4}};
    dp_tensor b = {DP_FLOAT, 1, {4}, (float[]){3, 0.5, -2, 0}}, y;
    dp_tensor *in[] = {&a, &b}, *out[] = {&y};
    assert_int_equal(RUN("Pow", 15, NULL, 0, in, out), DP_OK);
    expect_f32(&y, (double[]){8.0, 1.732050895690918, 4.0, 1.0}, 4);

    /* np.power on int64 wraps: 3 ** 40 */
    dp_tensor ia = {DP_INT64, 1, {4}, (int64_t[]){2, -3, 7, 3}};
    dp_tensor ib = {DP_INT64, 1, {4}, (int64_t[]){10, 3, 0, 40}};
    dp_tensor *in2[] = {&ia, &ib};
    assert_int_equal(RUN("Pow", 15, NULL, 0, in2, out), DP_OK);
    expect_i64(&y, (int64_t[]){1024, -27, 1, -6289078614652622815}, 4);

    dp_tensor fa = {DP_FLOAT, 1, {3}, (float[]){1.5, 2, -2}};
    dp_tensor fe = {DP_INT64, 1, {3}, (int64_t[]){2, -1, 3}};
    dp_tensor *in3[] = {&fa, &fe};
    assert_int_equal(RUN("Pow", 15, NULL, 0, in3, out), DP_OK);
    expect_f32(&y, (double[]){2.25, 0.5, -8.0}, 3);

    /* np.power(int32, float32).astype(int32) */
    dp_tensor xa = {DP_INT32, 1, {3}, (int32_t[]){4, 9, 2}};
    dp_tensor xe = {DP_FLOAT, 1, {3}, (float[]){0.5, 0.5, 1.5}};
    dp_tensor *in4[] = {&xa, &xe};
    assert_int_equal(RUN("Pow", 15, NULL, 0, in4, out), DP_OK);
    assert_int_equal(y.dtype, DP_INT32);
    expect_i64(&y, (int64_t[]){2, 3, 2}, 3);
}

static void comparisons_give_bool(void **state)
{
    dp_tensor a = {DP_FLOAT, 2, {2, 3}, (float[]){1, 2, 3, 4, 5, 6}};
    dp_tensor b = {DP_FLOAT, 2, {2, 1}, (float[]){2, 5}}, y;
    dp_tensor *in[] = {&a, &b}, *out[] = {&y};
    assert_int_equal(RUN("Greater", 13, NULL, 0, in, out), DP_OK);
    assert_int_equal(y.dtype, DP_BOOL);
    expect_i64(&y, (int64_t[]){0, 0, 1, 0, 0, 1}, 6);
    assert_int_equal(RUN("LessOrEqual", 16, NULL, 0, in, out), DP_OK);
    expect_i64(&y, (int64_t[]){1, 1, 0, 1, 1, 0}, 6);

    dp_tensor c = {DP_INT64, 1, {3}, (int64_t[]){1, 2, 3}};
    dp_tensor d = {DP_INT64, 1, {3}, (int64_t[]){3, 2, 1}};
    dp_tensor *in2[] = {&c, &d};
    assert_int_equal(RUN("Equal", 13, NULL, 0, in2, out), DP_OK);
    expect_i64(&y, (int64_t[]){0, 1, 0}, 3);
}

static void logic_on_bools(void **state)
{
    dp_tensor a = {DP_BOOL, 2, {2, 3}, (uint8_t[]){1, 0, 1, 0, 1, 0}};
    dp_tensor b = {DP_BOOL, 1, {3}, (uint8_t[]){1, 1, 0}}, y;
    dp_tensor *in[] = {&a, &b}, *out[] = {&y};
    assert_int_equal(RUN("And", 7, NULL, 0, in, out), DP_OK);
    expect_i64(&y, (int64_t[]){1, 0, 0, 0, 1, 0}, 6);
    assert_int_equal(RUN("Or", 7, NULL, 0, in, out), DP_OK);
    expect_i64(&y, (int64_t[]){1, 1, 1, 1, 1, 0}, 6);
    assert_int_equal(RUN("Xor", 7, NULL, 0, in, out), DP_OK);
    expect_i64(&y, (int64_t[]){0, 1, 1, 1, 0, 0}, 6);
    dp_tensor *in1[] = {&a};
    assert_int_equal(RUN("Not", 1, NULL, 0, in1, out), DP_OK);
    expect_i64(&y, (int64_t[]){0, 1, 0, 1, 0, 1}, 6);

    dp_tensor f = {DP_FLOAT, 1, {3}, (float[]){1, 0, 1}};
    dp_tensor *in2[] = {&f, &f};
    assert_int_equal(RUN("And", 7, NULL, 0, in2, out), DP_EUNSUPPORTED);
}

static void where_broadcasts_three_ways(void **state)
{
    dp_tensor c = {DP_BOOL, 2, {2, 1}, (uint8_t[]){1, 0}};
    dp_tensor x = {DP_INT64, 1, {3}, (int64_t[]){1, 2, 3}};
    dp_tensor z = {DP_INT64, 2, {2, 3}, (int64_t[]){10, 20, 30, 40, 50, 60}}, y;
    dp_tensor *in[] = {&c, &x, &z}, *out[] = {&y};
    assert_int_equal(RUN("Where", 16, NULL, 0, in, out), DP_OK);
    expect_shape(&y, 2, (int64_t[]){2, 3});
    expect_i64(&y, (int64_t[]){1, 2, 3, 40, 50, 60}, 6);
}

static void variadic_fold_with_broadcast(void **state)
{
    dp_tensor a = {DP_FLOAT, 1, {3}, (float[]){1, 5, 3}};
    dp_tensor b = {DP_FLOAT, 2, {2, 1}, (float[]){4, 2}};
    dp_tensor c = {DP_FLOAT, 0, {0}, (float[]){3.5}}, y;
    dp_tensor *in[] = {&a, &b, &c}, *out[] = {&y};
    assert_int_equal(RUN("Max", 13, NULL, 0, in, out), DP_OK);
    expect_shape(&y, 2, (int64_t[]){2, 3});
    expect_f32(&y, (double[]){4, 5, 4, 3.5, 5, 3.5}, 6);
    assert_int_equal(RUN("Min", 13, NULL, 0, in, out), DP_OK);
    expect_f32(&y, (double[]){1, 3.5, 3, 1, 2, 2}, 6);
    assert_int_equal(RUN("Sum", 13, NULL, 0, in, out), DP_OK);
    expect_f32(&y, (double[]){8.5, 12.5, 10.5, 6.5, 10.5, 8.5}, 6);
    assert_int_equal(RUN("Mean", 13, NULL, 0, in, out), DP_OK);
    expect_f32(&y, (double[]){2.8333332538604736, 4.166666507720947, 3.5, 2.1666667461395264,
                              3.5, 2.8333332538604736}, 6);
    dp_tensor *one[] = {&a};
    assert_int_equal(RUN("Max", 13, NULL, 0, one, out), DP_OK);
    expect_f32(&y, (double[]){1, 5, 3}, 3);

    dp_tensor n1 = {DP_FLOAT, 1, {3}, (float[]){1, NAN, 3}};
    dp_tensor n2 = {DP_FLOAT, 1, {3}, (float[]){NAN, 2, 1}};
    dp_tensor *in2[] = {&n1, &n2};
    assert_int_equal(RUN("Max", 13, NULL, 0, in2, out), DP_OK);
    expect_f32(&y, (double[]){NAN, NAN, 3}, 3); /* np.maximum propagates NaN */

    dp_tensor u1 = {DP_UINT64, 1, {2}, (uint64_t[]){UINT64_MAX, 1}};
    dp_tensor u2 = {DP_UINT64, 1, {2}, (uint64_t[]){5, 2}};
    dp_tensor *in3[] = {&u1, &u2};
    assert_int_equal(RUN("Max", 13, NULL, 0, in3, out), DP_OK);
    assert_true(((uint64_t *)y.data)[0] == UINT64_MAX && ((uint64_t *)y.data)[1] == 2);
}

static void clip_across_opsets(void **state)
{
    float xv[] = {-3, -1, 0, 0.5, 2, 7};
    dp_tensor x = {DP_FLOAT, 1, {6}, xv}, y;
    dp_tensor *in1[] = {&x}, *out[] = {&y};
    dp_attr attrs[] = {attr_f("min", -1), attr_f("max", 2)};
    assert_int_equal(RUN("Clip", 6, attrs, 2, in1, out), DP_OK);
    expect_f32(&y, (double[]){-1, -1, 0, 0.5, 2, 2}, 6);
    assert_int_equal(RUN("Clip", 6, &attrs[1], 1, in1, out), DP_OK); /* min defaults */
    expect_f32(&y, (double[]){-3, -1, 0, 0.5, 2, 2}, 6);

    dp_tensor lo = {DP_FLOAT, 0, {0}, (float[]){-1}}, hi = {DP_FLOAT, 0, {0}, (float[]){2}};
    dp_tensor *in3[] = {&x, &lo, &hi};
    assert_int_equal(RUN("Clip", 11, NULL, 0, in3, out), DP_OK);
    expect_f32(&y, (double[]){-1, -1, 0, 0.5, 2, 2}, 6);

    dp_tensor one = {DP_FLOAT, 0, {0}, (float[]){1}};
    dp_tensor *only_max[] = {&x, NULL, &one};
    assert_int_equal(RUN("Clip", 13, NULL, 0, only_max, out), DP_OK);
    expect_f32(&y, (double[]){-3, -1, 0, 0.5, 1, 1}, 6);
    dp_tensor three = {DP_FLOAT, 0, {0}, (float[]){3}};
    dp_tensor *inverted[] = {&x, &three, &one}; /* min > max: every element becomes max */
    assert_int_equal(RUN("Clip", 13, NULL, 0, inverted, out), DP_OK);
    expect_f32(&y, (double[]){1, 1, 1, 1, 1, 1}, 6);

    dp_tensor xi = {DP_INT8, 1, {5}, (int8_t[]){-128, -5, 0, 5, 127}};
    dp_tensor li = {DP_INT8, 0, {0}, (int8_t[]){-10}}, hi8 = {DP_INT8, 0, {0}, (int8_t[]){10}};
    dp_tensor *in4[] = {&xi, &li, &hi8};
    assert_int_equal(RUN("Clip", 13, NULL, 0, in4, out), DP_OK);
    expect_i64(&y, (int64_t[]){-10, -5, 0, 5, 10}, 5);
    dp_tensor *in5[] = {&xi};
    assert_int_equal(RUN("Clip", 13, NULL, 0, in5, out), DP_OK);
    expect_i64(&y, (int64_t[]){-128, -5, 0, 5, 127}, 5);

    dp_tensor vec = {DP_FLOAT, 1, {2}, (float[]){0, 1}};
    dp_tensor *bad[] = {&x, &vec};
    assert_int_equal(RUN("Clip", 13, NULL, 0, bad, out), DP_EINPUT);
}

static void round_half_to_even(void **state)
{
    dp_tensor x = {DP_FLOAT, 1, {8}, (float[]){0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6, -2.6}}, y;
    dp_tensor *in[] = {&x}, *out[] = {&y};
    assert_int_equal(RUN("Round", 11, NULL, 0, in, out), DP_OK);
    expect_f32(&y, (double[]){0, 2, 2, -0.0, -2, 2, 3, -3}, 8);
}

static void activations_match_spec_formulas(void **state)
{
    static const struct {
        const char *op;
        int n_attrs;
        dp_attr attrs[2];
        double want[6];
    } cases[] = {
        {"Sigmoid", 0, {{0}},
          {0.11920292202211755, 0.3775406687981454, 0.5, 0.5621765008857981, 0.7310585786300049,
           0.9525741268224334}},
        {"Elu", 0, {{0}}, {-0.8646647167633873, -0.3934693402873666, 0.0, 0.25, 1.0, 3.0}},
        {"Selu", 0, {{0}},
          {-1.5201664733475926, -0.6917581899652426, 0.0, 0.2626752555370331, 1.0507010221481323,
           3.152103066444397}},
        {"HardSigmoid", 0, {{0}}, {0.1, 0.4, 0.5, 0.55, 0.7, 1.0}},
        {"HardSwish", 0, {{0}},
          {-0.33333333333333337, -0.20833333333333334, 0.0, 0.13541666666666666,
           0.6666666666666666, 3.0}},
        {"LeakyRelu", 0, {{0}}, {-0.02, -0.005, 0.0, 0.25, 1.0, 3.0}},
        {"Softplus", 0, {{0}},
          {0.1269280110429724, 0.4740769841801067, 0.6931471805599453, 0.8259394198788435,
           1.3132616875182228, 3.048587351573742}},
        {"Softsign", 0, {{0}}, {-0.6666666666666666, -0.3333333333333333, 0.0, 0.2, 0.5, 0.75}},
        {"Celu", 1, {{.name = "alpha", .kind = DP_ATTR_FLOAT, .f = 2}},
          {-1.2642411176571153, -0.44239843385719024, 0.0, 0.25, 1.0, 3.0}},
        {"Shrink", 2,
          {{.name = "lambd", .kind = DP_ATTR_FLOAT, .f = 0.5f},
           {.name = "bias", .kind = DP_ATTR_FLOAT, .f = 0.2f}},
          {-1.8, 0.0, 0.0, 0.0, 0.8, 2.8}},
        {"ThresholdedRelu", 0, {{0}}, {0.0, 0.0, 0.0, 0.0, 0.0, 3.0}},
        {"Erf", 0, {{0}},
          {-0.9953222650189527, -0.5204998778130465, 0.0, 0.2763263901682369, 0.8427007929497149,
           0.9999779095030014}},
        {"Tanh", 0, {{0}},
          {-0.9640275800758169, -0.46211715726000974, 0.0, 0.24491866240370913, 0.7615941559557649,
           0.9950547536867305}},
        {"Exp", 0, {{0}},
          {0.13533528323661267, 0.6065306597126334, 1.0, 1.2840254166877414, 2.718281828459045,
           20.085536923187668}},
        {"Atan", 0, {{0}},
          {-1.1071487177940904, -0.4636476090008061, 0.0, 0.24497866312686414, 0.7853981633974483,
           1.2490457723982544}},
        {"Asinh", 0, {{0}},
          {-1.4436354751788103, -0.48121182505960347, 0.0, 0.24746646154726346, 0.881373587019543,
           1.8184464592320668}},
        {"Cosh", 0, {{0}},
          {3.7621956910836314, 1.1276259652063807, 1.0, 1.031413099879573, 1.5430806348152437,
           10.067661995777764}},
        {"Relu", 0, {{0}}, {0, 0, 0, 0.25, 1, 3}},
        {"Abs", 0, {{0}}, {2, 0.5, 0, 0.25, 1, 3}},
        {"Neg", 0, {{0}}, {2, 0.5, 0, -0.25, -1, -3}},
        {"Sign", 0, {{0}}, {-1, -1, 0, 1, 1, 1}},
    };
    dp_tensor x = {DP_FLOAT, 1, {6}, (float[]){-2, -0.5, 0, 0.25, 1, 3}}, y;
    dp_tensor *in[] = {&x}, *out[] = {&y};
    for (int i = 0; i < N(cases); i++) {
        print_message("%s\n", cases[i].op);
        assert_int_equal(RUN(cases[i].op, 14, cases[i].attrs, cases[i].n_attrs, in, out), DP_OK);
        expect_shape(&y, 1, (int64_t[]){6});
        expect_f32(&y, cases[i].want, 6);
    }
}

static void float_only_math_on_doubles(void **state)
{
    dp_tensor x = {DP_DOUBLE, 1, {4}, (double[]){0.25, 1, 4, 9}}, y;
    dp_tensor *in[] = {&x}, *out[] = {&y};
    assert_int_equal(RUN("Log", 13, NULL, 0, in, out), DP_OK);
    const double want[] = {-1.3862943611198906, 0.0, 1.3862943611198906, 2.197224577336219};
    for (int i = 0; i < 4; i++)
        assert_true(fabs(((double *)y.data)[i] - want[i]) < 1e-15);
    assert_int_equal(RUN("Sqrt", 13, NULL, 0, in, out), DP_OK);
    assert_true(((double *)y.data)[3] == 3.0);

    dp_tensor d1 = {DP_DOUBLE, 1, {2}, (double[]){1e300, 0.1}};
    dp_tensor d2 = {DP_DOUBLE, 1, {2}, (double[]){10, 3}};
    dp_tensor *in2[] = {&d1, &d2};
    assert_int_equal(RUN("Mul", 14, NULL, 0, in2, out), DP_OK);
    assert_true(((double *)y.data)[0] == 1e301 && ((double *)y.data)[1] == 0.30000000000000004);

    dp_tensor i = {DP_INT32, 1, {1}, (int32_t[]){4}};
    dp_tensor *in3[] = {&i};
    assert_int_equal(RUN("Sqrt", 13, NULL, 0, in3, out), DP_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "int32"));
}

static void integer_unary_ops(void **state)
{
    dp_tensor x = {DP_INT8, 1, {5}, (int8_t[]){-128, -5, 0, 7, 127}}, y;
    dp_tensor *in[] = {&x}, *out[] = {&y};
    assert_int_equal(RUN("Abs", 13, NULL, 0, in, out), DP_OK);
    expect_i64(&y, (int64_t[]){-128, 5, 0, 7, 127}, 5);
    assert_int_equal(RUN("Neg", 13, NULL, 0, in, out), DP_OK);
    expect_i64(&y, (int64_t[]){-128, 5, 0, -7, -127}, 5);
    assert_int_equal(RUN("Sign", 13, NULL, 0, in, out), DP_OK);
    expect_i64(&y, (int64_t[]){-1, -1, 0, 1, 1}, 5);
    assert_int_equal(RUN("Relu", 14, NULL, 0, in, out), DP_OK);
    expect_i64(&y, (int64_t[]){0, 0, 0, 7, 127}, 5);

    dp_tensor w = {DP_INT64, 1, {4}, (int64_t[]){INT64_MIN, -3, 0, 4}};
    dp_tensor *in2[] = {&w};
    assert_int_equal(RUN("Abs", 13, NULL, 0, in2, out), DP_OK);
    expect_i64(&y, (int64_t[]){INT64_MIN, 3, 0, 4}, 4);
}

static void prelu_slope_is_unidirectional(void **state)
{
    dp_tensor x = {DP_FLOAT, 2, {2, 3}, (float[]){-3, -2, -1, 0, 1, 2}};
    dp_tensor s = {DP_FLOAT, 1, {3}, (float[]){0.1f, 0.2f, 0.3f}}, y;
    dp_tensor *in[] = {&x, &s}, *out[] = {&y};
    assert_int_equal(RUN("PRelu", 16, NULL, 0, in, out), DP_OK);
    expect_f32(&y, (double[]){-0.30000001192092896, -0.4000000059604645, -0.30000001192092896,
                              0, 1, 2}, 6);
    dp_tensor big = {DP_FLOAT, 2, {2, 2}, (float[]){1, 2, 3, 4}};
    dp_tensor small = {DP_FLOAT, 1, {2}, (float[]){-1, 2}};
    dp_tensor *in2[] = {&small, &big};
    assert_int_equal(RUN("PRelu", 16, NULL, 0, in2, out), DP_EINPUT);
}

static void isinf_isnan(void **state)
{
    dp_tensor x = {DP_FLOAT, 1, {5}, (float[]){-INFINITY, -1, INFINITY, NAN, 0}}, y;
    dp_tensor *in[] = {&x}, *out[] = {&y};
    assert_int_equal(RUN("IsInf", 10, NULL, 0, in, out), DP_OK);
    assert_int_equal(y.dtype, DP_BOOL);
    expect_i64(&y, (int64_t[]){1, 0, 1, 0, 0}, 5);
    dp_attr pos = attr_i("detect_negative", 0), neg = attr_i("detect_positive", 0);
    assert_int_equal(RUN("IsInf", 10, &pos, 1, in, out), DP_OK);
    expect_i64(&y, (int64_t[]){0, 0, 1, 0, 0}, 5);
    assert_int_equal(RUN("IsInf", 10, &neg, 1, in, out), DP_OK);
    expect_i64(&y, (int64_t[]){1, 0, 0, 0, 0}, 5);
    assert_int_equal(RUN("IsNaN", 13, NULL, 0, in, out), DP_OK);
    expect_i64(&y, (int64_t[]){0, 0, 0, 1, 0}, 5);
}

static void float16_computes_like_numpy(void **state)
{
    /* float16 bit patterns of [1.5, -2.25, 0.1] + [0.25, 0.5, 3] */
    dp_tensor a = {DP_FLOAT16, 1, {3}, (uint16_t[]){15872, 49280, 11878}};
    dp_tensor b = {DP_FLOAT16, 1, {3}, (uint16_t[]){13312, 14336, 16896}}, y;
    dp_tensor *in[] = {&a, &b}, *out[] = {&y};
    assert_int_equal(RUN("Add", 14, NULL, 0, in, out), DP_OK);
    assert_int_equal(y.dtype, DP_FLOAT16);
    expect_u16(&y, (uint16_t[]){16128, 48896, 16947}, 3);
}

static void cast_between_numeric_types(void **state)
{
    dp_tensor x = {DP_FLOAT, 1, {5}, (float[]){1.9f, -1.9f, 2.5f, -0.5f, 100.7f}}, y;
    dp_tensor *in[] = {&x}, *out[] = {&y};
    dp_attr to = attr_i("to", DP_INT32);
    assert_int_equal(RUN("Cast", 13, &to, 1, in, out), DP_OK);
    assert_int_equal(y.dtype, DP_INT32);
    expect_i64(&y, (int64_t[]){1, -1, 2, 0, 100}, 5);

    dp_tensor h = {DP_FLOAT, 1, {6}, (float[]){1.0f, 0.1f, -2.5f, 65504, 1e5f, 1e-8f}};
    dp_tensor *inh[] = {&h};
    to = attr_i("to", DP_FLOAT16);
    assert_int_equal(RUN("Cast", 13, &to, 1, inh, out), DP_OK);
    expect_u16(&y, (uint16_t[]){15360, 11878, 49408, 31743, 31744, 0}, 6);

    /* 1 + 2^-11 + 2^-40 rounds up to 0x3c01 directly, down through float32 */
    dp_tensor d = {DP_DOUBLE, 1, {4}, (double[]){1 + 0x1p-11 + 0x1p-40, 1 + 0x1p-11, 0.1, 1e-7}};
    dp_tensor *ind[] = {&d};
    assert_int_equal(RUN("Cast", 13, &to, 1, ind, out), DP_OK);
    expect_u16(&y, (uint16_t[]){15361, 15360, 11878, 2}, 4);

    /* 2^60 + 2^36 + 1 rounds up directly, to even (down) through float64 */
    dp_tensor l = {DP_INT64, 1, {3}, (int64_t[]){(1LL << 60) + (1LL << 36) + 1, 16777217, 123}};
    dp_tensor *inl[] = {&l};
    to = attr_i("to", DP_FLOAT);
    assert_int_equal(RUN("Cast", 13, &to, 1, inl, out), DP_OK);
    assert_true(((float *)y.data)[0] == 1152921642045800448.0f);
    expect_f32(&y, (double[]){1152921642045800448.0, 16777216.0, 123.0}, 3);

    dp_tensor z = {DP_FLOAT, 1, {4}, (float[]){0, -0.0f, 0.5f, NAN}};
    dp_tensor *inz[] = {&z};
    to = attr_i("to", DP_BOOL);
    assert_int_equal(RUN("Cast", 13, &to, 1, inz, out), DP_OK);
    expect_i64(&y, (int64_t[]){0, 0, 1, 1}, 4);

    dp_tensor i = {DP_INT32, 1, {3}, (int32_t[]){300, -1, 255}};
    dp_tensor *ini[] = {&i};
    to = attr_i("to", DP_UINT8);
    assert_int_equal(RUN("Cast", 13, &to, 1, ini, out), DP_OK);
    expect_i64(&y, (int64_t[]){44, 255, 255}, 3);

    dp_tensor hh = {DP_FLOAT16, 1, {4}, (uint16_t[]){0x3c00, 0x3555, 0xfbff, 0x0001}};
    dp_tensor *inhh[] = {&hh};
    to = attr_i("to", DP_DOUBLE);
    assert_int_equal(RUN("Cast", 13, &to, 1, inhh, out), DP_OK);
    const double wd[] = {1.0, 0.333251953125, -65504.0, 5.960464477539063e-08};
    for (int j = 0; j < 4; j++)
        assert_true(((double *)y.data)[j] == wd[j]);

    /* bfloat16: round-to-nearest-even of the float32 bits, computed in Python */
    dp_tensor b = {DP_FLOAT, 1, {3}, (float[]){1.0f, 3.14159274f, -0.1f}};
    dp_tensor *inb[] = {&b};
    to = attr_i("to", DP_BFLOAT16);
    assert_int_equal(RUN("Cast", 13, &to, 1, inb, out), DP_OK);
    expect_u16(&y, (uint16_t[]){0x3f80, 0x4049, 0xbdcd}, 3);

    to = attr_i("to", DP_STRING);
    assert_int_equal(RUN("Cast", 13, &to, 1, in, out), DP_EUNSUPPORTED);
    assert_int_equal(RUN("Cast", 13, NULL, 0, in, out), DP_EINPUT);

    dp_tensor like = {DP_UINT8, 0, {0}, NULL};
    dp_tensor *in2[] = {&i, &like};
    assert_int_equal(RUN("CastLike", 15, NULL, 0, in2, out), DP_OK);
    assert_int_equal(y.dtype, DP_UINT8);
    expect_i64(&y, (int64_t[]){44, 255, 255}, 3);
}

static void identity_and_dropout(void **state)
{
    dp_tensor x = {DP_FLOAT, 2, {1, 3}, (float[]){1, 2, 3}}, y, mask;
    dp_tensor *in[] = {&x}, *out[] = {&y}, *out2[] = {&y, &mask};
    assert_int_equal(RUN("Identity", 16, NULL, 0, in, out), DP_OK);
    expect_f32(&y, (double[]){1, 2, 3}, 3);
    assert_int_equal(RUN("Dropout", 13, NULL, 0, in, out2), DP_OK);
    expect_f32(&y, (double[]){1, 2, 3}, 3);
    assert_int_equal(mask.dtype, DP_BOOL);
    expect_i64(&mask, (int64_t[]){1, 1, 1}, 3);
    assert_int_equal(RUN("Dropout", 7, NULL, 0, in, out2), DP_OK);
    assert_int_equal(mask.dtype, DP_FLOAT);

    dp_tensor ratio = {DP_FLOAT, 0, {0}, (float[]){0.5}};
    dp_tensor train = {DP_BOOL, 0, {0}, (uint8_t[]){1}};
    dp_tensor *in3[] = {&x, &ratio, &train};
    /* numpy.random.seed(0); uniform(0, 1, 3) is 0.5488, 0.7152, 0.6028: ratio 0.65 keeps one */
    ((float *)ratio.data)[0] = 0.65f;
    assert_int_equal(RUN("Dropout", 13, NULL, 0, in3, out2), DP_OK);
    expect_f32(&y, (double[]){0, 2 / 0.35, 0}, 3);
    expect_i64(&mask, (int64_t[]){0, 1, 0}, 3);
    ((float *)ratio.data)[0] = 1;
    assert_int_equal(RUN("Dropout", 13, NULL, 0, in3, out2), DP_EINPUT);
    ((float *)ratio.data)[0] = 0.5f;
    ((uint8_t *)train.data)[0] = 0;
    assert_int_equal(RUN("Dropout", 13, NULL, 0, in3, out2), DP_OK);
    ((uint8_t *)train.data)[0] = 1;
    ((float *)ratio.data)[0] = 0; /* training with ratio 0 drops nothing */
    assert_int_equal(RUN("Dropout", 13, NULL, 0, in3, out2), DP_OK);
    expect_f32(&y, (double[]){1, 2, 3}, 3);
    expect_i64(&mask, (int64_t[]){1, 1, 1}, 3);
}

/* Values printed by numpy 1.24: np.random.seed(42); np.random.uniform(0, 1, 1000)[-1] */
static void mt19937_matches_numpy(void **state)
{
    (void)state;
    dp_mt19937 mt;
    dp_mt19937_seed(&mt, 42);
    double u = 0;
    for (int i = 0; i < 1000; i++)
        u = dp_mt19937_uniform(&mt);
    assert_true(u == 0.44600577295795574);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(add_broadcasts_rows_and_scalars),
        cmocka_unit_test(mul_broadcasts_both_ways),
        cmocka_unit_test(broadcast_mismatch_and_empty),
        cmocka_unit_test(legacy_broadcast_before_opset_7),
        cmocka_unit_test(integer_arithmetic_wraps_and_truncates),
        cmocka_unit_test(integer_division_by_zero_fails),
        cmocka_unit_test(mod_follows_divisor_or_dividend),
        cmocka_unit_test(pow_same_and_mixed_types),
        cmocka_unit_test(comparisons_give_bool),
        cmocka_unit_test(logic_on_bools),
        cmocka_unit_test(where_broadcasts_three_ways),
        cmocka_unit_test(variadic_fold_with_broadcast),
        cmocka_unit_test(clip_across_opsets),
        cmocka_unit_test(round_half_to_even),
        cmocka_unit_test(activations_match_spec_formulas),
        cmocka_unit_test(float_only_math_on_doubles),
        cmocka_unit_test(integer_unary_ops),
        cmocka_unit_test(prelu_slope_is_unidirectional),
        cmocka_unit_test(isinf_isnan),
        cmocka_unit_test(float16_computes_like_numpy),
        cmocka_unit_test(cast_between_numeric_types),
        cmocka_unit_test(identity_and_dropout),
        cmocka_unit_test(mt19937_matches_numpy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
