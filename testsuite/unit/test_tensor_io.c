/*
 * test_tensor_io.c: .pb and .npy tensor files: round trips, files written by the reference
 * tools (onnx, numpy), and truncated or malformed files, which must fail with DP_EINPUT.
 * The fixtures in testsuite/data come from testsuite/data/make_fixtures.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tensor_io.h"

static char tmpdir[64];

static int make_tmpdir(void **state)
{
    strcpy(tmpdir, "/tmp/test_tensor_io_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    DIR *d = opendir(tmpdir);
    if (d) {
        char path[512];
        for (struct dirent *e; (e = readdir(d));) {
            snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlink(path);
        }
        closedir(d);
    }
    return rmdir(tmpdir);
}

static const char *tmp_path(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

/* testsuite/data, found through DPCC_SOURCE_DIR (ctest sets it) or this file's own path. */
static const char *data_path(const char *name)
{
    static char path[1024];
    const char *src = getenv("DPCC_SOURCE_DIR");
    if (src)
        snprintf(path, sizeof path, "%s/testsuite/data/%s", src, name);
    else
        snprintf(path, sizeof path, "%.*s/../data/%s",
                 (int)(strrchr(__FILE__, '/') - __FILE__), __FILE__, name);
    return path;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void expect_error(const char *path, dp_status want, const char *needle)
{
    dp_arena a;
    dp_arena_init(&a, 0);
    dp_tensor t;
    dp_error err = {0};
    dp_status st = dp_tensor_read(path, &a, &t, NULL, &err);
    if (st != want || !strstr(err.msg, path) || (needle && !strstr(err.msg, needle)))
        fail_msg("%s: status %d (want %d), message '%s' (want '%s')", path, st, want, err.msg,
                 needle ? needle : "the path");
    dp_arena_free(&a);
}

/* Writes t to NAME in both formats where possible and checks what comes back. */
static void round_trip_one(const dp_tensor *t, const char *suffix)
{
    char name[64];
    snprintf(name, sizeof name, "rt_%s_%d%s", dp_dtype_name(t->dtype), t->rank, suffix);
    const char *path = tmp_path(name);
    dp_error err = {0};
    assert_int_equal(dp_tensor_write(path, t, "the_name", &err), DP_OK);
    dp_arena a;
    dp_arena_init(&a, 0);
    dp_tensor back;
    char *back_name;
    if (dp_tensor_read(path, &a, &back, &back_name, &err) != DP_OK)
        fail_msg("%s: %s", path, err.msg);
    assert_int_equal(back.dtype, t->dtype);
    assert_true(dp_same_shape(&back, t));
    assert_memory_equal(back.data, t->data, dp_nbytes(t));
    assert_string_equal(back_name, strcmp(suffix, ".pb") == 0 ? "the_name" : "");
    assert_int_equal((uintptr_t)back.data % dp_dtype_size(t->dtype), 0);
    dp_arena_free(&a);
}

static void round_trips_every_dtype(void **state)
{
    static const dp_dtype types[] = {DP_FLOAT, DP_DOUBLE, DP_FLOAT16, DP_BFLOAT16, DP_INT8,
                                     DP_INT16, DP_INT32, DP_INT64, DP_UINT8, DP_UINT16,
                                     DP_UINT32, DP_UINT64, DP_BOOL};
    unsigned char data[2 * 3 * 4 * 8];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 37 + 11);
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        if (types[k] == DP_BOOL)
            for (size_t i = 0; i < sizeof data; i++)
                data[i] &= 1;
        dp_tensor t = {types[k], 3, {2, 3, 4}, data};
        dp_tensor scalar = {types[k], 0, {0}, data};
        dp_tensor empty = {types[k], 2, {0, 5}, data};
        round_trip_one(&t, ".pb");
        round_trip_one(&scalar, ".pb");
        round_trip_one(&empty, ".pb");
        if (types[k] == DP_BFLOAT16)
            continue; /* numpy has no bfloat16 */
        round_trip_one(&t, ".npy");
        round_trip_one(&scalar, ".npy");
        round_trip_one(&empty, ".npy");
    }
    dp_tensor bf = {DP_BFLOAT16, 1, {2}, data};
    dp_error err = {0};
    assert_int_equal(dp_tensor_write(tmp_path("bf.npy"), &bf, NULL, &err), DP_EUNSUPPORTED);
    assert_int_equal(access(tmp_path("bf.npy"), F_OK), -1);
}

