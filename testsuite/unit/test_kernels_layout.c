/*
 * test_kernels_layout.c: the layout family (Pad, Tile, DepthToSpace, SpaceToDepth, Trilu,
 * OneHot, Range, ConstantOfShape, Resize, Upsample) called through dp_op_find and
 * dp_node_types_infer, as the executor calls them. Expected values come from numpy 1.24 and
 * torch 1.13 (/usr/bin/python3), or from the ONNX reference interpolate_nd (onnx 1.12,
 * onnx/backend/test/case/node/resize.py) for Resize modes torch lacks; each test says which.
 * Also dp_transpose (kernel_util.h), the analog core's blocked transpose, by its definition.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "dp_op.h"
#include "kernel_util.h"

#define AINT(nm, v) ((dp_attr){.name = (nm), .kind = DP_ATTR_INT, .i = (v)})
#define AFLOAT(nm, v) ((dp_attr){.name = (nm), .kind = DP_ATTR_FLOAT, .f = (v)})
#define ASTR(nm, v) ((dp_attr){.name = (nm), .kind = DP_ATTR_STRING, .s = (v)})
#define AINTS(nm, ...)                                                                       \
    ((dp_attr){.name = (nm), .kind = DP_ATTR_INTS, .ints = (const int64_t[]){__VA_ARGS__},    \
               .n = sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)})
#define AFLOATS(nm, ...)                                                                     \
    ((dp_attr){.name = (nm), .kind = DP_ATTR_FLOATS, .floats = (const float[]){__VA_ARGS__},  \
               .n = sizeof((const float[]){__VA_ARGS__}) / sizeof(float)})
#define IN(...)                                                                              \
    (dp_tensor *[]){__VA_ARGS__}, sizeof((dp_tensor *[]){__VA_ARGS__}) / sizeof(dp_tensor *)
#define ATTRS(...) (dp_attr[]){__VA_ARGS__}, sizeof((dp_attr[]){__VA_ARGS__}) / sizeof(dp_attr)
#define I64(...) (dp_tensor){DP_INT64, 1, {sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)}, \
                             (int64_t[]){__VA_ARGS__}}
#define F32(...) (dp_tensor){DP_FLOAT, 1, {sizeof((float[]){__VA_ARGS__}) / sizeof(float)},     \
                             (float[]){__VA_ARGS__}}

/* Output buffer, filled with garbage before each run: kernels must not rely on zeroes. */
static unsigned char outbuf[1 << 16];
static dp_error err;
static dp_tensor out;

/* Runs one single-output node; `out` receives its dtype, shape and data. */
static dp_status call(const char *op, int opset, dp_tensor **in, int n_in, const dp_attr *attrs,
                      int n_attrs)
{
    const dp_op_def *def = dp_op_find(op);
    assert_non_null(def);
    dp_arena scratch;
    dp_arena_init(&scratch, 0);
    dp_tensor *outp[1] = {&out};
    dp_kctx k = {.node = "n", .op = op, .opset = opset, .attrs = attrs, .n_attrs = n_attrs,
                 .in = in, .n_in = n_in, .out = outp, .n_out = 1, .scratch = &scratch,
                 .err = &err};
    memset(&out, 0, sizeof out);
    dp_error_clear(&err);
    dp_status st = dp_node_types_infer(def, &k);
    if (st == DP_OK) {
        assert_true(dp_nbytes(&out) <= sizeof outbuf);
        memset(outbuf, 0xa5, sizeof outbuf);
        out.data = outbuf;
        st = def->run(&k);
    }
    dp_arena_free(&scratch);
    return st;
}

#define CALL(op, opset, in, ...) call(op, opset, in, ATTRS(__VA_ARGS__))
#define CALL0(op, opset, in) call(op, opset, in, NULL, 0)

static void expect_shape(int rank, const int64_t *dims)
{
    assert_int_equal(out.rank, rank);
    for (int i = 0; i < rank; i++)
        assert_int_equal(out.dims[i], dims[i]);
}

static void expect_near(const double *want, int64_t n, double tol)
{
    assert_int_equal(dp_numel(&out), n);
    for (int64_t i = 0; i < n; i++) {
        double got = dp_load_f64(out.data, out.dtype, i);
        if (fabs(got - want[i]) > 1e-6 + tol * fabs(want[i]))
            fail_msg("element %lld: got %.9g, want %.9g", (long long)i, got, want[i]);
    }
}

static void expect_i64(const int64_t *want, int64_t n)
{
    assert_int_equal(dp_numel(&out), n);
    for (int64_t i = 0; i < n; i++)
        if (dp_load_i64(out.data, out.dtype, i) != want[i])
            fail_msg("element %lld: got %lld, want %lld", (long long)i,
                     (long long)dp_load_i64(out.data, out.dtype, i), (long long)want[i]);
}

#define COUNT(type, ...) (sizeof((type[]){__VA_ARGS__}) / sizeof(type))
#define SHAPE(...) expect_shape(COUNT(int64_t, __VA_ARGS__), (int64_t[]){__VA_ARGS__})
#define SCALAR() expect_shape(0, NULL)
#define NEAR(...) expect_near((double[]){__VA_ARGS__}, COUNT(double, __VA_ARGS__), 2e-6)
/* torch computes in float32: a looser relative tolerance */
#define NEAR_T(...) expect_near((double[]){__VA_ARGS__}, COUNT(double, __VA_ARGS__), 2e-5)
#define EXACT(...) expect_i64((int64_t[]){__VA_ARGS__}, COUNT(int64_t, __VA_ARGS__))

/* Asserts a failure with the status and a message containing `part`. */
static void expect_fail(dp_status got, dp_status want, const char *part)
{
    assert_int_equal(got, want);
    if (!strstr(err.msg, part))
        fail_msg("message '%s' lacks '%s'", err.msg, part);
}

/* ---- Pad ---- */

