/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Runs a plan's steps with the journal; see the comment at the top of
 * executor.c for the algorithm.  The caller (the apply/resume/rollback
 * verbs) takes the lock (lock.h), loads or creates the journal and its
 * locations, and maps the returned errno to an exit code. */

#include <stdbool.h>

#include "exec/journal.h"
#include "inspect/model.h"
#include "plan/plan.h"
#include "steps/step.h"

struct executor_options {
        bool dry_run;                  /* print commands and files, run and write nothing */
        const struct facts *facts;     /* freshly inspected; compared with the plan's
                                        * fingerprint before anything runs (NULL: not checked) */
        const char *target_dir;        /* where the new root is mounted */
        step_progress_fn progress;     /* may be NULL */
        void *userdata;
        /* May be NULL.  Called right before a step's apply() (not in a dry
         * run, not when the step's end state already holds); a negative
         * return fails the step.  apply and resume install the resume unit
         * here before the reboot step. */
        int (*before_apply)(const struct step_context *ctx, const struct plan_step *s);
};

/* Makes SIGINT and SIGTERM set a flag that the executor checks between steps
 * (and long steps through their context), so an interruption stops at a
 * point where the journal is consistent and `resume` continues. */
int executor_install_signal_handlers(void);

/* True once SIGINT/SIGTERM arrived (or executor_request_stop() was called). */
bool executor_stop_requested(void);
void executor_request_stop(void);
void executor_reset_stop(void);

/* Applies every step of p in order, recording each transition in j (which
 * must have at least one location, except in a dry run where j may be NULL
 * and nothing is written).  Steps the journal calls done are re-checked;
 * steps whose end state already holds are not applied again.
 * Returns 0 when every step is done; otherwise a negative errno with
 * *ret_error saying which step failed and why (caller frees): -ESTALE plan or
 * journal do not match the machine, -EOPNOTSUPP a step kind is not
 * implemented, -ECANCELED interrupted, -EINPROGRESS a rollback is
 * unfinished, -ERESTART a step rebooted the machine (it stays running;
 * resume after the boot), or the step's own error.  The journal stays
 * resumable. */
int executor_apply(const struct plan *p, struct journal *j, const struct step_ops *const *table,
                   const struct executor_options *opts, char **ret_error);

/* Continues what the journal says was under way: an apply or a rollback.
 * Returns 0 when there is nothing left to do. */
int executor_resume(const struct plan *p, struct journal *j, const struct step_ops *const *table,
                    const struct executor_options *opts, char **ret_error);

/* Undoes every started step in reverse order.  Refused with
 * -ENOTRECOVERABLE and a reason naming the step when a step at or after the
 * point of no return (the first that writes the old disk) has started. */
int executor_rollback(const struct plan *p, struct journal *j, const struct step_ops *const *table,
                      const struct executor_options *opts, char **ret_error);
