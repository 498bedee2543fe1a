/* cli_args.c: strict number parsing for the command-line tools. */
#include "cli_args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dp_arg_nonnegative(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v >= 0) || isinf(v))
        return -1;
    *out = v;
    return 0;
}

int dp_arg_count(const char *s, long max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < 1 || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

int dp_arg_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (end == s || *end || errno || s[0] == '-')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

int dp_arg_bytes(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || s[0] == '-')
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case 'K': case 'k': shift = 10; end++; break;
    case 'M': case 'm': shift = 20; end++; break;
    case 'G': case 'g': shift = 30; end++; break;
    case '\0': break;
    default: return -1;
    }
    if (*end || (shift && v > (SIZE_MAX >> shift)) || v > SIZE_MAX)
        return -1;
    *out = (size_t)v << shift;
    return 0;
}

void dp_arg_refused(const char *arg, int short_opt, const struct option *options, char *msg,
                    size_t n)
{
    if (short_opt) {
        snprintf(msg, n, "unknown option '-%c'", short_opt);
        return;
    }
    const char *name = arg + (strncmp(arg, "--", 2) == 0 ? 2 : 0);
    size_t len = strcspn(name, "="), used = 0;
    int matches = 0;
    char these[512] = "";
    for (const struct option *op = options; op->name; op++) {
        if (strncmp(op->name, name, len) != 0 || used + strlen(op->name) + 5 >= sizeof these)
            continue;
        int w = snprintf(these + used, sizeof these - used, "%s--%s", matches++ ? ", " : "",
                         op->name);
        used += w > 0 ? (size_t)w : 0;
    }
    if (matches < 2)
        snprintf(msg, n, "unknown option '%.200s'", arg);
    else
        snprintf(msg, n, "option '%.200s' is ambiguous: %s", arg, these);
}
