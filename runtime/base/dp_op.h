/*
 * dp_op.h: what an operator is to dpcc, shared by the compiler and the runtime.
 *
 * Each operator has one definition (dp_op_def) holding three functions:
 *   types  sets every output's dtype from the inputs' dtypes and the attributes;
 *   infer  sets every output's rank and dims from the inputs' shapes (and values, where a
 *          shape depends on them: Reshape's shape, Slice's starts, ...);
 *   run    computes the outputs, whose buffers the caller has already allocated.
 * The compiler calls types and infer for shape inference (inputs whose values are unknown
 * have data == NULL: infer returns DP_DYNAMIC if it needs one), and run to fold constants.
 * The runtime calls all three for every instruction, so the shapes a .dp declares are
 * checked against the kernels' own rules before any kernel touches memory.
 *
 * Semantics are those of the ONNX operator at the node's opset version (dp_kctx.opset,
 * the default domain's version), including the defaults of absent attributes.
 */
#ifndef DP_OP_H
#define DP_OP_H

#include "dp_arena.h"
#include "dp_base.h"
#include "dp_tensor.h"

typedef enum dp_attr_kind {
    DP_ATTR_FLOAT = 1,
    DP_ATTR_INT = 2,
    DP_ATTR_STRING = 3,
    DP_ATTR_TENSOR = 4,
    DP_ATTR_FLOATS = 6,
    DP_ATTR_INTS = 7,
    DP_ATTR_STRINGS = 8
} dp_attr_kind; /* ONNX AttributeProto.AttributeType numbering */

typedef struct dp_attr {
    const char *name;
    dp_attr_kind kind;
    int64_t i;
    float f;
    const char *s;            /* NUL-terminated (strings with NUL bytes are refused at load) */
    int n;                    /* element count of ints, floats or strings */
    const int64_t *ints;
    const float *floats;
    const char *const *strings;
    const dp_tensor *t;       /* a constant tensor (ConstantOfShape's value) */
} dp_attr;

typedef struct dp_analog_hook dp_analog_hook;

/*
 * Where matrix products may spread over threads: run calls fn(ctx, 0 .. tasks - 1),
 * each once, on up to `threads` threads (the caller's among them), and returns when all are
 * done. The runtime only sees this interface; runtime/base/thread_pool.c implements it.
 */
typedef struct dp_parallel dp_parallel;
struct dp_parallel {
    int threads;
    void (*run)(dp_parallel *p, int tasks, void (*fn)(void *ctx, int task), void *ctx);
};

/* Products of fewer multiply-adds stay on one thread: waking the others costs more than
 * they would save. A product splits into at most DP_MAX_PARTS parts. */
enum { DP_PARALLEL_MIN_MACS = 1 << 21, DP_MAX_PARTS = 64 };

/*
 * How many parts of M x N x K multiply-adds to split a product into over p's threads (1: stay
 * on one), and their bounds over n items: 0 = bounds[0] < ... < bounds[parts] = n, about
 * n / threads each at multiples of unit, and never a last part one wide (which dp_sgemm
 * would sum in another order), so bounds holds DP_MAX_PARTS + 1. *widest: the most items
 * in one part, to size each part's scratch.
 */
int dp_parallel_split(const dp_parallel *p, double macs, int64_t n, int64_t unit,
                      int64_t *bounds, int64_t *widest);

typedef struct dp_kctx {
    const char *node;         /* node name, for messages */
    const char *op;           /* op type, for messages */
    int opset;                /* default-domain opset version of the model */
    const dp_attr *attrs;
    int n_attrs;
    dp_tensor *const *in;     /* in[i] is NULL for an omitted optional input */
    int n_in;
    dp_tensor *const *out;
    int n_out;
    dp_arena *scratch;        /* per-inference scratch; reset between inferences */
    dp_error *err;
    const char *bad_attr;     /* set by the getters when an attribute has the wrong kind */
    dp_analog_hook *analog;   /* NULL: matrix products are exact fp32 (dp_kernel_product) */
    struct dp_weight_panels *panels; /* the session's packed constant weights; NULL: none */
    dp_parallel *parallel;    /* NULL: every product on the calling thread */
    void *part_scratch;       /* the scratch of a split product's other parts, kept for the */
    size_t part_scratch_bytes; /* instruction's next products (dp_kernel_product) */
} dp_kctx;

typedef struct dp_op_def {
    const char *name;
    int min_in, max_in;       /* input count range (max_in -1: variadic) */
    int min_out, max_out;
    dp_status (*types)(dp_kctx *k); /* NULL: every output takes in[0]'s dtype */
    dp_status (*infer)(dp_kctx *k);
    dp_status (*run)(dp_kctx *k);
} dp_op_def;

