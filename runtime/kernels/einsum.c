/*
 * einsum.c: Einsum as numpy.einsum computes it: explicit ("ij,jk->ik") and implicit
 * ("ij,jk") outputs, repeated labels within an operand (diagonals), "..." broadcasting, and
 * size-1 dimensions that broadcast against their label's size.
 *
 * Every distinct label (and every dimension "..." covers) becomes one loop axis: the output's
 * first, then the summed ones. Each operand walks the axes with its own strides, a repeated
 * label adding its dimensions' strides up, so one generic nested loop computes any equation.
 * Two float operands whose equation is a batched matrix product (attention's
 * "bhid,bhjd->bhij") take dp_sgemm instead: the generic loop made MaxViT-T's attention
 * 80% of its compile time.
 */
#include "gemm.h"
#include "kernel_util.h"
#include "nn.h"

#include <string.h>

enum {
    NLAB = 52,                  /* labels 'A'..'Z', 'a'..'z' */
    NAX = NLAB + DP_MAX_RANK    /* and one axis per dimension "..." covers */
};

/* Element products an equation may ask for (minutes of work); more is refused. */
#define MAX_WORK 6.4e10

/* Label ids ordered as ASCII, which orders an implicit output (uppercase first). */
static int label_id(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return 26 + c - 'a';
    return -1;
}

typedef struct es_term {
    int n;                      /* labels, the ellipsis not counted */
    int lab[DP_MAX_RANK];
    int ell;                    /* labels before the ellipsis, or -1 without one */
} es_term;

typedef struct es_plan {
    int nout, nax;              /* output axes; all axes (output first, then summed) */
    int pos[NAX];               /* loop position of each label id / ellipsis dim, or -1 */
    int64_t size[NAX];          /* size of each loop position */
    int ell_rank;               /* dimensions "..." covers, broadcast over all operands */
} es_plan;

/* The term in [s, end), blanks ignored. */
static dp_status parse_term(dp_kctx *k, const char *s, const char *end, es_term *t)
{
    t->n = 0;
    t->ell = -1;
    for (; s < end; s++) {
        if (*s == ' ')
            continue;
        if (*s == '.') {
            if (end - s < 3 || s[1] != '.' || s[2] != '.' || t->ell >= 0)
                return dp_kfail(k, DP_EINPUT, "equation has a malformed or repeated '...'");
            t->ell = t->n;
            s += 2;
            continue;
        }
        int id = label_id(*s);
        if (id < 0)
            return dp_kfail(k, DP_EINPUT, "equation has an invalid character (code %d)",
                            (unsigned char)*s);
        if (t->n == DP_MAX_RANK)
            return dp_kfail(k, DP_EINPUT, "equation has a term of more than %d labels",
                            DP_MAX_RANK);
        t->lab[t->n++] = id;
    }
    return DP_OK;
}

/* Term i of the left side [lhs, lhs_end): the text between the i-th and (i+1)-th comma. */
static dp_status input_term(dp_kctx *k, const char *lhs, const char *lhs_end, int i,
                            es_term *t)
{
    const char *s = lhs;
    for (int c = 0; c < i; c++)
        s = (const char *)memchr(s, ',', (size_t)(lhs_end - s)) + 1;
    const char *e = memchr(s, ',', (size_t)(lhs_end - s));
    return parse_term(k, s, e ? e : lhs_end, t);
}

/* Dimension q of operand x (term t) as an axis id: a label, or an ellipsis dimension. */
static int dim_axis(const es_term *t, int q, int rank, int ell_rank)
{
    int e = rank - t->n; /* dimensions this operand's "..." covers */
    if (t->ell < 0 || q < t->ell)
        return t->lab[q];
    if (q < t->ell + e)
        return NLAB + ell_rank - e + (q - t->ell);
    return t->lab[q - e];
}

