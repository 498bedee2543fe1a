/*
 * test_dpfile.c: the .dp container: round trips, the checksum, and every kind of damaged or
 * lying file the loader must refuse with DP_EINPUT (or DP_EUNSUPPORTED for an unknown op)
 * instead of crashing. Run once under valgrind: valgrind --error-exitcode=1 ./test_dpfile
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

#include "crc32.h"
#include "dp.pb-c.h"
#include "dp_program.h"
#include "tensor_io.h"

typedef struct fixture {
    char dir[64];
    dp_program *prog;
    unsigned char *file;   /* the program, written and read back as bytes */
    size_t len;
} fixture;

static const float const_vals[3] = {1.0f, -2.0f, 0.5f};
static const int64_t ints_val[] = {1, -2, 3};
static const float floats_val[] = {0.25f, -1.0f};
static const char *const strings_val[] = {"a", "bc"};
static float output_scale_val[] = {2.0f};
static const float attr_tensor_val[] = {7.0f};
static const char device_json[] =
    "{\"name\": \"tiny_device\", \"core\": {\"rows\": 2, \"cols\": 2, \"clock_ghz\": 1},"
    " \"optics\": {\"wavelength_nm\": 1550, \"photons_per_mac\": 12},"
    " \"noise\": {\"thermal_std\": 0.001}, \"converters\": {\"dac_bits\": 8,"
    " \"weight_bits\": 6, \"adc_bits\": 10}, \"repetitions\": {\"max\": 64},"
    " \"energy\": {\"dac_conversion_pj\": 0.5, \"adc_conversion_pj\": 1,"
    " \"digital_op_pj\": 0.9, \"memory_byte_pj\": 2.5}}";

static void set_tensor(dp_tensor_info *ti, const char *name, dp_storage s, int rank,
                       const int64_t *dims, uint64_t offset)
{
    ti->name = name;
    ti->t.dtype = DP_FLOAT;
    ti->t.rank = rank;
    for (int i = 0; i < rank; i++)
        ti->t.dims[i] = dims[i];
    ti->storage = s;
    ti->offset = offset;
    ti->nbytes = rank >= 0 ? dp_nbytes(&ti->t) : 0;
}

/*
 * %0 x (input 2x3), %1 c (const 3), %2 r = Relu(x) (arena), %3 y = Add(r, c) (arena, analog
 * fields, one attribute of every kind), %4 z = Identity(y) (dynamic); outputs y and z; the
 * device it was compiled for.
 */
