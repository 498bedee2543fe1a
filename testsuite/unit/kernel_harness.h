/*
 * kernel_harness.h: running one kernel by hand, as the executor would, for the kernel unit
 * tests: types and shapes first, then the kernel on output buffers filled with garbage, so
 * that no kernel can rely on zeroed memory. Include after cmocka.h and dp_op.h.
 */
#ifndef DP_KERNEL_HARNESS_H
#define DP_KERNEL_HARNESS_H

#include <string.h>

enum { HARNESS_OUTS = 3, HARNESS_OUTBYTES = 1 << 18 };

static unsigned char outbuf[HARNESS_OUTS][HARNESS_OUTBYTES];
static dp_error err;

/* Runs one node; out[] receives dtypes, shapes and data. */
static dp_status call(const char *op, int opset, dp_tensor **in, int n_in, dp_tensor *out,
                      int n_out, const dp_attr *attrs, int n_attrs)
{
    const dp_op_def *def = dp_op_find(op);
    assert_non_null(def);
    assert_true(n_out <= HARNESS_OUTS);
    dp_arena scratch;
    dp_arena_init(&scratch, 0);
    dp_tensor *outp[HARNESS_OUTS] = {&out[0], &out[1], &out[2]};
    dp_kctx k = {.node = "n", .op = op, .opset = opset, .attrs = attrs, .n_attrs = n_attrs,
                 .in = in, .n_in = n_in, .out = outp, .n_out = n_out, .scratch = &scratch,
                 .err = &err};
    dp_error_clear(&err);
    dp_status st = dp_node_types_infer(def, &k);
    for (int i = 0; st == DP_OK && i < n_out; i++) {
        assert_true(dp_nbytes(&out[i]) <= sizeof outbuf[i]);
        memset(outbuf[i], 0xa5, sizeof outbuf[i]);
        out[i].data = outbuf[i];
    }
    if (st == DP_OK)
        st = def->run(&k);
    dp_arena_free(&scratch);
    return st;
}

#endif
