/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The executor
 * ============
 *
 * It walks the plan's steps in order and trusts, in this order: the
 * machine's real state (each kind's check()), then the journal, never the
 * plan alone.  Every transition of a step is committed to the journal before
 * the executor acts on it, so after a crash at any instant the journal
 * names the step that was under way.
 *
 * Apply, for step i:
 *   - journal says done: check().  Holds: next step.  No longer holds: a
 *     reversible (idempotent) step is applied again as below; any other is
 *     an error naming the step, and nothing runs.
 *   - otherwise: commit "running" (COMMIT POINT: from here a crash leaves
 *     the step possibly half-applied, which apply() and undo() accept);
 *     check(): already holds (a previous run got there but died before
 *     recording it) -> commit "done" without applying.  Else apply(), then
 *     check() again, which must hold; commit "done" (COMMIT POINT: the step
 *     is finished).  An error commits "failed" with the sentence and stops;
 *     `resume` starts over at that step.  An apply that returns -ERESTART
 *     (the machine reboots or switches) leaves the step "running",
 *     committed once more to every location, including one the step added.
 *   - between steps, a SIGINT/SIGTERM stops the run with -ECANCELED.
 *
 * A stale old root: once a switch-root step has started, the old root
 * running again must not run the steps before it (they would copy this
 * root over the arrays).  If the switch was done (only the switched system
 * commits that here), the arrays hold the live data: the executor re-arms
 * the one-time boot and reboots into the arrays once (retry_from_stale_root),
 * and refuses on a second return; if it was only running, it refuses.
 *
 * Rollback: refused when any step at or after the point of no return (the
 * first step that writes the old disk) has left "pending", since the old
 * system is no longer there to go back to.  Otherwise, from the last step
 * to the first, every step not pending or undone is committed "undoing"
 * (COMMIT POINT), undone, and committed "undone" (COMMIT POINT).  undo()
 * accepts partial states, so a rollback that is interrupted is run again.
 * An undo may return -ERESTART (the reboot step, when the machine runs from
 * the new root): the step stays "undoing", the run stops there, and the
 * resume after the reboot finishes the rollback.
 *
 * Dry run: no journal is read or written; each step's apply() runs with
 * run_set_dry_run(true) and ctx->dry_run, so commands and files are printed.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/events.h"
#include "exec/executor.h"
#include "exec/hooks.h"
#include "steps/reboot.h"
#include "steps/target.h"
#include "util/fault.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/run.h"
#include "util/strutil.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
        stop_requested = 1;
}

int executor_install_signal_handlers(void) {
        /* SA_RESTART: the flag is polled; system calls in the middle of a
         * step (fsync, waitpid) should finish rather than fail. */
        struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
                return -errno;
        return 0;
}

bool executor_stop_requested(void) {
        return stop_requested;
}

void executor_request_stop(void) {
        stop_requested = 1;
}

void executor_reset_stop(void) {
        stop_requested = 0;
}

struct run {
        const struct plan *plan;
        struct journal *journal;
        const struct step_ops *const *table;
        const struct executor_options *opts;
        struct step_context ctx;
        char **ret_error;
};

static int fail(struct run *x, int r, const char *format, ...) _printf_(3, 4);
static int fail(struct run *x, int r, const char *format, ...) {
        char *msg = NULL;
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&msg, format, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (x->ret_error) {
                free(*x->ret_error);
                *x->ret_error = msg;
        } else
                free(msg);
        return r < 0 ? r : -EIO;
}

static int commit(struct run *x) {
        _cleanup_free_ char *e = NULL;
        int r;

        if (x->opts->dry_run)
                return 0;
        r = journal_commit(x->journal, &e);
        if (r < 0)
                return fail(x, r, "Cannot record progress in the journal, stopping: %s", strna(e));
        return 0;
}

static const char *kind_name(enum step_kind k);

/* The JSON event (--json) for a transition the journal recorded.  Events
 * are best effort: a reader that went away must not stop a migration. */
