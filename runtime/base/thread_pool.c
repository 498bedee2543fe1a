/*
 * thread_pool.c: the workers behind dp_parallel. A job is a function and a count of tasks;
 * the caller and the workers claim tasks by index until none is left, and the caller returns
 * once every task has finished. Which thread runs which task varies; what a task computes
 * does not depend on it.
 *
 * An inference posts a job per matrix product, often a fraction of a millisecond apart, and
 * waking a sleeping thread takes about as long as a part takes to compute: so the workers
 * spin a while after each job before they sleep, and the caller spins until its job is done.
 * The job number, the task count and the next task share one atomic word, so a worker late
 * for a finished job can never claim a task of the next one.
 */
#include "thread_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

/* ticket = job << 40 | tasks << 20 | next task, the job counted modulo 2^24 (a worker would
 * have to stall through 2^24 jobs to mistake one for another); at most DP_MAX_PARTS tasks */
#define TASK_BITS 20
#define TASK_MASK ((UINT64_C(1) << TASK_BITS) - 1)

/* Polls of a spinning worker before it sleeps: about a tenth of a millisecond. */
enum { SPINS = 4000 };

struct dp_thread_pool {
    dp_parallel parallel;    /* first: the interface's pointer is the pool's */
    _Atomic uint64_t ticket;
    _Atomic int unfinished;
    _Atomic bool stop;
    void (*fn)(void *ctx, int task);
    void *ctx;
    uint64_t job;            /* the caller's count of posted jobs */
    pthread_mutex_t lock;    /* guards only sleeping and waking */
    pthread_cond_t wake;
    int workers;
    pthread_t tid[];
};

static void pause_briefly(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static uint64_t job_of(uint64_t ticket) { return ticket >> (2 * TASK_BITS); }

/* Claims and runs tasks of job until it has none left. */
static void take_tasks(dp_thread_pool *p, uint64_t job)
{
    uint64_t t = atomic_load_explicit(&p->ticket, memory_order_acquire);
    while (job_of(t) == job && (t & TASK_MASK) < (t >> TASK_BITS & TASK_MASK)) {
        if (!atomic_compare_exchange_weak_explicit(&p->ticket, &t, t + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        /* the job cannot finish, nor fn change, before this task does */
        p->fn(p->ctx, (int)(t & TASK_MASK));
        atomic_fetch_sub_explicit(&p->unfinished, 1, memory_order_release);
        t = atomic_load_explicit(&p->ticket, memory_order_acquire);
    }
}

static void *worker(void *arg)
{
    dp_thread_pool *p = arg;
    uint64_t seen = 0;
    for (;;) {
        uint64_t job = job_of(atomic_load_explicit(&p->ticket, memory_order_acquire));
        for (int i = 0; i < SPINS && job == seen && !atomic_load(&p->stop); i++) {
            pause_briefly();
            job = job_of(atomic_load_explicit(&p->ticket, memory_order_acquire));
        }
        if (job == seen) {
            pthread_mutex_lock(&p->lock);
            while ((job = job_of(atomic_load(&p->ticket))) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->wake, &p->lock);
            pthread_mutex_unlock(&p->lock);
        }
        if (atomic_load(&p->stop))
            return NULL;
        seen = job;
        take_tasks(p, job);
    }
}

static void run(dp_parallel *par, int tasks, void (*fn)(void *ctx, int task), void *ctx)
{
    dp_thread_pool *p = (dp_thread_pool *)par;
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->unfinished, tasks, memory_order_relaxed);
    uint64_t ticket = ++p->job << (2 * TASK_BITS) | (uint64_t)tasks << TASK_BITS;
    atomic_store_explicit(&p->ticket, ticket, memory_order_release);
    /* under the lock, so that a worker between its check and its wait cannot miss it */
    pthread_mutex_lock(&p->lock);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    take_tasks(p, job_of(ticket));
    while (atomic_load_explicit(&p->unfinished, memory_order_acquire) > 0)
        pause_briefly();
}

dp_thread_pool *dp_thread_pool_new(int threads)
{
    if (threads < 2)
        return NULL;
    dp_thread_pool *p = calloc(1, sizeof *p + (size_t)(threads - 1) * sizeof(pthread_t));
    if (!p)
        return NULL;
    p->parallel = (dp_parallel){.threads = threads, .run = run};
    atomic_init(&p->ticket, 0);
    atomic_init(&p->unfinished, 0);
    atomic_init(&p->stop, false);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    while (p->workers < threads - 1 && pthread_create(&p->tid[p->workers], NULL, worker, p) == 0)
        p->workers++;
    if (p->workers == 0) {
        dp_thread_pool_free(p);
        return NULL;
    }
    p->parallel.threads = p->workers + 1;
    return p;
}

dp_parallel *dp_thread_pool_parallel(dp_thread_pool *p)
{
    return p ? &p->parallel : NULL;
}

void dp_thread_pool_free(dp_thread_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->workers; i++)
        pthread_join(p->tid[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
