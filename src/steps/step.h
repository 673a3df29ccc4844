/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What a step kind implements, and what the executor hands it.
 *
 * Each kind lives in its own file (src/steps/KIND.c) and exports one
 * `const struct step_ops step_KIND`, listed in the table in steps.c.  The
 * executor (src/exec/executor.c) calls, for every plan step of that kind:
 *
 *   check(ctx, step)  Does the step's end state hold on the machine right
 *                     now?  >0 yes, 0 not yet, <0 it cannot tell (error).
 *                     Read-only; called before apply (a step whose end
 *                     state holds is not applied again), after apply (apply
 *                     must leave check true), and on resume for steps the
 *                     journal calls done.
 *   apply(ctx, step)  Reaches the end state.  May be called again after an
 *                     interruption at any point of a previous apply, so it
 *                     must cope with its own partial work.  In a dry run
 *                     (ctx->dry_run) it changes nothing: external commands
 *                     are printed by run_argv(), files by step_write_file(),
 *                     and library calls that would write print what they
 *                     would do.
 *   undo(ctx, step)   Returns the machine to the state before apply.  Also
 *                     called for steps that were interrupted or failed, so
 *                     it must accept any partial state, including "apply
 *                     never ran".  NULL when there is nothing to undo
 *                     (e.g. wiping signatures off a new disk).
 *
 * All three return 0 (check: >=0) or a negative errno, and say what went
 * wrong with step_error(), which the executor copies into the journal.
 */

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "exec/journal.h"
#include "plan/plan.h"
#include "util/log.h"

struct step_context;

typedef void (*step_progress_fn)(const struct step_context *ctx, uint64_t done, uint64_t total);

struct step_context {
        const struct plan *plan;
        struct journal *journal;          /* NULL in a dry run */
        const char *target_dir;           /* where the new root is (to be) mounted */
        bool dry_run;
        step_progress_fn progress;        /* may be NULL */
        void *userdata;                   /* for progress */
        volatile sig_atomic_t *interrupted; /* set by SIGINT/SIGTERM; may be NULL */

        /* Set by the executor around each call. */
        const struct plan_step *step;     /* the step being run */
        char *error;                      /* last step_error() sentence, owned */
};

struct step_ops {
        enum step_kind kind;
        int (*check)(struct step_context *ctx, const struct plan_step *step);
        int (*apply)(struct step_context *ctx, const struct plan_step *step);
        int (*undo)(struct step_context *ctx, const struct plan_step *step);
};

/* The table of implemented kinds, indexed by enum step_kind; NULL where a
 * kind is not implemented yet. */
extern const struct step_ops *const step_table[_STEP_KIND_MAX];

/* The ops of kind, or NULL when not implemented. */
const struct step_ops *step_ops_find(enum step_kind kind);

/* The step's logger: the message goes to the terminal and the journal's
 * log, prefixed with the step id.  Returns -abs(error) (or -EIO) like
 * log_internal(). */
int step_log(const struct step_context *ctx, enum log_level level, int error, const char *format, ...) _printf_(4, 5);

/* Logs an error about the current step and records the sentence for the
 * journal.  Returns -abs(error), so: return step_error(ctx, r, "..."). */
int step_error(struct step_context *ctx, int error, const char *format, ...) _printf_(3, 4);

/* True once SIGINT/SIGTERM asked the executor to stop: long steps check it
 * between units of work and return -ECANCELED, leaving a resumable state. */
bool step_interrupted(const struct step_context *ctx);

void step_progress(const struct step_context *ctx, uint64_t done, uint64_t total);

/* Writes a file atomically (write_file_atomic()), or in a dry run prints
 * "would write PATH (N bytes)" followed by the content, and writes nothing. */
int step_write_file(struct step_context *ctx, const char *path, const void *data, size_t size, mode_t mode);

/* Argument accessors: the value of key in step->args with the expected
 * type.  A missing or mistyped argument is a step_error() naming the step
 * and the key (-EBADMSG).  Strings stay owned by the plan. */
int step_arg_string(struct step_context *ctx, const struct plan_step *step, const char *key, const char **ret);
/* Same, NULL when the key is absent or null. */
int step_arg_string_optional(struct step_context *ctx, const struct plan_step *step, const char *key, const char **ret);
int step_arg_uint64(struct step_context *ctx, const struct plan_step *step, const char *key, uint64_t *ret);
int step_arg_bool(struct step_context *ctx, const struct plan_step *step, const char *key, bool def, bool *ret);
int step_arg_array(struct step_context *ctx, const struct plan_step *step, const char *key, json_object **ret);
