/*
 * dpfile.c: what the .dp writer, reader, validator and lister share (dpfile.h): byte order
 * and the messages that name a file's tensors and instructions.
 */
#include "dpfile.h"

#include <stdarg.h>
#include <stdio.h>

uint64_t dpf_align_up(uint64_t x)
{
    return (x + DPF_ALIGN - 1) & ~(uint64_t)(DPF_ALIGN - 1);
}

void dpf_put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t dpf_get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

const char *dpf_str(const char *s)
{
    return s ? s : "";
}

const char *dpf_storage_name(dp_storage s)
{
    switch (s) {
    case DP_STORE_ARENA: return "arena";
    case DP_STORE_CONST: return "const";
    case DP_STORE_INPUT: return "input";
    case DP_STORE_DYNAMIC: return "dynamic";
    default: return "?";
    }
}

dp_status dpf_fail_at(dp_error *err, dp_status code, const char *file, const char *where,
                      const char *fmt, ...)
{
    char msg[DP_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dp_fail(err, code, "%s: %s: %s", file, where, msg);
}

const char *dpf_tensor_where(char *buf, size_t n, const dp_program *p, int i)
{
    snprintf(buf, n, "tensor %d ('%.200s')", i, dpf_str(p->tensors[i].name));
    return buf;
}

const char *dpf_instr_where(char *buf, size_t n, int i, const char *op, const char *name)
{
    snprintf(buf, n, "instruction %d (%.100s '%.200s')", i, dpf_str(op), dpf_str(name));
    return buf;
}