static void written_npy_is_what_numpy_writes(void **state)
{
    float v[6] = {0, 1, 2, 3, 4, 5};
    dp_tensor t = {DP_FLOAT, 2, {2, 3}, v};
    dp_error err = {0};
    assert_int_equal(dp_tensor_write(tmp_path("w.npy"), &t, NULL, &err), DP_OK);
    FILE *f = fopen(tmp_path("w.npy"), "rb");
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_int_equal(n, 128 + sizeof v);
    /* np.save(np.arange(6, dtype='<f4').reshape(2, 3)) writes exactly this 128-byte preamble. */
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    assert_memory_equal(buf, "\x93NUMPY\x01\x00\x76\x00", 10);
    assert_memory_equal(buf + 10, dict, strlen(dict));
    assert_int_equal(buf[127], '\n');
    assert_int_equal(buf[126], ' ');
}

/*
 * The ONNX backend test data. Values from /usr/bin/python3:
 *   numpy_helper.to_array(onnx.load_tensor(".../test_add/test_data_set_0/input_0.pb"))
 *   -> name 'x', float32, shape (3, 4, 5), [0,0,0] 1.7640524, [0,0,1] 0.4001572,
 *      [2,3,4] -0.36274117
 */
static void reads_onnx_test_data(void **state)
{
    const char *path = "/usr/share/libonnx-testdata/data/node/test_add/test_data_set_0/input_0.pb";
    if (access(path, R_OK) != 0)
        skip();
    dp_arena a;
    dp_arena_init(&a, 0);
    dp_tensor t;
    char *name;
    dp_error err = {0};
    assert_int_equal(dp_tensor_read(path, &a, &t, &name, &err), DP_OK);
    assert_string_equal(name, "x");
    assert_int_equal(t.dtype, DP_FLOAT);
    assert_int_equal(t.rank, 3);
    assert_int_equal(t.dims[0], 3);
    assert_int_equal(t.dims[1], 4);
    assert_int_equal(t.dims[2], 5);
    const float *x = t.data;
    assert_true(x[0] == 1.7640524f);
    assert_true(x[1] == 0.4001572f);
    assert_true(x[59] == -0.36274117f);
    dp_arena_free(&a);

    const char *strings =
        "/usr/share/libonnx-testdata/data/node/test_cast_FLOAT_to_STRING/test_data_set_0/output_0.pb";
    if (access(strings, R_OK) == 0)
        expect_error(strings, DP_EUNSUPPORTED, "string");
}

static dp_tensor read_ok(const char *path, dp_arena *a, dp_dtype dtype, int rank, int64_t d0)
{
    dp_tensor t;
    dp_error err = {0};
    if (dp_tensor_read(path, a, &t, NULL, &err) != DP_OK)
        fail_msg("%s: %s", path, err.msg);
    assert_int_equal(t.dtype, dtype);
    assert_int_equal(t.rank, rank);
    if (rank > 0)
        assert_int_equal(t.dims[0], d0);
    return t;
}

