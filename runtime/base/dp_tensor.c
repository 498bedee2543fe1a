/* dp_tensor.c: element types, shape arithmetic, broadcasting and generic element access. */
#include "dp_tensor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

size_t dp_dtype_size(dp_dtype t)
{
    switch (t) {
    case DP_FLOAT: case DP_INT32: case DP_UINT32: return 4;
    case DP_DOUBLE: case DP_INT64: case DP_UINT64: return 8;
    case DP_UINT8: case DP_INT8: case DP_BOOL: return 1;
    case DP_UINT16: case DP_INT16: case DP_FLOAT16: case DP_BFLOAT16: return 2;
    default: return 0;
    }
}

const char *dp_dtype_name(dp_dtype t)
{
    switch (t) {
    case DP_FLOAT: return "float";
    case DP_UINT8: return "uint8";
    case DP_INT8: return "int8";
    case DP_UINT16: return "uint16";
    case DP_INT16: return "int16";
    case DP_INT32: return "int32";
    case DP_INT64: return "int64";
    case DP_STRING: return "string";
    case DP_BOOL: return "bool";
    case DP_FLOAT16: return "float16";
    case DP_DOUBLE: return "double";
    case DP_UINT32: return "uint32";
    case DP_UINT64: return "uint64";
    case DP_BFLOAT16: return "bfloat16";
    default: return "undefined";
    }
}

bool dp_dtype_is_float(dp_dtype t)
{
    return t == DP_FLOAT || t == DP_DOUBLE || t == DP_FLOAT16 || t == DP_BFLOAT16;
}

bool dp_dtype_is_integer(dp_dtype t)
{
    switch (t) {
    case DP_UINT8: case DP_INT8: case DP_UINT16: case DP_INT16:
    case DP_INT32: case DP_INT64: case DP_UINT32: case DP_UINT64:
        return true;
    default:
        return false;
    }
}

bool dp_dtype_is_signed(dp_dtype t)
{
    return t == DP_INT8 || t == DP_INT16 || t == DP_INT32 || t == DP_INT64 || dp_dtype_is_float(t);
}

int64_t dp_numel(const dp_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= t->dims[i];
    return n;
}

int64_t dp_describe_nonfinite(const dp_tensor *t, char *buf, size_t n)
{
    if (!dp_dtype_is_float(t->dtype) || !t->data)
        return 0;
    int64_t count = 0, first = 0, total = dp_numel(t);
    double value = 0;
    for (int64_t i = 0; i < total; i++) {
        double v = dp_load_f64(t->data, t->dtype, i);
        if (isfinite(v))
            continue;
        if (count++ == 0) {
            first = i;
            value = v;
        }
    }
    if (count == 0)
        return 0;
    int64_t per = t->rank > 0 && t->dims[0] > 0 ? total / t->dims[0] : 1;
    snprintf(buf, n, "%lld value%s not finite, the first (%s) at sample %lld, element %lld of it",
             (long long)count, count == 1 ? " is" : "s are",
             isnan(value) ? "NaN" : value > 0 ? "+inf" : "-inf", (long long)(first / per),
             (long long)(first % per));
    return count;
}

size_t dp_nbytes(const dp_tensor *t)
{
    return (size_t)dp_numel(t) * dp_dtype_size(t->dtype);
}

dp_status dp_shape_check(const dp_tensor *t, dp_error *err, const char *what)
{
    if (t->rank < 0 || t->rank > DP_MAX_RANK)
        return dp_fail(err, DP_EINPUT, "%s: rank %d is outside 0..%d", what, t->rank, DP_MAX_RANK);
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0)
            return dp_fail(err, DP_EINPUT, "%s: dimension %d is negative (%lld)", what, i,
                           (long long)t->dims[i]);
        if (dp_mul_i64(n, t->dims[i], &n) != 0 || n > DP_MAX_ELEMENTS)
            return dp_fail(err, DP_EINPUT, "%s: element count overflows the limit of 2^40", what);
    }
    size_t bytes;
    if (dp_mul_size((size_t)n, dp_dtype_size(t->dtype) ? dp_dtype_size(t->dtype) : 1, &bytes) != 0)
        return dp_fail(err, DP_EINPUT, "%s: byte size overflows", what);
    return DP_OK;
}

