/*
 * thread_pool.c: the workers behind dp_parallel. A job is a function and a count of tasks;
 * the caller and the workers take tasks by index until none is left, and the caller returns
 * once every task has finished. Which thread runs which task varies; what a task computes
 * does not depend on it.
 */
#include "thread_pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct dp_thread_pool {
    dp_parallel parallel;    /* first: the interface's pointer is the pool's */
    pthread_mutex_t lock;
    pthread_cond_t wake;     /* a job was posted, or the pool stops */
    pthread_cond_t done;     /* the last task of the job finished */
    void (*fn)(void *ctx, int task);
    void *ctx;
    int tasks, next, unfinished;
    unsigned long job;       /* counts posted jobs, so a worker sees each once */
    bool stop;
    int workers;
    pthread_t tid[];
};

/* Takes and runs the current job's tasks until none is left; called and returns locked. */
static void take_tasks(dp_thread_pool *p)
{
    while (p->next < p->tasks) {
        int t = p->next++;
        void (*fn)(void *ctx, int task) = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->lock);
        fn(ctx, t);
        pthread_mutex_lock(&p->lock);
        if (--p->unfinished == 0)
            pthread_cond_signal(&p->done);
    }
}

static void *worker(void *arg)
{
    dp_thread_pool *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->job == seen)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop)
            break;
        seen = p->job;
        take_tasks(p);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void run(dp_parallel *par, int tasks, void (*fn)(void *ctx, int task), void *ctx)
{
    dp_thread_pool *p = (dp_thread_pool *)par;
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->tasks = tasks;
    p->next = 0;
    p->unfinished = tasks;
    p->job++;
    pthread_cond_broadcast(&p->wake);
    take_tasks(p);
    while (p->unfinished > 0)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

dp_thread_pool *dp_thread_pool_new(int threads)
{
    if (threads < 2)
        return NULL;
    dp_thread_pool *p = calloc(1, sizeof *p + (size_t)(threads - 1) * sizeof(pthread_t));
    if (!p)
        return NULL;
    p->parallel = (dp_parallel){.threads = threads, .run = run};
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
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
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->workers; i++)
        pthread_join(p->tid[i], NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
