/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What the executor verbs (apply, resume, rollback, status, verify) share:
 * where the journal is looked for, taking the lock, loading the journal
 * and the plan embedded in it, and the progress display. */

#include <stdbool.h>

#include "exec/journal.h"
#include "exec/lock.h"
#include "plan/plan.h"
#include "steps/step.h"

#define EXEC_DEFAULT_TARGET "/run/rootraid/target"

/* The directories a journal may be in: JOURNAL_DIR on the running root and
 * TARGET/var/lib/rootraid when the new root is mounted there (and is not
 * the same directory).  Caller frees the strv. */
int exec_journal_dirs(const char *target_dir, char ***ret);

/* The new root's mount point according to the plan (its mount-target
 * step), or EXEC_DEFAULT_TARGET. */
const char *exec_target_dir(const struct plan *p);

/* Takes the executor lock (JOURNAL_DIR/lock); logs who holds it when
 * refused (-EAGAIN). */
int exec_take_lock(struct exec_lock **ret);

/* Like exec_take_lock(), but while another executor holds the lock (the
 * resume unit, after a reboot), says so and waits for up to timeout_sec
 * for it to finish.  *ret_waited (may be NULL) says whether it had to. */
int exec_take_lock_wait(unsigned long timeout_sec, struct exec_lock **ret, bool *ret_waited);

/* Loads the newest valid journal and the plan embedded in it.  -ENOENT
 * (logged) when there is none. */
int exec_load(struct journal **ret_journal, struct plan **ret_plan);

/* The executor's progress callback: a line with percentage, rate and ETA
 * on a terminal (stderr), nothing otherwise. */
void exec_progress(const struct step_context *ctx, uint64_t done, uint64_t total);

/* Logs the result of an executor call and returns r (with ERESTART as a
 * notice rather than an error). */
int exec_report(int r, const char *error, const char *what);

/* --json: from now on stdout carries JSON events (exec/events.h), starting
 * with run-start; main() writes run-end with the exit code. */
int exec_events_begin(const char *verb, const char *plan_path);

/* From now on the run's events are appended to JOURNAL_DIR/events.jsonl
 * too (emptied first when fresh: a new apply), starting with run-start;
 * `rootraid status --follow` reads them.  Logs a failure and goes on: the
 * events file is for watching, the journal is what counts. */
void exec_events_record(const char *verb, const char *plan_path, bool fresh);

/* Installs rootraid-resume.service (resume-unit.h) on the running root and
 * on the new root mounted at target_dir (when it is mounted: a directory
 * on another filesystem).  Logs and returns the error. */
int exec_resume_unit_install(const char *target_dir);

/* executor_options.before_apply for apply and resume: installs the resume
 * unit before the reboot step, so the migration continues by itself after
 * the boot. */
int exec_before_apply(const struct step_context *ctx, const struct plan_step *s);

/* At the end of a run (r from the executor): when the journal says the
 * migration finished or was rolled back, removes the resume unit from both
 * roots.  Returns r, or the removal's error. */
int exec_run_ended(int r, const struct journal *j, const char *target_dir);

/* Removes the resume unit from the running root and from target_dir (when
 * it is a directory: the new root, still mounted); at the end of a
 * migration or of a rollback. */
int exec_resume_unit_remove(const char *target_dir);