static void emit_step_event(struct run *x, size_t i, enum step_state s, const char *error) {
        const struct plan_step *st = &x->plan->steps[i];

        switch (s) {
        case STEP_STATE_RUNNING:
        case STEP_STATE_UNDOING:
                (void) events_step_start(st->id, kind_name(st->kind), i, x->plan->n_steps);
                break;
        case STEP_STATE_DONE:
        case STEP_STATE_FAILED:
        case STEP_STATE_UNDONE:
                (void) events_step_end(st->id, kind_name(st->kind), step_state_to_string(s), error);
                break;
        default:
                break;
        }
}

static int set_state(struct run *x, size_t i, enum step_state s, const char *error) {
        int r;

        if (x->opts->dry_run)
                return 0;
        r = journal_set_step_state(x->journal, i, s, error);
        if (r < 0)
                return fail(x, r, "Cannot update the journal: %s", strerror(-r));
        r = commit(x);
        if (r >= 0)
                emit_step_event(x, i, s, error);
        return r;
}

/* The on-failure hooks (hooks.h), e.g. to start again the services a
 * before-final-sync hook stopped.  Their own failure is logged; it does
 * not replace the step's error, which is what the operator must fix. */
static void run_failure_hooks(struct run *x, const struct plan_step *s) {
        _cleanup_free_ char *root = NULL, *e = NULL;
        struct hook_env env = {
                .plan_path = x->journal ? x->journal->plan_path : NULL,
                .target_dir = x->opts->target_dir,
                .step_id = s->id,
                .journal_path = JOURNAL_DIR "/" JOURNAL_FILE_NAME,
        };
        int r = hooks_root_of_plan(x->plan, &root);

        if (r >= 0)
                r = hooks_run(root, HOOK_PHASE_ON_FAILURE, &env, &e);
        if (r < 0)
                log_warning("The on-failure hooks failed too: %s", e ? e : strerror(-r));
}

static const char *kind_name(enum step_kind k) {
        const char *s = step_kind_to_string(k);
        return s ? s : "?";
}

/* Everything that must hold before the first step runs. */
static int preflight(struct run *x) {
        const struct plan *p = x->plan;
        int r;

        if (!x->opts->dry_run) {
                _cleanup_free_ char *e = NULL;
                if (!x->journal || strv_length(x->journal->locations) == 0)
                        return fail(x, -EINVAL, "The journal has no location to be written to.");
                r = journal_check_plan(x->journal, p, &e);
                if (r < 0)
                        return fail(x, r, "%s", strna(e));
        }
        if (x->opts->facts) {
                _cleanup_free_ char *e = NULL;
                r = plan_check_facts(p, x->opts->facts, &e);
                if (r < 0)
                        return fail(x, r, "The plan no longer matches this machine: %s Make a new plan.", strna(e));
        }
        for (size_t i = 0; i < p->n_steps; i++) {
                enum step_kind k = p->steps[i].kind;
                const struct step_ops *ops = (int) k >= 0 && k < _STEP_KIND_MAX ? x->table[k] : NULL;
                if (!ops || !ops->check || !ops->apply)
                        return fail(x, -EOPNOTSUPP, "Step '%s' is of kind '%s', which this version of rootraid cannot run.",
                                    p->steps[i].id, kind_name(k));
                if (ops->kind != k)
                        return fail(x, -EINVAL, "Internal error: the step table lists '%s' under '%s'.",
                                    kind_name(ops->kind), kind_name(k));
        }
        return 0;
}

static void ctx_begin(struct run *x, const struct plan_step *s) {
        x->ctx.step = s;
        free(x->ctx.error);
        x->ctx.error = NULL;
}

static const char *ctx_error(struct run *x, int r) {
        return x->ctx.error ? x->ctx.error : strerror(-r);
}

