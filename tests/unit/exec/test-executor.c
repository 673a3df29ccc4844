/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The executor with a fake step kind whose end state is a file: apply
 * order, idempotence, failure and resume, SIGKILL in the middle of every
 * step and of every journal commit, rollback (order, refusal after the
 * point of no return, interrupted rollback), interruption by signal, lock
 * contention and dry run. */
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "exec-test.h"
#include "exec/executor.h"
#include "exec/journal.h"
#include "exec/lock.h"
#include "steps/reboot.h"
#include "util/fileio.h"
#include "util/run.h"
#include "util/strutil.h"

static const char *const ids[] = { "s1", "s2", "s3", "s4" };
#define N_STEPS ELEMENTSOF(ids)

/* Where, in a child process, the fake step kills itself. */
static const char *kill_id, *kill_phase;

static void kill_point(const struct plan_step *step, const char *phase) {
        if (kill_id && streq(kill_id, step->id) && streq(kill_phase, phase))
                (void) raise(SIGKILL);
}

static void append(const char *dir, const char *name, const char *line) {
        char *p = test_path(dir, name);
        FILE *f = fopen(p, "ae");
        ASSERT(f);
        fprintf(f, "%s\n", line);
        ASSERT(fclose(f) == 0);
        free(p);
}

static const char *file_arg(struct step_context *ctx, const struct plan_step *step) {
        const char *name = NULL;
        ASSERT_OK(step_arg_string(ctx, step, "file", &name));
        return name;
}

static int fake_check(struct step_context *ctx, const struct plan_step *step) {
        const char *name = file_arg(ctx, step);
        char marker[64];

        snprintf(marker, sizeof marker, "check-error-%s", name);
        if (test_exists(ctx->target_dir, marker))
                return step_error(ctx, EIO, "injected check error of %s", name);
        char *c = test_read(ctx->target_dir, name);
        int r = c && streq(c, "done");
        free(c);
        return r;
}

static int fake_apply(struct step_context *ctx, const struct plan_step *step) {
        const char *name = file_arg(ctx, step);
        char marker[64];
        int r;

        if (!ctx->dry_run)
                append(ctx->target_dir, "apply.log", name);
        kill_point(step, "start");
        snprintf(marker, sizeof marker, "fail-%s", name);
        if (test_exists(ctx->target_dir, marker))
                return step_error(ctx, EIO, "injected failure of %s", name);

        char *path = test_path(ctx->target_dir, name), *touched = NULL;
        ASSERT(asprintf(&touched, "%s.touched", path) >= 0);
        /* An external command: in a dry run it is printed, not run. */
        const char *argv[] = { "touch", touched, NULL };
        r = run_argv_checked(argv, 0, NULL);
        free(touched);
        if (r < 0) {
                free(path);
                return step_error(ctx, r, "touch failed");
        }
        step_progress(ctx, 1, 2); /* half way, for a pctN fault point */
        if (!ctx->dry_run)
                test_write(ctx->target_dir, name, "partial");
        kill_point(step, "partial");
        r = step_write_file(ctx, path, "done", 4, 0644);
        free(path);
        if (r < 0)
                return r;
        kill_point(step, "end");

        snprintf(marker, sizeof marker, "stop-%s", name);
        if (test_exists(ctx->target_dir, marker))
                executor_request_stop(); /* as SIGTERM would */

        /* As the reboot kind does: the end state is reached by the boot. */
        snprintf(marker, sizeof marker, "restart-%s", name);
        if (test_exists(ctx->target_dir, marker))
                return -ERESTART;

        /* As the reboot kind does after a switch: one more journal
         * location (the old root's), which the executor's commit after a
         * reboot must reach. */
        snprintf(marker, sizeof marker, "location-%s", name);
        if (!ctx->dry_run && test_exists(ctx->target_dir, marker)) {
                char *late = test_path(ctx->target_dir, "late-location");
                ASSERT_OK(journal_add_location(ctx->journal, late));
                free(late);
                return -ERESTART;
        }

        /* A command that complains on stderr, for the log test. */
        snprintf(marker, sizeof marker, "stderr-%s", name);
        if (test_exists(ctx->target_dir, marker)) {
                char missing[64];
                snprintf(missing, sizeof missing, "/nonexistent-rootraid-%s", name);
                const char *ls[] = { "ls", missing, NULL };
                (void) run_argv(ls, 0, NULL, NULL); /* it fails; only its message matters */
        }
        return 0;
}

static int fake_undo(struct step_context *ctx, const struct plan_step *step) {
        const char *name = file_arg(ctx, step);
        char *path = test_path(ctx->target_dir, name);

        if (!ctx->dry_run)
                append(ctx->target_dir, "undo.log", name);
        kill_point(step, "undo");
        /* As the reboot kind does from the new root: the rest of the
         * rollback happens after a reboot (the marker is gone by then). */
        char marker[64];
        snprintf(marker, sizeof marker, "undo-restart-%s", name);
        if (!ctx->dry_run && test_exists(ctx->target_dir, marker)) {
                char *m = test_path(ctx->target_dir, marker);
                ASSERT(unlink(m) == 0);
                free(m);
                free(path);
                free(ctx->error);
                ctx->error = strdup("rebooting into the old root, where the rollback goes on.");
                return -ERESTART;
        }
        int r = ctx->dry_run || unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
        free(path);
        return r < 0 ? step_error(ctx, r, "cannot remove the file") : 0;
}

static const struct step_ops fake_ops = {
        .kind = STEP_MKFS,
        .check = fake_check,
        .apply = fake_apply,
        .undo = fake_undo,
};

/* The same fake as a switch-root step, whose undo rollback never calls. */
static const struct step_ops fake_switch_ops = {
        .kind = STEP_SWITCH_ROOT,
        .check = fake_check,
        .apply = fake_apply,
        .undo = NULL,
};

/* And as the boot-once and reboot steps around a switch. */
static const struct step_ops fake_boot_once_ops = {
        .kind = STEP_BOOT_ONCE,
        .check = fake_check,
        .apply = fake_apply,
        .undo = fake_undo,
};

