/*
 * dataset.c: chunking a data set into inferences and running them on a pool of sessions.
 *
 * Chunk 0 runs first on the calling thread: it fixes the output shapes, so the full outputs
 * can be allocated before the workers start and each worker copies its chunks' outputs into
 * disjoint places without locking. A failure reports the lowest failing chunk, so the
 * message does not depend on thread timing either.
 *
 * Over several ranks (dp_dist.h) each runs a contiguous block of the chunks on its own
 * threads, and the blocks are gathered to every rank: chunk k is still inference first + k,
 * so the bits are those of one process. The ADC counts of the other ranks' chunks are kept
 * beside the sessions' own.
 *
 * The threads serve one level at a time: an input that is a single inference spreads its
 * matrix products over all of them (through a pool made on first need: the compiler keeps
 * several runners over data sets, which never need one); chunks take one thread each.
 */
#include "dataset.h"

#include "thread_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 256

struct dp_runner {
    const dp_program *prog;
    int threads;
    dp_analog_bank *bank;       /* the sessions' shared weights, when the runner made it */
    dp_thread_pool *pool;       /* session 0's products' threads for single inferences */
    dp_dist *dist;              /* the ranks the chunks are shared out to; NULL: none */
    dp_adc_counts *remote;      /* per instruction: counted by the other ranks */
    dp_session *sessions[MAX_THREADS];
};

dp_status dp_dataset_chunks(const dp_program *p, const dp_tensor *in,
                            const char *const *sources, int64_t *chunks, dp_error *err)
{
    *chunks = 1;
    for (int i = 0; i < p->n_inputs; i++) {
        const dp_tensor *want = &p->tensors[p->inputs[i]].t, *got = &in[i];
        char a[160], b[160];
        if (dp_same_shape(got, want))
            continue;
        bool batched = got->rank == want->rank && got->rank > 0 && want->dims[0] > 0
                    && got->dims[0] % want->dims[0] == 0;
        for (int d = 1; batched && d < got->rank; d++)
            batched = got->dims[d] == want->dims[d];
        int64_t n = batched ? got->dims[0] / want->dims[0] : 0;
        const char *from = sources && sources[i] ? sources[i] : NULL;
        if (!batched || (*chunks != 1 && n != *chunks) || n == 0)
            return dp_fail(err, DP_EINPUT, "input %d ('%s'%s%.300s) has shape %s; the program "
                           "expects %s (or a multiple of its leading dimension, the same for "
                           "all inputs)", i, p->tensors[p->inputs[i]].name,
                           from ? ", from " : "", from ? from : "", dp_shape_str(got, a, sizeof a),
                           dp_shape_str(want, b, sizeof b));
        *chunks = n;
    }
    return DP_OK;
}

dp_tensor dp_dataset_chunk(const dp_tensor *t, int64_t rows, int64_t k)
{
    dp_tensor c = *t;
    c.dims[0] = rows;
    c.data = (unsigned char *)t->data + (size_t)k * dp_nbytes(&c);
    return c;
}

dp_status dp_runner_new(const dp_program *p, const dp_runner_opts *opts, dp_runner **out,
                        dp_error *err)
{
    int threads = opts && opts->threads > 1 ? opts->threads : 1;
    *out = NULL;
    if (threads > MAX_THREADS)
        return dp_fail(err, DP_EUSAGE, "%d threads asked for, at most %d", threads, MAX_THREADS);
    dp_runner *r = calloc(1, sizeof *r);
    if (!r)
        return dp_fail(err, DP_ENOMEM, "out of memory");
    r->prog = p;
    r->threads = threads;
    r->dist = opts ? opts->dist : NULL;
    r->remote = calloc((size_t)p->n_instrs + 1, sizeof *r->remote);
    if (!r->remote) {
        free(r);
        return dp_fail(err, DP_ENOMEM, "out of memory");
    }
    for (int t = 0; t < threads; t++) {
        dp_status st = dp_session_new(p, opts ? &opts->session : NULL, &r->sessions[t], err);
        if (st != DP_OK) {
            dp_runner_free(r);
            return st;
        }
    }
    *out = r;
    return DP_OK;
}