/* Marks step i failed with the step's sentence and returns r. */
static int step_failed(struct run *x, size_t i, int r, const char *what) {
        const struct plan_step *s = &x->plan->steps[i];
        _cleanup_free_ char *msg = NULL;
        int k;

        if (asprintf(&msg, "%s: %s", what, ctx_error(x, r)) < 0)
                return -ENOMEM;
        /* The sentence is embedded in longer ones below. */
        size_t l = strlen(msg);
        if (l > 0 && msg[l - 1] == '.')
                msg[l - 1] = 0;
        log_error("Step '%s' failed: %s", s->id, msg);
        k = set_state(x, i, STEP_STATE_FAILED, msg);
        if (k < 0)
                return k;
        if (r != -ECANCELED && !x->opts->dry_run)
                run_failure_hooks(x, s);
        /* Past the point of no return, rollback is not an option to offer. */
        const char *or_rollback = i < x->plan->point_of_no_return ? " (or 'rootraid rollback')" : "";
        if (r == -ECANCELED)
                return fail(x, r, "Interrupted during step '%s'. Run 'rootraid resume' to continue%s.", s->id, or_rollback);
        return fail(x, r, "Step %zu/%zu '%s' (%s) failed: %s. Fix the cause, then run 'rootraid resume'%s.",
                    i + 1, x->plan->n_steps, s->id, strna(s->description), msg, or_rollback);
}

static int apply_one(struct run *x, size_t i) {
        const struct plan_step *s = &x->plan->steps[i];
        const struct step_ops *ops = x->table[s->kind];
        enum step_state st = x->opts->dry_run ? STEP_STATE_PENDING : x->journal->steps[i].state;
        int r;

        ctx_begin(x, s);

        if (i == x->plan->point_of_no_return) {
                if (x->opts->dry_run)
                        printf("Point of no return: the steps from here on write to the old disk; "
                               "rollback is refused once they have started.\n");
                else if (st == STEP_STATE_PENDING)
                        log_notice("Step '%s' writes to the old disk: from here on rollback is refused.", s->id);
        }

        if (x->opts->dry_run) {
                printf("Step %zu/%zu %s (%s): %s\n", i + 1, x->plan->n_steps, s->id, kind_name(s->kind),
                       strna(s->description));
                /* A check may fail here because an earlier step that would
                 * create its device did not run: that only means "not yet". */
                r = ops->check(&x->ctx, s);
                if (r > 0) {
                        printf("  already done; would skip\n");
                        return 0;
                }
                run_set_dry_run(true);
                r = ops->apply(&x->ctx, s);
                run_set_dry_run(false);
                if (r < 0)
                        return fail(x, r, "Step '%s' cannot be applied: %s", s->id, ctx_error(x, r));
                return 0;
        }

        if (st == STEP_STATE_DONE) {
                r = ops->check(&x->ctx, s);
                if (r < 0)
                        return fail(x, r, "Cannot check step '%s', which the journal records as done: %s", s->id,
                                    ctx_error(x, r));
                if (r > 0) {
                        log_debug("Step %zu/%zu '%s' is done and still holds.", i + 1, x->plan->n_steps, s->id);
                        return 0;
                }
                if (!s->reversible)
                        return fail(x, -ESTALE,
                                    "Step '%s' (%s) was done, but its end state no longer holds and it cannot safely be "
                                    "repeated. Something changed the machine behind rootraid's back; inspect it.",
                                    s->id, strna(s->description));
                log_warning("Step '%s' was done but its end state no longer holds; applying it again.", s->id);
        }

        fault_pause(s->id, "before");
        log_info("Step %zu/%zu %s: %s", i + 1, x->plan->n_steps, s->id, strna(s->description));
        r = set_state(x, i, STEP_STATE_RUNNING, NULL);
        if (r < 0)
                return r;

        r = ops->check(&x->ctx, s);
        if (r < 0)
                return step_failed(x, i, r, "cannot check its state");
        if (r > 0)
                log_info("Step '%s': end state already holds; not applying it again.", s->id);
        else {
                r = x->opts->before_apply ? x->opts->before_apply(&x->ctx, s) : 0;
                if (r < 0)
                        return step_failed(x, i, r, "cannot prepare it");
                fault_step_begin(s->id);
                r = ops->apply(&x->ctx, s);
                fault_step_end();
                if (r == -ERESTART) {
                        /* The step goes on after a reboot (the reboot and
                         * switch-root kinds): it stays "running", and the
                         * resume after the boot checks it.  Committed once
                         * more, wherever the step asked (the reboot kind
                         * adds the old root's copy after a switch).  The
                         * step may say what happens instead of a plain
                         * reboot. */
                        int k = commit(x);
                        if (k < 0)
                                return k;
                        return x->ctx.error
                                       ? fail(x, r, "Step '%s': %s", s->id, x->ctx.error)
                                       : fail(x, r, "Step '%s': the machine is rebooting. Once it is back, run 'rootraid resume'.",
                                              s->id);
                }
                if (r < 0)
                        return step_failed(x, i, r, "apply failed");
                r = ops->check(&x->ctx, s);
                if (r < 0)
                        return step_failed(x, i, r, "cannot check its state after applying");
                if (r == 0) {
                        free(x->ctx.error);
                        x->ctx.error = strdup("the step ran but its end state does not hold afterwards");
                        return step_failed(x, i, -EPROTO, "apply did not reach the end state");
                }
        }
        r = set_state(x, i, STEP_STATE_DONE, NULL);
        if (r >= 0)
                fault_pause(s->id, "after");
        return r;
}

