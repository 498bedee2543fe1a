/*
 * outputs.h: the temporaries of a run's output files (outputs.c), so that a run leaves all of
 * its outputs or none, and a signal leaves no temporary behind.
 *
 * dp_file_write_atomic writes each regular file into a temporary beside it and registers it
 * here. Normally the temporary is renamed into place at once. After dp_outputs_defer, the
 * renames wait for dp_outputs_commit, which makes every output of the run appear together;
 * dp_outputs_discard removes them instead (the run failed). After dp_outputs_guard_signals,
 * SIGINT, SIGTERM and SIGHUP remove every registered temporary before the process dies of
 * the signal. The tools (dpcc, dprun) use both; a library caller gets the immediate renames.
 *
 * The registry is process-wide, because signals are; outputs are written from one thread.
 */
#ifndef DP_OUTPUTS_H
#define DP_OUTPUTS_H

#include "dp_base.h"

#include <signal.h>
#include <stdbool.h>

void dp_outputs_defer(void);
dp_status dp_outputs_commit(dp_error *err);
void dp_outputs_discard(void);
void dp_outputs_guard_signals(void);

/* For dp_file_write_atomic: the guarded signals held back (the mask before into old) while a
 * temporary is created and registered, where one arriving between the two would leave it
 * behind; released, a held signal then removes it with the rest. */
void dp_outputs_hold_signals(sigset_t *old);
void dp_outputs_release_signals(const sigset_t *old);
/* For dp_file_write_atomic. Registers tmp (malloc'd, owned here from now on) as the
 * temporary that is to become target, before anything is written to it: its slot, or -1
 * with errno set (tmp is then removed) when the registry is full. */
int dp_outputs_track(char *tmp, const char *target);
/* Slot's temporary written (ok) or not: renamed into place at once unless deferred, removed
 * when !ok. false with errno set when the rename fails (the temporary is then removed). */
bool dp_outputs_done(int slot, bool ok);

#endif
