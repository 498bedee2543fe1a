/*
 * dp_base.h: status codes, the error context, and the limits every loader enforces.
 *
 * Every fallible function in dpcc returns a dp_status and, on failure, leaves a
 * message in a dp_error that the caller owns. Nothing in the libraries prints or
 * exits; the tools turn the status into the process exit code (dp_exit_code).
 */
#ifndef DP_BASE_H
#define DP_BASE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum dp_status {
    DP_OK = 0,
    DP_EUSAGE = 1,       /* wrong usage: bad option, missing argument */
    DP_EINPUT = 2,       /* bad input file: malformed, truncated, out of bounds */
    DP_EUNSUPPORTED = 3, /* a model feature dpcc does not support: op, dtype, attribute */
    DP_EBUDGET = 4,      /* a budget no schedule can meet */
    DP_EMISMATCH = 5,    /* outputs differ from --expect references */
    DP_ENOMEM = 6,       /* out of memory or over --max-memory */
    DP_EIO = 7,          /* cannot read or write a file the user named */
    DP_EINTERNAL = 8,    /* a bug in dpcc: an invariant did not hold */
    DP_DYNAMIC = 100     /* not an error: a shape depends on a value unknown at compile time */
} dp_status;

#define DP_ERROR_MAX 1024

typedef struct dp_error {
    dp_status code;
    char msg[DP_ERROR_MAX];
    bool elsewhere;      /* the failure was another rank's (dp_dist.h): its rank reports it */
} dp_error;

/* Records the first failure (later ones keep the first message) and returns code. */
dp_status dp_fail(dp_error *err, dp_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the message already held with context ("model.onnx: node Conv_3: ..."). */
void dp_error_prefix(dp_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void dp_error_clear(dp_error *err);

/* The process exit status docs/architecture.md gives for a status. */
int dp_exit_code(dp_status s);

/* Checked size arithmetic: return 0 and set *out on success, -1 on overflow. */
int dp_mul_size(size_t a, size_t b, size_t *out);
int dp_add_size(size_t a, size_t b, size_t *out);
int dp_mul_i64(int64_t a, int64_t b, int64_t *out);

/* Hard limits on untrusted input; each violation is a DP_EINPUT naming the limit. */
enum {
    DP_MAX_RANK = 8,
    DP_MAX_NODE_INPUTS = 1024,
    DP_MAX_NODE_OUTPUTS = 1024,
    DP_MAX_NAME = 4096
};
#define DP_MAX_ELEMENTS ((int64_t)1 << 40)

/*
 * Invariants: conditions that hold unless dpcc itself has a bug, never checks of input (those
 * return DP_EINPUT). Checked where DP_CHECKS is defined (debug and sanitizer builds): a
 * failure prints the condition and its place and aborts. Elsewhere the condition is compiled
 * (so it stays valid code) but never evaluated.
 */
#ifdef DP_CHECKS
#define DP_ASSERT(c) ((c) ? (void)0 : dp_assert_failed(#c, __FILE__, __LINE__))
#else
#define DP_ASSERT(c) ((void)sizeof((c) ? 1 : 0))
#endif
_Noreturn void dp_assert_failed(const char *cond, const char *file, int line);

/* The build sets it from CMake's project(VERSION); this is for sources built elsewhere. */
#ifndef DP_VERSION
#define DP_VERSION "unknown"
#endif

#endif
