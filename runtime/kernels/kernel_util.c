/* kernel_util.c: helpers shared by the kernel families, and fused layers' post-processing. */
#include "kernel_util.h"
#include "simd.h"

#include <math.h>
#include <string.h>

dp_status dp_read_ints(dp_kctx *k, const dp_tensor *t, int64_t *out, int max, int *n,
                       const char *what)
{
    if (!t->data)
        return DP_DYNAMIC;
    if (t->dtype != DP_INT64 && t->dtype != DP_INT32)
        return dp_kfail(k, DP_EINPUT, "%s must be int32 or int64, not %s", what,
                        dp_dtype_name(t->dtype));
    if (t->rank > 1)
        return dp_kfail(k, DP_EINPUT, "%s must be 1-D, has rank %d", what, t->rank);
    int64_t count = dp_numel(t);
    if (count > max)
        return dp_kfail(k, DP_EINPUT, "%s has %lld elements, at most %d allowed", what,
                        (long long)count, max);
    for (int64_t i = 0; i < count; i++)
        out[i] = dp_load_i64(t->data, t->dtype, i);
    *n = (int)count;
    return DP_OK;
}

typedef enum fused_act {
    ACT_RELU, ACT_LEAKY_RELU, ACT_CLIP, ACT_SIGMOID, ACT_TANH, ACT_HARD_SIGMOID, ACT_HARD_SWISH
} fused_act;

static const char *const act_names[] = {
    [ACT_RELU] = "Relu", [ACT_LEAKY_RELU] = "LeakyRelu", [ACT_CLIP] = "Clip",
    [ACT_SIGMOID] = "Sigmoid", [ACT_TANH] = "Tanh", [ACT_HARD_SIGMOID] = "HardSigmoid",
    [ACT_HARD_SWISH] = "HardSwish",
};

static int act_index(const char *op)
{
    for (int i = 0; i < (int)(sizeof act_names / sizeof act_names[0]); i++)
        if (strcmp(op, act_names[i]) == 0)
            return i;
    return -1;
}

bool dp_fused_activation_known(const char *op)
{
    return act_index(op) >= 0;
}

dp_status dp_fused_check(dp_kctx *k)
{
    static const char *const names[] = {"dp_activation", "dp_alpha", "dp_beta", "dp_min",
                                        "dp_max",        "dp_bias",  "dp_residual"};
    bool fused = false;
    for (int i = 0; i < k->n_attrs; i++) {
        const char *name = k->attrs[i].name;
        if (strncmp(name, DP_FUSED_PREFIX, strlen(DP_FUSED_PREFIX)) != 0)
            continue;
        bool known = false;
        for (size_t j = 0; j < sizeof names / sizeof names[0]; j++)
            known |= strcmp(name, names[j]) == 0;
        if (!known)
            return dp_kfail(k, DP_EINPUT, "unknown fused-layer attribute '%s'", name);
        fused = true;
    }
    if (!fused)
        return DP_OK;
    const char *act = dp_attr_string(k, "dp_activation", NULL);
    if (act && act_index(act) < 0)
        return dp_kfail(k, DP_EINPUT, "fused activation '%s' is not one of Relu, LeakyRelu, "
                        "Clip, Sigmoid, Tanh, HardSigmoid, HardSwish", act);
    /* the getters flag an attribute of the wrong kind for dp_node_types_infer to report */
    dp_attr_float(k, "dp_alpha", 0);
    dp_attr_float(k, "dp_beta", 0);
    dp_attr_float(k, "dp_min", 0);
    dp_attr_float(k, "dp_max", 0);
    dp_attr_int(k, "dp_bias", 0);
    dp_attr_int(k, "dp_residual", 0);
    if (dp_attr_find(k, "dp_bias") && strcmp(k->op, "MatMul") != 0)
        return dp_kfail(k, DP_EINPUT, "dp_bias marks a fused bias on MatMul only");
    if (dp_attr_find(k, "dp_residual") && strcmp(k->op, "Conv") != 0)
        return dp_kfail(k, DP_EINPUT, "dp_residual marks a fused residual on Conv only");
    if (k->in[0]->dtype != DP_FLOAT)
        return dp_kfail(k, DP_EUNSUPPORTED, "a fused layer computes float32 only, its input "
                        "is %s", dp_dtype_name(k->in[0]->dtype));
    return DP_OK;
}

