/*
 * test_kernels_shape.c: the shape family (Reshape, Flatten, Squeeze, Unsqueeze, Transpose,
 * Concat, Split, Slice, Gather, GatherElements, GatherND, Expand, Shape, Size, Constant)
 * called through dp_op_find and dp_node_types_infer, as the executor calls them. Expected
 * values come from numpy (/usr/bin/python3, numpy 1.24) unless a comment says otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "dp_op.h"

#define AINT(nm, v) ((dp_attr){.name = (nm), .kind = DP_ATTR_INT, .i = (v)})
#define AINTS(nm, ...)                                                                       \
    ((dp_attr){.name = (nm), .kind = DP_ATTR_INTS, .ints = (const int64_t[]){__VA_ARGS__},    \
               .n = sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)})
#define I64(...) ((int64_t[]){__VA_ARGS__})
#define VEC(v) ((dp_tensor){DP_INT64, 1, {sizeof(v) / sizeof(int64_t)}, (v)})



#include "kernel_harness.h"

/* One output; ins and attrs are compound literals, so that sizeof counts them. */
#define CALL(op, opset, ins, out)                                                            \
    call(op, opset, (ins), sizeof(ins) / sizeof(dp_tensor *), out, 1, NULL, 0)
#define CALLA(op, opset, ins, out, attrs)                                                    \
    call(op, opset, (ins), sizeof(ins) / sizeof(dp_tensor *), out, 1, (attrs),               \
         sizeof(attrs) / sizeof(dp_attr))

static void expect_shape(const dp_tensor *t, int rank, const int64_t *dims)
{
    assert_int_equal(t->rank, rank);
    for (int i = 0; i < rank; i++)
        assert_int_equal(t->dims[i], dims[i]);
}

static void expect_i64(const dp_tensor *t, const int64_t *want, int64_t n)
{
    assert_int_equal(dp_numel(t), n);
    for (int64_t i = 0; i < n; i++)
        if (dp_load_i64(t->data, t->dtype, i) != want[i])
            fail_msg("element %lld: got %lld, want %lld", (long long)i,
                     (long long)dp_load_i64(t->data, t->dtype, i), (long long)want[i]);
}

static void expect_error(const char *needle)
{
    if (!strstr(err.msg, needle))
        fail_msg("error '%s' lacks '%s'", err.msg, needle);
}

#define SHAPE(t, ...)                                                                        \
    expect_shape(t, sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), (int64_t[]){__VA_ARGS__})
