/*
 * outputs.c: the registry of output temporaries (outputs.h).
 */
#include "outputs.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* More outputs than one run writes: dprun's outputs are bounded by a program's 4096. */
enum { MAX_PENDING = 8192 };

typedef struct pending {
    char *tmp, *target;
} pending;

/* Entries [0, count) are live; the signal handler reads them, so an entry is complete
 * before count covers it. */
static pending table[MAX_PENDING];
static volatile sig_atomic_t count;
static bool deferred;

void dp_outputs_defer(void)
{
    deferred = true;
}

/* Entry i out of the table: its pointers cleared before they are freed, so that a signal
 * arriving meanwhile never unlinks through a freed string. */
static void forget(int i)
{
    char *tmp = table[i].tmp, *target = table[i].target;
    table[i].tmp = table[i].target = NULL;
    free(tmp);
    free(target);
}

int dp_outputs_track(char *tmp, const char *target)
{
    char *t = strdup(target);
    if (count >= MAX_PENDING || !t) {
        unlink(tmp);
        free(tmp);
        free(t);
        errno = t ? EMFILE : ENOMEM;
        return -1;
    }
    int slot = count;
    table[slot].tmp = tmp;
    table[slot].target = t;
    count = slot + 1;
    return slot;
}

bool dp_outputs_done(int slot, bool ok)
{
    DP_ASSERT(slot >= 0 && slot < count && table[slot].tmp);
    int e = 0;
    if (ok && !deferred && rename(table[slot].tmp, table[slot].target) != 0) {
        ok = false;
        e = errno;
    }
    if (!ok)
        unlink(table[slot].tmp);
    if (!ok || !deferred) {
        /* written or dropped: out of the registry (the last entry, outside a deferral) */
        if (slot == count - 1)
            count = slot;
        forget(slot);
    }
    if (e)
        errno = e;
    return ok;
}

dp_status dp_outputs_commit(dp_error *err)
{
    dp_status st = DP_OK;
    int n = count;
    for (int i = 0; i < n; i++) {
        if (!table[i].tmp)
            continue;
        if (st == DP_OK && rename(table[i].tmp, table[i].target) != 0)
            st = dp_fail(err, DP_EIO, "%s: cannot write: %s", table[i].target, strerror(errno));
        if (st != DP_OK)
            unlink(table[i].tmp);
    }
    count = 0;
    for (int i = 0; i < n; i++)
        forget(i);
    deferred = false;
    return st;
}

void dp_outputs_discard(void)
{
    int n = count;
    count = 0;
    for (int i = 0; i < n; i++) {
        if (table[i].tmp)
            unlink(table[i].tmp);
        forget(i);
    }
    deferred = false;
}

/* The signals a run's temporaries are guarded against. */
static const int guarded[] = {SIGINT, SIGTERM, SIGHUP};

static void guarded_set(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < sizeof guarded / sizeof guarded[0]; i++)
        sigaddset(set, guarded[i]);
}

void dp_outputs_hold_signals(sigset_t *old)
{
    sigset_t set;
    guarded_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

void dp_outputs_release_signals(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* Async-signal-safe: unlink and raise only. */
static void on_signal(int sig)
{
    for (int i = 0; i < count; i++)
        if (table[i].tmp)
            unlink(table[i].tmp);
    signal(sig, SIG_DFL);
    raise(sig);
}

void dp_outputs_guard_signals(void)
{
    for (size_t i = 0; i < sizeof guarded / sizeof guarded[0]; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(guarded[i], &sa, NULL);
    }
}