static dp_program *make_program(void)
{
    dp_program *p = calloc(1, sizeof *p);
    dp_arena_init(&p->mem, 0);
    dp_arena *m = &p->mem;
    static const int64_t d23[] = {2, 3}, d3[] = {3};
    p->producer = "test_dpfile";
    p->model_name = "tiny";
    p->opset = 13;
    p->n_tensors = 5;
    p->tensors = dp_arena_calloc(m, 5, sizeof *p->tensors);
    set_tensor(&p->tensors[0], "x", DP_STORE_INPUT, 2, d23, 0);
    set_tensor(&p->tensors[1], "c", DP_STORE_CONST, 1, d3, 0);
    set_tensor(&p->tensors[2], "r", DP_STORE_ARENA, 2, d23, 0);
    set_tensor(&p->tensors[3], "y", DP_STORE_ARENA, 2, d23, 64);
    set_tensor(&p->tensors[4], "z", DP_STORE_DYNAMIC, -1, NULL, 0);
    p->arena_bytes = 128;
    unsigned char *w = dp_arena_alloc(m, 64);
    memcpy(w, const_vals, sizeof const_vals);
    p->weights = w;
    p->weights_bytes = 64;
    p->n_inputs = 1;
    p->inputs = dp_arena_memdup(m, (int32_t[]){0}, sizeof(int32_t));
    p->n_outputs = 2;
    p->outputs = dp_arena_memdup(m, (int32_t[]){3, 4}, 2 * sizeof(int32_t));

    p->n_instrs = 3;
    p->instrs = dp_arena_calloc(m, 3, sizeof *p->instrs);
    const char *ops[] = {"Relu", "Add", "Identity"}, *names[] = {"relu1", "add1", "id1"};
    int32_t ins[][2] = {{0, -1}, {2, 1}, {3, -1}}, outs[] = {2, 3, 4};
    for (int i = 0; i < 3; i++) {
        dp_instr *d = &p->instrs[i];
        d->op = ops[i];
        d->name = names[i];
        d->def = dp_op_find(ops[i]);
        d->opset = 13;
        d->n_in = i == 1 ? 2 : 1;
        d->in = dp_arena_memdup(m, ins[i], 2 * sizeof(int32_t));
        d->n_out = 1;
        d->out = dp_arena_memdup(m, &outs[i], sizeof(int32_t));
    }
    dp_tensor *at = dp_arena_alloc(m, sizeof *at);
    *at = (dp_tensor){DP_FLOAT, 1, {1}, (void *)attr_tensor_val};
    dp_attr *a = dp_arena_calloc(m, 7, sizeof *a);
    a[0] = (dp_attr){.name = "f", .kind = DP_ATTR_FLOAT, .f = 1.5f};
    a[1] = (dp_attr){.name = "i", .kind = DP_ATTR_INT, .i = -(INT64_C(1) << 40)};
    a[2] = (dp_attr){.name = "s", .kind = DP_ATTR_STRING, .s = "NOTSET"};
    a[3] = (dp_attr){.name = "t", .kind = DP_ATTR_TENSOR, .t = at};
    a[4] = (dp_attr){.name = "fs", .kind = DP_ATTR_FLOATS, .n = 2, .floats = floats_val};
    a[5] = (dp_attr){.name = "is", .kind = DP_ATTR_INTS, .n = 3, .ints = ints_val};
    a[6] = (dp_attr){.name = "ss", .kind = DP_ATTR_STRINGS, .n = 2, .strings = strings_val};
    p->instrs[1].n_attrs = 7;
    p->instrs[1].attrs = a;
    dp_mvm *mv = dp_arena_calloc(m, 1, sizeof *mv);
    *mv = (dp_mvm){.core_rows = 2, .core_cols = 2, .fan_in = 3, .outputs = 3, .row_tiles = 2,
                   .col_tiles = 2, .macs = 18, .repetitions = 4, .dac_bits = 8, .weight_bits = 6,
                   .adc_bits = 10, .input_scale = 3.0f, .n_output_scale = 1,
                   .output_scale = output_scale_val, .weight_input = 1};
    p->instrs[1].mvm = mv;
    p->device = dp_arena_alloc(m, sizeof *p->device);
    dp_error err = {0};
    if (dp_device_parse(device_json, strlen(device_json), "device_json", p->device, &err))
        fail_msg("%s", err.msg);
    return p;
}

