/*
 * thread_pool.h: worker threads that run the parts of one matrix product at a time (the
 * dp_parallel of dp_op.h), for the sessions of dprun and the public API.
 *
 * Not part of the runtime the C backend embeds: an emitted kernel stays free of threads and
 * runs its products on the calling thread.
 */
#ifndef DP_THREAD_POOL_H
#define DP_THREAD_POOL_H

#include "dp_op.h"

typedef struct dp_thread_pool dp_thread_pool;

/* A pool of threads - 1 workers besides the caller (threads >= 2); NULL when the system
 * gives no thread or memory, and products then run on one thread. */
dp_thread_pool *dp_thread_pool_new(int threads);

/* The interface sessions take (dp_session_set_parallel). */
dp_parallel *dp_thread_pool_parallel(dp_thread_pool *p);

/* Stops and joins the workers. */
void dp_thread_pool_free(dp_thread_pool *p);

#endif