/* x = np.arange(1, 7, dtype=np.float32).reshape(2, 3), y = np.arange(9.).reshape(3, 3) */
static void pad_modes_match_numpy(void **state)
{
    dp_tensor x = {DP_FLOAT, 2, {2, 3}, (float[]){1, 2, 3, 4, 5, 6}};
    dp_tensor y = {DP_FLOAT, 2, {3, 3}, (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8}};
    /* pads [1, -1, 0, 2]: np.pad(x[:, 1:], ((1, 0), (0, 2)), constant_values=9.5) */
    dp_tensor pads = I64(1, -1, 0, 2), v = {DP_FLOAT, 0, {0}, (float[]){9.5f}};
    assert_int_equal(CALL0("Pad", 13, IN(&x, &pads, &v)), DP_OK);
    assert_int_equal(out.dtype, DP_FLOAT);
    SHAPE(3, 4);
    NEAR(9.5, 9.5, 9.5, 9.5, 2, 3, 9.5, 9.5, 5, 6, 9.5, 9.5);
    /* np.pad(y, ((0, 2), (2, 1)), mode="reflect") */
    dp_tensor p2 = I64(0, 2, 2, 1);
    assert_int_equal(CALL("Pad", 11, IN(&y, &p2), ASTR("mode", "reflect")), DP_OK);
    SHAPE(5, 6);
    NEAR(2, 1, 0, 1, 2, 1, 5, 4, 3, 4, 5, 4, 8, 7, 6, 7, 8, 7, 5, 4, 3, 4, 5, 4, 2, 1, 0, 1,
         2, 1);
    /* pads [-1, 1, 1, 0], crop then pad: np.pad(y[1:, :], ((0, 1), (1, 0)), mode="edge") */
    dp_tensor p3 = I64(-1, 1, 1, 0);
    assert_int_equal(CALL("Pad", 11, IN(&y, &p3), ASTR("mode", "edge")), DP_OK);
    SHAPE(3, 4);
    NEAR(3, 3, 4, 5, 6, 6, 7, 8, 6, 6, 7, 8);
    /* no constant_value: zeros; np.pad(x, ((0, 0), (1, 0))) */
    dp_tensor p4 = I64(0, 1, 0, 0);
    assert_int_equal(CALL0("Pad", 11, IN(&x, &p4)), DP_OK);
    NEAR(0, 1, 2, 3, 0, 4, 5, 6);
}

/* Pad-2 (opsets 2-10): pads and value are attributes.
 * np.pad(np.array([[1, 2], [3, 4]], np.uint8), ((0, 0), (1, 1)), constant_values=7) */
static void pad_attributes_before_opset_11(void **state)
{
    dp_tensor x = {DP_UINT8, 2, {2, 2}, (uint8_t[]){1, 2, 3, 4}};
    assert_int_equal(CALL("Pad", 7, IN(&x), AINTS("pads", 0, 1, 0, 1), AFLOAT("value", 7)),
                     DP_OK);
    assert_int_equal(out.dtype, DP_UINT8);
    SHAPE(2, 4);
    EXACT(7, 1, 2, 7, 7, 3, 4, 7);
    dp_tensor pads = I64(0, 1, 0, 1);
    expect_fail(CALL0("Pad", 7, IN(&x, &pads)), DP_EINPUT, "attribute");
    expect_fail(CALL0("Pad", 7, IN(&x)), DP_EINPUT, "needs the pads attribute");
    expect_fail(CALL("Pad", 13, IN(&x, &pads), AINTS("pads", 0, 1, 0, 1)), DP_EINPUT, "input");
    expect_fail(CALL0("Pad", 13, IN(&x)), DP_EINPUT, "input");
}

/* Byte movers keep bit patterns: bfloat16 1.0 = 0x3f80, -2.0 = 0xc000; bool edge. */
static void pad_moves_bytes_of_any_dtype(void **state)
{
    dp_tensor x = {DP_BFLOAT16, 1, {2}, (uint16_t[]){0x3f80, 0xc000}}, pads = I64(2, 1);
    assert_int_equal(CALL("Pad", 13, IN(&x, &pads), ASTR("mode", "edge")), DP_OK);
    assert_int_equal(out.dtype, DP_BFLOAT16);
    assert_memory_equal(out.data, ((uint16_t[]){0x3f80, 0x3f80, 0x3f80, 0xc000, 0xc000}), 10);
    dp_tensor b = {DP_BOOL, 1, {3}, (uint8_t[]){1, 0, 1}}, t = {DP_BOOL, 0, {0}, (uint8_t[]){1}};
    dp_tensor p2 = I64(1, 1);
    assert_int_equal(CALL0("Pad", 13, IN(&b, &p2, &t)), DP_OK);
    EXACT(1, 1, 0, 1, 1);
    /* an empty input padded with constants is all constant */
    dp_tensor e = {DP_FLOAT, 2, {0, 2}, NULL}, p3 = I64(1, 0, 1, 0), v = F32(4);
    assert_int_equal(CALL0("Pad", 11, IN(&e, &p3, &v)), DP_OK);
    SHAPE(2, 2);
    NEAR(4, 4, 4, 4);
}