static const struct step_ops fake_reboot_ops = {
        .kind = STEP_REBOOT,
        .check = fake_check,
        .apply = fake_apply,
        .undo = fake_undo,
};

static const struct step_ops *const fake_table[_STEP_KIND_MAX] = {
        [STEP_MKFS] = &fake_ops,
        [STEP_SWITCH_ROOT] = &fake_switch_ops,
        [STEP_BOOT_ONCE] = &fake_boot_once_ops,
        [STEP_REBOOT] = &fake_reboot_ops,
};

struct fixture {
        char *tmp, *state, *a, *b;
        char *dirs[3];
        struct plan *plan;
        struct executor_options opts;
};

static void fixture_init(struct fixture *f, size_t ponr) {
        f->tmp = test_tmpdir();
        f->state = test_path(f->tmp, "machine");
        f->a = test_path(f->tmp, "old-root");
        f->b = test_path(f->tmp, "new-root");
        ASSERT(mkdir(f->state, 0755) == 0);
        f->dirs[0] = f->a;
        f->dirs[1] = f->b;
        f->dirs[2] = NULL;
        f->plan = test_plan_new("sha256:abcd", ids, N_STEPS, STEP_MKFS, ponr);
        f->opts = (struct executor_options) { .target_dir = f->state };
        executor_reset_stop();
}

static void fixture_done(struct fixture *f) {
        test_rm_rf(f->tmp);
        free(f->tmp);
        free(f->state);
        free(f->a);
        free(f->b);
        test_plan_free(f->plan);
}

static struct journal *new_journal(struct fixture *f) {
        return test_journal_new(f->plan, f->dirs);
}

static struct journal *load(struct fixture *f) {
        return test_journal_load(f->dirs, NULL);
}

static int apply(struct fixture *f, struct journal *j, char **e) {
        free(*e);
        *e = NULL;
        return executor_apply(f->plan, j, fake_table, &f->opts, e);
}

/* Applies with marker (e.g. "fail-s3": s3 fails; "stop-s2": a stop is
 * requested during s2) in place, expects error err, and returns the journal
 * as resume would load it; *e holds the error sentence. */
static struct journal *apply_with_marker(struct fixture *f, const char *marker, int err, char **e) {
        struct journal *j = new_journal(f);
        test_write(f->state, marker, "");
        ASSERT_ERR(apply(f, j, e), err);
        journal_free(j);
        return load(f);
}

static void assert_all_done(struct fixture *f) {
        struct journal *j = load(f);
        ASSERT(j->run_state == RUN_STATE_FINISHED);
        for (size_t i = 0; i < N_STEPS; i++) {
                char *c = test_read(f->state, ids[i]);
                ASSERT(c && streq(c, "done"));
                free(c);
                ASSERT(j->steps[i].state == STEP_STATE_DONE);
                ASSERT(!j->steps[i].error);
        }
        journal_free(j);
}

static void assert_log(struct fixture *f, const char *name, const char *expected) {
        char *c = test_read(f->state, name);
        if (!streq(strempty(c), expected)) {
                fprintf(stderr, "%s is \"%s\", expected \"%s\"\n", name, strempty(c), expected);
                abort();
        }
        free(c);
}

static void test_apply_in_order_then_noop(void) {
        struct fixture f;
        char *e = NULL;

        fixture_init(&f, N_STEPS);
        struct journal *j = new_journal(&f);
        ASSERT_OK(apply(&f, j, &e));
        assert_all_done(&f);
        assert_log(&f, "apply.log", "s1\ns2\ns3\ns4\n");
        for (size_t i = 0; i < N_STEPS; i++)
                ASSERT(j->steps[i].attempts == 1 && j->steps[i].finished >= j->steps[i].started);
        journal_free(j);

        /* Applying again changes nothing: every end state holds. */
        j = load(&f);
        ASSERT_OK(apply(&f, j, &e));
        assert_log(&f, "apply.log", "s1\ns2\ns3\ns4\n");
        assert_all_done(&f);
        journal_free(j);
        free(e);
        fixture_done(&f);
}

static void test_failure_then_resume(void) {
        struct fixture f;
        char *e = NULL;

        fixture_init(&f, N_STEPS);
        struct journal *j = apply_with_marker(&f, "fail-s3", EIO, &e);
        ASSERT_CONTAINS(e, "'s3'");
        ASSERT_CONTAINS(e, "injected failure of s3");
        ASSERT_CONTAINS(e, "rootraid resume");
        ASSERT_CONTAINS(e, "rootraid rollback"); /* before the point of no return */
        ASSERT(j->run_state == RUN_STATE_APPLYING);
        ASSERT(j->steps[0].state == STEP_STATE_DONE && j->steps[1].state == STEP_STATE_DONE);
        ASSERT(j->steps[2].state == STEP_STATE_FAILED);
        ASSERT_CONTAINS(j->steps[2].error, "injected failure of s3");
        ASSERT(j->steps[3].state == STEP_STATE_PENDING);
        ASSERT(!test_exists(f.state, "s4"));

        /* The cause is fixed; resume continues at s3. */
        test_unlink(f.state, "fail-s3");
        ASSERT_OK(executor_resume(f.plan, j, fake_table, &f.opts, &e));
        assert_all_done(&f);
        assert_log(&f, "apply.log", "s1\ns2\ns3\ns3\ns4\n");
        ASSERT(j->steps[2].attempts == 2);
        journal_free(j);

        /* A check that cannot tell is an error too, and names the step. */
        test_write(f.state, "check-error-s2", "");
        j = load(&f);
        ASSERT_ERR(apply(&f, j, &e), EIO);
        ASSERT_CONTAINS(e, "'s2'");
        ASSERT_CONTAINS(e, "injected check error of s2");
        journal_free(j);
        free(e);
        fixture_done(&f);
}

/* Runs apply (or rollback) in a child that dies by SIGKILL at the given
 * point; returns after checking that it did die. */
