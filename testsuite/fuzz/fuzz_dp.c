/*
 * fuzz_dp.c: libFuzzer harness for the .dp loader and validator (runtime/format/dpfile.c), and
 * for the executor on what the validator accepts (runtime/exec/exec.c): a loaded program runs
 * once on zero inputs.
 *
 * A .dp carries a CRC-32 and its section lengths in the header, so almost every mutation
 * would stop at the checksum. Each input is therefore parsed twice: as it is, and with the
 * header's lengths and checksum rewritten to match its bytes, so the fuzzer reaches the
 * metadata and the validator behind them.
 */
#include "fuzz_util.h"
#include "crc32.h"
#include "dp_program.h"
#include "exec.h"

#include <stdlib.h>
#include <string.h>

#define HEADER 64
/* Programs whose zero inputs or activations would need more than this are not run. */
#define RUN_LIMIT ((uint64_t)64 << 20)

static uint64_t get_le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void run_once(const dp_program *p)
{
    if (p->arena_bytes > RUN_LIMIT)
        return;
    dp_tensor *in = calloc((size_t)p->n_inputs + 1, sizeof *in);
    dp_tensor *out = calloc((size_t)p->n_outputs + 1, sizeof *out);
    uint64_t total = 0;
    bool ok = in && out;
    for (int i = 0; ok && i < p->n_inputs; i++) {
        in[i] = p->tensors[p->inputs[i]].t;
        size_t n = dp_nbytes(&in[i]);
        total += n;
        ok = in[i].rank >= 0 && total <= RUN_LIMIT && (in[i].data = calloc(n ? n : 1, 1));
    }
    dp_session_opts opts = {.max_memory = (size_t)256 << 20};
    dp_session *s = NULL;
    dp_error err = {0};
    if (ok && dp_session_new(p, &opts, &s, &err) == DP_OK) {
        dp_status st = dp_session_run(s, 0, in, out, &err);
        if (st != DP_OK && !err.msg[0])
            abort(); /* a failure must say why */
    }
    dp_session_free(s);
    for (int i = 0; in && i < p->n_inputs; i++)
        free(in[i].data);
    free(in);
    free(out);
}

static void parse(const unsigned char *data, size_t size)
{
    dp_program *p = NULL;
    dp_error err = {0};
    if (dp_program_parse(data, size, &p, &err) == DP_OK) {
        run_once(p);
        dp_program_free(p);
    } else if (!err.msg[0]) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    parse(data, size);
    if (size < HEADER)
        return 0;
    /* The header's metadata length, clamped to what is there; the rest after the padding
     * is the weight blob. */
    uint64_t meta = get_le(data + 16);
    if (meta > size - HEADER)
        meta = size - HEADER;
    uint64_t blob = (HEADER + meta + 63) & ~(uint64_t)63;
    uint64_t weights = size > blob ? size - blob : 0;
    unsigned char *buf = calloc(1, blob + weights);
    if (!buf)
        return 0;
    memcpy(buf, data, HEADER + meta);
    if (weights)
        memcpy(buf + blob, data + blob, weights);
    put_le(buf + 16, meta, 8);
    put_le(buf + 24, weights, 8);
    uint32_t crc = dp_crc32(dp_crc32(0, buf + HEADER, meta), buf + blob, weights);
    put_le(buf + 32, crc, 4);
    parse(buf, blob + weights);
    free(buf);
    return 0;
}