static void run_done(struct run *x) {
        free(x->ctx.error);
        x->ctx.error = NULL;
}

static void run_init(struct run *x, const struct plan *p, struct journal *j, const struct step_ops *const *table,
                     const struct executor_options *opts, char **ret_error) {
        *x = (struct run) {
                .plan = p,
                .journal = j,
                .table = table,
                .opts = opts,
                .ret_error = ret_error,
                .ctx = {
                        .plan = p,
                        .journal = opts->dry_run ? NULL : j,
                        .target_dir = opts->target_dir,
                        .dry_run = opts->dry_run,
                        .progress = opts->progress,
                        .userdata = opts->userdata,
                        .interrupted = &stop_requested,
                },
        };
}

/* After a switch without a reboot the services write to the arrays: if the
 * old root runs again (the first real boot from the arrays failed, or a
 * power cut came between scheduling the switch and the switch), its
 * journal says the switch started, and repeating the steps before it here
 * would copy this stale root over the arrays.  Refuse, before any step. */
/* The index of the switch-root step once it has started (running or done:
 * a failed one failed before it scheduled the switch), or p->n_steps. */
static size_t switch_started(const struct plan *p, const struct journal *j) {
        for (size_t i = 0; j && i < p->n_steps && i < j->n_steps; i++) {
                enum step_state st = j->steps[i].state;
                if (p->steps[i].kind == STEP_SWITCH_ROOT && (st == STEP_STATE_RUNNING || st == STEP_STATE_DONE))
                        return i;
        }
        return p->n_steps;
}

/* The index of the first step of kind k from index from on, or p->n_steps. */
static size_t find_kind(const struct plan *p, enum step_kind k, size_t from) {
        for (size_t i = from; i < p->n_steps; i++)
                if (p->steps[i].kind == k)
                        return i;
        return p->n_steps;
}

/* The old root runs, and its journal says the switch was done: only the
 * switched system commits that here (the reboot step, after the switch,
 * makes this copy a journal location), so the switch happened, the arrays
 * hold the live data, and the first real boot from them was cut before
 * confirm-boot (or failed: from here the two look the same).  As the plain
 * reboot mode does, reboot into the arrays once more, unattended: re-arm
 * boot-once's one-time entry, record this boot, and apply the reboot step,
 * which on the old root reboots.  No other step runs on this stale root.
 * Back here in another boot after that, the boot from the arrays failed
 * twice: refuse.  The record lives only on the old root (its only journal
 * location here), which the migration overwrites once it goes on from the
 * arrays (partition-old-disk, after confirm-boot). */
