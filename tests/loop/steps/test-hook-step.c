/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The real run-hooks step kind through the executor: a hook that fails
 * stops the run in a resumable state.  Apply with a group-writable hook
 * refuses the phase before any hook runs (-EPERM, exit code 9); once the
 * mode is fixed, resume stops at the failing hook (the error names it;
 * -EPROTO, exit code 7): the hooks after it and the next step do not run,
 * the journal records the step failed, and the plan's on-failure hooks run
 * once each time, told the failed step.  Once the hook is fixed, resume
 * runs the phase again from its first hook and goes on to the next step;
 * rollback clears the steps' markers.  Needs root (the steps' markers are in /run/rootraid/state);
 * exits 77 otherwise. */
#include "tests/unit/exec/exec-test.h"
#include "exec/executor.h"
#include "exec/journal.h"
#include "steps/kinds.h"
#include "steps/target.h"
#include "util/log.h"
#include "util/strutil.h"

static char *tmp, *phase1, *phase2;

/* The markers are named after the phases: names of our own, removed at
 * exit whatever happened. */
static void cleanup(void) {
        const char *phases[] = { phase1, phase2 };
        for (size_t i = 0; i < ELEMENTSOF(phases); i++) {
                char *m = NULL;
                if (phases[i] && asprintf(&m, TARGET_STATE_DIR "/hooks-%s.done", phases[i]) >= 0)
                        (void) unlink(m);
                free(m);
        }
        if (tmp)
                test_rm_rf(tmp);
}

static void hook(const char *dir, const char *name, const char *body) {
        char *text = NULL;
        ASSERT(asprintf(&text, "#!/bin/sh\n%s\n", body) > 0);
        test_write(dir, name, text);
        char *p = test_path(dir, name);
        ASSERT(chmod(p, 0755) == 0);
        free(p);
        free(text);
}

static const char *step_state(const struct journal *j, const char *id) {
        int i = journal_find_step(j, id);
        ASSERT(i >= 0);
        return step_state_to_string(j->steps[i].state);
}