static void run_child_killed(struct fixture *f, bool rollback, const char *id, const char *phase, const char *journal_fault) {
        int status;
        pid_t pid = fork();

        ASSERT(pid >= 0);
        if (pid == 0) {
                struct journal *j = NULL;
                char *e = NULL;
                kill_id = id;
                kill_phase = phase;
                if (journal_fault)
                        setenv("ROOTRAID_FAULT_JOURNAL", journal_fault, 1);
                if (rollback) {
                        if (journal_load(f->dirs, &j, NULL, NULL) < 0)
                                _exit(3);
                        (void) executor_rollback(f->plan, j, fake_table, &f->opts, &e);
                } else {
                        j = new_journal(f);
                        (void) apply(f, j, &e);
                }
                _exit(2); /* not killed: the fault point was not reached */
        }
        ASSERT(waitpid(pid, &status, 0) == pid);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
                fprintf(stderr, "child was not killed at %s/%s/%s (status %d)\n", strna(id), strna(phase),
                        strna(journal_fault), status);
                abort();
        }
}

static unsigned count_lines(const char *text, const char *line) {
        unsigned n = 0;
        size_t l = strlen(line);
        for (const char *p = text; p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t) (nl - p) : strlen(p);
                if (len == l && strncmp(p, line, l) == 0)
                        n++;
                p = nl ? nl + 1 : NULL;
        }
        return n;
}

static void test_kill_in_every_step(void) {
        static const char *const phases[] = { "start", "partial", "end" };
        unsigned runs = 0;

        for (size_t i = 0; i < N_STEPS; i++)
                for (size_t k = 0; k < ELEMENTSOF(phases); k++) {
                        struct fixture f;
                        char *e = NULL;

                        fixture_init(&f, N_STEPS);
                        run_child_killed(&f, false, ids[i], phases[k], NULL);

                        struct journal *j = load(&f);
                        ASSERT(j->steps[i].state == STEP_STATE_RUNNING);
                        ASSERT(i + 1 == N_STEPS || j->steps[i + 1].state == STEP_STATE_PENDING);
                        ASSERT_OK(executor_resume(f.plan, j, fake_table, &f.opts, &e));
                        journal_free(j);
                        assert_all_done(&f);

                        /* Killed after the end state was reached: resume
                         * sees it and does not apply the step again. */
                        char *log = test_read(f.state, "apply.log");
                        ASSERT(count_lines(log, ids[i]) == (streq(phases[k], "end") ? 1u : 2u));
                        for (size_t o = 0; o < N_STEPS; o++)
                                if (o != i)
                                        ASSERT(count_lines(log, ids[o]) == 1);
                        free(log);
                        free(e);
                        fixture_done(&f);
                        runs++;
                }
        printf("killed in every step: %u runs resumed to completion\n", runs);
}

/* ROOTRAID_FAULT_STEP=ID:before|midN|pctN|after (what the guest crash tests
 * use to cut the power between two steps, or inside one after its N-th
 * action or at N% of its progress):
 * the process stops itself exactly there, with the journal saying so and
 * the step's own effects that far; killed there, a resume finishes and
 * applies the step again only if its end state was not reached; continued,
 * the run goes on to the end.  The fake step's actions are a command
 * (touch NAME.touched) and then a file written (NAME = "done"), with a
 * progress report of 50% between them; with fewer actions than N, or
 * less progress than N%, it stops after the step. */
static void test_fault_step_pause(void) {
        static const struct {
                const char *spec;
                size_t step;
                enum step_state state, next;
                bool touched, written;
                unsigned applies_if_killed;
        } cases[] = {
                { "s2:before", 1, STEP_STATE_PENDING, STEP_STATE_PENDING, false, false, 1 },
                { "s2:mid1", 1, STEP_STATE_RUNNING, STEP_STATE_PENDING, true, false, 2 },
                { "s2:mid2", 1, STEP_STATE_RUNNING, STEP_STATE_PENDING, true, true, 1 },
                { "s2:mid3", 1, STEP_STATE_DONE, STEP_STATE_PENDING, true, true, 1 },
                { "s2:pct1", 1, STEP_STATE_RUNNING, STEP_STATE_PENDING, true, false, 2 },
                { "s2:pct50", 1, STEP_STATE_RUNNING, STEP_STATE_PENDING, true, false, 2 },
                { "s2:pct51", 1, STEP_STATE_DONE, STEP_STATE_PENDING, true, true, 1 },
                { "s2:after", 1, STEP_STATE_DONE, STEP_STATE_PENDING, true, true, 1 },
                { "s4:after", 3, STEP_STATE_DONE, _STEP_STATE_INVALID, true, true, 1 },
        };

        for (size_t c = 0; c < ELEMENTSOF(cases); c++)
                for (int cont = 0; cont <= 1; cont++) {
                        struct fixture f;
                        char *e = NULL;
                        int status;

                        fixture_init(&f, N_STEPS);
                        pid_t pid = fork();
                        ASSERT(pid >= 0);
                        if (pid == 0) {
                                /* A failed check in the parent must not leave
                                 * it stopped, holding the test's output open. */
                                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                                struct journal *j = new_journal(&f);
                                setenv("ROOTRAID_FAULT_STEP", cases[c].spec, 1);
                                _exit(apply(&f, j, &e) < 0 ? 3 : 0);
                        }
                        ASSERT(waitpid(pid, &status, WUNTRACED) == pid);
                        if (!WIFSTOPPED(status)) {
                                fprintf(stderr, "%s: the child did not stop (status %d)\n", cases[c].spec, status);
                                abort();
                        }
                        struct journal *j = load(&f);
                        size_t i = cases[c].step;
                        ASSERT(j->steps[i].state == cases[c].state);
                        ASSERT(i == 0 || j->steps[i - 1].state == STEP_STATE_DONE);
                        ASSERT(i + 1 == N_STEPS || j->steps[i + 1].state == cases[c].next);
                        journal_free(j);
                        char touched[64], *done = test_read(f.state, ids[i]);
                        snprintf(touched, sizeof touched, "%s.touched", ids[i]);
                        if (test_exists(f.state, touched) != cases[c].touched || streq_ptr(done, "done") != cases[c].written) {
                                fprintf(stderr, "%s: at the stop %s is %s, %s is %s\n", cases[c].spec, touched,
                                        test_exists(f.state, touched) ? "there" : "missing", ids[i], strna(done));
                                abort();
                        }
                        free(done);

                        ASSERT(kill(pid, cont ? SIGCONT : SIGKILL) == 0);
                        ASSERT(waitpid(pid, &status, 0) == pid);
                        if (cont)
                                ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
                        else {
                                ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
                                j = load(&f);
                                ASSERT_OK(executor_resume(f.plan, j, fake_table, &f.opts, &e));
                                journal_free(j);
                        }
                        assert_all_done(&f);
                        char *log = test_read(f.state, "apply.log");
                        for (size_t o = 0; o < N_STEPS; o++)
                                ASSERT(count_lines(log, ids[o]) == (o == i && !cont ? cases[c].applies_if_killed : 1u));
                        free(log);
                        free(e);
                        fixture_done(&f);
                }
        printf("ROOTRAID_FAULT_STEP: stopped before, inside and after a step, killed or continued, always completed\n");
}