dp_status dp_runner_set_analog(dp_runner *r, const dp_analog_config *cfg, dp_error *err)
{
    dp_status st = DP_OK;
    dp_analog_config shared;
    for (int t = 0; t < r->threads; t++)
        dp_session_set_analog(r->sessions[t], NULL, err);
    dp_analog_bank_free(r->bank);
    r->bank = NULL;
    memset(r->remote, 0, sizeof *r->remote * (size_t)r->prog->n_instrs);
    /* the sessions simulate one device instance: one copy of its programmed weights */
    if (cfg && !cfg->bank && cfg->pre_adc == NULL) {
        st = dp_analog_bank_new(r->prog, &r->bank, err);
        shared = *cfg;
        shared.bank = r->bank;
        cfg = &shared;
    }
    for (int t = 0; st == DP_OK && t < r->threads; t++)
        st = dp_session_set_analog(r->sessions[t], cfg, err);
    return st;
}

void dp_runner_set_repetitions(dp_runner *r, const int32_t *repetitions)
{
    /* the sessions' counts start again, and so do the other ranks' */
    memset(r->remote, 0, sizeof *r->remote * (size_t)r->prog->n_instrs);
    for (int t = 0; t < r->threads; t++) {
        dp_analog_state *a = dp_session_analog(r->sessions[t]);
        if (a)
            dp_analog_state_set_repetitions(a, repetitions);
    }
}

dp_adc_counts dp_runner_adc_counts(const dp_runner *r, int instr)
{
    dp_adc_counts sum = r->remote[instr];
    for (int t = 0; t < r->threads; t++) {
        dp_adc_counts c = dp_session_adc_counts(r->sessions[t], instr);
        sum.conversions += c.conversions;
        sum.clipped += c.clipped;
    }
    return sum;
}

dp_session *dp_runner_session(dp_runner *r)
{
    return r->sessions[0];
}

void dp_runner_free(dp_runner *r)
{
    if (!r)
        return;
    for (int t = 0; t < r->threads; t++)
        dp_session_free(r->sessions[t]);
    dp_thread_pool_free(r->pool);
    dp_analog_bank_free(r->bank);
    free(r->remote);
    free(r);
}

typedef struct job {
    dp_runner *r;
    const dp_tensor *in;
    dp_tensor *out;
    int64_t chunks;
    uint64_t first;
} job;

typedef struct worker {
    const job *job;
    int index;
    dp_tensor *chunk_in, *chunk_out;
    int64_t failed_chunk;     /* -1 while all went well */
    dp_status status;
    dp_error err;
} worker;

static dp_status run_chunk(const job *j, dp_session *s, int64_t k, dp_tensor *chunk_in,
                           dp_tensor *chunk_out, dp_error *err)
{
    const dp_program *p = j->r->prog;
    for (int i = 0; i < p->n_inputs; i++)
        chunk_in[i] = j->chunks == 1 ? j->in[i]
                                     : dp_dataset_chunk(&j->in[i], p->tensors[p->inputs[i]].t.dims[0], k);
    dp_status st = dp_session_run(s, j->first + (uint64_t)k, chunk_in, chunk_out, err);
    if (st != DP_OK)
        return st;
    for (int i = 0; i < p->n_outputs; i++) {
        const dp_tensor *c = &chunk_out[i];
        if (!(c->rank == j->out[i].rank && c->dtype == j->out[i].dtype
              && (c->rank == 0 ? j->chunks == 1 : c->dims[0] * j->chunks == j->out[i].dims[0])
              && dp_nbytes(c) * (size_t)j->chunks == dp_nbytes(&j->out[i])))
            return dp_fail(err, DP_EUNSUPPORTED, "output %d changes shape between batch chunks",
                           i);
        memcpy((unsigned char *)j->out[i].data + (size_t)k * dp_nbytes(c), c->data,
               dp_nbytes(c));
    }
    return DP_OK;
}