/* The registry: one table per kernel family, each ended by an entry with name NULL. */
const dp_op_def *dp_op_find(const char *name);
/* Calls fn for every registered op (for listings and tests). */
void dp_op_each(void (*fn)(const dp_op_def *op, void *ctx), void *ctx);

/*
 * Attribute getters. An absent attribute yields the default; one of the wrong kind also
 * yields the default and sets k->bad_attr, which the caller turns into a DP_EINPUT error.
 */
const dp_attr *dp_attr_find(const dp_kctx *k, const char *name);
int64_t dp_attr_int(dp_kctx *k, const char *name, int64_t dflt);
float dp_attr_float(dp_kctx *k, const char *name, float dflt);
const char *dp_attr_string(dp_kctx *k, const char *name, const char *dflt);
/* Element count and *vals, or -1 (and *vals NULL) when absent. */
int dp_attr_ints(dp_kctx *k, const char *name, const int64_t **vals);
int dp_attr_floats(dp_kctx *k, const char *name, const float **vals);
const dp_tensor *dp_attr_tensor(dp_kctx *k, const char *name);

/* Optional input i, or NULL when omitted (absent or named ""). */
static inline dp_tensor *dp_in(const dp_kctx *k, int i)
{
    return i < k->n_in ? k->in[i] : NULL;
}

/* Fails with DP_EINPUT, prefixed with the op and node name. */
dp_status dp_kfail(dp_kctx *k, dp_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Scratch memory for a kernel, zeroed; NULL means out of memory (report it with dp_kfail).
 * dp_scratch_raw leaves it as it was, for buffers written in full before they are read. */
void *dp_scratch(dp_kctx *k, size_t bytes);
void *dp_scratch_raw(dp_kctx *k, size_t bytes);

/*
 * A depthwise layer's input channel as the core sees it, without the matrix: X (9 x P) is
 * the im2col matrix of the 3 x 3 window padded by 1 on every side, of the given stride, over
 * the one H x W plane x: row t = 3 ty + tx of column q, output (i, j) = (q / Wo, q % Wo),
 * holds x[stride i + ty - 1][stride j + tx - 1], or 0 outside the plane. Stride 1 keeps the
 * plane's size (Ho, Wo = H, W); stride 2 needs H and W even and halves them.
 */
typedef struct dp_analog_planes {
    const float *x;
    int64_t H, W;
    int stride;
    /* the output plane's column flags, dp_column_edges over all of it (kernel_util.h): 0 in
     * its first column (left) or last (right), 1 elsewhere. Made once for a layer's
     * channels, which share them. right may be NULL for stride 2, whose taps never read
     * past a row's right edge. */
    const int32_t *left, *right;
} dp_analog_planes;

/*
 * One matrix product of an analog layer's kernel (Conv, ConvTranspose, Gemm, MatMul):
 * C (M x N, stride ldc) = alpha op(A) op(B) + beta C, as dp_sgemm defines it, plus what the
 * optical core needs to know: which operand holds the weights, and where this product sits
 * in the layer, so that noise is keyed by the layer's own output numbering.
 */
typedef struct dp_product {
    bool ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    const float *A;
    int64_t lda;
    const float *B;
    int64_t ldb;
    float *C;
    int64_t ldc;
    bool weights_in_a;        /* rows of op(A) are output channels (Conv); otherwise columns
                               * of op(B) are (Gemm, MatMul) */
    bool weights_fixed;       /* the weight operand is the layer's constant: programmed once */
    int64_t channel0;         /* the layer's index of the first output channel computed here */
    int64_t vector0;          /* the layer's index of the first input vector: of op(B)'s first
                               * column when weights_in_a, of op(A)'s first row otherwise */
    void *scratch;            /* dp_sgemm_scratch_size(M, N, K) bytes, for the exact path */
    const struct dp_sgemm_epilogue *epilogue; /* then this on C (gemm.h), or NULL */
    const dp_analog_planes *planes; /* not NULL: B is this window's matrix, never built
                                     * (M = 1, K = 9), for a hook that takes_planes; B and
                                     * ldb unused */
} dp_product;

/* Where noisy runs send the products of analog instructions (runtime/exec/analog_exec.c). */
struct dp_analog_hook {
    dp_status (*product)(dp_analog_hook *h, dp_kctx *k, const dp_product *p);
    bool takes_planes; /* products may come as dp_product.planes */
};

/* Runs p exactly with dp_sgemm, or on the simulated optical core when k->analog is set. */
dp_status dp_kernel_product(dp_kctx *k, const dp_product *p);

/*
 * Node evaluation, the one path used by constant folding, shape inference and the executor.
 * dp_node_types_infer: runs the input-count checks, types, then infer (unless some input
 * rank is unknown, in which case outputs keep rank -1). Returns DP_OK, DP_DYNAMIC (outputs'
 * shapes unknown, dtypes set) or an error.
 */
dp_status dp_node_types_infer(const dp_op_def *op, dp_kctx *k);

#endif