static int retry_from_stale_root(struct run *x, struct journal *j, size_t sw) {
        const struct plan *p = x->plan;
        size_t once = find_kind(p, STEP_BOOT_ONCE, 0), reboot = find_kind(p, STEP_REBOOT, sw);
        _cleanup_free_ char *now = NULL, *text = NULL, *failed = NULL;
        int r;

        if (once == p->n_steps || reboot == p->n_steps)
                return 0; /* not a plan that can boot the arrays once: refuse */
        if (x->opts->dry_run)
                return fail(x, -EIO,
                            "This machine runs from the old root, and the journal here says step '%s' switched the "
                            "services onto the arrays: this root is stale. 'rootraid resume' would arm the one-time "
                            "entry again (step '%s') and reboot into the arrays once more (step '%s'), unless it did so "
                            "from here in an earlier boot already (then it refuses); no other step runs here.",
                            p->steps[sw].id, p->steps[once].id, p->steps[reboot].id);
        r = target_boot_id(&now);
        if (r < 0)
                return fail(x, r, "Cannot read the boot id: %s", strerror(-r));
        r = reboot_record_other_boot(j->locations, &p->steps[reboot], REBOOT_RECORD_RETRY, now);
        if (r < 0)
                return r;
        if (r > 0)
                return fail(x, -EIO,
                            "This machine runs from the old root again, although step '%s' switched the services "
                            "onto the arrays, which hold the live data; this root is stale. rootraid already "
                            "rebooted into the arrays once more from here, and came back here again: the boot "
                            "from the arrays failed (or was cut) twice. rootraid does nothing here. Read the "
                            "console output of those boots; to try once more, run 'grub-reboot rootraid' and "
                            "reboot ('rootraid resume' finishes there).",
                            p->steps[sw].id);

        log_notice("This machine runs from the old root, but the journal here says step '%s' switched the services onto "
                   "the arrays: they hold the live data, and the first real boot from them was cut (or failed) before "
                   "it was confirmed. Rebooting into the arrays once more, unattended: step '%s' arms the one-time "
                   "entry again, then step '%s' reboots. Nothing of this stale root is copied.",
                   p->steps[sw].id, p->steps[once].id, p->steps[reboot].id);
        r = apply_one(x, once);
        if (r < 0)
                return r;
        if (asprintf(&text, "%s\n", now) < 0)
                return -ENOMEM;
        r = reboot_record_write(NULL, j->locations, &p->steps[reboot], REBOOT_RECORD_RETRY, text, &failed);
        if (r < 0)
                return fail(x, r, "Cannot write %s: %s", strna(failed), strerror(-r));
        /* Only a reboot stops here: a reboot step that finished on the old
         * root would let the steps after it run on this stale root. */
        r = apply_one(x, reboot);
        return r < 0 ? r : fail(x, -EPROTO, "Step '%s' did not reboot the machine from the old root.", p->steps[reboot].id);
}

static int refuse_stale_root(struct run *x, struct journal *j) {
        size_t i = switch_started(x->plan, j);
        int r;

        if (i == x->plan->n_steps)
                return 0;
        const struct plan_step *s = &x->plan->steps[i];
        ctx_begin(x, s);
        r = x->table[s->kind]->check(&x->ctx, s);
        if (r < 0)
                return fail(x, r, "Cannot tell whether the system runs from the arrays: %s", ctx_error(x, r));
        if (r > 0)
                return 0;
        if (j->steps[i].state == STEP_STATE_DONE) {
                r = retry_from_stale_root(x, j, i);
                if (r < 0)
                        return r;
        }
        return fail(x, -EIO,
                    "This machine runs from the old root, but step '%s' had started to switch the services onto "
                    "the arrays: if the switch happened, they have written there since, and this root is stale. "
                    "rootraid does nothing here. To run from the arrays again, boot the one-time entry once more "
                    "('grub-reboot rootraid', then reboot; 'rootraid resume' finishes there) and read that boot's "
                    "console if it fails. (Had the switch never happened, what this root's services wrote since "
                    "would be newer than the arrays' copy: save it first.)",
                    s->id);
}