static void *work(void *arg)
{
    worker *w = arg;
    const job *j = w->job;
    for (int64_t k = 1 + w->index; k < j->chunks; k += j->r->threads) {
        w->status = run_chunk(j, j->r->sessions[w->index], k, w->chunk_in, w->chunk_out, &w->err);
        if (w->status != DP_OK) {
            w->failed_chunk = k;
            break;
        }
    }
    return NULL;
}

/* Sizes the full outputs from chunk 0's, allocating them where the caller has not. */
static dp_status shape_outputs(const job *j, const dp_tensor *first, dp_arena *mem,
                               dp_error *err)
{
    for (int i = 0; i < j->r->prog->n_outputs; i++) {
        dp_tensor full = first[i];
        if (j->chunks > 1) {
            if (full.rank == 0)
                return dp_fail(err, DP_EUNSUPPORTED, "output %d is a scalar: the program "
                               "cannot run a batch of %lld", i, (long long)j->chunks);
            full.dims[0] *= j->chunks;
        }
        if (j->out[i].data) {
            if (j->out[i].dtype != full.dtype || !dp_same_shape(&j->out[i], &full))
                return dp_fail(err, DP_EINTERNAL, "output %d: the buffer given has another "
                               "shape", i);
            continue;
        }
        size_t bytes = dp_nbytes(&full);
        full.data = dp_arena_alloc(mem, bytes);
        if (!full.data)
            return dp_fail(err, DP_ENOMEM, "out of memory for output %d (%zu bytes)", i, bytes);
        j->out[i] = full;
    }
    return DP_OK;
}

static dp_status run_here(dp_runner *r, const dp_tensor *in, int64_t chunks, uint64_t first,
                          dp_arena *mem, dp_tensor *out, dp_error *err)
{
    const dp_program *p = r->prog;
    job j = {.r = r, .in = in, .out = out, .chunks = chunks, .first = first};
    size_t n_io = (size_t)p->n_inputs + (size_t)p->n_outputs + 2;
    worker *ws = calloc((size_t)r->threads, sizeof *ws);
    dp_tensor *io = calloc((size_t)r->threads * n_io, sizeof *io);
    if (!ws || !io) {
        free(ws);
        free(io);
        return dp_fail(err, DP_ENOMEM, "out of memory");
    }
    for (int t = 0; t < r->threads; t++) {
        ws[t] = (worker){.job = &j, .index = t, .chunk_in = io + (size_t)t * n_io,
                         .failed_chunk = -1};
        ws[t].chunk_out = ws[t].chunk_in + p->n_inputs + 1;
    }
    if (chunks == 1 && r->threads > 1 && !r->pool)
        r->pool = dp_thread_pool_new(r->threads);
    dp_session_set_parallel(r->sessions[0], chunks == 1 ? dp_thread_pool_parallel(r->pool) : NULL);
    /* chunk 0, then the outputs' shapes are known */
    dp_tensor *c_in = ws[0].chunk_in, *c_out = ws[0].chunk_out;
    for (int i = 0; i < p->n_inputs; i++)
        c_in[i] = chunks == 1 ? in[i] : dp_dataset_chunk(&in[i], p->tensors[p->inputs[i]].t.dims[0], 0);
    dp_status st = dp_session_run(r->sessions[0], first, c_in, c_out, err);
    if (st == DP_OK)
        st = shape_outputs(&j, c_out, mem, err);
    for (int i = 0; st == DP_OK && i < p->n_outputs; i++)
        memcpy(out[i].data, c_out[i].data, dp_nbytes(&c_out[i]));
    if (st == DP_OK && chunks > 1) {
        pthread_t tid[MAX_THREADS];
        int started = 1;
        while (started < r->threads && 1 + started < chunks
               && pthread_create(&tid[started], NULL, work, &ws[started]) == 0)
            started++;
        work(&ws[0]);
        /* workers not started (no chunks for them, or no thread to be had) run here */
        for (int t = started; t < r->threads; t++)
            work(&ws[t]);
        for (int t = 1; t < started; t++)
            pthread_join(tid[t], NULL);
        int64_t worst = -1;
        for (int t = 0; t < r->threads; t++)
            if (ws[t].failed_chunk >= 0 && (worst < 0 || ws[t].failed_chunk < worst)) {
                worst = ws[t].failed_chunk;
                st = ws[t].status;
                *err = ws[t].err;
            }
    }
    free(ws);
    free(io);
    return st;
}