static void test_kill_in_every_commit(void) {
        static const char *const points[] = { "before-write", "between-locations", "after-write" };
        /* One commit for "applying", two per step, one for "finished". */
        const unsigned commits = 2 + 2 * N_STEPS;
        unsigned runs = 0;

        for (unsigned g = 1; g <= commits; g++)
                for (size_t k = 0; k < ELEMENTSOF(points); k++) {
                        struct fixture f;
                        struct journal *j = NULL;
                        char fault[64], *e = NULL;

                        fixture_init(&f, N_STEPS);
                        snprintf(fault, sizeof fault, "%s@%u", points[k], g);
                        run_child_killed(&f, false, NULL, NULL, fault);

                        int r = journal_load(f.dirs, &j, NULL, NULL);
                        if (r == -ENOENT) {
                                /* Died before the first journal reached disk:
                                 * nothing was applied; the verb starts afresh. */
                                ASSERT(g == 1 && streq(points[k], "before-write"));
                                ASSERT(!test_exists(f.state, "apply.log"));
                                j = new_journal(&f);
                        } else
                                ASSERT_OK(r);
                        ASSERT(j->generation == g - (streq(points[k], "before-write") ? 1 : 0));
                        ASSERT_OK(executor_resume(f.plan, j, fake_table, &f.opts, &e));
                        journal_free(j);
                        assert_all_done(&f);
                        free(e);
                        fixture_done(&f);
                        runs++;
                }
        printf("killed in every journal commit: %u runs resumed to completion\n", runs);
}

static void test_rollback_in_reverse(void) {
        struct fixture f;
        char *e = NULL;

        fixture_init(&f, N_STEPS);
        struct journal *j = new_journal(&f);
        ASSERT_OK(apply(&f, j, &e));
        ASSERT_OK(executor_rollback(f.plan, j, fake_table, &f.opts, &e));
        assert_log(&f, "undo.log", "s4\ns3\ns2\ns1\n");
        for (size_t i = 0; i < N_STEPS; i++)
                ASSERT(!test_exists(f.state, ids[i]));
        journal_free(j);
        j = load(&f);
        ASSERT(j->run_state == RUN_STATE_ROLLED_BACK);
        for (size_t i = 0; i < N_STEPS; i++)
                ASSERT(j->steps[i].state == STEP_STATE_UNDONE);
        /* Resume after a finished rollback has nothing to do. */
        ASSERT_OK(executor_resume(f.plan, j, fake_table, &f.opts, &e));
        ASSERT(!test_exists(f.state, "s1"));
        /* A new apply after a rollback starts from the beginning. */
        ASSERT_OK(apply(&f, j, &e));
        journal_free(j);
        assert_all_done(&f);
        free(e);
        fixture_done(&f);
}

static void test_rollback_after_failure(void) {
        struct fixture f;
        char *e = NULL;

        fixture_init(&f, N_STEPS);
        struct journal *j = apply_with_marker(&f, "fail-s3", EIO, &e);
        ASSERT_OK(executor_rollback(f.plan, j, fake_table, &f.opts, &e));
        /* The failed step is undone too (it may have done part of its
         * work); the pending one is left alone. */
        assert_log(&f, "undo.log", "s3\ns2\ns1\n");
        ASSERT(j->steps[3].state == STEP_STATE_PENDING);
        ASSERT(!test_exists(f.state, "s1") && !test_exists(f.state, "s2"));
        journal_free(j);
        free(e);
        fixture_done(&f);
}

/* Rollback is refused naming step s3 and why (needle), before anything is
 * undone or committed; returns the journal as it is on disk. */
static struct journal *assert_rollback_refused(struct fixture *f, struct journal *j, char **e, const char *needle) {
        uint64_t g = j->generation;

        ASSERT_ERR(executor_rollback(f->plan, j, fake_table, &f->opts, e), ENOTRECOVERABLE);
        ASSERT_CONTAINS(*e, "Rollback refused");
        ASSERT_CONTAINS(*e, "'s3'");
        ASSERT_CONTAINS(*e, needle);
        ASSERT(!test_exists(f->state, "undo.log"));
        journal_free(j);
        j = load(f);
        ASSERT(j->generation == g && j->run_state == RUN_STATE_APPLYING);
        return j;
}

static void test_rollback_refused_after_point_of_no_return(void) {
        struct fixture f;
        char *e = NULL;

        /* s3 is the first step writing the old disk. */
        fixture_init(&f, 2);
        struct journal *j = apply_with_marker(&f, "fail-s3", EIO, &e);
        /* The failure message does not offer a rollback any more. */
        ASSERT_CONTAINS(e, "rootraid resume");
        ASSERT(!strstr(e, "rollback"));
        j = assert_rollback_refused(&f, j, &e, "old disk");
        ASSERT_CONTAINS(e, "failed");
        ASSERT(test_exists(f.state, "s1") && test_exists(f.state, "s2"));
        journal_free(j);
        fixture_done(&f);

        /* The same plan failing before the point of no return rolls back. */
        fixture_init(&f, 2);
        j = apply_with_marker(&f, "fail-s2", EIO, &e);
        ASSERT_OK(executor_rollback(f.plan, j, fake_table, &f.opts, &e));
        assert_log(&f, "undo.log", "s2\ns1\n");
        journal_free(j);
        free(e);
        fixture_done(&f);
}