static int setup(void **state)
{
    if (!dp_op_find("Relu") || !dp_op_find("Add") || !dp_op_find("Identity"))
        return 0; /* kernels not registered yet: the tests skip */
    fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/test_dpfile_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->prog = make_program();
    char path[128];
    snprintf(path, sizeof path, "%s/tiny.dp", f->dir);
    dp_error err = {0};
    if (dp_program_write(f->prog, path, &err) != DP_OK) {
        fprintf(stderr, "write failed: %s\n", err.msg);
        return -1;
    }
    if (dp_file_read(path, NULL, UINT64_MAX, &f->file, &f->len, &err) != DP_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (!f)
        return 0;
    char path[128];
    snprintf(path, sizeof path, "%s/tiny.dp", f->dir);
    unlink(path);
    rmdir(f->dir);
    dp_program_free(f->prog);
    free(f->file);
    free(f);
    return 0;
}

#define FIXTURE(state)                                                                          \
    fixture *f = *(state);                                                                      \
    if (!f)                                                                                     \
        skip()

static void same_program(const dp_program *a, const dp_program *b)
{
    assert_string_equal(a->producer, b->producer);
    assert_string_equal(a->model_name, b->model_name);
    assert_int_equal(a->opset, b->opset);
    assert_int_equal(a->arena_bytes, b->arena_bytes);
    assert_int_equal(a->weights_bytes, b->weights_bytes);
    assert_memory_equal(a->weights, b->weights, a->weights_bytes);
    assert_int_equal(a->n_tensors, b->n_tensors);
    for (int i = 0; i < a->n_tensors; i++) {
        const dp_tensor_info *x = &a->tensors[i], *y = &b->tensors[i];
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->t.dtype, y->t.dtype);
        assert_int_equal(x->t.rank, y->t.rank);
        for (int d = 0; d < x->t.rank; d++)
            assert_int_equal(x->t.dims[d], y->t.dims[d]);
        assert_int_equal(x->storage, y->storage);
        assert_int_equal(x->offset, y->offset);
        if (x->storage != DP_STORE_DYNAMIC)
            assert_int_equal(x->nbytes, y->nbytes);
    }
    /* test_device.c compares every device field; here, that the device travels. */
    assert_int_equal(a->device != NULL, b->device != NULL);
    if (a->device) {
        assert_string_equal(a->device->name, b->device->name);
        assert_int_equal(a->device->adc_bits, b->device->adc_bits);
        assert_true(a->device->photons_per_mac == b->device->photons_per_mac);
    }
    assert_int_equal(a->n_inputs, b->n_inputs);
    assert_memory_equal(a->inputs, b->inputs, sizeof(int32_t) * (size_t)a->n_inputs);
    assert_int_equal(a->n_outputs, b->n_outputs);
    assert_memory_equal(a->outputs, b->outputs, sizeof(int32_t) * (size_t)a->n_outputs);
    assert_int_equal(a->n_instrs, b->n_instrs);
    for (int i = 0; i < a->n_instrs; i++) {
        const dp_instr *x = &a->instrs[i], *y = &b->instrs[i];
        assert_string_equal(x->op, y->op);
        assert_string_equal(x->name, y->name);
        assert_ptr_equal(y->def, dp_op_find(y->op));
        assert_int_equal(x->opset, y->opset);
        assert_int_equal(x->n_in, y->n_in);
        assert_memory_equal(x->in, y->in, sizeof(int32_t) * (size_t)x->n_in);
        assert_int_equal(x->n_out, y->n_out);
        assert_memory_equal(x->out, y->out, sizeof(int32_t) * (size_t)x->n_out);
        assert_int_equal(x->n_attrs, y->n_attrs);
        for (int k = 0; k < x->n_attrs; k++) {
            const dp_attr *u = &x->attrs[k], *v = &y->attrs[k];
            assert_string_equal(u->name, v->name);
            assert_int_equal(u->kind, v->kind);
            switch (u->kind) {
            case DP_ATTR_FLOAT: assert_true(u->f == v->f); break;
            case DP_ATTR_INT: assert_int_equal(u->i, v->i); break;
            case DP_ATTR_STRING: assert_string_equal(u->s, v->s); break;
            case DP_ATTR_FLOATS:
                assert_int_equal(u->n, v->n);
                assert_memory_equal(u->floats, v->floats, sizeof(float) * (size_t)u->n);
                break;
            case DP_ATTR_INTS:
                assert_int_equal(u->n, v->n);
                assert_memory_equal(u->ints, v->ints, sizeof(int64_t) * (size_t)u->n);
                break;
            case DP_ATTR_STRINGS:
                assert_int_equal(u->n, v->n);
                for (int j = 0; j < u->n; j++)
                    assert_string_equal(u->strings[j], v->strings[j]);
                break;
            case DP_ATTR_TENSOR:
                assert_int_equal(u->t->dtype, v->t->dtype);
                assert_true(dp_same_shape(u->t, v->t));
                assert_memory_equal(u->t->data, v->t->data, dp_nbytes(u->t));
                break;
            }
        }
        assert_int_equal(x->mvm != NULL, y->mvm != NULL);
        if (x->mvm) {
            const dp_mvm *u = x->mvm, *v = y->mvm;
            assert_int_equal(u->core_rows, v->core_rows);
            assert_int_equal(u->core_cols, v->core_cols);
            assert_int_equal(u->fan_in, v->fan_in);
            assert_int_equal(u->outputs, v->outputs);
            assert_int_equal(u->row_tiles, v->row_tiles);
            assert_int_equal(u->col_tiles, v->col_tiles);
            assert_int_equal(u->macs, v->macs);
            assert_int_equal(u->repetitions, v->repetitions);
            assert_int_equal(u->dac_bits, v->dac_bits);
            assert_int_equal(u->weight_bits, v->weight_bits);
            assert_int_equal(u->adc_bits, v->adc_bits);
            assert_true(u->input_scale == v->input_scale);
            assert_int_equal(u->n_output_scale, v->n_output_scale);
            assert_memory_equal(u->output_scale, v->output_scale,
                                sizeof(float) * (size_t)u->n_output_scale);
            assert_int_equal(u->weight_input, v->weight_input);
        }
    }
}

static void round_trip(void **state)
{
    FIXTURE(state);
    char path[128];
    snprintf(path, sizeof path, "%s/tiny.dp", f->dir);
    dp_program *q;
    dp_error err = {0};
    assert_int_equal(dp_program_read(path, &q, &err), DP_OK);
    same_program(f->prog, q);
    /* Constants are used in place, aligned, inside the loaded file. */
    assert_int_equal((uintptr_t)q->weights % 64, 0);
    assert_true(q->weights > (const unsigned char *)q->file_buf);
    assert_true(q->weights + q->weights_bytes == (const unsigned char *)q->file_buf + f->len);
    dp_program_free(q);

    assert_int_equal(dp_program_parse(f->file, f->len, &q, &err), DP_OK);
    same_program(f->prog, q);
    dp_program_free(q);
}