static void pad_dynamic_and_errors(void **state)
{
    dp_tensor x = {DP_FLOAT, 2, {2, 3}, (float[]){1, 2, 3, 4, 5, 6}};
    dp_tensor unknown = {DP_INT64, 1, {4}, NULL};
    assert_int_equal(CALL0("Pad", 13, IN(&x, &unknown)), DP_DYNAMIC);
    assert_int_equal(out.dtype, DP_FLOAT);
    dp_tensor big = I64(0, 3, 0, 0);
    expect_fail(CALL("Pad", 13, IN(&x, &big), ASTR("mode", "reflect")), DP_EINPUT,
                "must be smaller than dimension 1");
    dp_tensor crop = I64(-2, 0, -1, 0);
    expect_fail(CALL0("Pad", 13, IN(&x, &crop)), DP_EINPUT, "crop more");
    dp_tensor three = I64(0, 1, 0);
    expect_fail(CALL0("Pad", 13, IN(&x, &three)), DP_EINPUT, "expected 4");
    dp_tensor ok = I64(0, 1, 0, 1), v64 = {DP_DOUBLE, 0, {0}, (double[]){1}};
    expect_fail(CALL0("Pad", 13, IN(&x, &ok, &v64)), DP_EINPUT, "constant_value");
    expect_fail(CALL("Pad", 13, IN(&x, &ok), ASTR("mode", "wrap")), DP_EINPUT, "unknown mode");
    dp_tensor huge = I64(INT64_MAX, 0, 0, 0);
    expect_fail(CALL0("Pad", 13, IN(&x, &huge)), DP_EINPUT, "out of range");
    dp_tensor e = {DP_FLOAT, 2, {0, 2}, NULL}, p = I64(1, 0, 0, 0);
    expect_fail(CALL("Pad", 13, IN(&e, &p), ASTR("mode", "edge")), DP_EINPUT, "empty dimension");
}

/* ---- Tile ---- */

/* np.tile(np.array([[1, 2, 3], [4, 5, 6]]), (2, 2)) */
static void tile_matches_numpy(void **state)
{
    dp_tensor x = {DP_INT64, 2, {2, 3}, (int64_t[]){1, 2, 3, 4, 5, 6}}, rep = I64(2, 2);
    assert_int_equal(CALL0("Tile", 13, IN(&x, &rep)), DP_OK);
    SHAPE(4, 6);
    EXACT(1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6);
    dp_tensor zero = I64(0, 3);
    assert_int_equal(CALL0("Tile", 6, IN(&x, &zero)), DP_OK);
    SHAPE(0, 9);
    dp_tensor neg = I64(1, -1), one = I64(2), unknown = {DP_INT64, 1, {2}, NULL};
    expect_fail(CALL0("Tile", 13, IN(&x, &neg)), DP_EINPUT, "negative");
    expect_fail(CALL0("Tile", 13, IN(&x, &one)), DP_EINPUT, "1 repeats for rank 2");
    assert_int_equal(CALL0("Tile", 13, IN(&x, &unknown)), DP_DYNAMIC);
    dp_tensor over = I64(1, INT64_MAX / 2);
    expect_fail(CALL0("Tile", 13, IN(&x, &over)), DP_EINPUT, "overflows");
}

/* ---- DepthToSpace, SpaceToDepth ---- */

/*
 * d = np.arange(48, dtype=np.float32).reshape(1, 8, 2, 3). DCR from the spec's formula,
 * d.reshape(1, 2, 2, 2, 2, 3).transpose(0, 3, 4, 1, 5, 2).reshape(1, 2, 4, 6); CRD is
 * torch.nn.functional.pixel_shuffle(d, 2).
 */
static void depth_to_space_modes(void **state)
{
    float d[48];
    for (int i = 0; i < 48; i++)
        d[i] = (float)i;
    dp_tensor x = {DP_FLOAT, 4, {1, 8, 2, 3}, d};
    assert_int_equal(CALL("DepthToSpace", 13, IN(&x), AINT("blocksize", 2)), DP_OK);
    SHAPE(1, 2, 4, 6);
    NEAR(0, 12, 1, 13, 2, 14, 24, 36, 25, 37, 26, 38, 3, 15, 4, 16, 5, 17, 27, 39, 28, 40, 29,
         41, 6, 18, 7, 19, 8, 20, 30, 42, 31, 43, 32, 44, 9, 21, 10, 22, 11, 23, 33, 45, 34, 46,
         35, 47);
    float dcr[48];
    memcpy(dcr, outbuf, sizeof dcr);
    assert_int_equal(CALL("DepthToSpace", 11, IN(&x), AINT("blocksize", 2), ASTR("mode", "CRD")),
                     DP_OK);
    NEAR(0, 6, 1, 7, 2, 8, 12, 18, 13, 19, 14, 20, 3, 9, 4, 10, 5, 11, 15, 21, 16, 22, 17, 23,
         24, 30, 25, 31, 26, 32, 36, 42, 37, 43, 38, 44, 27, 33, 28, 34, 29, 35, 39, 45, 40, 46,
         41, 47);
    /* before opset 11 there is no mode: always DCR */
    assert_int_equal(CALL("DepthToSpace", 7, IN(&x), AINT("blocksize", 2), ASTR("mode", "CRD")),
                     DP_OK);
    assert_memory_equal(outbuf, dcr, sizeof dcr);
    expect_fail(CALL("DepthToSpace", 13, IN(&x), AINT("blocksize", 3)), DP_EINPUT,
                "not a multiple");
    expect_fail(CALL0("DepthToSpace", 13, IN(&x)), DP_EINPUT, "blocksize");
    expect_fail(CALL("DepthToSpace", 13, IN(&x), AINT("blocksize", 2), ASTR("mode", "XYZ")),
                DP_EINPUT, "unknown mode");
}

/* s = np.arange(48, dtype=np.float32).reshape(1, 2, 4, 6);
 * s.reshape(1, 2, 2, 2, 3, 2).transpose(0, 3, 5, 1, 2, 4).reshape(1, 8, 2, 3) */