/* Once a switch-root step has started (the services may run from the
 * arrays), rollback is refused before anything is undone, even before the
 * point of no return; a switch that failed (before it was scheduled) does
 * not stand in the way. */
static void test_rollback_refused_after_switch(void) {
        struct fixture f;
        char *e = NULL;

        fixture_init(&f, N_STEPS);
        f.plan->steps[2].kind = STEP_SWITCH_ROOT;
        struct journal *j = apply_with_marker(&f, "restart-s3", ERESTART, &e);
        ASSERT(j->steps[2].state == STEP_STATE_RUNNING);
        j = assert_rollback_refused(&f, j, &e, "switched the running system onto the arrays");
        ASSERT_CONTAINS(e, "rootraid resume");
        /* The old root running again (the switch's end state does not
         * hold): resume refuses before any step, so nothing of this stale
         * root is copied again. */
        char *s3 = test_path(f.state, "s3");
        char *kept = NULL;
        ASSERT(asprintf(&kept, "%s.kept", s3) >= 0 && rename(s3, kept) == 0);
        test_write(f.state, "s1", "partial");
        ASSERT_ERR(executor_resume(f.plan, j, fake_table, &f.opts, &e), EIO);
        ASSERT_CONTAINS(e, "runs from the old root");
        ASSERT_CONTAINS(e, "grub-reboot rootraid");
        assert_log(&f, "apply.log", "s1\ns2\ns3\n");
        char *c = test_read(f.state, "s1");
        ASSERT(c && streq(c, "partial"));
        free(c);
        test_write(f.state, "s1", "done");
        ASSERT(rename(kept, s3) == 0);
        free(kept);
        free(s3);
        /* Done, after the switch: refused the same way. */
        ASSERT_OK(executor_resume(f.plan, j, fake_table, &f.opts, &e));
        ASSERT_ERR(executor_rollback(f.plan, j, fake_table, &f.opts, &e), ENOTRECOVERABLE);
        ASSERT(!test_exists(f.state, "undo.log"));
        journal_free(j);
        fixture_done(&f);

        fixture_init(&f, N_STEPS);
        f.plan->steps[2].kind = STEP_SWITCH_ROOT;
        j = apply_with_marker(&f, "fail-s3", EIO, &e);
        ASSERT_OK(executor_rollback(f.plan, j, fake_table, &f.opts, &e));
        /* The switch-root step has no undo of its own. */
        assert_log(&f, "undo.log", "s2\ns1\n");
        journal_free(j);
        free(e);
        fixture_done(&f);
}

/* A plan that switches without a reboot: s1 arms the one-time boot
 * (boot-once), s2 switches (switch-root), s3 waits for the reboot into the
 * arrays (reboot), s4 stands for confirm-boot and what follows. */
static void fixture_init_switch(struct fixture *f) {
        fixture_init(f, N_STEPS);
        f->plan->steps[0].kind = STEP_BOOT_ONCE;
        f->plan->steps[1].kind = STEP_SWITCH_ROOT;
        f->plan->steps[2].kind = STEP_REBOOT;
}

/* The old root running again: neither the switch's end state nor the
 * reboot's holds, and GRUB's one-time entry is spent (s1's is gone too). */
static void become_old_root(struct fixture *f) {
        for (size_t i = 1; i <= 2; i++) {
                char *p = test_path(f->state, ids[i]);
                (void) unlink(p);
                free(p);
        }
        test_write(f->state, "s1", "spent");
}

static char *retry_record(const char *dir) {
        char *c = test_read(dir, "s3." REBOOT_RECORD_RETRY);
        if (c)
                c[strcspn(c, "\n")] = 0;
        return c;
}

/* The old root runs after a switch (the first real boot from the arrays cut
 * before confirm-boot).  Its journal says the switch was done (the switched
 * system committed that there): the arrays hold the live data, so resume
 * re-arms the one-time boot, records this boot and reboots once, unattended,
 * running nothing else; back on the old root in another boot, it refuses.
 * The switch merely started (running): refused as before. */