int executor_apply(const struct plan *p, struct journal *j, const struct step_ops *const *table,
                   const struct executor_options *opts, char **ret_error) {
        static const struct executor_options defaults = {};
        struct run x;
        int r;

        run_init(&x, p, j, table, opts ?: &defaults, ret_error);
        r = preflight(&x);
        if (r < 0)
                return r;
        r = refuse_stale_root(&x, j);
        if (r < 0)
                return r;

        if (!x.opts->dry_run) {
                if (j->run_state == RUN_STATE_ROLLING_BACK)
                        return fail(&x, -EINPROGRESS, "A rollback of this plan is unfinished. Run 'rootraid rollback' to finish it first.");
                if (j->run_state == RUN_STATE_ROLLED_BACK)
                        /* Starting again after a complete rollback: undone steps are pending. */
                        for (size_t i = 0; i < j->n_steps; i++)
                                if (j->steps[i].state == STEP_STATE_UNDONE)
                                        j->steps[i].state = STEP_STATE_PENDING;
                j->run_state = RUN_STATE_APPLYING;
                r = commit(&x);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < p->n_steps; i++) {
                if (stop_requested) {
                        log_notice("Stopping before step '%s' as asked.", p->steps[i].id);
                        r = fail(&x, -ECANCELED, "Interrupted before step '%s'. Run 'rootraid resume' to continue, or 'rootraid rollback'.",
                                 p->steps[i].id);
                        goto finish;
                }
                r = apply_one(&x, i);
                if (r < 0)
                        goto finish;
        }

        if (!x.opts->dry_run) {
                j->run_state = RUN_STATE_FINISHED;
                r = commit(&x);
                if (r < 0)
                        goto finish;
        }
        log_info("%s: all %zu steps done.", x.opts->dry_run ? "Dry run" : "Plan applied", p->n_steps);
        r = 0;
finish:
        run_done(&x);
        return r;
}