int main(void) {
        if (getuid() != 0) {
                printf("skipped: needs root (the run-hooks markers are in %s)\n", TARGET_STATE_DIR);
                return 77;
        }
        log_set_max_level(getenv("ROOTRAID_TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARNING);
        umask(022);
        tmp = test_tmpdir();
        atexit(cleanup);
        ASSERT(chmod(tmp, 0755) == 0);
        ASSERT(asprintf(&phase1, "looptest-%d-stop", (int) getpid()) >= 0);
        ASSERT(asprintf(&phase2, "looptest-%d-next", (int) getpid()) >= 0);

        char *root = test_path(tmp, "hooks.d"), *d1 = test_path(root, phase1), *d2 = test_path(root, phase2),
             *onfail = test_path(root, "on-failure"), *state = test_path(tmp, "state"), *out = test_path(tmp, "out"),
             *fixed = test_path(tmp, "fixed");
        ASSERT(mkdir(root, 0755) == 0 && mkdir(d1, 0755) == 0 && mkdir(d2, 0755) == 0 && mkdir(onfail, 0755) == 0);
        ASSERT(mkdir(state, 0700) == 0);
        ASSERT(setenv("OUT", out, 1) == 0 && setenv("FIXED", fixed, 1) == 0);
        hook(d1, "10-first", "echo \"first $1 $ROOTRAID_STEP $ROOTRAID_TARGET\" >>\"$OUT\"");
        hook(d1, "20-gate", "[ -e \"$FIXED\" ] || { echo not yet >&2; exit 3; }\necho gate >>\"$OUT\"");
        hook(d1, "30-last", "echo last >>\"$OUT\"");
        hook(d2, "10-next", "echo \"next $ROOTRAID_STEP\" >>\"$OUT\"");
        hook(onfail, "10-restart", "echo \"on-failure $ROOTRAID_STEP\" >>\"$OUT\"");

        static const char *const ids[] = { "hooks-stop", "hooks-next" };
        struct plan *p = test_plan_new("sha256:hook-step", ids, 2, STEP_RUN_HOOKS, 2);
        const char *phases[] = { phase1, phase2 }, *dirs_of[] = { d1, d2 };
        for (size_t i = 0; i < 2; i++) {
                json_object *a = json_object_new_object();
                json_object_object_add(a, "phase", json_object_new_string(phases[i]));
                json_object_object_add(a, "directory", json_object_new_string(dirs_of[i]));
                json_object_put(p->steps[i].args);
                p->steps[i].args = a;
        }
        char *const jdirs[] = { state, NULL };
        struct journal *j = test_journal_new(p, jdirs);
        struct executor_options opts = { .target_dir = tmp };
        char *error = NULL, *want = NULL;

        /* Apply with a group-writable hook: the phase is refused before
         * any of its hooks runs (-EPERM, exit code 9), resumably. */
        char *last = test_path(d1, "30-last");
        ASSERT(chmod(last, 0775) == 0);
        ASSERT_ERR(executor_apply(p, j, step_table, &opts, &error), EPERM);
        ASSERT_CONTAINS(error, "30-last: it is writable by its group");
        ASSERT(streq(step_state(j, "hooks-stop"), "failed"));
        char *text = test_read(tmp, "out");
        if (!streq_ptr(text, "on-failure hooks-stop\n")) {
                fprintf(stderr, "after the refusal the hooks wrote:\n%s", strna(text));
                abort();
        }
        free(text);
        free(error);
        error = NULL;
        ASSERT(chmod(last, 0755) == 0 && unlink(out) == 0);
        free(last);

        /* Resume: stops at 20-gate. */
        ASSERT_ERR(executor_resume(p, j, step_table, &opts, &error), EPROTO);
        ASSERT_CONTAINS(error, "20-gate failed with exit status 3");
        ASSERT(streq(step_state(j, "hooks-stop"), "failed"));
        ASSERT(streq(step_state(j, "hooks-next"), "pending"));
        text = test_read(tmp, "out");
        ASSERT(asprintf(&want, "first %s hooks-stop %s\non-failure hooks-stop\n", phase1, tmp) > 0);
        if (!streq_ptr(text, want)) {
                fprintf(stderr, "after the first resume the hooks wrote:\n%s\nexpected:\n%s", strna(text), want);
                abort();
        }
        free(text);
        free(want);
        free(error);
        error = NULL;
        journal_free(j);

        /* Fixed: resume (from the journal on disk, as `rootraid resume`
         * does) runs the phase again from its first hook, then the next
         * step. */
        test_write(tmp, "fixed", "");
        ASSERT(unlink(out) == 0);
        j = test_journal_load(jdirs, NULL);
        int r = executor_resume(p, j, step_table, &opts, &error);
        if (r < 0)
                fprintf(stderr, "resume: %s\n", strna(error));
        ASSERT_OK(r);
        ASSERT(streq(step_state(j, "hooks-stop"), "done"));
        ASSERT(streq(step_state(j, "hooks-next"), "done"));
        text = test_read(tmp, "out");
        ASSERT(asprintf(&want, "first %s hooks-stop %s\ngate\nlast\nnext hooks-next\n", phase1, tmp) > 0);
        if (!streq_ptr(text, want)) {
                fprintf(stderr, "after resume the hooks wrote:\n%s\nexpected:\n%s", strna(text), want);
                abort();
        }
        free(text);
        free(want);

        /* Rollback: the steps' markers go; no hook runs. */
        char *m = NULL;
        ASSERT(asprintf(&m, TARGET_STATE_DIR "/hooks-%s.done", phase1) > 0);
        ASSERT(access(m, F_OK) == 0);
        ASSERT(unlink(out) == 0);
        ASSERT_OK(executor_rollback(p, j, step_table, &opts, &error));
        ASSERT(access(m, F_OK) < 0 && errno == ENOENT);
        ASSERT(access(out, F_OK) < 0 && errno == ENOENT);

        free(m);
        free(error);
        journal_free(j);
        test_plan_free(p);
        free(root);
        free(d1);
        free(d2);
        free(onfail);
        free(state);
        free(out);
        free(fixed);
        printf("run-hooks: a failing hook stops the run resumably; resume reruns the phase from its first hook\n");
        return 0;
}
