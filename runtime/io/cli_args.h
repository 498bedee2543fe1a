/*
 * cli_args.h: parsing the numbers dpcc and dprun take on their command lines. Each returns
 * 0 on success and -1 for anything that is not wholly a valid value, so that "12x" or an
 * out-of-range count is a usage error, never a silent truncation. And the message for an
 * option getopt_long did not take.
 */
#ifndef DP_CLI_ARGS_H
#define DP_CLI_ARGS_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

/* A finite number >= 0. */
int dp_arg_nonnegative(const char *s, double *out);
/* An integer in [1, max]. */
int dp_arg_count(const char *s, long max, int *out);
/* Any unsigned 64-bit integer (a seed). */
int dp_arg_u64(const char *s, uint64_t *out);
/* A byte count with an optional K, M or G suffix (powers of 1024). */
int dp_arg_bytes(const char *s, size_t *out);

/* What an out-of-memory error adds on the command line: which limit it met. */
#define DP_ARG_MEMORY_HINT " (over --max-memory, 16G unless given, or the machine's memory)"

/*
 * Into msg, why getopt_long (opterr 0) returned '?' for arg, the argument it stopped at, with
 * short, its optopt: "unknown option '-x'", "unknown option '--bogus'", or for a prefix of
 * several long options "option '--se' is ambiguous: --seed, --seeds".
 */
void dp_arg_refused(const char *arg, int short_opt, const struct option *options, char *msg,
                    size_t n);

#endif
