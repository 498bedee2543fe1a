/*
 * fuzz_util.h: what the libFuzzer harnesses share: libFuzzer's entry point, a private
 * folder for loaders that read only from paths, and writing the fuzzer's bytes into a file
 * there.
 */
#ifndef DPCC_FUZZ_UTIL_H
#define DPCC_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Each harness defines it; libFuzzer's driver calls it once per input. */
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* A folder of this process's own, made once: parallel fuzzers (-jobs) must not share
 * files, and an ONNX model's external data may only name files beside it. */
static inline const char *fuzz_dir(void)
{
    static char dir[64];
    if (!dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%.40s/dpcc-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir))
            abort();
    }
    return dir;
}

/* Writes data to NAME in the fuzz folder and returns the path (static storage). */
static inline const char *fuzz_write(const char *name, const unsigned char *data, size_t size)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
    return path;
}

#endif