/* The fused activation's parameters, as dp_fused_activate reads them. */
typedef struct act_params {
    float alpha, beta, lo, hi;
} act_params;

/* The same expressions, in float arithmetic, as the standalone activations in
 * elementwise.c, so that fusing a layer does not change a single bit of its output. Static:
 * clang refuses to multiversion a function a header declared, as in an emitted kernel. */
DP_MULTI_TARGET
static void activate(fused_act act, float *v, int64_t n, act_params a)
{
    float alpha = a.alpha, beta = a.beta, lo = a.lo, hi = a.hi;
    switch (act) {
    case ACT_RELU:
        for (int64_t i = 0; i < n; i++)
            v[i] = v[i] < 0 ? 0 : v[i];
        break;
    case ACT_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++)
            v[i] = v[i] < 0 ? alpha * v[i] : v[i];
        break;
    case ACT_CLIP:
        /* max then min: when min > max every element becomes max, as Clip does */
        for (int64_t i = 0; i < n; i++) {
            float c = v[i] < lo ? lo : v[i];
            v[i] = c > hi ? hi : c;
        }
        break;
    case ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++)
            v[i] = 1 / (1 + expf(-v[i]));
        break;
    case ACT_TANH:
        for (int64_t i = 0; i < n; i++)
            v[i] = tanhf(v[i]);
        break;
    case ACT_HARD_SIGMOID:
        for (int64_t i = 0; i < n; i++)
            v[i] = fmaxf(0.0f, fminf(1.0f, alpha * v[i] + beta));
        break;
    case ACT_HARD_SWISH:
        for (int64_t i = 0; i < n; i++)
            v[i] = v[i] * fmaxf(0.0f, fminf(1.0f, v[i] / 6 + 0.5f));
        break;
    }
}

bool dp_fused_clamp(dp_kctx *k, float *lo, float *hi)
{
    const char *name = dp_attr_string(k, "dp_activation", NULL);
    int act = name ? act_index(name) : -1;
    *lo = -INFINITY;
    *hi = INFINITY;
    if (act == ACT_RELU)
        *lo = 0; /* v < 0 ? 0 : v, as Relu */
    else if (act == ACT_CLIP) {
        *lo = dp_attr_float(k, "dp_min", -INFINITY);
        *hi = dp_attr_float(k, "dp_max", INFINITY);
    }
    return !name || act == ACT_RELU || act == ACT_CLIP;
}

dp_status dp_fused_activate(dp_kctx *k, dp_tensor *y)
{
    const char *name = dp_attr_string(k, "dp_activation", NULL);
    if (!name)
        return DP_OK;
    int act = act_index(name);
    if (act < 0 || y->dtype != DP_FLOAT)
        return dp_kfail(k, DP_EINPUT, "cannot apply fused activation '%s' to a %s output",
                        name, dp_dtype_name(y->dtype));
    act_params a = {
        .alpha = dp_attr_float(k, "dp_alpha", act == ACT_LEAKY_RELU ? 0.01f : 0.2f),
        .beta = dp_attr_float(k, "dp_beta", 0.5f),
        .lo = dp_attr_float(k, "dp_min", -INFINITY), .hi = dp_attr_float(k, "dp_max", INFINITY)};
    activate((fused_act)act, y->data, dp_numel(y), a);
    return DP_OK;
}

/* An H x W plane (H and W even) split by the parity of its rows and columns into four
 * quarter planes, (even, even), (even, odd), (odd, even), (odd, odd), one after another:
 * element (2i + a, 2j + b) goes to quarter 2a + b at (i, j). */
void dp_split_by_parity(const float *plane, int64_t H, int64_t W, float *quarters)
{
    int64_t Wq = W / 2, n = H / 2 * Wq;
    for (int64_t r = 0; r < H; r++) {
        float *restrict even = quarters + (r & 1) * 2 * n + r / 2 * Wq, *restrict odd = even + n;
        const float *restrict row = plane + r * W;
        for (int64_t j = 0; j < Wq; j++) {
            even[j] = row[2 * j];
            odd[j] = row[2 * j + 1];
        }
    }
}