static void test_stale_root_after_switch(void) {
        struct fixture f;
        char *e = NULL, *now = NULL, *c;

        ASSERT_OK(read_one_line_file("/proc/sys/kernel/random/boot_id", &now));
        fixture_init_switch(&f);
        /* apply schedules the switch; the switched system commits it done
         * and waits in s3, whose apply adds a journal location that the
         * executor's commit after it must reach. */
        struct journal *j = apply_with_marker(&f, "restart-s2", ERESTART, &e);
        ASSERT(j->steps[1].state == STEP_STATE_RUNNING);
        test_write(f.state, "location-s3", "");
        ASSERT_ERR(executor_resume(f.plan, j, fake_table, &f.opts, &e), ERESTART);
        journal_free(j);
        test_unlink(f.state, "location-s3");
        char *late = test_path(f.state, "late-location");
        char *late_dirs[] = { late, NULL };
        j = test_journal_load(late_dirs, NULL);
        ASSERT(j->steps[1].state == STEP_STATE_DONE && j->steps[2].state == STEP_STATE_RUNNING);
        journal_free(j);
        free(late);
        assert_log(&f, "apply.log", "s1\ns2\ns3\n");

        /* Back on the old root: s1 applied again, then s3 reboots. */
        become_old_root(&f);
        test_write(f.state, "restart-s3", "");
        j = load(&f);
        ASSERT_ERR(executor_resume(f.plan, j, fake_table, &f.opts, &e), ERESTART);
        journal_free(j);
        assert_log(&f, "apply.log", "s1\ns2\ns3\ns1\ns3\n");
        c = test_read(f.state, "s1");
        ASSERT(c && streq(c, "done"));
        free(c);
        ASSERT(!test_exists(f.state, "s2") && !test_exists(f.state, "s4"));
        test_unlink(f.state, "s3"); /* the reboot's end state: not on the old root */
        for (size_t i = 0; i < 2; i++) {
                c = retry_record(f.dirs[i]);
                ASSERT(c && streq(c, now));
                free(c);
        }
        j = load(&f);
        ASSERT(j->steps[1].state == STEP_STATE_DONE && j->steps[2].state == STEP_STATE_RUNNING &&
               j->steps[3].state == STEP_STATE_PENDING);

        /* A dry run says what resume would do, and does nothing. */
        f.opts.dry_run = true;
        test_write(f.state, "s1", "spent");
        ASSERT_ERR(executor_resume(f.plan, j, fake_table, &f.opts, &e), EIO);
        f.opts.dry_run = false;
        ASSERT_CONTAINS(e, "would arm the one-time entry again (step 's1')");
        assert_log(&f, "apply.log", "s1\ns2\ns3\ns1\ns3\n");

        /* Resumed again in the same boot (before the reboot): the same. */
        test_write(f.state, "s1", "spent");
        ASSERT_ERR(executor_resume(f.plan, j, fake_table, &f.opts, &e), ERESTART);
        journal_free(j);
        assert_log(&f, "apply.log", "s1\ns2\ns3\ns1\ns3\ns1\ns3\n");

        /* Back on the old root in another boot: refused, nothing runs. */
        test_write(f.a, "s3." REBOOT_RECORD_RETRY, "0f0f0f0f-aaaa-4bbb-8ccc-000000000001\n");
        test_write(f.state, "s1", "spent");
        j = load(&f);
        ASSERT_ERR(executor_resume(f.plan, j, fake_table, &f.opts, &e), EIO);
        journal_free(j);
        ASSERT_CONTAINS(e, "already rebooted into the arrays once more");
        ASSERT_CONTAINS(e, "grub-reboot rootraid");
        assert_log(&f, "apply.log", "s1\ns2\ns3\ns1\ns3\ns1\ns3\n");
        c = test_read(f.state, "s1");
        ASSERT(c && streq(c, "spent"));
        free(c);
        fixture_done(&f);

        /* The switch started but was never committed done: this root may
         * hold the newest data.  Refused, nothing armed, nothing recorded. */
        fixture_init_switch(&f);
        j = apply_with_marker(&f, "restart-s2", ERESTART, &e);
        become_old_root(&f);
        test_write(f.state, "restart-s3", "");
        ASSERT_ERR(executor_resume(f.plan, j, fake_table, &f.opts, &e), EIO);
        journal_free(j);
        ASSERT_CONTAINS(e, "had started to switch the services onto the arrays");
        assert_log(&f, "apply.log", "s1\ns2\n");
        ASSERT(!test_exists(f.a, "s3." REBOOT_RECORD_RETRY) && !test_exists(f.b, "s3." REBOOT_RECORD_RETRY));
        fixture_done(&f);
        free(e);
        free(now);
}

/* The rollback stopped while undoing s2 (s4 and s3 undone, s1 done): an
 * apply is refused, and resume undoes s2 again and s1. */
static void assert_resume_finishes_rollback(struct fixture *f, char **e) {
        struct journal *j = load(f);
        ASSERT(j->run_state == RUN_STATE_ROLLING_BACK);
        ASSERT(j->steps[3].state == STEP_STATE_UNDONE && j->steps[2].state == STEP_STATE_UNDONE);
        ASSERT(j->steps[1].state == STEP_STATE_UNDOING && j->steps[0].state == STEP_STATE_DONE);
        ASSERT(test_exists(f->state, "s1"));
        /* An apply now would fight the unfinished rollback. */
        ASSERT_ERR(apply(f, j, e), EINPROGRESS);
        ASSERT_OK(executor_resume(f->plan, j, fake_table, &f->opts, e));
        assert_log(f, "undo.log", "s4\ns3\ns2\ns2\ns1\n");
        ASSERT(j->run_state == RUN_STATE_ROLLED_BACK);
        for (size_t i = 0; i < N_STEPS; i++)
                ASSERT(!test_exists(f->state, ids[i]) && j->steps[i].state == STEP_STATE_UNDONE);
        journal_free(j);
}

/* A rollback stopped at s2, killed during its undo, or handed over to a
 * reboot by it (as the reboot step does when it runs from the new root:
 * the steps after it are undone, it stays "undoing", nothing before it is
 * touched); the resume after it finishes the rollback. */
static void test_rollback_stopped_then_resumed(bool by_reboot) {
        struct fixture f;
        char *e = NULL;

        fixture_init(&f, N_STEPS);
        struct journal *j = new_journal(&f);
        ASSERT_OK(apply(&f, j, &e));
        if (by_reboot) {
                test_write(f.state, "undo-restart-s2", "");
                ASSERT_ERR(executor_rollback(f.plan, j, fake_table, &f.opts, &e), ERESTART);
                ASSERT_CONTAINS(e, "'s2'");
                ASSERT_CONTAINS(e, "rebooting into the old root");
                assert_log(&f, "undo.log", "s4\ns3\ns2\n");
                ASSERT(test_exists(f.state, "s2"));
        } else
                run_child_killed(&f, true, "s2", "undo", NULL);
        journal_free(j);
        assert_resume_finishes_rollback(&f, &e);
        free(e);
        fixture_done(&f);
}

static void test_done_step_no_longer_holds(void) {
        struct fixture f;
        char *e = NULL;

        fixture_init(&f, N_STEPS);
        struct journal *j = new_journal(&f);
        ASSERT_OK(apply(&f, j, &e));

        /* A reversible (idempotent) step is applied again. */
        test_unlink(f.state, "s2");
        ASSERT_OK(apply(&f, j, &e));
        assert_all_done(&f);
        assert_log(&f, "apply.log", "s1\ns2\ns3\ns4\ns2\n");

        /* Any other step is an error naming it, and nothing runs. */
        f.plan->steps[1].reversible = false;
        test_unlink(f.state, "s2");
        ASSERT_ERR(apply(&f, j, &e), ESTALE);
        ASSERT_CONTAINS(e, "'s2'");
        ASSERT_CONTAINS(e, "no longer holds");
        assert_log(&f, "apply.log", "s1\ns2\ns3\ns4\ns2\n");
        journal_free(j);
        free(e);
        fixture_done(&f);
}