/* Rows lo..hi-1 of a data set tensor of `chunks` chunks. */
static dp_tensor block(const dp_tensor *t, int64_t chunks, int64_t lo, int64_t hi)
{
    dp_tensor b = dp_dataset_chunk(t, t->dims[0] / chunks, lo);
    b.dims[0] *= hi - lo;
    return b;
}

/* An output's per-chunk shape as rank 0 found it, in the words every rank gathers. */
enum { SHAPE_WORDS = 2 + DP_MAX_RANK };

/* Sizes the full outputs (where the caller has not) from rank 0's block, whose chunk count
 * is n0. */
static dp_status share_shapes(dp_runner *r, const dp_tensor *mine, int64_t n0, int64_t chunks,
                              dp_arena *mem, dp_tensor *out, dp_error *err)
{
    dp_dist *d = r->dist;
    int n_out = r->prog->n_outputs;
    int64_t *words = calloc((size_t)n_out * SHAPE_WORDS, sizeof *words);
    int64_t *bytes = calloc((size_t)d->size, sizeof *bytes);
    dp_status st = words && bytes ? DP_OK : dp_fail(err, DP_ENOMEM, "out of memory");
    for (int i = 0; st == DP_OK && d->rank == 0 && i < n_out; i++) {
        int64_t *w = words + (size_t)i * SHAPE_WORDS;
        w[0] = mine[i].dtype;
        w[1] = mine[i].rank;
        for (int k = 0; k < mine[i].rank; k++)
            w[2 + k] = k == 0 ? mine[i].dims[0] / n0 : mine[i].dims[k];
    }
    if (st == DP_OK) {
        bytes[0] = (int64_t)(sizeof *words * (size_t)n_out * SHAPE_WORDS);
        st = dp_dist_gather(d, words, bytes, err);
    }
    for (int i = 0; st == DP_OK && i < n_out; i++) {
        const int64_t *w = words + (size_t)i * SHAPE_WORDS;
        dp_tensor full = {.dtype = (dp_dtype)w[0], .rank = (int)w[1]};
        if (full.rank == 0) {
            st = dp_fail(err, DP_EUNSUPPORTED, "output %d is a scalar: the program cannot run "
                         "a batch of %lld", i, (long long)chunks);
            break;
        }
        for (int k = 0; k < full.rank; k++)
            full.dims[k] = w[2 + k];
        full.dims[0] *= chunks;
        if (out[i].data)
            continue;
        size_t n = dp_nbytes(&full);
        if (!(full.data = dp_arena_alloc(mem, n)))
            st = dp_fail(err, DP_ENOMEM, "out of memory for output %d (%zu bytes)", i, n);
        else
            out[i] = full;
    }
    free(words);
    free(bytes);
    return st;
}

/* The ADC counts of this rank's chunks (now minus before) to every rank, where they join
 * the other ranks' counts. */
