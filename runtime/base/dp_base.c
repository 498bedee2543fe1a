/* dp_base.c: the error context and checked arithmetic shared by every module. */
#include "dp_base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dp_status dp_fail(dp_error *err, dp_status code, const char *fmt, ...)
{
    if (err == NULL || err->code != DP_OK)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void dp_error_prefix(dp_error *err, const char *fmt, ...)
{
    /* the prefix (a path, usually short) takes at most half, the message keeps the rest */
    char prefix[DP_ERROR_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t np = strlen(prefix), nm = strnlen(err->msg, DP_ERROR_MAX - 1);
    if (np + 2 + nm > DP_ERROR_MAX - 1)
        nm = DP_ERROR_MAX - 1 - np - 2;
    memmove(err->msg + np + 2, err->msg, nm);
    memcpy(err->msg, prefix, np);
    err->msg[np] = ':';
    err->msg[np + 1] = ' ';
    err->msg[np + 2 + nm] = '\0';
}

void dp_error_clear(dp_error *err)
{
    err->code = DP_OK;
    err->msg[0] = '\0';
    err->elsewhere = false;
}

int dp_exit_code(dp_status s)
{
    switch (s) {
    case DP_OK: return 0;
    case DP_EUSAGE: return 1;
    case DP_EINPUT: return 2;
    case DP_EUNSUPPORTED: return 3;
    case DP_EBUDGET: return 4;
    case DP_EMISMATCH: return 5;
    case DP_ENOMEM: return 2;   /* the input asked for more than the limits allow */
    case DP_EIO: return 1;      /* a path the user gave cannot be read or written */
    default: return 2;
    }
}

int dp_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return -1;
    *out = a * b;
    return 0;
}

int dp_add_size(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a)
        return -1;
    *out = a + b;
    return 0;
}

int dp_mul_i64(int64_t a, int64_t b, int64_t *out)
{
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}

void dp_assert_failed(const char *cond, const char *file, int line)
{
    fprintf(stderr, "dpcc: internal error: %s:%d: invariant '%s' does not hold (a bug in "
            "dpcc: please report it)\n", file, line, cond);
    abort();
}