static void test_refusals_before_anything_runs(void) {
        struct fixture f;
        char *e = NULL;

        /* A journal of another plan. */
        fixture_init(&f, N_STEPS);
        struct journal *j = new_journal(&f);
        free(f.plan->fingerprint);
        f.plan->fingerprint = strdup("sha256:other");
        ASSERT_ERR(apply(&f, j, &e), ESTALE);
        ASSERT_CONTAINS(e, "another plan");
        ASSERT(!test_exists(f.state, "apply.log"));
        ASSERT(!test_exists(f.a, JOURNAL_FILE_NAME));
        journal_free(j);
        fixture_done(&f);

        /* A step kind that is not implemented: refused up front, even
         * though the steps before it could run. */
        fixture_init(&f, N_STEPS);
        f.plan->steps[3].kind = STEP_WAIT_RESYNC;
        j = new_journal(&f);
        ASSERT_ERR(apply(&f, j, &e), EOPNOTSUPP);
        ASSERT_CONTAINS(e, "'s4'");
        ASSERT(!test_exists(f.state, "apply.log"));
        ASSERT(!test_exists(f.a, JOURNAL_FILE_NAME));
        journal_free(j);
        free(e);
        fixture_done(&f);
}

static void test_interrupt_between_steps(void) {
        struct fixture f;
        char *e = NULL;

        fixture_init(&f, N_STEPS);
        struct journal *j = apply_with_marker(&f, "stop-s2", ECANCELED, &e);
        ASSERT_CONTAINS(e, "'s3'");
        ASSERT_CONTAINS(e, "rootraid resume");
        ASSERT(j->steps[1].state == STEP_STATE_DONE && j->steps[2].state == STEP_STATE_PENDING);
        ASSERT(!test_exists(f.state, "s3"));

        test_unlink(f.state, "stop-s2");
        executor_reset_stop();
        ASSERT_OK(executor_resume(f.plan, j, fake_table, &f.opts, &e));
        journal_free(j);
        assert_all_done(&f);

        /* The real signal sets the same flag. */
        executor_reset_stop();
        ASSERT_OK(executor_install_signal_handlers());
        ASSERT(raise(SIGTERM) == 0);
        ASSERT(executor_stop_requested());
        executor_reset_stop();
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        free(e);
        fixture_done(&f);
}

static void test_lock_contention(void) {
        char *tmp = test_tmpdir(), *path = test_path(tmp, "var/lib/rootraid/" EXEC_LOCK_FILE_NAME), *e = NULL;
        struct exec_lock *l = NULL;
        int ready[2], done[2], status;
        char c;

        ASSERT(pipe(ready) == 0 && pipe(done) == 0);
        pid_t pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0) {
                if (exec_lock_acquire(path, &l, NULL) < 0)
                        _exit(2);
                (void) !write(ready[1], "x", 1);
                (void) !read(done[0], &c, 1);
                exec_lock_release(l);
                _exit(0);
        }
        ASSERT(read(ready[0], &c, 1) == 1);

        ASSERT_ERR(exec_lock_acquire(path, &l, &e), EAGAIN);
        char pidstr[32];
        snprintf(pidstr, sizeof pidstr, "pid %d,", (int) pid);
        ASSERT_CONTAINS(e, pidstr);
        ASSERT_CONTAINS(e, "this boot");
        ASSERT_CONTAINS(e, path);
        free(e);
        e = NULL;

        /* The holder goes away (here: by exiting; kill -9 does the same). */
        ASSERT(write(done[1], "x", 1) == 1);
        ASSERT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ASSERT_OK(exec_lock_acquire(path, &l, &e));
        char *content = test_read(tmp, "var/lib/rootraid/" EXEC_LOCK_FILE_NAME);
        snprintf(pidstr, sizeof pidstr, "pid=%d\n", (int) getpid());
        ASSERT_CONTAINS(content, pidstr);
        free(content);
        exec_lock_release(l);

        /* A holder killed with SIGKILL leaves no stale lock. */
        pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0) {
                if (exec_lock_acquire(path, &l, NULL) < 0)
                        _exit(2);
                raise(SIGKILL);
        }
        ASSERT(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
        ASSERT_OK(exec_lock_acquire(path, &l, NULL));
        exec_lock_release(l);

        for (int i = 0; i < 2; i++) {
                close(ready[i]);
                close(done[i]);
        }
        test_rm_rf(tmp);
        free(tmp);
        free(path);
        free(e);
}

static void test_unwritable_journal_stops_before_acting(void) {
        struct fixture f;
        char *e = NULL;

        fixture_init(&f, N_STEPS);
        struct journal *j = new_journal(&f);
        /* The new root's journal directory became a file (or its filesystem
         * went away): no commit can reach it. */
        test_rm_rf(f.b);
        FILE *file = fopen(f.b, "we");
        ASSERT(file && fclose(file) == 0);
        int r = apply(&f, j, &e);
        ASSERT(r < 0);
        ASSERT_CONTAINS(e, "Cannot record progress in the journal");
        ASSERT_CONTAINS(e, f.b);
        /* Nothing was done that the journal does not know about. */
        ASSERT(!test_exists(f.state, "apply.log"));
        journal_free(j);
        free(e);
        fixture_done(&f);
}

/* A step that reboots the machine: the run stops with -ERESTART, the step
 * stays running, and the resume after the boot checks it (done) and goes
 * on without applying it again. */
static void test_step_that_reboots(void) {
        struct fixture f;
        char *e = NULL;

        fixture_init(&f, N_STEPS);
        struct journal *j = apply_with_marker(&f, "restart-s2", ERESTART, &e);
        ASSERT_CONTAINS(e, "'s2'");
        ASSERT_CONTAINS(e, "rootraid resume");
        ASSERT(j->steps[1].state == STEP_STATE_RUNNING && j->steps[2].state == STEP_STATE_PENDING);
        ASSERT(!test_exists(f.state, "s3"));
        ASSERT_OK(executor_resume(f.plan, j, fake_table, &f.opts, &e));
        journal_free(j);
        assert_all_done(&f);
        assert_log(&f, "apply.log", "s1\ns2\ns3\ns4\n");
        free(e);
        fixture_done(&f);
}