static void space_to_depth_inverts_dcr(void **state)
{
    float s[48];
    for (int i = 0; i < 48; i++)
        s[i] = (float)i;
    dp_tensor x = {DP_FLOAT, 4, {1, 2, 4, 6}, s};
    assert_int_equal(CALL("SpaceToDepth", 13, IN(&x), AINT("blocksize", 2)), DP_OK);
    SHAPE(1, 8, 2, 3);
    NEAR(0, 2, 4, 12, 14, 16, 24, 26, 28, 36, 38, 40, 1, 3, 5, 13, 15, 17, 25, 27, 29, 37, 39,
         41, 6, 8, 10, 18, 20, 22, 30, 32, 34, 42, 44, 46, 7, 9, 11, 19, 21, 23, 31, 33, 35, 43,
         45, 47);
    float back[48];
    memcpy(back, outbuf, sizeof back);
    dp_tensor y = {DP_FLOAT, 4, {1, 8, 2, 3}, back};
    assert_int_equal(CALL("DepthToSpace", 13, IN(&y), AINT("blocksize", 2)), DP_OK);
    assert_memory_equal(outbuf, s, sizeof s);
    expect_fail(CALL("SpaceToDepth", 13, IN(&x), AINT("blocksize", 4)), DP_EINPUT, "multiples");
    dp_tensor r3 = {DP_FLOAT, 3, {2, 4, 6}, s};
    expect_fail(CALL("SpaceToDepth", 13, IN(&r3), AINT("blocksize", 2)), DP_EINPUT, "4-D");
}

/* ---- Trilu ---- */