static void layout_is_as_documented(void **state)
{
    FIXTURE(state);
    const unsigned char *b = f->file;
    assert_memory_equal(b, "DPCCPROG", 8);
    assert_int_equal(b[8] | b[9] << 8, DP_FORMAT_VERSION);
    uint64_t meta = 0, weights = 0;
    for (int i = 7; i >= 0; i--) {
        meta = meta << 8 | b[16 + i];
        weights = weights << 8 | b[24 + i];
    }
    uint64_t blob = (64 + meta + 63) / 64 * 64;
    assert_int_equal(weights, 64);
    assert_int_equal(blob + weights, f->len);
    assert_memory_equal(b + blob, const_vals, sizeof const_vals);
    uint32_t crc = dp_crc32(dp_crc32(0, b + 64, meta), b + blob, weights);
    assert_int_equal(crc, b[32] | b[33] << 8 | b[34] << 16 | (uint32_t)b[35] << 24);
}

static void disasm_lists_everything(void **state)
{
    FIXTURE(state);
    char *text = NULL;
    size_t n = 0;
    FILE *out = open_memstream(&text, &n);
    dp_program_disasm(f->prog, out);
    fclose(out);
    char format[32];
    snprintf(format, sizeof format, "format %d", DP_FORMAT_VERSION);
    const char *want[] = {format, "producer \"test_dpfile\"", "opset 13", "5 tensors",
                          "arena 128 bytes", "weights 64 bytes", "c  float[3]  const @0 +12",
                          "z  float[?]  dynamic", "Relu  \"relu1\"  in: %0 x -> %2 r[2x3]",
                          "mvm  Add  \"add1\"  in: %2 r, %1 c[3] -> %3 y[2x3]",
                          "N=4 dac=8 w=6 adc=10 tiles=2x2", "s=\"NOTSET\"", "is=[1,-2,3]",
                          "ss=[\"a\",\"bc\"]", "t=float[1]{7}",
                          "device {\n  \"name\": \"tiny_device\",",
                          "\"converters\": {\"dac_bits\":8,\"weight_bits\":6,\"adc_bits\":10,"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(text, want[i]))
            fail_msg("disassembly lacks '%s':\n%s", want[i], text);
    free(text);
}

/* A bitwise CRC-32, the definition the table-driven one must agree with. */
static uint32_t crc_bitwise(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return ~c;
}

static void crc32_matches_the_definition(void **state)
{
    assert_int_equal(dp_crc32(0, "123456789", 9), 0xCBF43926u); /* the standard check value */
    assert_int_equal(dp_crc32(0, "", 0), 0);
    unsigned char buf[4096];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    /* Every start alignment and tail length of the eight-byte loop. */
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n < 40; n++)
            assert_int_equal(dp_crc32(0, buf + off, n), crc_bitwise(buf + off, n));
    assert_int_equal(dp_crc32(0, buf, sizeof buf), crc_bitwise(buf, sizeof buf));
    assert_int_equal(dp_crc32(dp_crc32(0, buf, 1000), buf + 1000, sizeof buf - 1000),
                     crc_bitwise(buf, sizeof buf));
}

static void expect_refused(const unsigned char *b, size_t n, dp_status want, const char *needle,
                           const char *what)
{
    dp_program *q = (dp_program *)1;
    dp_error err = {0};
    dp_status st = dp_program_parse(b, n, &q, &err);
    if (st != want || !err.msg[0] || (needle && !strstr(err.msg, needle)))
        fail_msg("%s: status %d (want %d), message '%s' (want '%s')", what, st, want, err.msg,
                 needle ? needle : "");
    assert_null(q);
}

static void every_truncation_is_refused(void **state)
{
    FIXTURE(state);
    for (size_t n = 0; n < f->len; n++) {
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu bytes", n);
        expect_refused(f->file, n, DP_EINPUT, NULL, what);
    }
    /* Through a file: the message names it. */
    char path[128];
    snprintf(path, sizeof path, "%s/cut.dp", f->dir);
    dp_chunk part = {f->file, f->len - 1};
    dp_error err = {0};
    assert_int_equal(dp_file_write_atomic(path, &part, 1, &err), DP_OK);
    dp_program *q;
    assert_int_equal(dp_program_read(path, &q, &err), DP_EINPUT);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "truncated"));
    unlink(path);
    dp_error_clear(&err);
    assert_int_equal(dp_program_read(path, &q, &err), DP_EIO);
    assert_non_null(strstr(err.msg, "cannot open"));
}