int executor_rollback(const struct plan *p, struct journal *j, const struct step_ops *const *table,
                      const struct executor_options *opts, char **ret_error) {
        static const struct executor_options defaults = {};
        struct run x;
        int r;

        run_init(&x, p, j, table, opts ?: &defaults, ret_error);
        if (x.opts->dry_run && !j)
                return fail(&x, -EINVAL, "A dry run of a rollback needs the journal, to know what was done.");
        if (!x.opts->dry_run) {
                r = preflight(&x);
                if (r < 0)
                        return r;
        }

        for (size_t i = p->point_of_no_return; i < p->n_steps && i < j->n_steps; i++) {
                enum step_state st = j->steps[i].state;
                if (st == STEP_STATE_PENDING || st == STEP_STATE_UNDONE)
                        continue;
                return fail(&x, -ENOTRECOVERABLE,
                            "Rollback refused: step '%s' (%s) writes to the old disk and has already started (it is %s), "
                            "so the old system cannot be restored. Run 'rootraid resume' to finish the migration instead.",
                            p->steps[i].id, strna(p->steps[i].description), step_state_to_string(st));
        }
        size_t sw = switch_started(p, j);
        if (sw < p->n_steps)
                return fail(&x, -ENOTRECOVERABLE,
                            "Rollback refused: step '%s' has switched the running system onto the arrays (it is %s), "
                            "and its services write there from then on; the old root lacks all of it. "
                            "Run 'rootraid resume' to finish the migration instead.",
                            p->steps[sw].id, step_state_to_string(j->steps[sw].state));

        if (!x.opts->dry_run) {
                j->run_state = RUN_STATE_ROLLING_BACK;
                r = commit(&x);
                if (r < 0)
                        return r;
        }

        for (size_t n = p->n_steps; n > 0; n--) {
                size_t i = n - 1;
                const struct plan_step *s = &p->steps[i];
                const struct step_ops *ops = (int) s->kind >= 0 && s->kind < _STEP_KIND_MAX ? table[s->kind] : NULL;
                enum step_state st = j->steps[i].state;

                if (st == STEP_STATE_PENDING || st == STEP_STATE_UNDONE)
                        continue;
                if (stop_requested) {
                        r = fail(&x, -ECANCELED, "Interrupted before undoing step '%s'. Run 'rootraid rollback' again to finish.",
                                 s->id);
                        goto finish;
                }
                ctx_begin(&x, s);
                if (x.opts->dry_run) {
                        printf("Undo step %zu/%zu %s: %s\n", i + 1, p->n_steps, s->id, strna(s->undo));
                        if (ops && ops->undo) {
                                run_set_dry_run(true);
                                r = ops->undo(&x.ctx, s);
                                run_set_dry_run(false);
                                if (r < 0) {
                                        r = fail(&x, r, "Step '%s' cannot be undone: %s", s->id, ctx_error(&x, r));
                                        goto finish;
                                }
                        }
                        continue;
                }

                log_info("Undoing step %zu/%zu %s: %s", i + 1, p->n_steps, s->id, strna(s->undo));
                r = set_state(&x, i, STEP_STATE_UNDOING, NULL);
                if (r < 0)
                        goto finish;
                if (ops && ops->undo) {
                        r = ops->undo(&x.ctx, s);
                        if (r == -ERESTART) {
                                /* The rest is undone after a reboot (the
                                 * reboot kind, run from the new root, hands
                                 * over to the old one): the step stays
                                 * "undoing", committed wherever the step
                                 * asked (the old root's copy included). */
                                int k = commit(&x);
                                r = fail(&x, k < 0 ? k : r, "Step '%s': %s", s->id,
                                         x.ctx.error ? x.ctx.error : "the machine is rebooting to finish the rollback.");
                                goto finish;
                        }
                        if (r < 0) {
                                _cleanup_free_ char *msg = strdup(ctx_error(&x, r));
                                /* Stays "undoing": running rollback again retries it. */
                                int k = journal_set_step_state(j, i, STEP_STATE_UNDOING, msg);
                                if (k >= 0)
                                        k = commit(&x);
                                r = fail(&x, k < 0 ? k : r,
                                         "Cannot undo step '%s': %s. Fix the cause and run 'rootraid rollback' again.", s->id,
                                         strna(msg));
                                goto finish;
                        }
                } else
                        log_debug("Step '%s' leaves nothing to undo.", s->id);
                r = set_state(&x, i, STEP_STATE_UNDONE, NULL);
                if (r < 0)
                        goto finish;
        }

        if (!x.opts->dry_run) {
                j->run_state = RUN_STATE_ROLLED_BACK;
                r = commit(&x);
                if (r < 0)
                        goto finish;
        }
        log_info("Rollback complete: the system is as it was before the plan ran.");
        r = 0;
finish:
        run_done(&x);
        return r;
}

int executor_resume(const struct plan *p, struct journal *j, const struct step_ops *const *table,
                    const struct executor_options *opts, char **ret_error) {
        switch (j->run_state) {
        case RUN_STATE_ROLLING_BACK:
                log_info("Resuming the unfinished rollback.");
                return executor_rollback(p, j, table, opts, ret_error);
        case RUN_STATE_ROLLED_BACK:
                log_info("Nothing to resume: the plan was rolled back.");
                return 0;
        case RUN_STATE_APPLYING:
        case RUN_STATE_FINISHED:
        default:
                /* A finished journal is checked again step by step: resume
                 * then doubles as "is everything still in place". */
                return executor_apply(p, j, table, opts, ret_error);
        }
}