#define SCALAR(t) expect_shape(t, 0, NULL)
#define EXACT(t, ...)                                                                        \
    expect_i64(t, (int64_t[]){__VA_ARGS__}, sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

/* np.arange(24, dtype=np.float32).reshape(2, 3, 4) */
static float X[24];
static dp_tensor x234(void) { return (dp_tensor){DP_FLOAT, 3, {2, 3, 4}, X}; }
/* np.arange(60).reshape(3, 4, 5) */
static int64_t Y[60];
static dp_tensor y345(void) { return (dp_tensor){DP_INT64, 3, {3, 4, 5}, Y}; }
static const dp_tensor unknown_vec = {DP_INT64, 1, {2}, NULL};

static int setup(void **state)
{
    for (int i = 0; i < 24; i++)
        X[i] = (float)i;
    for (int i = 0; i < 60; i++)
        Y[i] = i;
    return 0;
}

/* ---- Reshape, Flatten, Squeeze, Unsqueeze ---- */

static void reshape_zero_and_minus_one(void **state)
{
    dp_tensor x = x234(), out[HARNESS_OUTS], s = VEC(I64(4, 0, -1));
    assert_int_equal(CALL("Reshape", 13, ((dp_tensor *[]){&x, &s}), out), DP_OK);
    SHAPE(&out[0], 4, 3, 2); /* np.reshape(x, (4, 3, -1)): 0 copies dims[1] */
    assert_memory_equal(out[0].data, X, sizeof X);
    assert_int_equal(out[0].dtype, DP_FLOAT);

    /* an int16 tensor and an int32 shape, to a scalar-free 1-D */
    int16_t h[6] = {1, -2, 3, -4, 5, -6};
    int32_t s32[1] = {-1};
    dp_tensor xh = {DP_INT16, 2, {2, 3}, h}, t32 = {DP_INT32, 1, {1}, s32};
    assert_int_equal(CALL("Reshape", 13, ((dp_tensor *[]){&xh, &t32}), out), DP_OK);
    SHAPE(&out[0], 6);
    assert_memory_equal(out[0].data, h, sizeof h);

    /* an empty shape makes a scalar of a one-element tensor */
    dp_tensor one = {DP_FLOAT, 2, {1, 1}, X}, empty = {DP_INT64, 1, {0}, I64(0)};
    assert_int_equal(CALL("Reshape", 13, ((dp_tensor *[]){&one, &empty}), out), DP_OK);
    SCALAR(&out[0]);
}

/* allowzero=1 (opset 14): 0 is a real dimension; before 14 the attribute does not exist. */
static void reshape_allowzero(void **state)
{
    dp_tensor z = {DP_FLOAT, 3, {0, 3, 4}, X}, out[HARNESS_OUTS], s = VEC(I64(3, 4, 0));
    dp_attr az[] = {AINT("allowzero", 1)};
    assert_int_equal(CALLA("Reshape", 14, ((dp_tensor *[]){&z, &s}), out, az), DP_OK);
    SHAPE(&out[0], 3, 4, 0);
    /* opset 13: 0 copies dims[2] = 4, so 48 elements are asked of an empty tensor */
    assert_int_equal(CALLA("Reshape", 13, ((dp_tensor *[]){&z, &s}), out, az), DP_EINPUT);
    expect_error("cannot reshape");
    /* numpy refuses reshape(-1, 0) of an empty array: the -1 could be anything */
    dp_tensor s2 = VEC(I64(-1, 0));
    assert_int_equal(CALLA("Reshape", 14, ((dp_tensor *[]){&z, &s2}), out, az), DP_EINPUT);
}

static void reshape_errors_and_unknown_shape(void **state)
{
    dp_tensor x = x234(), out[HARNESS_OUTS], two = VEC(I64(-1, -1)), bad = VEC(I64(5, -1)),
              neg = VEC(I64(-2, 12)), zero = VEC(I64(1, 2, 3, 0));
    assert_int_equal(CALL("Reshape", 13, ((dp_tensor *[]){&x, &two}), out), DP_EINPUT);
    expect_error("more than one -1");
    assert_int_equal(CALL("Reshape", 13, ((dp_tensor *[]){&x, &bad}), out), DP_EINPUT);
    expect_error("24 elements");
    assert_int_equal(CALL("Reshape", 13, ((dp_tensor *[]){&x, &neg}), out), DP_EINPUT);
    assert_int_equal(CALL("Reshape", 13, ((dp_tensor *[]){&x, &zero}), out), DP_EINPUT);
    expect_error("rank 3");
    dp_tensor unk = unknown_vec;
    assert_int_equal(CALL("Reshape", 13, ((dp_tensor *[]){&x, &unk}), out), DP_DYNAMIC);
    /* the driver, not the kernel, handles an input of unknown rank */
    dp_tensor xr = {DP_FLOAT, -1, {0}, NULL}, s = VEC(I64(-1));
    assert_int_equal(CALL("Reshape", 13, ((dp_tensor *[]){&xr, &s}), out), DP_DYNAMIC);
}

static void flatten_axes(void **state)
{
    dp_tensor x = x234(), out[HARNESS_OUTS];
    static const struct {
        int64_t axis, d0, d1;
    } cases[] = {{0, 1, 24}, {1, 2, 12}, {2, 6, 4}, {3, 24, 1}, {-1, 6, 4}, {-3, 1, 24}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dp_attr a[] = {AINT("axis", cases[i].axis)};
        assert_int_equal(CALLA("Flatten", 13, ((dp_tensor *[]){&x}), out, a), DP_OK);
        SHAPE(&out[0], cases[i].d0, cases[i].d1);
        assert_memory_equal(out[0].data, X, sizeof X);
    }
    assert_int_equal(CALL("Flatten", 13, ((dp_tensor *[]){&x}), out), DP_OK);
    SHAPE(&out[0], 2, 12);
    dp_attr bad[] = {AINT("axis", 4)};
    assert_int_equal(CALLA("Flatten", 13, ((dp_tensor *[]){&x}), out, bad), DP_EINPUT);
}

static void squeeze_attribute_then_input(void **state)
{
    dp_tensor x = {DP_FLOAT, 4, {1, 3, 1, 8}, X}, out[HARNESS_OUTS];
    dp_attr a0[] = {AINTS("axes", 0)};
    assert_int_equal(CALLA("Squeeze", 11, ((dp_tensor *[]){&x}), out, a0), DP_OK);
    SHAPE(&out[0], 3, 1, 8);
    assert_memory_equal(out[0].data, X, sizeof X);
    assert_int_equal(CALL("Squeeze", 11, ((dp_tensor *[]){&x}), out), DP_OK);
    SHAPE(&out[0], 3, 8); /* no axes: every 1 goes */

    dp_tensor ax = VEC(I64(-2));
    assert_int_equal(CALL("Squeeze", 13, ((dp_tensor *[]){&x, &ax}), out), DP_OK);
    SHAPE(&out[0], 1, 3, 8);
    assert_int_equal(CALL("Squeeze", 13, ((dp_tensor *[]){&x}), out), DP_OK);
    SHAPE(&out[0], 3, 8);
    /* the attribute is gone at 13, the input did not exist before */
    assert_int_equal(CALLA("Squeeze", 13, ((dp_tensor *[]){&x}), out, a0), DP_EINPUT);
    assert_int_equal(CALL("Squeeze", 11, ((dp_tensor *[]){&x, &ax}), out), DP_EINPUT);

    dp_tensor not1 = VEC(I64(1)), twice = VEC(I64(0, -4)), unk = unknown_vec;
    assert_int_equal(CALL("Squeeze", 13, ((dp_tensor *[]){&x, &not1}), out), DP_EINPUT);
    expect_error("size 3");
    assert_int_equal(CALL("Squeeze", 13, ((dp_tensor *[]){&x, &twice}), out), DP_EINPUT);
    expect_error("repeated");
    assert_int_equal(CALL("Squeeze", 13, ((dp_tensor *[]){&x, &unk}), out), DP_DYNAMIC);
}

static void unsqueeze_attribute_then_input(void **state)
{
    dp_tensor x = x234(), out[HARNESS_OUTS];
    dp_attr a[] = {AINTS("axes", 4, 0)};
    assert_int_equal(CALLA("Unsqueeze", 11, ((dp_tensor *[]){&x}), out, a), DP_OK);
    SHAPE(&out[0], 1, 2, 3, 4, 1);
    assert_memory_equal(out[0].data, X, sizeof X);

    /* np.expand_dims(x, (-1, 1)).shape == (2, 1, 3, 4, 1) */
    dp_tensor ax = VEC(I64(-1, 1)), unk = unknown_vec, dup = VEC(I64(1, -4)),
              far = VEC(I64(5)), none = {DP_INT64, 1, {0}, I64(0)};
    assert_int_equal(CALL("Unsqueeze", 13, ((dp_tensor *[]){&x, &ax}), out), DP_OK);
    SHAPE(&out[0], 2, 1, 3, 4, 1);
    assert_int_equal(CALL("Unsqueeze", 13, ((dp_tensor *[]){&x, &none}), out), DP_OK);
    SHAPE(&out[0], 2, 3, 4);
    assert_int_equal(CALL("Unsqueeze", 13, ((dp_tensor *[]){&x, &unk}), out), DP_DYNAMIC);
    assert_int_equal(CALL("Unsqueeze", 13, ((dp_tensor *[]){&x, &dup}), out), DP_EINPUT);
    expect_error("repeated");
    assert_int_equal(CALL("Unsqueeze", 13, ((dp_tensor *[]){&x, &far}), out), DP_EINPUT);
    assert_int_equal(CALL("Unsqueeze", 13, ((dp_tensor *[]){&x}), out), DP_EINPUT);
    assert_int_equal(CALL("Unsqueeze", 11, ((dp_tensor *[]){&x}), out), DP_EINPUT);
    /* a scalar becomes [1] */
    dp_tensor s = {DP_FLOAT, 0, {0}, X};
    dp_attr a0[] = {AINTS("axes", 0)};
    assert_int_equal(CALLA("Unsqueeze", 11, ((dp_tensor *[]){&s}), out, a0), DP_OK);
    SHAPE(&out[0], 1);
}

/* ---- Transpose ---- */

static void transpose_matches_numpy(void **state)
{
    dp_tensor x = x234(), out[HARNESS_OUTS];
    dp_attr p[] = {AINTS("perm", 1, 0, 2)};
    assert_int_equal(CALLA("Transpose", 13, ((dp_tensor *[]){&x}), out, p), DP_OK);
    SHAPE(&out[0], 3, 2, 4); /* np.transpose(x, (1, 0, 2)) */
    EXACT(&out[0], 0, 1, 2, 3, 12, 13, 14, 15, 4, 5, 6, 7, 16, 17, 18, 19, 8, 9, 10, 11, 20,
          21, 22, 23);
    assert_int_equal(CALL("Transpose", 13, ((dp_tensor *[]){&x}), out), DP_OK);
    SHAPE(&out[0], 4, 3, 2); /* np.transpose(x): dims reversed */
    EXACT(&out[0], 0, 12, 4, 16, 8, 20, 1, 13, 5, 17, 9, 21, 2, 14, 6, 18, 10, 22, 3, 15, 7,
          19, 11, 23);
}

/* Every element size and a size-1 dim, against a direct index computation (the reference
 * here is the definition out[i, j, k, l] = x[perm^-1 ...], not numpy). */
static void transpose_all_sizes_against_definition(void **state)
{
    static const dp_dtype types[] = {DP_UINT8, DP_FLOAT16, DP_INT32, DP_DOUBLE, DP_BOOL};
    static const int64_t dims[4] = {3, 1, 37, 45};
    static const int64_t perms[][4] = {{0, 1, 3, 2}, {3, 2, 1, 0}, {2, 0, 3, 1}, {0, 2, 1, 3}};
    static unsigned char src[3 * 37 * 45 * 8];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (unsigned char)(i * 7 + i / 251);
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
        for (size_t p = 0; p < sizeof perms / sizeof perms[0]; p++) {
            if (types[t] == DP_BOOL)
                for (size_t i = 0; i < sizeof src; i++)
                    src[i] &= 1;
            dp_tensor x = {types[t], 4, {3, 1, 37, 45}, src}, out[HARNESS_OUTS];
            const int64_t *pm = perms[p];
            dp_attr a[] = {AINTS("perm", pm[0], pm[1], pm[2], pm[3])};
            assert_int_equal(CALLA("Transpose", 13, ((dp_tensor *[]){&x}), out, a), DP_OK);
            assert_int_equal(out[0].dtype, types[t]);
            size_t es = dp_dtype_size(types[t]);
            int64_t xs[4] = {37 * 45, 37 * 45, 45, 1}, o = 0, id[4];
            for (id[0] = 0; id[0] < dims[pm[0]]; id[0]++)
                for (id[1] = 0; id[1] < dims[pm[1]]; id[1]++)
                    for (id[2] = 0; id[2] < dims[pm[2]]; id[2]++)
                        for (id[3] = 0; id[3] < dims[pm[3]]; id[3]++, o++) {
                            int64_t s = 0;
                            for (int d = 0; d < 4; d++)
                                s += id[d] * xs[pm[d]];
                            if (memcmp((char *)out[0].data + o * es, src + s * es, es))
                                fail_msg("dtype %d perm %zu: element %lld differs", types[t], p,
                                         (long long)o);
                        }
        }
}

static void transpose_bad_perm_and_empty(void **state)
{
    dp_tensor x = x234(), out[HARNESS_OUTS];
    dp_attr rep[] = {AINTS("perm", 0, 0, 1)}, shortp[] = {AINTS("perm", 1, 0)},
            big[] = {AINTS("perm", 0, 1, 3)};
    assert_int_equal(CALLA("Transpose", 13, ((dp_tensor *[]){&x}), out, rep), DP_EINPUT);
    expect_error("permutation");
    assert_int_equal(CALLA("Transpose", 13, ((dp_tensor *[]){&x}), out, shortp), DP_EINPUT);
    assert_int_equal(CALLA("Transpose", 13, ((dp_tensor *[]){&x}), out, big), DP_EINPUT);
    dp_tensor e = {DP_FLOAT, 2, {0, 3}, X};
    assert_int_equal(CALL("Transpose", 13, ((dp_tensor *[]){&e}), out), DP_OK);
    SHAPE(&out[0], 3, 0);
    dp_tensor s = {DP_FLOAT, 0, {0}, X};
    assert_int_equal(CALL("Transpose", 13, ((dp_tensor *[]){&s}), out), DP_OK);
    SCALAR(&out[0]);
    assert_memory_equal(out[0].data, X, sizeof(float));
}

/* ---- Concat, Split ---- */

static void concat_axes_and_errors(void **state)
{
    /* np.concatenate([np.arange(4).reshape(2, 2), np.arange(10, 16).reshape(2, 3)], -1) */
    dp_tensor a = {DP_INT64, 2, {2, 2}, I64(0, 1, 2, 3)}, b = {DP_INT64, 2, {2, 3},
              I64(10, 11, 12, 13, 14, 15)}, e = {DP_INT64, 2, {2, 0}, I64(0)}, out[HARNESS_OUTS];
    dp_attr ax[] = {AINT("axis", -1)};
    assert_int_equal(CALLA("Concat", 13, ((dp_tensor *[]){&a, &e, &b}), out, ax), DP_OK);
    SHAPE(&out[0], 2, 5);
    EXACT(&out[0], 0, 1, 10, 11, 12, 2, 3, 13, 14, 15);
    dp_attr ax0[] = {AINT("axis", 0)};
    assert_int_equal(CALLA("Concat", 13, ((dp_tensor *[]){&a, &a}), out, ax0), DP_OK);
    SHAPE(&out[0], 4, 2);
    EXACT(&out[0], 0, 1, 2, 3, 0, 1, 2, 3);

    assert_int_equal(CALLA("Concat", 13, ((dp_tensor *[]){&a, &b}), out, ax0), DP_EINPUT);
    expect_error("incompatible");
    assert_int_equal(CALL("Concat", 13, ((dp_tensor *[]){&a, &b}), out), DP_EINPUT);
    expect_error("axis");
    dp_tensor f = {DP_FLOAT, 2, {2, 2}, X};
    assert_int_equal(CALLA("Concat", 13, ((dp_tensor *[]){&a, &f}), out, ax0), DP_EINPUT);
    dp_tensor s = {DP_INT64, 0, {0}, I64(1)};
    assert_int_equal(CALLA("Concat", 13, ((dp_tensor *[]){&s, &s}), out, ax0), DP_EINPUT);
}

static void split_attribute_input_and_equal(void **state)
{
    int64_t z[12];
    for (int i = 0; i < 12; i++)
        z[i] = i;
    dp_tensor x = {DP_INT64, 2, {2, 6}, z}, out[HARNESS_OUTS];
    /* np.split(z, [2], axis=1) */
    dp_attr a[] = {AINT("axis", 1), AINTS("split", 2, 4)};
    assert_int_equal(call("Split", 11, (dp_tensor *[]){&x}, 1, out, 2, a, 2), DP_OK);
    SHAPE(&out[0], 2, 2);
    EXACT(&out[0], 0, 1, 6, 7);
    SHAPE(&out[1], 2, 4);
    EXACT(&out[1], 2, 3, 4, 5, 8, 9, 10, 11);
    /* np.split(z, 3, axis=1) */
    assert_int_equal(call("Split", 13, (dp_tensor *[]){&x}, 1, out, 3, a, 1), DP_OK);
    EXACT(&out[0], 0, 1, 6, 7);
    EXACT(&out[1], 2, 3, 8, 9);
    EXACT(&out[2], 4, 5, 10, 11);
    /* np.split(z.reshape(6, 2), [1, 4], axis=0), sizes from the input at opset 13 */
    dp_tensor x62 = {DP_INT64, 2, {6, 2}, z}, sz = VEC(I64(1, 3, 2));
    assert_int_equal(call("Split", 13, (dp_tensor *[]){&x62, &sz}, 2, out, 3, NULL, 0), DP_OK);
    SHAPE(&out[1], 3, 2);
    EXACT(&out[0], 0, 1);
    EXACT(&out[1], 2, 3, 4, 5, 6, 7);
    EXACT(&out[2], 8, 9, 10, 11);
    /* zero-size parts are allowed */
    dp_tensor zs = VEC(I64(0, 6));
    assert_int_equal(call("Split", 13, (dp_tensor *[]){&x62, &zs}, 2, out, 2, NULL, 0), DP_OK);
    SHAPE(&out[0], 0, 2);
    SHAPE(&out[1], 6, 2);
    EXACT(&out[1], 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);

    dp_tensor unk = unknown_vec, badsum = VEC(I64(1, 4)), neg = VEC(I64(7, -1));
    assert_int_equal(call("Split", 13, (dp_tensor *[]){&x62, &unk}, 2, out, 2, NULL, 0),
                     DP_DYNAMIC);
    assert_int_equal(call("Split", 13, (dp_tensor *[]){&x62, &badsum}, 2, out, 2, NULL, 0),
                     DP_EINPUT);
    expect_error("add up to 5");
    assert_int_equal(call("Split", 13, (dp_tensor *[]){&x62, &neg}, 2, out, 2, NULL, 0),
                     DP_EINPUT);
    assert_int_equal(call("Split", 13, (dp_tensor *[]){&x62, &sz}, 2, out, 2, NULL, 0),
                     DP_EINPUT);
    expect_error("3 sizes for 2 outputs");
    /* 6 rows do not split into 4 equal parts (uneven splits came with opset 18) */
    dp_tensor o4[4];
    dp_tensor *o4p[4] = {&o4[0], &o4[1], &o4[2], &o4[3]};
    dp_kctx k = {.node = "n", .op = "Split", .opset = 13, .in = (dp_tensor *[]){&x62},
                 .n_in = 1, .out = o4p, .n_out = 4, .err = &err};
    dp_error_clear(&err);
    assert_int_equal(dp_node_types_infer(dp_op_find("Split"), &k), DP_EINPUT);
    expect_error("equal");
}

/* ---- Slice ---- */

static void slice_inputs_with_negative_steps(void **state)
{
    dp_tensor y = y345(), out[HARNESS_OUTS];
    /* y[1:1000, :, 4::-2]: start -1 is 4, end INT64_MIN clamps to before 0 */
    dp_tensor st = VEC(I64(-1, 1)), en = VEC(I64(INT64_MIN, 1000)), ax = VEC(I64(2, 0)),
              sp = VEC(I64(-2, 1));
    assert_int_equal(CALL("Slice", 13, ((dp_tensor *[]){&y, &st, &en, &ax, &sp}), out), DP_OK);
    SHAPE(&out[0], 2, 4, 3);
    EXACT(&out[0], 24, 22, 20, 29, 27, 25, 34, 32, 30, 39, 37, 35, 44, 42, 40, 49, 47, 45, 54,
          52, 50, 59, 57, 55);
    /* y[:, :, -2:] with INT64_MAX end and a negative axis */
    dp_tensor st2 = VEC(I64(-2)), en2 = VEC(I64(INT64_MAX)), ax2 = VEC(I64(-1));
    assert_int_equal(CALL("Slice", 10, ((dp_tensor *[]){&y, &st2, &en2, &ax2}), out), DP_OK);
    SHAPE(&out[0], 3, 4, 2);
    EXACT(&out[0], 3, 4, 8, 9, 13, 14, 18, 19, 23, 24, 28, 29, 33, 34, 38, 39, 43, 44, 48, 49,
          53, 54, 58, 59);
    /* y[::-1][::-3] style: every step INT64_MIN takes one element: y[2:, 3:, 4:] reversed */
    dp_tensor st3 = VEC(I64(100, 100, 100)), en3 = VEC(I64(-100, -100, -100)),
              sp3 = VEC(I64(INT64_MIN, -3, -9));
    assert_int_equal(CALL("Slice", 13, ((dp_tensor *[]){&y, &st3, &en3, NULL, &sp3}), out), DP_OK);
    SHAPE(&out[0], 1, 2, 1); /* y[100:-100:-(2**63), 100:-100:-3, 100:-100:-9] */
    EXACT(&out[0], 59, 44);
    /* starts beyond the end give empty dims: y[5:, 1:3] */
    dp_tensor st4 = VEC(I64(5, 1)), en4 = VEC(I64(9, 3));
    assert_int_equal(CALL("Slice", 13, ((dp_tensor *[]){&y, &st4, &en4}), out), DP_OK);
    SHAPE(&out[0], 0, 2, 5);
}

static void slice_attributes_before_opset_10(void **state)
{
    dp_tensor y = y345(), out[HARNESS_OUTS];
    dp_attr a[] = {AINTS("starts", 0, 1), AINTS("ends", 2, 3)};
    assert_int_equal(CALLA("Slice", 9, ((dp_tensor *[]){&y}), out, a), DP_OK);
    SHAPE(&out[0], 2, 2, 5); /* y[0:2, 1:3] */
    EXACT(&out[0], 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34);
    dp_attr b[] = {AINTS("starts", -2), AINTS("ends", 1000), AINTS("axes", 2)};
    assert_int_equal(CALLA("Slice", 1, ((dp_tensor *[]){&y}), out, b), DP_OK);
    SHAPE(&out[0], 3, 4, 2);
    /* inputs at opset 9, attributes at 10 are malformed nodes */
    dp_tensor st = VEC(I64(0)), en = VEC(I64(1));
    assert_int_equal(CALL("Slice", 9, ((dp_tensor *[]){&y, &st, &en}), out), DP_EINPUT);
    assert_int_equal(CALLA("Slice", 10, ((dp_tensor *[]){&y}), out, a), DP_EINPUT);
}

static void slice_errors_and_unknown_values(void **state)
{
    dp_tensor y = y345(), out[HARNESS_OUTS], st = VEC(I64(0, 0)), en = VEC(I64(1, 1)),
              rep = VEC(I64(1, -2)), far = VEC(I64(0, 3)), zero = VEC(I64(1, 0)),
              one = VEC(I64(1)), unk = unknown_vec;
    assert_int_equal(CALL("Slice", 13, ((dp_tensor *[]){&y, &st, &en, &rep}), out), DP_EINPUT);
    expect_error("repeated");
    assert_int_equal(CALL("Slice", 13, ((dp_tensor *[]){&y, &st, &en, &far}), out), DP_EINPUT);
    expect_error("out of range");
    assert_int_equal(CALL("Slice", 13, ((dp_tensor *[]){&y, &st, &en, NULL, &zero}), out),
                     DP_EINPUT);
    expect_error("step");
    assert_int_equal(CALL("Slice", 13, ((dp_tensor *[]){&y, &st, &one}), out), DP_EINPUT);
    assert_int_equal(CALL("Slice", 13, ((dp_tensor *[]){&y}), out), DP_EINPUT);
    assert_int_equal(CALL("Slice", 13, ((dp_tensor *[]){&y, &st, &unk}), out), DP_DYNAMIC);
    assert_int_equal(CALL("Slice", 13, ((dp_tensor *[]){&y, &st, &en, NULL, &unk}), out),
                     DP_DYNAMIC);
}

/* ---- Gather, GatherElements, GatherND ---- */

static void gather_axes_and_negative_indices(void **state)
{
    dp_tensor d = {DP_FLOAT, 2, {5, 3}, X}, out[HARNESS_OUTS];
    /* np.take(np.arange(15.).reshape(5, 3), [[0, -1], [4, 2]], axis=0) */
    dp_tensor ind = {DP_INT64, 2, {2, 2}, I64(0, -1, 4, 2)};
    assert_int_equal(CALL("Gather", 13, ((dp_tensor *[]){&d, &ind}), out), DP_OK);
    SHAPE(&out[0], 2, 2, 3);
    EXACT(&out[0], 0, 1, 2, 12, 13, 14, 12, 13, 14, 6, 7, 8);
    /* np.take(..., [2, 0, -3], axis=1), int32 indices */
    dp_tensor i32 = {DP_INT32, 1, {3}, (int32_t[]){2, 0, -3}};
    dp_attr ax[] = {AINT("axis", -1)};
    assert_int_equal(CALLA("Gather", 13, ((dp_tensor *[]){&d, &i32}), out, ax), DP_OK);
    SHAPE(&out[0], 5, 3);
    EXACT(&out[0], 2, 0, 0, 5, 3, 3, 8, 6, 6, 11, 9, 9, 14, 12, 12);
    /* a scalar index drops the axis */
    dp_tensor s = {DP_INT64, 0, {0}, I64(3)};
    assert_int_equal(CALL("Gather", 13, ((dp_tensor *[]){&d, &s}), out), DP_OK);
    SHAPE(&out[0], 3);
    EXACT(&out[0], 9, 10, 11);
    /* no indices: an empty result */
    dp_tensor none = {DP_INT64, 1, {0}, I64(0)};
    assert_int_equal(CALLA("Gather", 13, ((dp_tensor *[]){&d, &none}), out, ax), DP_OK);
    SHAPE(&out[0], 5, 0);
}

static void gather_errors(void **state)
{
    dp_tensor d = {DP_FLOAT, 2, {5, 3}, X}, out[HARNESS_OUTS];
    dp_tensor big = {DP_INT64, 1, {3}, I64(0, 5, 1)}, low = {DP_INT64, 1, {1}, I64(-6)},
              flt = {DP_FLOAT, 1, {1}, X};
    assert_int_equal(CALL("Gather", 13, ((dp_tensor *[]){&d, &big}), out), DP_EINPUT);
    expect_error("index 5 (element 1 of indices) is out of range for axis 0 of size 5");
    assert_int_equal(CALL("Gather", 13, ((dp_tensor *[]){&d, &low}), out), DP_EINPUT);
    expect_error("index -6");
    assert_int_equal(CALL("Gather", 13, ((dp_tensor *[]){&d, &flt}), out), DP_EINPUT);
    dp_attr ax[] = {AINT("axis", 2)};
    assert_int_equal(CALLA("Gather", 13, ((dp_tensor *[]){&d, &low}), out, ax), DP_EINPUT);
    /* any index into an empty axis is out of range */
    dp_tensor e = {DP_FLOAT, 2, {0, 3}, X}, zero = {DP_INT64, 1, {1}, I64(0)};
    assert_int_equal(CALL("Gather", 13, ((dp_tensor *[]){&e, &zero}), out), DP_EINPUT);
    /* indices of unknown value still have a known shape */
    dp_tensor unk = {DP_INT64, 1, {4}, NULL};
    const dp_op_def *def = dp_op_find("Gather");
    dp_tensor *outp[1] = {&out[0]};
    dp_kctx k = {.node = "n", .op = "Gather", .opset = 13, .in = (dp_tensor *[]){&d, &unk},
                 .n_in = 2, .out = outp, .n_out = 1, .err = &err};
    dp_error_clear(&err);
    assert_int_equal(dp_node_types_infer(def, &k), DP_OK);
    SHAPE(&out[0], 4, 3);
}

static void gather_elements_matches_take_along_axis(void **state)
{
    float d[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    dp_tensor x = {DP_FLOAT, 2, {3, 3}, d}, out[HARNESS_OUTS];
    /* np.take_along_axis(d, idx % 3, axis=0) with idx [[1, 2, 0], [2, 0, -1]] */
    dp_tensor i0 = {DP_INT64, 2, {2, 3}, I64(1, 2, 0, 2, 0, -1)};
    assert_int_equal(CALL("GatherElements", 13, ((dp_tensor *[]){&x, &i0}), out), DP_OK);
    SHAPE(&out[0], 2, 3);
    EXACT(&out[0], 4, 8, 3, 7, 2, 9);
    /* axis 1 with int32 indices [[0, 0], [1, 0], [-1, 2]] */
    dp_tensor i1 = {DP_INT32, 2, {3, 2}, (int32_t[]){0, 0, 1, 0, -1, 2}};
    dp_attr ax[] = {AINT("axis", 1)};
    assert_int_equal(CALLA("GatherElements", 13, ((dp_tensor *[]){&x, &i1}), out, ax), DP_OK);
    EXACT(&out[0], 1, 1, 5, 4, 9, 9);

    dp_tensor bad = {DP_INT64, 2, {1, 2}, I64(0, 3)}, wide = {DP_INT64, 2, {1, 4},
              I64(0, 0, 0, 0)}, flat = {DP_INT64, 1, {2}, I64(0, 0)};
    assert_int_equal(CALL("GatherElements", 13, ((dp_tensor *[]){&x, &bad}), out), DP_EINPUT);
    expect_error("index 3 (element 1 of indices)");
    assert_int_equal(CALL("GatherElements", 13, ((dp_tensor *[]){&x, &wide}), out), DP_EINPUT);
    assert_int_equal(CALL("GatherElements", 13, ((dp_tensor *[]){&x, &flat}), out), DP_EINPUT);
}

static void gather_nd_batch_dims(void **state)
{
    /* the ONNX GatherND examples 1, 2 and 5 */
    dp_tensor d = {DP_INT32, 2, {2, 2}, (int32_t[]){0, 1, 2, 3}}, out[HARNESS_OUTS];
    dp_tensor i1 = {DP_INT64, 2, {2, 2}, I64(0, 0, 1, 1)}, i2 = {DP_INT64, 2, {2, 1}, I64(1, 0)};
    assert_int_equal(CALL("GatherND", 12, ((dp_tensor *[]){&d, &i1}), out), DP_OK);
    SHAPE(&out[0], 2);
    EXACT(&out[0], 0, 3);
    assert_int_equal(CALL("GatherND", 12, ((dp_tensor *[]){&d, &i2}), out), DP_OK);
    SHAPE(&out[0], 2, 2);
    EXACT(&out[0], 2, 3, 0, 1);
    dp_tensor d3 = {DP_INT32, 3, {2, 2, 2}, (int32_t[]){0, 1, 2, 3, 4, 5, 6, 7}};
    dp_attr b1[] = {AINT("batch_dims", 1)};
    assert_int_equal(CALLA("GatherND", 12, ((dp_tensor *[]){&d3, &i2}), out, b1), DP_OK);
    SHAPE(&out[0], 2, 2);
    EXACT(&out[0], 2, 3, 4, 5);
    /* [y[b][tuple(idx[b, t])] for b, t] with y = np.arange(24).reshape(2, 3, 4) */
    dp_tensor y = {DP_FLOAT, 3, {2, 3, 4}, X};
    dp_tensor i3 = {DP_INT64, 3, {2, 2, 2}, I64(0, -1, 1, 2, 2, 0, -3, 3)};
    assert_int_equal(CALLA("GatherND", 12, ((dp_tensor *[]){&y, &i3}), out, b1), DP_OK);
    SHAPE(&out[0], 2, 2);
    EXACT(&out[0], 3, 6, 20, 15);

    dp_tensor oob = {DP_INT64, 2, {1, 2}, I64(0, 2)};
    assert_int_equal(CALL("GatherND", 12, ((dp_tensor *[]){&d, &oob}), out), DP_EINPUT);
    expect_error("index 2 (element 1 of indices) is out of range for axis 1");
    dp_tensor longt = {DP_INT64, 2, {1, 3}, I64(0, 0, 0)};
    assert_int_equal(CALL("GatherND", 12, ((dp_tensor *[]){&d, &longt}), out), DP_EINPUT);
    dp_attr b2[] = {AINT("batch_dims", 2)};
    assert_int_equal(CALLA("GatherND", 12, ((dp_tensor *[]){&d, &i2}), out, b2), DP_EINPUT);
    dp_tensor mism = {DP_INT64, 2, {3, 1}, I64(0, 0, 0)};
    assert_int_equal(CALLA("GatherND", 12, ((dp_tensor *[]){&d3, &mism}), out, b1), DP_EINPUT);
    expect_error("batch dimension 0");
}

/* ---- Expand ---- */

static void expand_bidirectional(void **state)
{
    dp_tensor x = {DP_INT32, 2, {3, 1}, (int32_t[]){1, 2, 3}}, out[HARNESS_OUTS];
    /* np.broadcast_to(x, (2, 3, 6)) */
    dp_tensor s = VEC(I64(2, 1, 6));
    assert_int_equal(CALL("Expand", 13, ((dp_tensor *[]){&x, &s}), out), DP_OK);
    SHAPE(&out[0], 2, 3, 6);
    EXACT(&out[0], 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 2, 2,
          2, 2, 2, 2, 3, 3, 3, 3, 3, 3);
    /* a shape smaller than the input keeps the input's dims: (x * np.ones((1, 1))).shape */
    dp_tensor s2 = VEC(I64(1, 1));
    assert_int_equal(CALL("Expand", 8, ((dp_tensor *[]){&x, &s2}), out), DP_OK);
    SHAPE(&out[0], 3, 1);
    EXACT(&out[0], 1, 2, 3);
    /* a row to a matrix: np.broadcast_to([1, 2, 3], (2, 3)) */
    dp_tensor r = {DP_INT32, 1, {3}, (int32_t[]){1, 2, 3}}, s3 = VEC(I64(2, 1));
    assert_int_equal(CALL("Expand", 13, ((dp_tensor *[]){&r, &s3}), out), DP_OK);
    SHAPE(&out[0], 2, 3);
    EXACT(&out[0], 1, 2, 3, 1, 2, 3);
    dp_tensor zero = VEC(I64(0, 1));
    assert_int_equal(CALL("Expand", 13, ((dp_tensor *[]){&x, &zero}), out), DP_EINPUT);
    dp_tensor s0 = VEC(I64(3, 0));
    assert_int_equal(CALL("Expand", 13, ((dp_tensor *[]){&x, &s0}), out), DP_OK);
    SHAPE(&out[0], 3, 0);
    dp_tensor bad = VEC(I64(2, 4)), neg = VEC(I64(-1)), unk = unknown_vec;
    assert_int_equal(CALL("Expand", 13, ((dp_tensor *[]){&x, &bad}), out), DP_EINPUT);
    expect_error("broadcast");
    assert_int_equal(CALL("Expand", 13, ((dp_tensor *[]){&x, &neg}), out), DP_EINPUT);
    assert_int_equal(CALL("Expand", 13, ((dp_tensor *[]){&x, &unk}), out), DP_DYNAMIC);
}

/* ---- Shape, Size, Constant ---- */

static void shape_and_size_without_data(void **state)
{
    /* the compiler folds both while the input's value is unknown */
    dp_tensor x = {DP_FLOAT, 3, {2, 3, 4}, NULL}, out[HARNESS_OUTS];
    assert_int_equal(CALL("Shape", 13, ((dp_tensor *[]){&x}), out), DP_OK);
    assert_int_equal(out[0].dtype, DP_INT64);
    SHAPE(&out[0], 3);
    EXACT(&out[0], 2, 3, 4);
    static const struct {
        int64_t start, end;
        int n;
        int64_t want[3];
    } cases[] = {{1, 3, 2, {3, 4}}, {-1, 3, 1, {4}}, {1, -1, 1, {3}}, {-10, 10, 3, {2, 3, 4}},
                 {5, 3, 0, {0}}, {2, 1, 0, {0}}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dp_attr a[] = {AINT("start", cases[i].start), AINT("end", cases[i].end)};
        assert_int_equal(CALLA("Shape", 15, ((dp_tensor *[]){&x}), out, a), DP_OK);
        SHAPE(&out[0], cases[i].n);
        expect_i64(&out[0], cases[i].want, cases[i].n);
    }
    /* before opset 15 the attributes do not exist */
    dp_attr a[] = {AINT("start", 1)};
    assert_int_equal(CALLA("Shape", 13, ((dp_tensor *[]){&x}), out, a), DP_OK);
    SHAPE(&out[0], 3);

    assert_int_equal(CALL("Size", 13, ((dp_tensor *[]){&x}), out), DP_OK);
    assert_int_equal(out[0].dtype, DP_INT64);
    SCALAR(&out[0]);
    EXACT(&out[0], 24);
    dp_tensor s = {DP_UINT8, 0, {0}, NULL}, e = {DP_UINT8, 2, {7, 0}, NULL};
    assert_int_equal(CALL("Size", 13, ((dp_tensor *[]){&s}), out), DP_OK);
    EXACT(&out[0], 1);
    assert_int_equal(CALL("Size", 13, ((dp_tensor *[]){&e}), out), DP_OK);
    EXACT(&out[0], 0);
    assert_int_equal(CALL("Shape", 13, ((dp_tensor *[]){&s}), out), DP_OK);
    SHAPE(&out[0], 0);
}

static dp_status constant(const dp_attr *a, int n, dp_tensor *out)
{
    return call("Constant", 13, NULL, 0, out, 1, a, n);
}

static void constant_every_value_kind(void **state)
{
    dp_tensor out[HARNESS_OUTS];
    uint16_t h[3] = {0x3c00, 0xc000, 0x7c00}; /* float16 1, -2, inf */
    dp_tensor t = {DP_FLOAT16, 2, {3, 1}, h};
    dp_attr v[] = {{.name = "value", .kind = DP_ATTR_TENSOR, .t = &t}};
    assert_int_equal(constant(v, 1, out), DP_OK);
    assert_int_equal(out[0].dtype, DP_FLOAT16);
    SHAPE(&out[0], 3, 1);
    assert_memory_equal(out[0].data, h, sizeof h);

    dp_attr f[] = {{.name = "value_float", .kind = DP_ATTR_FLOAT, .f = 2.5f}};
    assert_int_equal(constant(f, 1, out), DP_OK);
    assert_int_equal(out[0].dtype, DP_FLOAT);
    SCALAR(&out[0]);
    assert_true(*(float *)out[0].data == 2.5f);
    dp_attr fs[] = {{.name = "value_floats", .kind = DP_ATTR_FLOATS, .n = 2,
                     .floats = (const float[]){1.5f, -3}}};
    assert_int_equal(constant(fs, 1, out), DP_OK);
    SHAPE(&out[0], 2);
    assert_memory_equal(out[0].data, ((float[]){1.5f, -3}), 2 * sizeof(float));
    dp_attr i[] = {AINT("value_int", -7)};
    assert_int_equal(constant(i, 1, out), DP_OK);
    assert_int_equal(out[0].dtype, DP_INT64);
    SCALAR(&out[0]);
    EXACT(&out[0], -7);
    dp_attr is[] = {AINTS("value_ints", 4, 5, 6)};
    assert_int_equal(constant(is, 1, out), DP_OK);
    SHAPE(&out[0], 3);
    EXACT(&out[0], 4, 5, 6);
    dp_attr empty[] = {{.name = "value_ints", .kind = DP_ATTR_INTS, .n = 0, .ints = I64(0)}};
    assert_int_equal(constant(empty, 1, out), DP_OK);
    SHAPE(&out[0], 0);
}

static void constant_errors(void **state)
{
    dp_tensor out[HARNESS_OUTS];
    dp_attr s[] = {{.name = "value_string", .kind = DP_ATTR_STRING, .s = "x"}};
    assert_int_equal(constant(s, 1, out), DP_EUNSUPPORTED);
    dp_attr ss[] = {{.name = "value_strings", .kind = DP_ATTR_STRINGS, .n = 0}};
    assert_int_equal(constant(ss, 1, out), DP_EUNSUPPORTED);
    assert_int_equal(constant(NULL, 0, out), DP_EINPUT);
    expect_error("no value");
    dp_attr two[] = {AINT("value_int", 1), AINTS("value_ints", 1)};
    assert_int_equal(constant(two, 2, out), DP_EINPUT);
    expect_error("both");
    dp_attr kind[] = {AINTS("value_int", 1)};
    assert_int_equal(constant(kind, 1, out), DP_EINPUT);
    dp_tensor x = x234();
    dp_attr i[] = {AINT("value_int", 1)};
    assert_int_equal(call("Constant", 13, (dp_tensor *[]){&x}, 1, out, 1, i, 1), DP_EINPUT);
}

/* ---- every dtype ---- */

/* The data-moving ops take every storable dtype by size and refuse strings. */
static void every_dtype_moves(void **state)
{
    static const dp_dtype types[] = {DP_FLOAT, DP_UINT8, DP_INT8, DP_UINT16, DP_INT16,
                                     DP_INT32, DP_INT64, DP_BOOL, DP_FLOAT16, DP_DOUBLE,
                                     DP_UINT32, DP_UINT64, DP_BFLOAT16};
    unsigned char src[6 * 8];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (unsigned char)(i * 37 + 1) & 0x7f;
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        size_t es = dp_dtype_size(types[t]);
        dp_tensor x = {types[t], 2, {2, 3}, src}, out[HARNESS_OUTS];
        if (types[t] == DP_BOOL)
            for (size_t i = 0; i < sizeof src; i++)
                src[i] &= 1;
        /* Slice x[:, ::-2] picks elements 2, 0, 5, 3 */
        dp_tensor st = VEC(I64(-1)), en = VEC(I64(INT64_MIN)), ax = VEC(I64(1)),
                  sp = VEC(I64(-2));
        assert_int_equal(CALL("Slice", 13, ((dp_tensor *[]){&x, &st, &en, &ax, &sp}), out), DP_OK);
        assert_int_equal(out[0].dtype, types[t]);
        static const int pick[4] = {2, 0, 5, 3};
        for (int i = 0; i < 4; i++)
            assert_memory_equal((char *)out[0].data + i * es, src + pick[i] * es, es);
        /* Gather of row 1, Expand of row 0 */
        dp_tensor ind = {DP_INT64, 0, {0}, I64(-1)}, s = VEC(I64(2, 2, 3));
        assert_int_equal(CALL("Gather", 13, ((dp_tensor *[]){&x, &ind}), out), DP_OK);
        assert_memory_equal(out[0].data, src + 3 * es, 3 * es);
        assert_int_equal(CALL("Expand", 13, ((dp_tensor *[]){&x, &s}), out), DP_OK);
        assert_memory_equal((char *)out[0].data + 6 * es, src, 6 * es);
        dp_tensor parts[2] = {x, x};
        assert_int_equal(call("Concat", 13, (dp_tensor *[]){&parts[0], &parts[1]}, 2, out, 1,
                              (dp_attr[]){AINT("axis", 1)}, 1), DP_OK);
        assert_memory_equal((char *)out[0].data + 3 * es, src, 3 * es);
    }
    dp_tensor str = {DP_STRING, 1, {2}, src}, out[HARNESS_OUTS];
    assert_int_equal(CALL("Transpose", 13, ((dp_tensor *[]){&str}), out), DP_EUNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reshape_zero_and_minus_one),
        cmocka_unit_test(reshape_allowzero),
        cmocka_unit_test(reshape_errors_and_unknown_shape),
        cmocka_unit_test(flatten_axes),
        cmocka_unit_test(squeeze_attribute_then_input),
        cmocka_unit_test(unsqueeze_attribute_then_input),
        cmocka_unit_test(transpose_matches_numpy),
        cmocka_unit_test(transpose_all_sizes_against_definition),
        cmocka_unit_test(transpose_bad_perm_and_empty),
        cmocka_unit_test(concat_axes_and_errors),
        cmocka_unit_test(split_attribute_input_and_equal),
        cmocka_unit_test(slice_inputs_with_negative_steps),
        cmocka_unit_test(slice_attributes_before_opset_10),
        cmocka_unit_test(slice_errors_and_unknown_values),
        cmocka_unit_test(gather_axes_and_negative_indices),
        cmocka_unit_test(gather_errors),
        cmocka_unit_test(gather_elements_matches_take_along_axis),
        cmocka_unit_test(gather_nd_batch_dims),
        cmocka_unit_test(expand_bidirectional),
        cmocka_unit_test(shape_and_size_without_data),
        cmocka_unit_test(constant_every_value_kind),
        cmocka_unit_test(constant_errors),
        cmocka_unit_test(every_dtype_moves),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