static void every_bit_flip_is_refused(void **state)
{
    FIXTURE(state);
    unsigned char *b = malloc(f->len);
    memcpy(b, f->file, f->len);
    for (size_t i = 0; i < f->len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            char what[64];
            snprintf(what, sizeof what, "bit %d of byte %zu flipped", bit, i);
            b[i] ^= (unsigned char)(1u << bit);
            expect_refused(b, f->len, DP_EINPUT, NULL, what);
            b[i] ^= (unsigned char)(1u << bit);
        }
    }
    /* Extra bytes after the blob. */
    unsigned char *longer = calloc(1, f->len + 1);
    memcpy(longer, f->file, f->len);
    expect_refused(longer, f->len + 1, DP_EINPUT, "trailing", "one byte appended");
    free(longer);
    free(b);
}

static void header_fields_are_checked(void **state)
{
    FIXTURE(state);
    unsigned char *b = malloc(f->len);
    memcpy(b, f->file, f->len);
    b[0] = 'X';
    expect_refused(b, f->len, DP_EINPUT, "not a dpcc program", "wrong magic");
    b[0] = 'D';
    b[8] = DP_FORMAT_VERSION + 1;
    char want[80];
    snprintf(want, sizeof want, "format version %d, this dprun reads up to %d",
             DP_FORMAT_VERSION + 1, DP_FORMAT_VERSION);
    expect_refused(b, f->len, DP_EINPUT, want, "newer version");
    b[8] = DP_FORMAT_VERSION;
    b[32] ^= 0x5a;
    expect_refused(b, f->len, DP_EINPUT, "checksum mismatch", "bad checksum");
    b[32] ^= 0x5a;
    b[f->len - 1] ^= 1; /* in the weights: only the checksum can tell */
    expect_refused(b, f->len, DP_EINPUT, "checksum mismatch", "weight bit");
    b[f->len - 1] ^= 1;
    b[40] = 1;
    expect_refused(b, f->len, DP_EINPUT, "reserved", "reserved byte");
    free(b);
}

/* ---- metadata that is well-formed protobuf with a valid checksum but lies ---------------- */

static void *arena_alloc(void *data, size_t size)
{
    return dp_arena_alloc(data, size);
}

static void arena_free(void *data, void *p)
{
}

/* Re-packs a mutated copy of the metadata into a file whose header and checksum are right. */
static unsigned char *reencode(const fixture *f, Dp__Program *msg, size_t *len)
{
    size_t meta = dp__program__get_packed_size(msg);
    size_t blob = (64 + meta + 63) / 64 * 64;
    size_t wlen = f->prog->weights_bytes;
    unsigned char *b = calloc(1, blob + wlen);
    memcpy(b, f->file, 64);
    dp__program__pack(msg, b + 64);
    memcpy(b + blob, f->prog->weights, wlen);
    uint32_t crc = dp_crc32(dp_crc32(0, b + 64, meta), b + blob, wlen);
    for (int i = 0; i < 8; i++)
        b[16 + i] = (unsigned char)((uint64_t)meta >> (8 * i));
    for (int i = 0; i < 4; i++)
        b[32 + i] = (unsigned char)(crc >> (8 * i));
    *len = blob + wlen;
    return b;
}

typedef struct lie {
    const char *what;
    dp_status status;
    const char *needle;
} lie;

