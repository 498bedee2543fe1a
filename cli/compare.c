/*
 * compare.c: outputs against references (compare.h).
 */
#include "compare.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>

static void index_str(const dp_tensor *t, int64_t flat, char *buf, size_t n)
{
    int64_t idx[DP_MAX_RANK];
    for (int d = t->rank - 1; d >= 0; d--) {
        idx[d] = t->dims[d] ? flat % t->dims[d] : 0;
        flat = t->dims[d] ? flat / t->dims[d] : 0;
    }
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->rank && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, d ? ",%lld" : "%lld", (long long)idx[d]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

int64_t dpr_compare(int k, const char *name, const dp_tensor *got, const dp_tensor *want,
                    double rtol, double atol)
{
    char a[160], b[160];
    if (got->dtype != want->dtype || !dp_same_shape(got, want)) {
        fprintf(stderr, "output %d '%s': got %s[%s], expected %s[%s]\n", k, name,
                dp_dtype_name(got->dtype), dp_shape_str(got, a, sizeof a),
                dp_dtype_name(want->dtype), dp_shape_str(want, b, sizeof b));
        return 1;
    }
    int64_t n = dp_numel(got), bad = 0, bad_nonfinite = 0;
    double max_abs = 0, max_rel = 0;
    bool exact = !dp_dtype_is_float(got->dtype);
    for (int64_t i = 0; i < n; i++) {
        bool ok;
        double x, y;
        if (exact) {
            int64_t p = dp_load_i64(got->data, got->dtype, i),
                    q = dp_load_i64(want->data, want->dtype, i);
            ok = p == q;
            x = (double)p;
            y = (double)q;
        } else {
            x = dp_load_f64(got->data, got->dtype, i);
            y = dp_load_f64(want->data, want->dtype, i);
            if (isnan(x) || isnan(y) || isinf(x) || isinf(y))
                ok = (isnan(x) && isnan(y)) || x == y;
            else
                ok = fabs(x - y) <= atol + rtol * fabs(y);
        }
        if (!isnan(x) && !isnan(y) && !isinf(x) && !isinf(y)) {
            double d = fabs(x - y);
            if (d > max_abs)
                max_abs = d;
            if (y != 0 && d / fabs(y) > max_rel)
                max_rel = d / fabs(y);
        }
        if (!ok) {
            /* the error statistics cover finite pairs only: say how many were not */
            bad_nonfinite += !isfinite(x) || !isfinite(y);
            if (bad < 5) {
                index_str(got, i, a, sizeof a);
                fprintf(stderr, "output %d '%s' differs at %s: got %.9g, expected %.9g\n", k, name,
                        a, x, y);
            }
            bad++;
        }
    }
    char nonfinite[96] = "";
    if (bad_nonfinite)
        snprintf(nonfinite, sizeof nonfinite, " (%lld with a NaN or infinity on one side only)",
                 (long long)bad_nonfinite);
    fprintf(stderr,
            "output %d '%s': %s[%s], max abs error %.3g, max rel error %.3g over finite pairs, "
            "%lld of %lld elements outside rtol %g atol %g%s\n",
            k, name, dp_dtype_name(got->dtype), dp_shape_str(got, a, sizeof a), max_abs, max_rel,
            (long long)bad, (long long)n, rtol, atol, nonfinite);
    return bad;
}

/* The index of the largest of n values a stride apart (the first of equals; NaN never). */
static int64_t argmax(const dp_tensor *t, int64_t base, int64_t n)
{
    int64_t best = 0;
    double top = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        double v = dp_load_f64(t->data, t->dtype, base + i);
        if (v > top) {
            top = v;
            best = i;
        }
    }
    return best;
}

int64_t dpr_compare_top1(int k, const char *name, const dp_tensor *got, const dp_tensor *want,
                         double rate)
{
    char a[160];
    if (got->rank < 1 || !dp_same_shape(got, want) || got->dims[got->rank - 1] == 0) {
        fprintf(stderr, "output %d '%s': %s[%s] has no rows to compare by top-1\n", k, name,
                dp_dtype_name(got->dtype), dp_shape_str(got, a, sizeof a));
        return 1;
    }
    int64_t cols = got->dims[got->rank - 1], rows = dp_numel(got) / cols, differ = 0;
    for (int64_t r = 0; r < rows; r++)
        differ += argmax(got, r * cols, cols) != argmax(want, r * cols, cols);
    int64_t allowed = (int64_t)floor(rate * (double)rows + 1e-9);
    fprintf(stderr,
            "output %d '%s': top-1 differs on %lld of %lld rows (%.3g%%, at most %.3g%% "
            "allowed)\n",
            k, name, (long long)differ, (long long)rows, 100.0 * (double)differ / (double)rows,
            100 * rate);
    return differ > allowed ? differ - allowed : 0;
}