/* onnx.helper.make_tensor(..., raw=False): the values sit in the typed fields. */
static void reads_typed_fields(void **state)
{
    dp_arena a;
    dp_arena_init(&a, 0);
    dp_tensor t = read_ok(data_path("typed_float.pb"), &a, DP_FLOAT, 2, 2);
    const float *f = t.data;
    assert_true(f[0] == 0.5f && f[1] == -1.25f && f[2] == 3.0f && f[3] == 1e-3f);
    t = read_ok(data_path("typed_int8.pb"), &a, DP_INT8, 1, 3);
    assert_int_equal(((int8_t *)t.data)[0], -128);
    assert_int_equal(((int8_t *)t.data)[2], 127);
    t = read_ok(data_path("typed_float16.pb"), &a, DP_FLOAT16, 1, 2);
    assert_int_equal(((uint16_t *)t.data)[0], 0x3c00);  /* 1.0 */
    assert_int_equal(((uint16_t *)t.data)[1], 0xb800);  /* -0.5 */
    t = read_ok(data_path("typed_int64.pb"), &a, DP_INT64, 1, 2);
    assert_int_equal(((int64_t *)t.data)[0], -(INT64_C(1) << 40));
    t = read_ok(data_path("typed_double.pb"), &a, DP_DOUBLE, 1, 1);
    assert_true(((double *)t.data)[0] == 0.1);
    t = read_ok(data_path("typed_uint64.pb"), &a, DP_UINT64, 1, 2);
    assert_true(((uint64_t *)t.data)[0] == (UINT64_C(1) << 63) + 5);
    t = read_ok(data_path("typed_bool.pb"), &a, DP_BOOL, 1, 2);
    assert_int_equal(((uint8_t *)t.data)[0], 1);
    assert_int_equal(((uint8_t *)t.data)[1], 0);
    dp_arena_free(&a);
}

/* Files written by numpy.save (make_fixtures.py). */
static void reads_numpy_files(void **state)
{
    dp_arena a;
    dp_arena_init(&a, 0);
    dp_tensor t = read_ok(data_path("f4_2x3.npy"), &a, DP_FLOAT, 2, 2);
    assert_int_equal(t.dims[1], 3);
    const float *f = t.data; /* np.arange(6).reshape(2, 3) / 4 - 0.5 */
    for (int i = 0; i < 6; i++)
        assert_true(f[i] == i / 4.0f - 0.5f);
    t = read_ok(data_path("i8_4.npy"), &a, DP_INT64, 1, 4);
    assert_int_equal(((int64_t *)t.data)[0], -(INT64_C(1) << 40));
    assert_int_equal(((int64_t *)t.data)[3], INT64_C(1) << 62);
    t = read_ok(data_path("b1_3.npy"), &a, DP_BOOL, 1, 3);
    assert_memory_equal(t.data, "\x01\x00\x01", 3);
    t = read_ok(data_path("f2_2.npy"), &a, DP_FLOAT16, 1, 2);
    assert_int_equal(((uint16_t *)t.data)[0], 0x3c00);
    assert_int_equal(((uint16_t *)t.data)[1], 0x3555); /* np.float16(1/3).view(np.uint16) */
    t = read_ok(data_path("u1_2x2.npy"), &a, DP_UINT8, 2, 2);
    assert_memory_equal(t.data, "\x00\x01\xfe\xff", 4);
    t = read_ok(data_path("f8_scalar.npy"), &a, DP_DOUBLE, 0, 0);
    assert_true(((double *)t.data)[0] == 2.5);
    t = read_ok(data_path("i4_empty.npy"), &a, DP_INT32, 2, 0);
    assert_int_equal(t.dims[1], 3);
    t = read_ok(data_path("f4_v2.npy"), &a, DP_FLOAT, 1, 2); /* format version 2.0 */
    assert_true(((float *)t.data)[0] == 1.5f && ((float *)t.data)[1] == -2.0f);
    dp_arena_free(&a);

    expect_error(data_path("f4_fortran.npy"), DP_EUNSUPPORTED, "Fortran");
    expect_error(data_path("f4_bigendian.npy"), DP_EUNSUPPORTED, "'>f4'");
}

/* Every proper prefix of a valid file is refused (when its last field holds the data: a
 * TensorProto cut just before a trailing name field is itself valid). */
static void truncations_of(const char *src, const char *name)
{
    FILE *f = fopen(src, "rb");
    assert_non_null(f);
    unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(n < sizeof buf);
    for (size_t k = 0; k < n; k++) {
        const char *path = tmp_path(name);
        write_bytes(path, buf, k);
        expect_error(path, DP_EINPUT, NULL);
    }
}