static const lie lies[] = {
    {"input index out of range", DP_EINPUT, "instruction 1 (Add 'add1'): input 0 is tensor 99, outside"},
    {"const past the blob", DP_EINPUT, "tensor 1 ('c'): 12 bytes at offset 64 lie outside the 64-byte weight blob"},
    {"const offset overflows", DP_EINPUT, "outside the 64-byte weight blob"},
    {"const offset misaligned", DP_EINPUT, "weight offset 4 is not a multiple of 64"},
    {"arena past the end", DP_EINPUT, "tensor 3 ('y'): 24 bytes at offset 128 lie outside the 128-byte activation arena"},
    {"nbytes wrong", DP_EINPUT, "tensor 2 ('r'): declares 25 bytes, but float[2x3] needs 24"},
    {"string dtype", DP_EINPUT, "data type string (8) cannot be stored"},
    {"unknown dtype", DP_EINPUT, "data type undefined (99) cannot be stored"},
    {"rank above the limit", DP_EINPUT, "tensor 0 ('x'): rank 9 is outside -1..8"},
    {"rank and dims disagree", DP_EINPUT, "rank 3 but 2 dimensions"},
    {"unknown shape, not dynamic", DP_EINPUT, "only dynamic tensors may have an unknown shape"},
    {"negative dimension", DP_EINPUT, "dimension 1 is negative"},
    {"element count overflows", DP_EINPUT, "overflows"},
    {"unknown op", DP_EUNSUPPORTED, "instruction 0 (NoSuchOp 'relu1'): op 'NoSuchOp' is not supported"},
    {"too many inputs", DP_EINPUT, "3 inputs, Add takes 2 to 2"},
    {"required input omitted", DP_EINPUT, "required input 0 is omitted"},
    {"writes a constant", DP_EINPUT, "output 0 is tensor 1 ('c'), a const, which no instruction may write"},
    {"writes a graph input", DP_EINPUT, "output 0 is tensor 0 ('x'), an input"},
    {"read before written", DP_EINPUT, "instruction 0 (Relu 'relu1'): input 0 is tensor 3 ('y'), which is neither"},
    {"written twice", DP_EINPUT, "output 0 is tensor 2 ('r'), which an earlier instruction"},
    {"graph output out of range", DP_EINPUT, "graph output 1 is tensor 5, outside"},
    {"graph input not an input", DP_EINPUT, "tensor 2 ('r'): graph input 0, but its storage is arena"},
    {"attribute without a name", DP_EINPUT, "attribute 0 has no name"},
    {"string with a NUL", DP_EINPUT, "attribute 's': a string holds a NUL byte"},
    {"strings with a NUL", DP_EINPUT, "attribute 'ss': a string holds a NUL byte"},
    {"unknown attribute kind", DP_EINPUT, "attribute 'f' has unknown kind 5"},
    {"tensor attribute short", DP_EINPUT, "attribute 't' has 2 bytes of data, its shape needs 4"},
    {"tensor attribute missing", DP_EINPUT, "tensor attribute 't' has no tensor"},
    {"core of zero rows", DP_EINPUT, "core of 0x2"},
    {"zero repetitions", DP_EINPUT, "0 repetitions"},
    {"33-bit ADC", DP_EINPUT, "ADC 33 bits"},
    {"tiles inconsistent", DP_EINPUT, "tiles 1x2, expected"},
    {"two output scales for three outputs", DP_EINPUT, "2 output scales"},
    {"weight input out of range", DP_EINPUT, "weight input 5"},
    {"weight input not constant", DP_EINPUT, "weight input 0 (tensor 2) is not a constant"},
    {"NaN input scale", DP_EINPUT, "input scale nan"},
    {"weights length disagrees", DP_EINPUT, "metadata declares 32 bytes of weights, the header 64"},
    {"storage kind unknown", DP_EINPUT, "storage kind 7"},
    {"arena above the limit", DP_EINPUT, "above the limit"},
    {"opset 0", DP_EINPUT, "opset 0"},
    {"metadata version differs", DP_EINPUT, "metadata is format version 7"},
    {"graph output undefined", DP_EINPUT, "tensor 4 ('z'): graph output 1, but nothing defines it"},
    {"device std negative", DP_EINPUT, "device: noise.thermal_std: -1 is out of range"},
    {"device field missing", DP_EINPUT, "device: field 'adc_bits' is missing"},
    {"device name too long", DP_EINPUT, "device: name: 70 bytes, longer than the limit of 63"},
    {"device NaN", DP_EINPUT, "device: optics.photons_per_mac: nan is not a finite number"},
    {"device repetitions", DP_EINPUT, "device: repetitions.max: 1000 is not a power of two"},
    {"device without a name", DP_EINPUT, "device: field 'name' is missing"},
    {"device choice unknown", DP_EINPUT, "device: noise.shot_model: 5 is not one of the 2 choices"},
    {"version 2 device without its shot model", DP_EINPUT, "device: field 'shot_model' is missing"},
    {"repetitions over the device's", DP_EINPUT, "65 repetitions, but the program's device 'tiny_device' runs 1 to 64"},
    {"repetitions not a power of two", DP_EINPUT, "3 repetitions, but the program's device 'tiny_device' runs 1 to 64, powers of two only"},
    {"MACs not the shapes'", DP_EINPUT, "4611686018427387904 MACs, but the shapes give 18"},
    {"two weight scales for three outputs", DP_EINPUT, "2 weight scales, expected none or"},
    {"zero weight scale", DP_EINPUT, "weight scale 0 is 0, expected finite and positive"},
    {"weight grid of 33 bits", DP_EINPUT, "weight grid of 33 bits"},
};