static dp_status share_counts(dp_runner *r, const dp_adc_counts *before, dp_error *err)
{
    dp_dist *d = r->dist;
    int n = r->prog->n_instrs;
    dp_adc_counts *all = calloc((size_t)d->size * (size_t)n + 1, sizeof *all);
    int64_t *bytes = calloc((size_t)d->size, sizeof *bytes);
    if (!all || !bytes) {
        free(all);
        free(bytes);
        return dp_fail(err, DP_ENOMEM, "out of memory");
    }
    dp_adc_counts *mine = all + (size_t)d->rank * (size_t)n;
    for (int i = 0; i < n; i++) {
        dp_adc_counts now = dp_runner_adc_counts(r, i);
        mine[i].conversions = now.conversions - before[i].conversions;
        mine[i].clipped = now.clipped - before[i].clipped;
    }
    for (int k = 0; k < d->size; k++)
        bytes[k] = (int64_t)(sizeof *all * (size_t)n);
    dp_status st = dp_dist_gather(d, all, bytes, err);
    for (int k = 0; st == DP_OK && k < d->size; k++)
        for (int i = 0; k != d->rank && i < n; i++) {
            r->remote[i].conversions += all[(size_t)k * (size_t)n + i].conversions;
            r->remote[i].clipped += all[(size_t)k * (size_t)n + i].clipped;
        }
    free(all);
    free(bytes);
    return st;
}

/* This rank's block of the chunks, then every rank's outputs and counts to every rank. */
static dp_status run_shared(dp_runner *r, const dp_tensor *in, int64_t chunks, uint64_t first,
                            dp_arena *mem, dp_tensor *out, dp_error *err)
{
    const dp_program *p = r->prog;
    dp_dist *d = r->dist;
    int64_t lo, hi, lo0, hi0;
    dp_dist_share(d, d->rank, chunks, &lo, &hi);
    dp_dist_share(d, 0, chunks, &lo0, &hi0);
    dp_tensor *mine_in = calloc((size_t)p->n_inputs + (size_t)p->n_outputs + 1, sizeof *mine_in);
    dp_tensor *mine_out = mine_in ? mine_in + p->n_inputs : NULL;
    dp_adc_counts *before = calloc((size_t)p->n_instrs + 1, sizeof *before);
    int64_t *bytes = calloc((size_t)d->size, sizeof *bytes);
    dp_status st = mine_in && before && bytes ? DP_OK : dp_fail(err, DP_ENOMEM, "out of memory");
    bool given = out[0].data != NULL;
    for (int i = 0; st == DP_OK && i < p->n_inputs; i++)
        mine_in[i] = block(&in[i], chunks, lo, hi);
    for (int i = 0; st == DP_OK && given && i < p->n_outputs; i++)
        mine_out[i] = block(&out[i], chunks, lo, hi);
    for (int i = 0; st == DP_OK && i < p->n_instrs; i++)
        before[i] = dp_runner_adc_counts(r, i);
    if (st == DP_OK && hi > lo)
        st = run_here(r, mine_in, hi - lo, first + (uint64_t)lo, mem, mine_out, err);
    st = dp_dist_agree(d, st, err);
    if (st == DP_OK && !given)
        st = share_shapes(r, mine_out, hi0 - lo0, chunks, mem, out, err);
    for (int i = 0; st == DP_OK && !given && hi > lo && i < p->n_outputs; i++)
        memcpy(block(&out[i], chunks, lo, hi).data, mine_out[i].data, dp_nbytes(&mine_out[i]));
    for (int i = 0; st == DP_OK && i < p->n_outputs; i++) {
        size_t per_chunk = dp_nbytes(&out[i]) / (size_t)chunks;
        for (int k = 0; k < d->size; k++) {
            int64_t a, b;
            dp_dist_share(d, k, chunks, &a, &b);
            bytes[k] = (b - a) * (int64_t)per_chunk;
        }
        st = dp_dist_gather(d, out[i].data, bytes, err);
    }
    if (st == DP_OK)
        st = share_counts(r, before, err);
    free(mine_in);
    free(before);
    free(bytes);
    return st;
}

dp_status dp_runner_run(dp_runner *r, const dp_tensor *in, int64_t chunks, uint64_t first,
                        dp_arena *mem, dp_tensor *out, dp_error *err)
{
    /* a single inference runs whole on every rank: there is nothing to share */
    if (dp_dist_spread(r->dist) && chunks > 1)
        return run_shared(r, in, chunks, first, mem, out, err);
    return run_here(r, in, chunks, first, mem, out, err);
}