static dp_status es_plan_init(dp_kctx *k, es_plan *p)
{
    const char *eq = dp_attr_string(k, "equation", NULL);
    if (!eq)
        return dp_kfail(k, DP_EINPUT, "attribute 'equation' is missing");
    const char *arrow = strstr(eq, "->"), *lhs_end = arrow ? arrow : eq + strlen(eq);
    int terms = 1;
    for (const char *s = eq; s < lhs_end; s++)
        terms += *s == ',';
    if (terms != k->n_in)
        return dp_kfail(k, DP_EINPUT, "equation '%s' has %d operands, the node %d inputs", eq,
                        terms, k->n_in);

    int64_t size[NAX];
    int count[NLAB] = {0};
    for (int a = 0; a < NAX; a++)
        size[a] = -1;
    p->ell_rank = 0;
    for (int i = 0; i < k->n_in; i++) {
        es_term t;
        dp_status st = input_term(k, eq, lhs_end, i, &t);
        if (st != DP_OK)
            return st;
        int rank = k->in[i]->rank;
        if (t.ell < 0 ? rank != t.n : rank < t.n)
            return dp_kfail(k, DP_EINPUT, "operand %d has rank %d but its term has %d labels%s",
                            i, rank, t.n, t.ell < 0 ? "" : " and '...'");
        if (t.ell >= 0 && rank - t.n > p->ell_rank)
            p->ell_rank = rank - t.n;
    }
    /* sizes: equal, or 1 to broadcast */
    for (int i = 0; i < k->n_in; i++) {
        es_term t;
        input_term(k, eq, lhs_end, i, &t);
        for (int q = 0; q < k->in[i]->rank; q++) {
            int a = dim_axis(&t, q, k->in[i]->rank, p->ell_rank);
            int64_t d = k->in[i]->dims[q];
            if (a < NLAB)
                count[a]++;
            if (size[a] < 0 || size[a] == 1)
                size[a] = d;
            else if (d != 1 && d != size[a])
                return dp_kfail(k, DP_EINPUT, "operand %d dimension %d has size %lld, but "
                                "its label has size %lld elsewhere", i, q, (long long)d,
                                (long long)size[a]);
        }
    }

    for (int a = 0; a < NAX; a++)
        p->pos[a] = -1;
    int n = 0;
    if (arrow) {
        es_term t;
        dp_status st = parse_term(k, arrow + 2, arrow + strlen(arrow), &t);
        if (st != DP_OK)
            return st;
        if (t.ell < 0 && p->ell_rank > 0)
            return dp_kfail(k, DP_EINPUT, "the output of '%s' must include '...'", eq);
        for (int q = 0; q < t.n; q++) {
            if (t.ell == q)
                for (int e = 0; e < p->ell_rank; e++)
                    p->pos[NLAB + e] = n++;
            if (size[t.lab[q]] < 0 || p->pos[t.lab[q]] >= 0)
                return dp_kfail(k, DP_EINPUT, "output label %d of '%s' is repeated or on no "
                                "input", q, eq);
            p->pos[t.lab[q]] = n++;
        }
        if (t.ell == t.n)
            for (int e = 0; e < p->ell_rank; e++)
                p->pos[NLAB + e] = n++;
    } else {
        for (int e = 0; e < p->ell_rank; e++)
            p->pos[NLAB + e] = n++;
        for (int a = 0; a < NLAB; a++)
            if (count[a] == 1)
                p->pos[a] = n++;
    }
    if (n > DP_MAX_RANK)
        return dp_kfail(k, DP_EINPUT, "output of '%s' has rank %d, more than %d", eq, n,
                        DP_MAX_RANK);
    p->nout = n;
    for (int a = 0; a < NAX; a++)
        if (size[a] >= 0 && p->pos[a] < 0)
            p->pos[a] = n++;
    p->nax = n;
    double work = 1;
    for (int a = 0; a < NAX; a++)
        if (p->pos[a] >= 0) {
            p->size[p->pos[a]] = size[a];
            work *= (double)size[a];
        }
    if (work * k->n_in > MAX_WORK)
        return dp_kfail(k, DP_EUNSUPPORTED, "'%s' needs about %.3g multiplications, too many "
                        "for this kernel", eq, work * k->n_in);
    return DP_OK;
}

static const dp_dtype es_types[] = {DP_FLOAT, DP_DOUBLE, DP_INT32, DP_INT64, DP_UINT32,
                                    DP_UINT64};

dp_status nn_Einsum_types(dp_kctx *k)
{
    dp_dtype t = k->in[0]->dtype;
    k->out[0]->dtype = t;
    for (int i = 1; i < k->n_in; i++) {
        if (!k->in[i])
            return dp_kfail(k, DP_EINPUT, "input %d is missing", i);
        if (k->in[i]->dtype != t)
            return dp_kfail(k, DP_EINPUT, "input %d is %s, input 0 is %s", i,
                            dp_dtype_name(k->in[i]->dtype), dp_dtype_name(t));
    }
    return nn_need_dtype(k, t, 6, es_types);
}

dp_status nn_Einsum_infer(dp_kctx *k)
{
    es_plan p;
    dp_status st = es_plan_init(k, &p);
    if (st != DP_OK)
        return st;
    dp_tensor *y = k->out[0];
    y->rank = p.nout;
    for (int i = 0; i < p.nout; i++)
        y->dims[i] = p.size[i];
    return DP_OK;
}

/*
 * y[output index] = sum over the summed axes of the product of every operand's element.
 * One odometer runs over all axes, the output's outermost, so each output element's terms
 * come in one run of ninner. stride[i * nax + a]: operand i's step along loop axis a.
 * ACC: double for floating types, uint64_t for integers (products and sums wrap, as they
 * would in the integer type).
 */