static void tell_lie(Dp__Program *m, int which, dp_arena *a)
{
    Dp__Tensor **t = m->tensors;
    Dp__Instr **in = m->instrs;
    Dp__Attr **at = in[1]->attrs;
    Dp__Mvm *mv = in[1]->mvm;
    Dp__Device *dev = m->device;
    static char long_name[71];
    memset(long_name, 'x', 70);
    static int64_t dims3[] = {2, 3, 4};
    static int32_t three_inputs[] = {2, 1, 1}, omitted[] = {-1};
    static uint8_t with_nul[] = {'a', 0, 'b'};
    switch (which) {
    case 0: in[1]->inputs[0] = 99; break;
    case 1: t[1]->offset = 64; break;
    case 2: t[1]->offset = UINT64_MAX - 63; break;
    case 3: t[1]->offset = 4; break;
    case 4: t[3]->offset = 128; break;
    case 5: t[2]->nbytes = 25; break;
    case 6: t[0]->dtype = DP_STRING; break;
    case 7: t[0]->dtype = 99; break;
    case 8: t[0]->rank = 9; break;
    case 9: t[0]->rank = 3; break;
    case 10: t[0]->rank = -1; t[0]->n_dims = 0; break;
    case 11: t[0]->dims[1] = -3; break;
    case 12: t[0]->rank = 3; t[0]->n_dims = 3; t[0]->dims = dims3;
             dims3[0] = dims3[1] = dims3[2] = INT64_C(1) << 21; break;
    case 13: in[0]->op = "NoSuchOp"; break;
    case 14: in[1]->n_inputs = 3; in[1]->inputs = three_inputs; break;
    case 15: in[0]->inputs = omitted; break;
    case 16: in[0]->outputs[0] = 1; break;
    case 17: in[0]->outputs[0] = 0; break;
    case 18: in[0]->inputs[0] = 3; break;
    case 19: in[1]->outputs[0] = 2; break;
    case 20: m->outputs[1] = 5; break;
    case 21: m->inputs[0] = 2; break;
    case 22: at[0]->name = ""; break;
    case 23: at[2]->s.data = with_nul; at[2]->s.len = 3; break;
    case 24: at[6]->strings[1].data = with_nul; at[6]->strings[1].len = 3; break;
    case 25: at[0]->kind = 5; break;
    case 26: at[3]->t->data.len = 2; break;
    case 27: at[3]->t = NULL; break;
    case 28: mv->core_rows = 0; break;
    case 29: mv->repetitions = 0; break;
    case 30: mv->adc_bits = 33; break;
    case 31: mv->row_tiles = 1; break;
    case 32: mv->n_output_scale = 2; mv->output_scale = dp_arena_calloc(a, 2, sizeof(float)); break;
    case 33: mv->weight_input = 5; break;
    case 34: mv->weight_input = 0; break;
    case 35: mv->input_scale = NAN; break;
    case 36: m->weights_bytes = 32; break;
    case 37: t[2]->storage = 7; break;
    case 38: m->arena_bytes = UINT64_MAX; break;
    case 39: m->opset = 0; break;
    case 40: m->format_version = 7; break;
    case 41: m->n_instrs = 2; break;
    case 42: dev->thermal_std = -1; break;
    case 43: dev->has_adc_bits = 0; break;
    case 44: dev->name = long_name; break;
    case 45: dev->photons_per_mac = NAN; break;
    case 46: dev->repetitions_power_of_two = 1; dev->max_repetitions = 1000; break;
    case 47: dev->name = NULL; break;
    case 48: dev->shot_model = 5; break;
    case 49: dev->has_shot_model = 0; break;
    case 50: mv->repetitions = 65; break;
    case 51: mv->repetitions = 3; dev->has_repetitions_power_of_two = 1;
             dev->repetitions_power_of_two = 1; break;
    case 52: mv->macs = INT64_C(1) << 62; break;
    case 53: mv->n_weight_scale = 2; mv->weight_scale = dp_arena_calloc(a, 2, sizeof(float)); break;
    case 54: mv->n_weight_scale = 3; mv->weight_scale = dp_arena_calloc(a, 3, sizeof(float)); break;
    case 55: mv->has_weight_grid_bits = 1; mv->weight_grid_bits = 33; break;
    }
}