bool dp_same_shape(const dp_tensor *a, const dp_tensor *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

void dp_strides(const dp_tensor *t, int64_t strides[DP_MAX_RANK])
{
    int64_t s = 1;
    for (int i = t->rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= t->dims[i];
    }
}

dp_status dp_broadcast_shape(const dp_tensor *const *in, int n, dp_tensor *out, dp_error *err)
{
    int rank = 0;
    for (int k = 0; k < n; k++)
        if (in[k] && in[k]->rank > rank)
            rank = in[k]->rank;
    out->rank = rank;
    for (int i = 0; i < rank; i++)
        out->dims[i] = 1;
    for (int k = 0; k < n; k++) {
        if (!in[k])
            continue;
        int off = rank - in[k]->rank;
        for (int i = 0; i < in[k]->rank; i++) {
            int64_t d = in[k]->dims[i], *o = &out->dims[off + i];
            if (d == *o || d == 1)
                continue;
            if (*o == 1) {
                *o = d;
                continue;
            }
            char a[160], b[160];
            return dp_fail(err, DP_EINPUT, "shapes %s and %s cannot be broadcast together",
                           dp_shape_str(in[k], a, sizeof a), dp_shape_str(out, b, sizeof b));
        }
    }
    return DP_OK;
}

void dp_broadcast_strides(const dp_tensor *in, const dp_tensor *out, int64_t strides[DP_MAX_RANK])
{
    int64_t own[DP_MAX_RANK];
    dp_strides(in, own);
    int off = out->rank - in->rank;
    for (int i = 0; i < out->rank; i++) {
        int j = i - off;
        strides[i] = (j < 0 || in->dims[j] == 1) ? 0 : own[j];
    }
}

double dp_load_f64(const void *data, dp_dtype t, int64_t i)
{
    switch (t) {
    case DP_FLOAT: return ((const float *)data)[i];
    case DP_DOUBLE: return ((const double *)data)[i];
    case DP_UINT8: return ((const uint8_t *)data)[i];
    case DP_INT8: return ((const int8_t *)data)[i];
    case DP_UINT16: return ((const uint16_t *)data)[i];
    case DP_INT16: return ((const int16_t *)data)[i];
    case DP_INT32: return ((const int32_t *)data)[i];
    case DP_INT64: return (double)((const int64_t *)data)[i];
    case DP_UINT32: return ((const uint32_t *)data)[i];
    case DP_UINT64: return (double)((const uint64_t *)data)[i];
    case DP_BOOL: return ((const uint8_t *)data)[i] != 0;
    case DP_FLOAT16: return dp_half_to_float(((const uint16_t *)data)[i]);
    case DP_BFLOAT16: return dp_bf16_to_float(((const uint16_t *)data)[i]);
    default: return 0;
    }
}

/* Float to integer conversion as C would do it, but defined for out-of-range and NaN. */
static int64_t saturate_i64(double v)
{
    if (v != v)
        return 0;
    if (v >= 9223372036854775807.0)
        return INT64_MAX;
    if (v <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}

void dp_store_f64(void *data, dp_dtype t, int64_t i, double v)
{
    switch (t) {
    case DP_FLOAT: ((float *)data)[i] = (float)v; break;
    case DP_DOUBLE: ((double *)data)[i] = v; break;
    case DP_UINT8: ((uint8_t *)data)[i] = (uint8_t)saturate_i64(v); break;
    case DP_INT8: ((int8_t *)data)[i] = (int8_t)saturate_i64(v); break;
    case DP_UINT16: ((uint16_t *)data)[i] = (uint16_t)saturate_i64(v); break;
    case DP_INT16: ((int16_t *)data)[i] = (int16_t)saturate_i64(v); break;
    case DP_INT32: ((int32_t *)data)[i] = (int32_t)saturate_i64(v); break;
    case DP_INT64: ((int64_t *)data)[i] = saturate_i64(v); break;
    case DP_UINT32: ((uint32_t *)data)[i] = (uint32_t)saturate_i64(v); break;
    case DP_UINT64:
        ((uint64_t *)data)[i] = v >= 9223372036854775808.0 ? (uint64_t)v : (uint64_t)saturate_i64(v);
        break;
    case DP_BOOL: ((uint8_t *)data)[i] = v != 0; break;
    case DP_FLOAT16: ((uint16_t *)data)[i] = dp_float_to_half((float)v); break;
    case DP_BFLOAT16: ((uint16_t *)data)[i] = dp_float_to_bf16((float)v); break;
    default: break;
    }
}

int64_t dp_load_i64(const void *data, dp_dtype t, int64_t i)
{
    switch (t) {
    case DP_UINT8: return ((const uint8_t *)data)[i];
    case DP_INT8: return ((const int8_t *)data)[i];
    case DP_UINT16: return ((const uint16_t *)data)[i];
    case DP_INT16: return ((const int16_t *)data)[i];
    case DP_INT32: return ((const int32_t *)data)[i];
    case DP_INT64: return ((const int64_t *)data)[i];
    case DP_UINT32: return ((const uint32_t *)data)[i];
    case DP_UINT64: return (int64_t)((const uint64_t *)data)[i];
    case DP_BOOL: return ((const uint8_t *)data)[i] != 0;
    default: return saturate_i64(dp_load_f64(data, t, i));
    }
}

void dp_store_i64(void *data, dp_dtype t, int64_t i, int64_t v)
{
    switch (t) {
    case DP_UINT8: ((uint8_t *)data)[i] = (uint8_t)v; break;
    case DP_INT8: ((int8_t *)data)[i] = (int8_t)v; break;
    case DP_UINT16: ((uint16_t *)data)[i] = (uint16_t)v; break;
    case DP_INT16: ((int16_t *)data)[i] = (int16_t)v; break;
    case DP_INT32: ((int32_t *)data)[i] = (int32_t)v; break;
    case DP_INT64: ((int64_t *)data)[i] = v; break;
    case DP_UINT32: ((uint32_t *)data)[i] = (uint32_t)v; break;
    case DP_UINT64: ((uint64_t *)data)[i] = (uint64_t)v; break;
    case DP_BOOL: ((uint8_t *)data)[i] = v != 0; break;
    default: dp_store_f64(data, t, i, (double)v); break;
    }
}

float dp_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {
            float f = ldexpf((float)man, -24);
            return sign ? -f : f;
        }
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t dp_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u)
        return sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0);
    if (absx >= 0x477ff000u) /* rounds to >= 65520: infinity */
        return sign | 0x7c00;
    if (absx < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
        float a;
        memcpy(&a, &absx, 4);
        float scaled = a * 16777216.0f; /* 2^24: units of the smallest subnormal */
        return sign | (uint16_t)lrintf(scaled);
    }
    uint32_t mant_odd = (absx >> 13) & 1;
    absx += 0xc8000fffu + mant_odd; /* rebias exponent (-112 << 23) and round to nearest even */
    return sign | (uint16_t)(absx >> 13);
}

float dp_bf16_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t dp_float_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

int dp_norm_axis(int64_t axis, int rank)
{
    if (axis < 0)
        axis += rank;
    return (axis < 0 || axis >= rank) ? -1 : (int)axis;
}

const char *dp_shape_str(const dp_tensor *t, char *buf, size_t n)
{
    if (t->rank < 0) {
        snprintf(buf, n, "?");
        return buf;
    }
    if (t->rank == 0) {
        snprintf(buf, n, "scalar");
        return buf;
    }
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->rank && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? "x%lld" : "%lld", (long long)t->dims[i]);
    return buf;
}