#define EINSUM(T, ACC)                                                                       \
    static void einsum_##T(const es_plan *p, int n_in, const void *const *x,                 \
                           const int64_t *stride, T *y, int64_t *idx, int64_t *off)          \
    {                                                                                        \
        int nax = p->nax;                                                                    \
        int64_t nout = 1, ninner = 1;                                                        \
        for (int a = 0; a < nax; a++)                                                        \
            *(a < p->nout ? &nout : &ninner) *= p->size[a];                                  \
        if (ninner == 0) {                                                                   \
            for (int64_t o = 0; o < nout; o++)                                               \
                y[o] = 0;                                                                    \
            return;                                                                          \
        }                                                                                    \
        for (int a = 0; a < nax; a++)                                                        \
            idx[a] = 0;                                                                      \
        for (int i = 0; i < n_in; i++)                                                       \
            off[i] = 0;                                                                      \
        for (int64_t o = 0; o < nout; o++) {                                                 \
            ACC acc = 0;                                                                     \
            for (int64_t s = 0; s < ninner; s++) {                                           \
                ACC prod = 1;                                                                \
                for (int i = 0; i < n_in; i++)                                               \
                    prod *= (ACC)((const T *)x[i])[off[i]];                                  \
                acc += prod;                                                                 \
                for (int a = nax - 1; a >= 0; a--) {                                         \
                    for (int i = 0; i < n_in; i++)                                           \
                        off[i] += stride[i * nax + a];                                       \
                    if (++idx[a] < p->size[a])                                               \
                        break;                                                               \
                    for (int i = 0; i < n_in; i++)                                           \
                        off[i] -= stride[i * nax + a] * p->size[a];                          \
                    idx[a] = 0;                                                              \
                }                                                                            \
            }                                                                                \
            y[o] = (T)acc;                                                                   \
        }                                                                                    \
    }
EINSUM(float, double)
EINSUM(double, double)
EINSUM(int32_t, uint64_t)
EINSUM(int64_t, uint64_t)
EINSUM(uint32_t, uint64_t)
EINSUM(uint64_t, uint64_t)

/* Loop axes of a batched product: on both operands and the output, on the first operand
 * and the output (rows), on the second and the output (columns), on both operands only
 * (summed). */
enum { AX_BATCH, AX_ROW, AX_COL, AX_SUM, AX_CLASSES };

/*
 * Whether operands x[0] and x[1] (terms t[0], t[1]) multiply as a batched matrix product,
 * and if so each loop axis's class: no label repeated within a term, none summed over one
 * operand alone, no size-1 dimension broadcast against a larger one, at least one summed
 * element.
 */
static bool es_is_product(const es_plan *p, const dp_tensor *const *x, const es_term *t,
                          int *cls)
{
    bool on[2][NAX] = {{false}};
    for (int i = 0; i < 2; i++)
        for (int q = 0; q < x[i]->rank; q++) {
            int a = p->pos[dim_axis(&t[i], q, x[i]->rank, p->ell_rank)];
            if (on[i][a] || x[i]->dims[q] != p->size[a])
                return false;
            on[i][a] = true;
        }
    for (int a = 0; a < p->nax; a++) {
        bool out = a < p->nout;
        if (out)
            cls[a] = on[0][a] ? (on[1][a] ? AX_BATCH : AX_ROW) : AX_COL;
        else if (on[0][a] && on[1][a] && p->size[a] > 0)
            cls[a] = AX_SUM;
        else
            return false;
    }
    return true;
}

/* The view of operand i's loop strides over the axes of the classes in want[] (in that
 * order, loop order within a class): its rank, dims and strides for dp_copy_view. */
static int es_view(const es_plan *p, const int *cls, const int64_t *stride, const int *want,
                   int nwant, int64_t *dims, int64_t *st)
{
    int n = 0;
    for (int w = 0; w < nwant; w++)
        for (int a = 0; a < p->nax; a++)
            if (cls[a] == want[w]) {
                dims[n] = p->size[a];
                st[n++] = stride[a];
            }
    return n;
}

/*
 * y = the batched product: each operand gathered contiguous as [batch][rows][sum] and
 * [batch][sum][cols], one dp_sgemm per batch element into [batch][rows][cols], then copied
 * into the output's axis order. Gathering costs one pass over each operand, small beside
 * the product's rows x cols x sum multiply-adds.
 */