static void lying_metadata_is_refused(void **state)
{
    FIXTURE(state);
    size_t meta = 0;
    for (int i = 7; i >= 0; i--)
        meta = meta << 8 | f->file[16 + i];
    for (int which = 0; which < (int)(sizeof lies / sizeof lies[0]); which++) {
        dp_arena a;
        dp_arena_init(&a, 0);
        ProtobufCAllocator alloc = {arena_alloc, arena_free, &a};
        Dp__Program *m = dp__program__unpack(&alloc, meta, f->file + 64);
        assert_non_null(m);
        tell_lie(m, which, &a);
        size_t len;
        unsigned char *b = reencode(f, m, &len);
        expect_refused(b, len, lies[which].status, lies[which].needle, lies[which].what);
        free(b);
        dp_arena_free(&a);
    }
    /* Bytes that are not a protobuf message at all, under a valid checksum. */
    unsigned char *b = malloc(f->len);
    memcpy(b, f->file, f->len);
    memset(b + 64, 0xff, meta);
    size_t blob = (64 + meta + 63) / 64 * 64;
    uint32_t crc = dp_crc32(dp_crc32(0, b + 64, meta), b + blob, f->len - blob);
    for (int i = 0; i < 4; i++)
        b[32 + i] = (unsigned char)(crc >> (8 * i));
    expect_refused(b, f->len, DP_EINPUT, "not a valid program message", "garbage metadata");
    free(b);
}

/* A file of format version 1 lacks the device fields of version 2 and was compiled for the
 * physics of its time: it loads with full-scale shot noise, the integrating ADC, repetitions
 * and signed DACs, not with today's defaults. */
static void version_1_files_keep_their_physics(void **state)
{
    FIXTURE(state);
    size_t meta = 0;
    for (int i = 7; i >= 0; i--)
        meta = meta << 8 | f->file[16 + i];
    dp_arena a;
    dp_arena_init(&a, 0);
    ProtobufCAllocator alloc = {arena_alloc, arena_free, &a};
    Dp__Program *m = dp__program__unpack(&alloc, meta, f->file + 64);
    assert_non_null(m);
    m->format_version = 1;
    Dp__Device *dev = m->device;
    dev->has_shot_model = dev->has_thermal_model = dev->has_adc_mode = dev->has_precision = 0;
    dev->has_headroom = 0;
    dev->headroom = 3; /* a value a version 1 file cannot carry: ignored */
    m->instrs[1]->mvm->has_input_unsigned = 0;
    size_t len;
    unsigned char *b = reencode(f, m, &len);
    b[8] = 1; /* the header's version; the checksum covers metadata and weights only */
    dp_program *p = NULL;
    dp_error err = {0};
    if (dp_program_parse(b, len, &p, &err) != DP_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(p->device->shot_model, DP_SHOT_FULL_SCALE);
    assert_int_equal(p->device->thermal_model, DP_THERMAL_OUTPUT);
    assert_int_equal(p->device->adc_mode, DP_ADC_INTEGRATE);
    assert_int_equal(p->device->precision, DP_PRECISION_REPETITIONS);
    assert_true(p->device->headroom == 1);
    assert_false(p->instrs[1].mvm->input_unsigned);
    dp_program_free(p);
    free(b);
    dp_arena_free(&a);
}

static void writer_refuses_invalid_programs(void **state)
{
    FIXTURE(state);
    char path[128];
    snprintf(path, sizeof path, "%s/bad.dp", f->dir);
    dp_program *p = make_program();
    p->tensors[1].offset = 1024;
    dp_error err = {0};
    assert_int_equal(dp_program_write(p, path, &err), DP_EINTERNAL);
    assert_non_null(strstr(err.msg, "weight blob"));
    assert_int_equal(access(path, F_OK), -1);
    dp_program_free(p);

    /* Nothing is left behind when the folder cannot be written. */
    p = make_program();
    dp_error_clear(&err);
    assert_int_equal(dp_program_write(p, "/nonexistent-dir/x.dp", &err), DP_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.dp"));
    dp_program_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32_matches_the_definition),
        cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(layout_is_as_documented, setup, teardown),
        cmocka_unit_test_setup_teardown(disasm_lists_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(every_truncation_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(every_bit_flip_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(header_fields_are_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(lying_metadata_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(version_1_files_keep_their_physics, setup, teardown),
        cmocka_unit_test_setup_teardown(writer_refuses_invalid_programs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