static void truncated_files_are_refused(void **state)
{
    float v[12];
    for (int i = 0; i < 12; i++)
        v[i] = (float)i;
    dp_tensor t = {DP_FLOAT, 2, {3, 4}, v};
    dp_error err = {0};
    assert_int_equal(dp_tensor_write(tmp_path("full.pb"), &t, "v", &err), DP_OK);
    assert_int_equal(dp_tensor_write(tmp_path("full.npy"), &t, NULL, &err), DP_OK);
    truncations_of(tmp_path("full.pb"), "cut.pb");
    truncations_of(tmp_path("full.npy"), "cut.npy");
    const char *add = "/usr/share/libonnx-testdata/data/node/test_add/test_data_set_0/input_0.pb";
    if (access(add, R_OK) == 0)
        truncations_of(add, "cut_add.pb");

    /* The message names the counts. */
    FILE *f = fopen(tmp_path("full.npy"), "rb");
    unsigned char buf[256];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_bytes(tmp_path("short.npy"), buf, n - 4);
    expect_error(tmp_path("short.npy"), DP_EINPUT, "has 44 bytes of data, shape 12 x float needs 48");
    unsigned char longer[256];
    memcpy(longer, buf, n);
    memset(longer + n, 0, 4);
    write_bytes(tmp_path("long.npy"), longer, n + 4);
    expect_error(tmp_path("long.npy"), DP_EINPUT, "has 52 bytes of data");
}

/* A .npy with the given header text (padded as numpy pads it) and data bytes. */
static const char *npy_with(const char *name, const char *header, size_t data_bytes, int major)
{
    unsigned char buf[1024] = {0};
    size_t pre = major == 1 ? 10 : 12, hlen = strlen(header);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[8] = (unsigned char)hlen;
    memcpy(buf + pre, header, hlen);
    const char *path = tmp_path(name);
    write_bytes(path, buf, pre + hlen + data_bytes);
    return path;
}

static void malformed_npy_headers_are_refused(void **state)
{
    static const struct {
        const char *header;
        size_t data;
        dp_status want;
        const char *needle;
    } cases[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 8, DP_OK, NULL},
        {"{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,)}", 8, DP_OK, NULL},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8, DP_EINPUT, "'x'"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8, DP_EINPUT,
         "repeated key 'descr'"},
        {"{'descr': '<f4', 'shape': (2,)}", 8, DP_EINPUT, "missing 'fortran_order'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", 8, DP_EINPUT, "dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", 4,
         DP_EUNSUPPORTED, "rank"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776)}", 4,
         DP_EINPUT, "overflows"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", 4,
         DP_EINPUT, "dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk", 8, DP_EINPUT, "padding"},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (2,)}", 16, DP_EUNSUPPORTED, "'<c8'"},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", 8, DP_EUNSUPPORTED,
         "structured"},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}", 8, DP_EINPUT, "fortran_order"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", 8, DP_EINPUT, "malformed"},
        {"{'descr': 'a\\'b', 'fortran_order': False, 'shape': (2,)}", 8, DP_EINPUT, "malformed"},
        {"", 0, DP_EINPUT, "'{'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "h%zu.npy", i);
        const char *path = npy_with(name, cases[i].header, cases[i].data, 1);
        if (cases[i].want == DP_OK) {
            dp_arena a;
            dp_arena_init(&a, 0);
            read_ok(path, &a, DP_FLOAT, 1, 2);
            dp_arena_free(&a);
        } else {
            expect_error(path, cases[i].want, cases[i].needle);
        }
    }
    /* Version 4.0 does not exist; a header length beyond any real header is refused early. */
    expect_error(npy_with("v4.npy", "{}", 0, 4), DP_EUNSUPPORTED, "version 4.0");
    unsigned char big[16] = "\x93NUMPY\x02\x00\xff\xff\xff\x7f{";
    write_bytes(tmp_path("big.npy"), big, sizeof big);
    expect_error(tmp_path("big.npy"), DP_EINPUT, "above the limit");
    write_bytes(tmp_path("magic.npy"), "\x93NUMPZ\x01\x00\x02\x00{}", 12);
    expect_error(tmp_path("magic.npy"), DP_EINPUT, "magic");
}