/* A dry run of a rollback lists the undo of each started step, last first,
 * and changes nothing, not even the journal. */
static void test_rollback_dry_run(void) {
        struct fixture f;
        struct test_capture cap;
        char *e = NULL;

        fixture_init(&f, N_STEPS);
        struct journal *j = apply_with_marker(&f, "fail-s3", EIO, &e);
        uint64_t g = j->generation;
        f.opts.dry_run = true;
        test_capture_begin(&cap, f.tmp);
        int r = executor_rollback(f.plan, j, fake_table, &f.opts, &e);
        char *text = test_capture_end(&cap);
        ASSERT_OK(r);
        char *u3 = strstr(text, "Undo step 3/4 s3"), *u2 = strstr(text, "Undo step 2/4 s2"), *u1 = strstr(text, "Undo step 1/4 s1");
        ASSERT(u3 && u2 && u1 && u3 < u2 && u2 < u1);
        ASSERT(!strstr(text, "s4"));
        ASSERT(test_exists(f.state, "s1") && test_exists(f.state, "s2") && !test_exists(f.state, "undo.log"));
        journal_free(j);
        j = load(&f);
        ASSERT(j->generation == g && j->steps[0].state == STEP_STATE_DONE);
        journal_free(j);
        free(text);
        free(e);
        fixture_done(&f);
}

static void test_log_file(void) {
        struct fixture f;
        char *e = NULL;

        fixture_init(&f, N_STEPS);
        struct journal *j = new_journal(&f);
        test_write(f.state, "stderr-s2", "");
        test_write(f.state, "fail-s3", "");
        ASSERT_OK(journal_log_open(j));
        ASSERT_ERR(apply(&f, j, &e), EIO);
        journal_log_close(j);
        /* Messages logged after closing stay out of the file. */
        log_error("not for the journal's log");

        /* Both locations hold the executor's messages, debug ones included,
         * and the external command's stderr, with timestamps. */
        for (size_t i = 0; i < 2; i++) {
                char *log = test_read(f.dirs[i], JOURNAL_LOG_NAME);
                ASSERT_CONTAINS(log, "info Step 1/4 s1: Create the file s1");
                ASSERT_CONTAINS(log, "debug Running: touch ");
                ASSERT_CONTAINS(log, "/nonexistent-rootraid-s2");
                ASSERT_CONTAINS(log, "error Step 's3' failed: apply failed: injected failure of s3");
                ASSERT(!strstr(log, "not for the journal's log"));
                ASSERT(log[0] >= '2' && log[4] == '-' && log[10] == 'T'); /* 2026-11-21T... */
                free(log);
        }
        journal_free(j);
        free(e);
        fixture_done(&f);
}

static void test_dry_run_writes_nothing(void) {
        struct fixture f;
        char *e = NULL;

        fixture_init(&f, N_STEPS);
        f.opts.dry_run = true;
        struct test_capture cap;
        test_capture_begin(&cap, f.tmp);
        int r = executor_apply(f.plan, NULL, fake_table, &f.opts, &e);
        char *text = test_capture_end(&cap);
        ASSERT_OK(r);

        /* The machine directory is as empty as before, no journal exists. */
        for (size_t i = 0; i < N_STEPS; i++) {
                char touched[32];
                snprintf(touched, sizeof touched, "%s.touched", ids[i]);
                ASSERT(!test_exists(f.state, ids[i]) && !test_exists(f.state, touched));
        }
        ASSERT(!test_exists(f.a, JOURNAL_FILE_NAME) && !test_exists(f.b, JOURNAL_FILE_NAME));
        ASSERT(!run_get_dry_run());

        /* Every command and every file is printed with its arguments. */
        for (size_t i = 0; i < N_STEPS; i++) {
                char *p = test_path(f.state, ids[i]), *line = NULL;
                ASSERT(asprintf(&line, "would run: touch %s.touched", p) >= 0);
                ASSERT_CONTAINS(text, line);
                free(line);
                ASSERT(asprintf(&line, "would write: %s (4 bytes", p) >= 0);
                ASSERT_CONTAINS(text, line);
                free(line);
                free(p);
        }
        ASSERT_CONTAINS(text, "Step 4/4 s4");
        ASSERT(!strstr(text, "Point of no return"));
        free(text);
        fixture_done(&f);

        /* With s3 writing the old disk, the dry run says where rollback
         * stops being possible. */
        fixture_init(&f, 2);
        f.opts.dry_run = true;
        test_capture_begin(&cap, f.tmp);
        ASSERT_OK(executor_apply(f.plan, NULL, fake_table, &f.opts, &e));
        text = test_capture_end(&cap);
        char *mark = strstr(text, "Point of no return"), *s2 = strstr(text, "Step 2/4 s2"), *s3 = strstr(text, "Step 3/4 s3");
        ASSERT(mark && s2 && s3 && s2 < mark && mark < s3);
        free(text);
        free(e);
        fixture_done(&f);
}

int main(void) {
        /* The executor logs to stderr; keep the test output readable. */
        log_set_max_level(LOG_LEVEL_WARNING);
        test_apply_in_order_then_noop();
        test_failure_then_resume();
        test_kill_in_every_step();
        test_kill_in_every_commit();
        test_fault_step_pause();
        test_rollback_in_reverse();
        test_rollback_after_failure();
        test_rollback_refused_after_point_of_no_return();
        test_rollback_refused_after_switch();
        test_stale_root_after_switch();
        test_rollback_stopped_then_resumed(false);
        test_rollback_stopped_then_resumed(true);
        test_done_step_no_longer_holds();
        test_refusals_before_anything_runs();
        test_interrupt_between_steps();
        test_lock_contention();
        test_dry_run_writes_nothing();
        test_log_file();
        test_step_that_reboots();
        test_rollback_dry_run();
        test_unwritable_journal_stops_before_acting();
        printf("executor: all tests passed\n");
        return 0;
}