static dp_status es_product(dp_kctx *k, const es_plan *p, const int *cls, const float *const *x,
                            const int64_t *stride, float *y)
{
    int64_t n[AX_CLASSES] = {1, 1, 1, 1};
    for (int a = 0; a < p->nax; a++)
        n[cls[a]] *= p->size[a];
    int64_t M = n[AX_ROW], N = n[AX_COL], K = n[AX_SUM];
    size_t a_n = (size_t)(n[AX_BATCH] * M * K), b_n = (size_t)(n[AX_BATCH] * K * N);
    size_t c_n = (size_t)(n[AX_BATCH] * M * N), gemm = dp_sgemm_scratch_size(M, N, K);
    size_t bytes = (a_n + b_n + c_n) * sizeof(float) + gemm;
    float *A = dp_scratch_raw(k, a_n * sizeof(float)), *B = dp_scratch_raw(k, b_n * sizeof(float));
    float *C = dp_scratch_raw(k, c_n * sizeof(float));
    void *scratch = dp_scratch_raw(k, gemm);
    if (!A || !B || !C || !scratch)
        return dp_kfail(k, DP_ENOMEM, "cannot allocate %zu bytes of scratch", bytes);

    int64_t dims[DP_MAX_RANK], st[DP_MAX_RANK];
    int r = es_view(p, cls, stride, (const int[]){AX_BATCH, AX_ROW, AX_SUM}, 3, dims, st);
    dp_copy_view(A, x[0], r, dims, st, sizeof(float));
    r = es_view(p, cls, stride + p->nax, (const int[]){AX_BATCH, AX_SUM, AX_COL}, 3, dims, st);
    dp_copy_view(B, x[1], r, dims, st, sizeof(float));
    for (int64_t b = 0; b < n[AX_BATCH]; b++)
        dp_sgemm(false, false, M, N, K, 1.0f, A + b * M * K, K, B + b * K * N, N, 0.0f,
                 C + b * M * N, N, scratch);

    /* C's strides along each output axis, then the output read from C in its own order */
    int64_t c_stride[DP_MAX_RANK], step = 1;
    for (int c = AX_COL; c >= AX_BATCH; c--)
        for (int a = p->nout - 1; a >= 0; a--)
            if (cls[a] == c) {
                c_stride[a] = step;
                step *= p->size[a];
            }
    dp_copy_view(y, C, p->nout, p->size, c_stride, sizeof(float));
    return DP_OK;
}

dp_status nn_Einsum_run(dp_kctx *k)
{
    es_plan p;
    dp_status st = es_plan_init(k, &p);
    if (st != DP_OK)
        return st;
    dp_tensor *y = k->out[0];
    if (dp_numel(y) == 0)
        return DP_OK;
    const char *eq = dp_attr_string(k, "equation", "");
    const char *arrow = strstr(eq, "->"), *lhs_end = arrow ? arrow : eq + strlen(eq);
    int n = k->n_in, nax = p.nax;
    size_t bytes = ((size_t)n * (size_t)(nax + 1) + (size_t)nax) * sizeof(int64_t);
    int64_t *stride = dp_scratch(k, bytes);
    const void **x = dp_scratch(k, (size_t)n * sizeof *x);
    if (!stride || !x)
        return dp_kfail(k, DP_ENOMEM, "cannot allocate %zu bytes of scratch",
                        bytes + (size_t)n * sizeof *x);
    int64_t *off = stride + (size_t)n * (size_t)nax, *idx = off + n;
    es_term term[2];
    for (int i = 0; i < n; i++) {
        const dp_tensor *t = k->in[i];
        es_term ti;
        input_term(k, eq, lhs_end, i, &ti);
        if (i < 2)
            term[i] = ti;
        int64_t s[DP_MAX_RANK];
        dp_strides(t, s);
        for (int a = 0; a < nax; a++)
            stride[i * nax + a] = 0;
        /* a size-1 dimension broadcasts: it does not move along its axis */
        for (int q = 0; q < t->rank; q++)
            if (t->dims[q] != 1)
                stride[i * nax + p.pos[dim_axis(&ti, q, t->rank, p.ell_rank)]] += s[q];
        x[i] = t->data;
    }
    int cls[NAX];
    if (y->dtype == DP_FLOAT && n == 2 && es_is_product(&p, (const dp_tensor *const *)k->in,
                                                        term, cls))
        return es_product(k, &p, cls, (const float *const *)x, stride, y->data);
    switch (y->dtype) {
    case DP_FLOAT:
        einsum_float(&p, n, x, stride, y->data, idx, off);
        break;
    case DP_DOUBLE:
        einsum_double(&p, n, x, stride, y->data, idx, off);
        break;
    case DP_INT32:
        einsum_int32_t(&p, n, x, stride, y->data, idx, off);
        break;
    case DP_INT64:
        einsum_int64_t(&p, n, x, stride, y->data, idx, off);
        break;
    case DP_UINT32:
        einsum_uint32_t(&p, n, x, stride, y->data, idx, off);
        break;
    default:
        einsum_uint64_t(&p, n, x, stride, y->data, idx, off);
        break;
    }
    return DP_OK;
}