static void trilu_matches_numpy(void **state)
{
    float m[12];
    for (int i = 0; i < 12; i++)
        m[i] = (float)(i + 1);
    dp_tensor x = {DP_FLOAT, 2, {3, 4}, m}, k1 = {DP_INT64, 0, {0}, (int64_t[]){1}};
    /* np.triu(np.arange(1, 13.).reshape(3, 4), 1) */
    assert_int_equal(CALL0("Trilu", 14, IN(&x, &k1)), DP_OK);
    SHAPE(3, 4);
    NEAR(0, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 12);
    /* np.tril(np.arange(1, 19, dtype=np.int32).reshape(2, 3, 3), -1) */
    int32_t b[18];
    for (int i = 0; i < 18; i++)
        b[i] = i + 1;
    dp_tensor xb = {DP_INT32, 3, {2, 3, 3}, b}, km1 = I64(-1);
    assert_int_equal(CALL("Trilu", 14, IN(&xb, &km1), AINT("upper", 0)), DP_OK);
    EXACT(0, 0, 0, 4, 0, 0, 7, 8, 0, 0, 0, 0, 13, 0, 0, 16, 17, 0);
    /* k far beyond the matrix: np.tril(x, 2**62) keeps everything, np.triu(x, 2**62) none */
    dp_tensor kbig = I64((int64_t)1 << 62);
    assert_int_equal(CALL("Trilu", 14, IN(&x, &kbig), AINT("upper", 0)), DP_OK);
    NEAR(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
    assert_int_equal(CALL0("Trilu", 14, IN(&x, &kbig)), DP_OK);
    NEAR(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    /* default k = 0, upper: np.triu */
    assert_int_equal(CALL0("Trilu", 14, IN(&x)), DP_OK);
    NEAR(1, 2, 3, 4, 0, 6, 7, 8, 0, 0, 11, 12);
    dp_tensor v = {DP_FLOAT, 1, {12}, m}, two = I64(1, 2);
    expect_fail(CALL0("Trilu", 14, IN(&v)), DP_EINPUT, "rank 2");
    expect_fail(CALL0("Trilu", 14, IN(&x, &two)), DP_EINPUT, "one element");
    dp_tensor e = {DP_FLOAT, 3, {2, 0, 3}, NULL};
    assert_int_equal(CALL0("Trilu", 14, IN(&e)), DP_OK);
    SHAPE(2, 0, 3);
}

/* ---- OneHot ---- */

/*
 * indices [[1, -1], [5, 0]], depth 3, axis 1, values [2, 7]: a loop over np.ndindex checked
 * against torch.nn.functional.one_hot; opset 9 leaves negative indices all "off".
 */
static void onehot_axes_and_negative_indices(void **state)
{
    dp_tensor ind = {DP_INT64, 2, {2, 2}, (int64_t[]){1, -1, 5, 0}};
    dp_tensor depth = {DP_FLOAT, 0, {0}, (float[]){3.7f}}; /* cast to int64: 3 */
    dp_tensor vals = {DP_FLOAT, 1, {2}, (float[]){2, 7}};
    assert_int_equal(CALL("OneHot", 11, IN(&ind, &depth, &vals), AINT("axis", 1)), DP_OK);
    assert_int_equal(out.dtype, DP_FLOAT);
    SHAPE(2, 3, 2);
    NEAR(2, 2, 7, 2, 2, 7, 2, 7, 2, 2, 2, 2);
    assert_int_equal(CALL("OneHot", 9, IN(&ind, &depth, &vals), AINT("axis", -2)), DP_OK);
    NEAR(2, 2, 7, 2, 2, 2, 2, 7, 2, 2, 2, 2);
    /* default axis -1, int8 values, float indices truncated: [[0, 1, 0], [0, 0, 0]] */
    dp_tensor fi = {DP_FLOAT, 1, {2}, (float[]){1.9f, 3}}, d3 = I64(3);
    dp_tensor v8 = {DP_INT8, 1, {2}, (int8_t[]){0, 1}};
    assert_int_equal(CALL0("OneHot", 11, IN(&fi, &d3, &v8)), DP_OK);
    assert_int_equal(out.dtype, DP_INT8);
    SHAPE(2, 3);
    EXACT(0, 1, 0, 0, 0, 0);
    dp_tensor unknown = {DP_INT64, 1, {1}, NULL}, v3 = F32(0, 1, 2);
    assert_int_equal(CALL0("OneHot", 11, IN(&ind, &unknown, &vals)), DP_DYNAMIC);
    assert_int_equal(out.dtype, DP_FLOAT);
    expect_fail(CALL0("OneHot", 11, IN(&ind, &d3, &v3)), DP_EINPUT, "2 elements");
    expect_fail(CALL("OneHot", 11, IN(&ind, &d3, &vals), AINT("axis", 3)), DP_EINPUT,
                "out of range");
    dp_tensor dneg = I64(-2);
    expect_fail(CALL0("OneHot", 11, IN(&ind, &dneg, &vals)), DP_EINPUT, "depth");
}

/* ---- Range ---- */

static void range_matches_numpy(void **state)
{
    /* np.arange(np.float32(1), np.float32(2.2), np.float32(0.3)): 4 elements in float32,
     * where the same bounds in double would make 5 */
    dp_tensor s = F32(1), l = F32(2.2f), d = F32(0.3f);
    assert_int_equal(CALL0("Range", 11, IN(&s, &l, &d)), DP_OK);
    assert_int_equal(out.dtype, DP_FLOAT);
    SHAPE(4);
    NEAR(1, 1.29999995, 1.5999999, 1.89999986);
    /* np.arange(10, 3, -3) */
    dp_tensor si = {DP_INT64, 0, {0}, (int64_t[]){10}}, li = {DP_INT64, 0, {0}, (int64_t[]){3}};
    dp_tensor di = {DP_INT64, 0, {0}, (int64_t[]){-3}};
    assert_int_equal(CALL0("Range", 11, IN(&si, &li, &di)), DP_OK);
    SHAPE(3);
    EXACT(10, 7, 4);
    /* the wrong direction is empty: np.arange(3, 10, -3) */
    assert_int_equal(CALL0("Range", 11, IN(&li, &si, &di)), DP_OK);
    SHAPE(0);
    /* the full int64 range, where limit - start overflows:
     * Python's range(-2**63, 2**63 - 1, 2**62) */
    dp_tensor smin = I64(INT64_MIN), lmax = I64(INT64_MAX), dq = I64((int64_t)1 << 62);
    assert_int_equal(CALL0("Range", 11, IN(&smin, &lmax, &dq)), DP_OK);
    SHAPE(4);
    EXACT(INT64_MIN, -((int64_t)1 << 62), 0, (int64_t)1 << 62);
    /* int32 and int16 compute in their own type: np.arange(-5, 5, 4, dtype=np.int16) */
    dp_tensor a = {DP_INT16, 0, {0}, (int16_t[]){-5}}, b = {DP_INT16, 0, {0}, (int16_t[]){5}};
    dp_tensor c = {DP_INT16, 0, {0}, (int16_t[]){4}};
    assert_int_equal(CALL0("Range", 11, IN(&a, &b, &c)), DP_OK);
    assert_int_equal(out.dtype, DP_INT16);
    EXACT(-5, -1, 3);
}

static void range_dynamic_and_errors(void **state)
{
    dp_tensor s = I64(0), l = I64((int64_t)1 << 50), one = I64(1), zero = I64(0);
    expect_fail(CALL0("Range", 11, IN(&s, &l, &one)), DP_EINPUT, "limit of 2^40");
    expect_fail(CALL0("Range", 11, IN(&s, &l, &zero)), DP_EINPUT, "delta is zero");
    dp_tensor unknown = {DP_INT64, 0, {0}, NULL};
    assert_int_equal(CALL0("Range", 11, IN(&s, &unknown, &one)), DP_DYNAMIC);
    assert_int_equal(out.dtype, DP_INT64);
    dp_tensor f = F32(1);
    expect_fail(CALL0("Range", 11, IN(&s, &f, &one)), DP_EINPUT, "share one dtype");
    dp_tensor fs = F32(0), finf = F32(INFINITY), fd = F32(1);
    expect_fail(CALL0("Range", 11, IN(&fs, &finf, &fd)), DP_EINPUT, "limit of 2^40");
    dp_tensor two = I64(1, 2);
    expect_fail(CALL0("Range", 11, IN(&s, &two, &one)), DP_EINPUT, "exactly one element");
    dp_tensor u8 = {DP_UINT8, 0, {0}, (uint8_t[]){1}};
    expect_fail(CALL0("Range", 11, IN(&u8, &u8, &u8)), DP_EUNSUPPORTED, "uint8");
}

/* ---- ConstantOfShape ---- */

static void constant_of_shape_values_and_shapes(void **state)
{
    dp_tensor shape = I64(2, 3);
    assert_int_equal(CALL0("ConstantOfShape", 9, IN(&shape)), DP_OK);
    assert_int_equal(out.dtype, DP_FLOAT);
    SHAPE(2, 3);
    NEAR(0, 0, 0, 0, 0, 0);
    dp_tensor seven = {DP_INT64, 1, {1}, (int64_t[]){7}};
    dp_attr value = {.name = "value", .kind = DP_ATTR_TENSOR, .t = &seven};
    assert_int_equal(call("ConstantOfShape", 9, IN(&shape), &value, 1), DP_OK);
    assert_int_equal(out.dtype, DP_INT64);
    EXACT(7, 7, 7, 7, 7, 7);
    dp_tensor empty = {DP_INT64, 1, {0}, (int64_t[]){0}}, z = I64(4, 0);
    assert_int_equal(call("ConstantOfShape", 9, IN(&empty), &value, 1), DP_OK);
    SCALAR();
    EXACT(7);
    assert_int_equal(call("ConstantOfShape", 9, IN(&z), &value, 1), DP_OK);
    SHAPE(4, 0);
    dp_tensor unknown = {DP_INT64, 1, {3}, NULL}, neg = I64(2, -1);
    assert_int_equal(call("ConstantOfShape", 9, IN(&unknown), &value, 1), DP_DYNAMIC);
    assert_int_equal(out.dtype, DP_INT64);
    expect_fail(CALL0("ConstantOfShape", 9, IN(&neg)), DP_EINPUT, "negative");
    dp_tensor pair = I64(1, 2);
    dp_attr bad = {.name = "value", .kind = DP_ATTR_TENSOR, .t = &pair};
    expect_fail(call("ConstantOfShape", 9, IN(&shape), &bad, 1), DP_EINPUT, "one element");
}

/* ---- Resize, Upsample ---- */

/* xr = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4) * 1.5 - 2; xr[0, 0, 1, 2] = -6 */
static float XR[12] = {-2, -0.5f, 1, 2.5f, 4, 5.5f, -6, 8.5f, 10, 11.5f, 13, 14.5f};
static dp_tensor xr(void) { return (dp_tensor){DP_FLOAT, 4, {1, 1, 3, 4}, XR}; }

/* torch.nn.functional.interpolate(xr, size=..., mode=..., align_corners=...) */
static void resize_linear_cubic_match_torch(void **state)
{
    dp_tensor x = xr(), none = {DP_FLOAT, 1, {0}, NULL}, sizes = I64(1, 1, 5, 7);
    /* bilinear, align_corners=False */
    assert_int_equal(CALL("Resize", 13, IN(&x, &none, &none, &sizes), ASTR("mode", "linear"),
                          ASTR("coordinate_transformation_mode", "pytorch_half_pixel")), DP_OK);
    SHAPE(1, 1, 5, 7);
    NEAR_T(-2, -1.4642856, -0.60714281, 0.25000018, 1.107143, 1.964286, 2.5, 0.40000021,
           0.93571442, 1.7928574, 0.049999557, -1.3214281, 2.5071442, 4.9000006, 4.0000005,
           4.5357146, 5.3928576, -0.25000045, -4.964283, 3.3214316, 8.500001, 7.6000004,
           8.1357145, 8.9928579, 7.2500005, 5.8785734, 9.7071447, 12.1, 10, 10.535713,
           11.392858, 12.25, 13.107143, 13.964286, 14.5);
    /* bilinear, align_corners=True */
    assert_int_equal(CALL("Resize", 13, IN(&x, &none, &none, &sizes), ASTR("mode", "linear"),
                          ASTR("coordinate_transformation_mode", "align_corners")), DP_OK);
    NEAR_T(-2, -1.25, -0.5, 0.25, 1, 1.75, 2.5, 1, 1.75, 2.5, 0, -2.5, 1.5, 5.5, 4, 4.75, 5.5,
           -0.25, -6, 1.25, 8.5, 7, 7.75, 8.5, 6, 3.5, 7.5, 11.5, 10, 10.75, 11.5, 12.25, 13,
           13.75, 14.5);
    /* bicubic (a = -0.75), align_corners=False: half_pixel */
    assert_int_equal(CALL("Resize", 13, IN(&x, &none, &none, &sizes), ASTR("mode", "cubic")),
                     DP_OK);
    NEAR_T(-2.7248259, -2.233882, -1.2887589, 0.41500029, 1.8133527, 2.0071285, 1.9490031,
           -0.2528218, 0.68262929, 1.5171187, -1.404623, -2.862963, 1.5717318, 5.1381416,
           3.8511777, 5.2183437, 5.9453831, -1.4687507, -5.7015753, 2.8519976, 9.9386396,
           7.9551783, 8.890626, 9.7251148, 6.8033748, 5.3450351, 9.7797289, 13.34614,
           10.427181, 10.918119, 11.86324, 13.567001, 14.965353, 15.159128, 15.101005);
    dp_tensor down = I64(1, 1, 2, 3);
    assert_int_equal(CALL("Resize", 13, IN(&x, &none, &none, &down), ASTR("mode", "cubic")),
                     DP_OK);
    SHAPE(1, 1, 2, 3);
    NEAR_T(-0.60325801, -0.62170434, 2.9118347, 9.0998688, 9.0814209, 12.614963);
}

/* x3 = np.arange(12, dtype=np.float32).reshape(1, 1, 2, 3, 2) ** 1.5, trilinear to 3x4x3 */
static void resize_trilinear_matches_torch(void **state)
{
    float v[12];
    for (int i = 0; i < 12; i++)
        v[i] = (float)pow(i, 1.5);
    dp_tensor x = {DP_FLOAT, 5, {1, 1, 2, 3, 2}, v}, none = {DP_FLOAT, 1, {0}, NULL};
    dp_tensor sizes = I64(1, 1, 3, 4, 3);
    assert_int_equal(CALL("Resize", 13, IN(&x, &none, &none, &sizes), ASTR("mode", "linear")),
                     DP_OK);
    SHAPE(1, 1, 3, 4, 3);
    NEAR_T(0, 0.5, 1, 1.767767, 2.6951811, 3.6225951, 4.767767, 6.1039948, 7.4402223, 8,
           9.5901699, 11.18034, 7.3484693, 8.5542994, 9.760129, 10.710628, 12.215986,
           13.721345, 15.384222, 17.191185, 18.998148, 19.811388, 21.821497, 23.831606,
           14.696939, 16.608597, 18.520256, 19.653486, 21.736792, 23.820095, 26.000675,
           28.278376, 30.556074, 31.622776, 34.052822, 36.482868);
}

static void resize_nearest_modes(void **state)
{
    dp_tensor x = xr(), none = {DP_FLOAT, 1, {0}, NULL}, sizes = I64(1, 1, 5, 3);
    /* torch mode="nearest" is asymmetric + floor */
    assert_int_equal(CALL("Resize", 13, IN(&x, &none, &none, &sizes),
                          ASTR("coordinate_transformation_mode", "asymmetric"),
                          ASTR("nearest_mode", "floor")), DP_OK);
    NEAR(-2, -0.5, 1, -2, -0.5, 1, 4, 5.5, -6, 4, 5.5, -6, 10, 11.5, 13);
    /* torch mode="nearest-exact" is half_pixel + round_prefer_ceil */
    assert_int_equal(CALL("Resize", 13, IN(&x, &none, &none, &sizes),
                          ASTR("nearest_mode", "round_prefer_ceil")), DP_OK);
    NEAR(-2, 1, 2.5, -2, 1, 2.5, 4, -6, 8.5, 10, 13, 14.5, 10, 13, 14.5);
    /* any dtype: int8 2x3 to 3x5, half_pixel round_prefer_ceil, from the ONNX reference */
    dp_tensor i8 = {DP_INT8, 2, {2, 3}, (int8_t[]){-3, 5, 100, 7, -128, 2}}, s2 = I64(3, 5);
    assert_int_equal(CALL("Resize", 11, IN(&i8, &none, &none, &s2),
                          ASTR("nearest_mode", "round_prefer_ceil")), DP_OK);
    assert_int_equal(out.dtype, DP_INT8);
    EXACT(-3, -3, 5, 100, 100, 7, 7, -128, 2, 2, 7, 7, -128, 2, 2);
}

/* From the ONNX reference interpolate_nd, which torch has no equivalent for. */
static void resize_crop_and_exclude_outside(void **state)
{
    dp_tensor x = xr(), none = {DP_FLOAT, 1, {0}, NULL}, sizes = I64(1, 1, 3, 3);
    /* linear, roi [0, 0, 0.4, 0.6, 1, 1, 1.2, 0.7], extrapolation_value -5 */
    dp_tensor roi = F32(0, 0, 0.4f, 0.6f, 1, 1, 1.2f, 0.7f);
    assert_int_equal(CALL("Resize", 13, IN(&x, &roi, &none, &sizes), ASTR("mode", "linear"),
                          ASTR("coordinate_transformation_mode", "tf_crop_and_resize"),
                          AFLOAT("extrapolation_value", -5)), DP_OK);
    NEAR(-2.8199999, -4.1550002, -3.4100001, 6.1399999, 5.585, 6.0700002, -5, -5, -5);
    /* nearest extrapolates the same way */
    assert_int_equal(CALL("Resize", 13, IN(&x, &roi, &none, &sizes),
                          ASTR("coordinate_transformation_mode", "tf_crop_and_resize"),
                          AFLOAT("extrapolation_value", -5)), DP_OK);
    assert_true(dp_load_f64(out.data, DP_FLOAT, 8) == -5);
    /* cubic a = -0.5, exclude_outside, scales [1, 1, 1.7, 0.8] */
    dp_tensor scales = F32(1, 1, 1.7f, 0.8f);
    assert_int_equal(CALL("Resize", 13, IN(&x, &none, &scales), ASTR("mode", "cubic"),
                          AFLOAT("cubic_coeff_a", -0.5f), AINT("exclude_outside", 1)), DP_OK);
    SHAPE(1, 1, 5, 3);
    NEAR(-2.3585787, -0.0095367013, 1.979571, -0.12763399, -0.09427847, 2.0502577, 4.0135989,
         0.82852089, 3.1890779, 8.0588217, 7.6929908, 9.8643208, 10.463112, 12.722239,
         14.717382);
    /* integers interpolate in double and truncate as the reference's astype does */
    dp_tensor i32 = {DP_INT32, 2, {1, 2}, (int32_t[]){0, 10}}, s4 = I64(1, 4);
    assert_int_equal(CALL("Resize", 13, IN(&i32, &none, &none, &s4), ASTR("mode", "linear")),
                     DP_OK);
    EXACT(0, 2, 7, 10);
}

/* Upsample-7/9 and Resize-10: asymmetric coordinates, floor rounding. */
static void upsample_and_resize10(void **state)
{
    dp_tensor x = xr();
    /* the ONNX reference, coordinate_transformation_mode="asymmetric", scales [1, 1, 2, 1.5] */
    dp_tensor scales = F32(1, 1, 2, 1.5f);
    assert_int_equal(CALL("Upsample", 9, IN(&x, &scales), ASTR("mode", "linear")), DP_OK);
    SHAPE(1, 1, 6, 6);
    NEAR(-2, -1, 0, 1, 2, 2.5, 1, 2, 0.83333331, -2.5, 2.8333333, 5.5, 4, 5, 1.6666666, -6,
         3.6666667, 8.5, 7, 8, 6.8333335, 3.5, 8.833333, 11.5, 10, 11, 12, 13, 14, 14.5, 10, 11,
         12, 13, 14, 14.5);
    /* Upsample-7: scales attribute; nearest doubles rows: np.repeat(xr, 2, axis=2) */
    assert_int_equal(CALL("Upsample", 7, IN(&x), AFLOATS("scales", 1, 1, 2, 1)), DP_OK);
    SHAPE(1, 1, 6, 4);
    NEAR(-2, -0.5, 1, 2.5, -2, -0.5, 1, 2.5, 4, 5.5, -6, 8.5, 4, 5.5, -6, 8.5, 10, 11.5, 13,
         14.5, 10, 11.5, 13, 14.5);
    /* Resize-10 downsampling: torch interpolate(xr, scale_factor=(0.7, 0.6), mode="nearest") */
    dp_tensor down = F32(1, 1, 0.7f, 0.6f);
    assert_int_equal(CALL0("Resize", 10, IN(&x, &down)), DP_OK);
    SHAPE(1, 1, 2, 2);
    NEAR(-2, -0.5, 4, 5.5);
    expect_fail(CALL0("Upsample", 9, IN(&x, &down)), DP_EINPUT, ">= 1");
    expect_fail(CALL("Resize", 10, IN(&x, &down), ASTR("mode", "cubic")), DP_EINPUT,
                "unknown mode");
    expect_fail(CALL0("Resize", 10, IN(&x, &down, &down)), DP_EINPUT, "scales input");
    expect_fail(CALL("Upsample", 7, IN(&x, &scales), AFLOATS("scales", 1, 1, 2, 1)), DP_EINPUT,
                "attribute");
    expect_fail(CALL0("Upsample", 7, IN(&x)), DP_EINPUT, "scales attribute");
}

static void resize_dynamic_and_errors(void **state)
{
    dp_tensor x = xr(), none = {DP_FLOAT, 1, {0}, NULL};
    dp_tensor unknown = {DP_FLOAT, 1, {4}, NULL}, unknown_sizes = {DP_INT64, 1, {4}, NULL};
    dp_tensor scales = F32(1, 1, 2, 2), sizes = I64(1, 1, 2, 2);
    assert_int_equal(CALL0("Resize", 13, IN(&x, &none, &unknown)), DP_DYNAMIC);
    assert_int_equal(out.dtype, DP_FLOAT);
    assert_int_equal(CALL0("Resize", 13, IN(&x, &none, &none, &unknown_sizes)), DP_DYNAMIC);
    expect_fail(CALL0("Resize", 13, IN(&x, &none, &scales, &sizes)), DP_EINPUT, "exactly one");
    expect_fail(CALL0("Resize", 13, IN(&x)), DP_EINPUT, "exactly one");
    expect_fail(CALL("Resize", 13, IN(&x, &none, &scales), ASTR("mode", "area")), DP_EINPUT,
                "unknown mode");
    expect_fail(CALL("Resize", 13, IN(&x, &none, &scales),
                     ASTR("coordinate_transformation_mode", "corners")), DP_EINPUT,
                "coordinate_transformation_mode");
    dp_tensor zero = F32(1, 1, 0, 2), three = I64(1, 3, 4);
    expect_fail(CALL0("Resize", 13, IN(&x, &none, &zero)), DP_EINPUT, "positive");
    expect_fail(CALL0("Resize", 13, IN(&x, &none, &none, &three)), DP_EINPUT, "3 sizes");
    /* tf_crop_and_resize: the roi scales the shape, floor(3 * 0.6 * 1.5) = 2 and
     * floor(4 * 0.5 * 0.5) = 1; an unknown roi matters only with scales */
    dp_tensor roi = F32(0, 0, 0.2f, 0.5f, 1, 1, 0.8f, 1), s2 = F32(1, 1, 1.5f, 0.5f);
    dp_tensor roi_unknown = {DP_FLOAT, 1, {8}, NULL};
    dp_attr crop = ASTR("coordinate_transformation_mode", "tf_crop_and_resize");
    assert_int_equal(call("Resize", 13, IN(&x, &roi, &s2), &crop, 1), DP_OK);
    SHAPE(1, 1, 2, 1);
    assert_int_equal(call("Resize", 13, IN(&x, &roi_unknown, &s2), &crop, 1), DP_DYNAMIC);
    dp_tensor *in[] = {&x, &roi_unknown, &none, &sizes};
    const dp_op_def *def = dp_op_find("Resize");
    dp_tensor *outp[1] = {&out};
    dp_kctx k = {.node = "n", .op = "Resize", .opset = 13, .attrs = &crop, .n_attrs = 1,
                 .in = in, .n_in = 4, .out = outp, .n_out = 1, .err = &err};
    assert_int_equal(dp_node_types_infer(def, &k), DP_OK);
    SHAPE(1, 1, 2, 2);
    /* opset 11's empty scales stand for "use sizes" */
    dp_tensor empty = {DP_FLOAT, 1, {0}, (float[]){0}};
    assert_int_equal(CALL0("Resize", 11, IN(&x, &empty, &empty, &sizes)), DP_OK);
    SHAPE(1, 1, 2, 2);
    /* empty tensors: nothing to compute, but an empty dim cannot grow */
    dp_tensor e = {DP_FLOAT, 3, {1, 0, 2}, NULL}, se = I64(1, 0, 4), sg = I64(1, 3, 4);
    assert_int_equal(CALL("Resize", 13, IN(&e, &none, &none, &se), ASTR("mode", "linear")),
                     DP_OK);
    SHAPE(1, 0, 4);
    expect_fail(CALL0("Resize", 13, IN(&e, &none, &none, &sg)), DP_EINPUT, "empty dimension");
    dp_tensor flags = {DP_BOOL, 1, {2}, (uint8_t[]){0, 1}}, s1 = I64(4);
    expect_fail(CALL("Resize", 13, IN(&flags, &none, &none, &s1), ASTR("mode", "linear")),
                DP_EUNSUPPORTED, "bool");
}

/* Every element to its transposed place, whole 16 x 16 blocks and ragged edges alike, with
 * strides wider than the rows; nothing written past the columns the result has. */
static void transpose_by_definition(void **state)
{
    enum { MAX = 50, PAD = 3 };
    static const int64_t sizes[][2] = {{1, 1}, {16, 16}, {17, 33}, {48, 31}, {5, 50}, {50, 16}};
    static float src[MAX * (MAX + PAD)], dst[MAX * (MAX + PAD)];
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int64_t rows = sizes[k][0], cols = sizes[k][1], lds = cols + PAD, ldd = rows + PAD;
        for (int64_t i = 0; i < rows * lds; i++)
            src[i] = (float)i + 0.5f;
        for (int64_t i = 0; i < cols * ldd; i++)
            dst[i] = -1.0f;
        dp_transpose(src, lds, rows, cols, dst, ldd);
        for (int64_t j = 0; j < cols; j++)
            for (int64_t i = 0; i < ldd; i++)
                assert_true(dst[j * ldd + i] == (i < rows ? src[i * lds + j] : -1.0f));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pad_modes_match_numpy),
        cmocka_unit_test(pad_attributes_before_opset_11),
        cmocka_unit_test(pad_moves_bytes_of_any_dtype),
        cmocka_unit_test(pad_dynamic_and_errors),
        cmocka_unit_test(tile_matches_numpy),
        cmocka_unit_test(depth_to_space_modes),
        cmocka_unit_test(space_to_depth_inverts_dcr),
        cmocka_unit_test(trilu_matches_numpy),
        cmocka_unit_test(onehot_axes_and_negative_indices),
        cmocka_unit_test(range_matches_numpy),
        cmocka_unit_test(range_dynamic_and_errors),
        cmocka_unit_test(constant_of_shape_values_and_shapes),
        cmocka_unit_test(resize_linear_cubic_match_torch),
        cmocka_unit_test(resize_trilinear_matches_torch),
        cmocka_unit_test(resize_nearest_modes),
        cmocka_unit_test(resize_crop_and_exclude_outside),
        cmocka_unit_test(upsample_and_resize10),
        cmocka_unit_test(resize_dynamic_and_errors),
        cmocka_unit_test(transpose_by_definition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
