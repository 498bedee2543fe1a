/*
 * fuzz_api.c: libFuzzer harness for the option setters of the compiler API (include/dpcc,
 * through the public header only). The input is a program of calls on one compiler: a byte
 * picks the setter, the bytes after it its arguments (strings or NULL, any double including
 * NaN and infinities, any int, calibration tensors of any dtype and shape, rank and dims for
 * an input shape). Strings are freed as soon as a call returns: the API promises copies.
 *
 * It aborts, besides sanitizer reports, when a status is none of dpcc_status's, when a setter
 * answers DPCC_EINTERNAL (a caller's error is never "a bug in dpcc"), when a failure leaves
 * no message, or a success leaves one.
 */
#include "fuzz_util.h"
#include "dpcc/dpcc.h"

#include <stdlib.h>
#include <string.h>

typedef struct reader {
    const unsigned char *p;
    size_t n;
} reader;

static void take(reader *r, void *out, size_t n)
{
    memset(out, 0, n);
    n = n < r->n ? n : r->n;
    memcpy(out, r->p, n);
    r->p += n;
    r->n -= n;
}

static unsigned char take_byte(reader *r)
{
    unsigned char b;
    take(r, &b, 1);
    return b;
}

static int take_int(reader *r)
{
    int v;
    take(r, &v, sizeof v);
    return v;
}

/* A length byte, then the string's bytes; length 255: NULL. malloc'd: free it. */
static char *take_string(reader *r)
{
    unsigned char len = take_byte(r);
    if (len == 255)
        return NULL;
    char *s = calloc(1, (size_t)len + 1);
    if (!s)
        abort();
    take(r, s, len);
    return s;
}

static void progress(void *ctx, const char *stage, double done)
{
}

/* Calibration data: enough for any shape the harness lets through. */
static unsigned char calib_data[1 << 16];

/* Whether t, if its shape is one the API must accept, fits calib_data: a valid shape that does
 * not is passed over, since the API would rightly read all of it. */
static int fits(const dpcc_tensor *t)
{
    if (t->rank < 0 || t->rank > DPCC_MAX_RANK)
        return 1;
    double bytes = 8;
    for (int d = 0; d < t->rank; d++) {
        if (t->dims[d] < 0)
            return 1;
        bytes *= (double)t->dims[d];
    }
    return bytes <= (double)sizeof calib_data;
}

static void check(const dpcc_compiler *c, dpcc_status st)
{
    const char *msg = dpcc_compiler_error(c);
    if (st < DPCC_OK || st > DPCC_EINTERNAL || st == DPCC_EINTERNAL || st == DPCC_EMISMATCH
        || (st != DPCC_OK) != (msg[0] != '\0'))
        abort();
}

/* One call, chosen by the next byte; false once the input is used up. */
static int call(dpcc_compiler *c, reader *r)
{
    if (r->n == 0)
        return 0;
    unsigned char op = take_byte(r) % 12;
    dpcc_status st = DPCC_OK;
    char *s = NULL;
    switch (op) {
    case 0:
        st = dpcc_set_device(c, s = take_string(r));
        break;
    case 1:
        st = dpcc_set_analog(c, take_int(r));
        break;
    case 2:
        st = dpcc_set_calibration_path(c, s = take_string(r));
        break;
    case 3: {
        dpcc_tensor t[4];
        int n = take_byte(r) % 5, ok = 1;
        for (int k = 0; k < n && k < 4; k++) {
            signed char shape[DPCC_MAX_RANK + 2];
            take(r, shape, sizeof shape);
            t[k].dtype = (dpcc_dtype)shape[0];
            t[k].rank = shape[1] % 10;
            for (int d = 0; d < DPCC_MAX_RANK; d++)
                t[k].dims[d] = shape[d + 2];
            t[k].data = shape[0] % 7 == 0 ? NULL : calib_data;
            ok &= fits(&t[k]);
        }
        if (!ok)
            return 1;
        st = dpcc_set_calibration(c, n == 4 ? NULL : t, n); /* n 4: batches NULL */
        break;
    }
    case 4:
        st = dpcc_set_labels_path(c, s = take_string(r));
        break;
    case 5: {
        double v;
        s = take_string(r);
        take(r, &v, sizeof v);
        st = dpcc_set_budget(c, s, v);
        break;
    }
    case 6:
        st = dpcc_set_schedule(c, s = take_string(r));
        break;
    case 7:
        st = dpcc_set_seed(c, (uint32_t)take_int(r));
        break;
    case 8:
        st = dpcc_set_seeds(c, take_int(r));
        break;
    case 9:
        st = dpcc_set_threads(c, take_int(r));
        break;
    case 10: {
        unsigned char b = take_byte(r);
        st = dpcc_set_progress(c, b & 1 ? progress : NULL, b & 2 ? c : NULL);
        break;
    }
    case 11: {
        /* exactly DPCC_MAX_RANK dims: a rank above it that the API reads is a report */
        int64_t dims[DPCC_MAX_RANK];
        s = take_string(r);
        int rank = (signed char)take_byte(r);
        unsigned char no_dims = take_byte(r) & 1;
        take(r, dims, sizeof dims);
        st = dpcc_set_input_shape(c, s, rank, no_dims ? NULL : dims);
        break;
    }
    }
    free(s);
    check(c, st);
    return 1;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    dpcc_compiler *c;
    if (dpcc_compiler_new(&c) != DPCC_OK)
        abort();
    reader r = {data, size};
    while (call(c, &r))
        ;
    /* before any compilation the results are refused, whatever the options */
    const void *dp;
    size_t len;
    dpcc_layer_info L;
    if (dpcc_num_layers(c) != 0 || dpcc_report_json(c) || dpcc_program(c, &dp, &len) != DPCC_EUSAGE
        || dpcc_layer(c, 0, &L) != DPCC_EUSAGE)
        abort();
    dpcc_compiler_free(c);
    return 0;
}
