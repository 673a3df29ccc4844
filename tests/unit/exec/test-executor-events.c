/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the executor tells the outside world about a run: with an events
 * output set, every step transition the journal records is one valid JSON
 * event (step-start, then step-end with the journal's state and error);
 * when a step fails, the on-failure hooks of the plan's hooks root run once
 * with ROOTRAID_STEP naming the failed step, and the step's own error is
 * what the executor returns.  Fake step kinds: "ok" files and a kind that
 * fails. */
#include "exec-test.h"
#include "exec/events.h"
#include "exec/executor.h"
#include "exec/hooks.h"
#include "util/fileio.h"

static int ok_check(struct step_context *ctx, const struct plan_step *step) {
        const char *name = NULL;
        ASSERT_OK(step_arg_string(ctx, step, "file", &name));
        return test_exists(ctx->target_dir, name);
}

static int ok_apply(struct step_context *ctx, const struct plan_step *step) {
        const char *name = NULL;
        ASSERT_OK(step_arg_string(ctx, step, "file", &name));
        test_write(ctx->target_dir, name, "done");
        return 0;
}

static int failing_check(struct step_context *ctx, const struct plan_step *step) {
        return 0;
}

static int failing_apply(struct step_context *ctx, const struct plan_step *step) {
        return step_error(ctx, EIO, "the disk went away");
}

static const struct step_ops ok_ops = { .kind = STEP_RUN_HOOKS, .check = ok_check, .apply = ok_apply };
static const struct step_ops failing_ops = { .kind = STEP_VERIFY, .check = failing_check, .apply = failing_apply };

static void check_events(const char *text, const char *const *expected) {
        const char *p = text;
        for (size_t n = 0; expected[n]; n++) {
                const char *nl = strchr(p, '\n');
                ASSERT(nl);
                char *line = strndup(p, (size_t) (nl - p + 1)), *e = NULL;
                if (event_validate(line, &e) < 0 || !strstr(line, expected[n])) {
                        fprintf(stderr, "event %zu: %s(%s) does not contain %s\n", n, line, strna(e), expected[n]);
                        abort();
                }
                free(line);
                p = nl + 1;
        }
        ASSERT(*p == '\0');
}

int main(void) {
        static const char *const ids[] = { "hooks-before-copy", "s2", "s3" };
        char *dir = test_tmpdir(), *jdir = test_path(dir, "journal"), *hooks = test_path(dir, "hooks.d");
        char *phase = test_path(hooks, "before-copy"), *onfail = test_path(hooks, "on-failure");
        char *jdirs[] = { jdir, NULL };
        char *error = NULL, *buf = NULL, *out = NULL;
        size_t size = 0;
        const struct step_ops *table[_STEP_KIND_MAX] = {
                [STEP_RUN_HOOKS] = &ok_ops,
                [STEP_VERIFY] = &failing_ops,
        };

        umask(022);
        ASSERT(chmod(dir, 0755) == 0);
        ASSERT(mkdir(jdir, 0700) == 0 && mkdir(hooks, 0755) == 0 && mkdir(phase, 0755) == 0 && mkdir(onfail, 0755) == 0);
        out = test_path(dir, "on-failure.log");
        ASSERT(setenv("OUT", out, 1) == 0);
        const char *hook = "#!/bin/sh\necho \"$1 $ROOTRAID_STEP $ROOTRAID_PLAN $ROOTRAID_TARGET\" >>\"$OUT\"\n";
        char *hp = test_path(onfail, "10-restart");
        ASSERT_OK(write_file_atomic(hp, hook, strlen(hook), 0755));
        free(hp);

        /* Steps 1-2 succeed, step 3 (verify) fails; step 1 is a run-hooks
         * step whose directory says where the hooks root is. */
        struct plan *p = test_plan_new("sha256:events", ids, ELEMENTSOF(ids), STEP_RUN_HOOKS, 3);
        p->steps[2].kind = STEP_VERIFY;
        json_object_object_add(p->steps[0].args, "directory", json_object_new_string(phase));
        char *root = NULL;
        ASSERT_OK(hooks_root_of_plan(p, &root));
        ASSERT(streq(root, hooks));
        free(root);

        struct journal *j = test_journal_new(p, jdirs);
        struct executor_options opts = { .target_dir = dir };
        FILE *m = open_memstream(&buf, &size);
        ASSERT(m);
        events_set_output(m);
        ASSERT_ERR(executor_apply(p, j, table, &opts, &error), EIO);
        events_set_output(NULL);
        fclose(m);
        ASSERT_CONTAINS(error, "the disk went away");

        static const char *const expected[] = {
                "\"event\":\"step-start\",\"step\":\"hooks-before-copy\",\"kind\":\"run-hooks\",\"index\":0,\"total\":3}",
                "\"event\":\"step-end\",\"step\":\"hooks-before-copy\",\"kind\":\"run-hooks\",\"state\":\"done\",\"error\":null}",
                "\"event\":\"step-start\",\"step\":\"s2\",\"kind\":\"run-hooks\",\"index\":1,\"total\":3}",
                "\"event\":\"step-end\",\"step\":\"s2\",\"kind\":\"run-hooks\",\"state\":\"done\",\"error\":null}",
                "\"event\":\"step-start\",\"step\":\"s3\",\"kind\":\"verify\",\"index\":2,\"total\":3}",
                /* The step's error and the executor's, logged, are events of the step. */
                "\"event\":\"error\",\"message\":\"s3: the disk went away\",\"step\":\"s3\"}",
                "\"event\":\"error\",\"message\":\"Step 's3' failed: ",
                "\"event\":\"step-end\",\"step\":\"s3\",\"kind\":\"verify\",\"state\":\"failed\",\"error\":\"",
                NULL,
        };
        check_events(buf, expected);
        ASSERT_CONTAINS(buf, "\"step\":\"s3\"}\n"); /* the error event names the step */

        /* The on-failure hook ran once, told which step failed. */
        char *log = test_read(dir, "on-failure.log"), *want = NULL;
        ASSERT(asprintf(&want, "on-failure s3 /root/plan.json %s\n", dir) > 0);
        if (!log || !streq(log, want)) {
                fprintf(stderr, "on-failure hook log: %s, expected %s", strna(log), want);
                abort();
        }
        free(log);
        free(want);

        /* Without an events output nothing is printed, and an unsafe
         * on-failure hook does not hide the step's error. */
        char *hp2 = test_path(onfail, "10-restart");
        ASSERT(chmod(hp2, 0777) == 0);
        free(hp2);
        free(error);
        error = NULL;
        ASSERT_ERR(executor_resume(p, j, table, &opts, &error), EIO);
        ASSERT_CONTAINS(error, "the disk went away");
        log = test_read(dir, "on-failure.log");
        ASSERT(log && strstr(log, "s3") && !strstr(strstr(log, "s3") + 2, "s3")); /* not run again */
        free(log);

        free(error);
        free(buf);
        journal_free(j);
        test_plan_free(p);
        test_rm_rf(dir);
        free(dir);
        free(jdir);
        free(hooks);
        free(phase);
        free(onfail);
        free(out);
        return 0;
}
