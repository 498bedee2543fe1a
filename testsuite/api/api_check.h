/*
 * api_check.h: what the API tests share: CHECK, which counts a failure and goes on (so one
 * run lists every broken promise), and paths in the source and work folders.
 */
#ifndef DPCC_API_CHECK_H
#define DPCC_API_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                  \
            fprintf(stderr, __VA_ARGS__);                                                     \
            fputc('\n', stderr);                                                              \
            failures++;                                                                       \
        }                                                                                     \
    } while (0)

/* dir/name, in one of four rotating buffers: a call may use up to four at once. */
static const char *path_in(const char *dir, const char *name)
{
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

#endif