static void malformed_pb_is_refused(void **state)
{
    /* A field header promising more bytes than there are. */
    write_bytes(tmp_path("bad.pb"), "\x4a\xff\xff\x03zz", 6);
    expect_error(tmp_path("bad.pb"), DP_EINPUT, "not a valid ONNX TensorProto");
    /* dims [2] (field 1), data_type FLOAT (field 2), raw_data of 4 bytes (field 9): too short. */
    write_bytes(tmp_path("short.pb"), "\x08\x02\x10\x01\x4a\x04\x00\x00\x80\x3f", 10);
    expect_error(tmp_path("short.pb"), DP_EINPUT, "raw_data has 4 bytes, shape 2 x float needs 8");
    /* data_location EXTERNAL (field 14 = 1). */
    write_bytes(tmp_path("ext.pb"), "\x08\x02\x10\x01\x70\x01", 6);
    expect_error(tmp_path("ext.pb"), DP_EINPUT, "external data");
    /* float_data with 3 values for a shape of 2. */
    write_bytes(tmp_path("typed.pb"), "\x08\x02\x10\x01\x22\x0c\x00\x00\x80\x3f\x00\x00\x80\x3f"
                "\x00\x00\x80\x3f", 18);
    expect_error(tmp_path("typed.pb"), DP_EINPUT, "has 3 values, its shape needs 2");
}

static void paths_and_writes(void **state)
{
    dp_arena a;
    dp_arena_init(&a, 0);
    dp_tensor t;
    dp_error err = {0};
    /* a file of another type is a usage error; a path that is not there cannot be opened,
     * whatever its suffix */
    FILE *bin = fopen(tmp_path("x.bin"), "wb");
    assert_non_null(bin);
    fclose(bin);
    assert_int_equal(dp_tensor_read(tmp_path("x.bin"), &a, &t, NULL, &err), DP_EUSAGE);
    assert_non_null(strstr(err.msg, "unknown tensor file type"));
    dp_error_clear(&err);
    assert_int_equal(dp_tensor_read(tmp_path("missing.bin"), &a, &t, NULL, &err), DP_EIO);
    assert_non_null(strstr(err.msg, "cannot open"));
    dp_error_clear(&err);
    assert_int_equal(dp_tensor_read(tmp_path("missing.pb"), &a, &t, NULL, &err), DP_EIO);
    assert_non_null(strstr(err.msg, "cannot open"));
    dp_error_clear(&err);
    assert_int_equal(dp_tensor_read(tmpdir, &a, &t, NULL, &err), DP_EUSAGE);
    dp_arena_free(&a);

    float v = 1.0f;
    dp_tensor s = {DP_FLOAT, 0, {0}, &v};
    dp_error_clear(&err);
    assert_int_equal(dp_tensor_write("/nonexistent-dir/y.pb", &s, NULL, &err), DP_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/y.pb"));
    /* Overwriting replaces the file; no temporary is left behind in the folder. */
    dp_error_clear(&err);
    assert_int_equal(dp_tensor_write(tmp_path("o.pb"), &s, NULL, &err), DP_OK);
    v = 2.0f;
    assert_int_equal(dp_tensor_write(tmp_path("o.pb"), &s, NULL, &err), DP_OK);
    dp_arena_init(&a, 0);
    assert_int_equal(dp_tensor_read(tmp_path("o.pb"), &a, &t, NULL, &err), DP_OK);
    assert_true(*(float *)t.data == 2.0f);
    dp_arena_free(&a);
    DIR *d = opendir(tmpdir);
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".tmp"))
            fail_msg("temporary file %s left behind", e->d_name);
    closedir(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trips_every_dtype),
        cmocka_unit_test(written_npy_is_what_numpy_writes),
        cmocka_unit_test(reads_onnx_test_data),
        cmocka_unit_test(reads_typed_fields),
        cmocka_unit_test(reads_numpy_files),
        cmocka_unit_test(truncated_files_are_refused),
        cmocka_unit_test(malformed_npy_headers_are_refused),
        cmocka_unit_test(malformed_pb_is_refused),
        cmocka_unit_test(paths_and_writes),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
