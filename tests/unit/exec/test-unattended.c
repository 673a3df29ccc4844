/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What lets a migration run with nobody watching, without systemd:
 *   - a second executor (a manual `rootraid resume` while the resume unit
 *     works after the reboot) waits for the lock, says so once, and gets
 *     it when the holder ends; with too short a wait it gives up naming
 *     the holder;
 *   - the executor calls before_apply right before a step is applied (where
 *     apply installs the resume unit before the reboot step), not for
 *     steps whose end state holds, and a failure there fails the step
 *     resumably;
 *   - the events file receives a run-start of its own and every later
 *     event, and `status --follow`'s reader returns only complete lines,
 *     starts over when a new run empties the file, and renders each event
 *     as a line with the run-end's exit code. */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "exec-test.h"
#include "exec/events.h"
#include "exec/executor.h"
#include "exec/lock.h"
#include "util/log.h"
#include "util/strutil.h"

static unsigned waits;
static char *wait_holder;

static void on_wait(const char *holder, unsigned long timeout_ms) {
        waits++;
        free(wait_holder);
        wait_holder = strdup(holder);
}

static double now_s(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

/* A child takes the lock and holds it for hold_ms; returns its pid once it
 * holds it. */
static pid_t hold_lock(const char *path, unsigned hold_ms) {
        int ready[2];
        char c;

        ASSERT(pipe(ready) == 0);
        pid_t pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0) {
                struct exec_lock *l = NULL;
                if (exec_lock_acquire(path, &l, NULL) < 0)
                        _exit(2);
                (void) !write(ready[1], "x", 1);
                (void) nanosleep(&(struct timespec) { .tv_sec = hold_ms / 1000, .tv_nsec = (long) (hold_ms % 1000) * 1000000 }, NULL);
                exec_lock_release(l);
                _exit(0);
        }
        ASSERT(read(ready[0], &c, 1) == 1);
        close(ready[0]);
        close(ready[1]);
        return pid;
}

static void test_lock_wait(void) {
        char *tmp = test_tmpdir(), *path = test_path(tmp, "lock"), *e = NULL, pidstr[32];
        struct exec_lock *l = NULL;
        int status;

        /* The holder ends within the wait: the lock is ours, said once. */
        pid_t pid = hold_lock(path, 1500);
        double t0 = now_s();
        ASSERT_OK(exec_lock_acquire_wait(path, 30000, 100, on_wait, &l, &e));
        double waited = now_s() - t0;
        ASSERT(waited >= 1.0 && waited < 20.0);
        ASSERT(waits == 1);
        snprintf(pidstr, sizeof pidstr, "pid %d,", (int) pid);
        ASSERT_CONTAINS(wait_holder, pidstr);
        ASSERT(!e);
        exec_lock_release(l);
        ASSERT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);

        /* The holder outlasts the wait: -EAGAIN naming it, after the bound. */
        waits = 0;
        pid = hold_lock(path, 4000);
        t0 = now_s();
        l = NULL;
        ASSERT_ERR(exec_lock_acquire_wait(path, 700, 100, on_wait, &l, &e), EAGAIN);
        waited = now_s() - t0;
        ASSERT(waited >= 0.6 && waited < 3.5);
        ASSERT(!l);
        snprintf(pidstr, sizeof pidstr, "pid %d,", (int) pid);
        ASSERT_CONTAINS(e, pidstr);
        free(e);
        e = NULL;

        /* No wait at all: refused at once, without saying it waits. */
        waits = 0;
        t0 = now_s();
        ASSERT_ERR(exec_lock_acquire_wait(path, 0, 100, on_wait, &l, &e), EAGAIN);
        ASSERT(now_s() - t0 < 0.5);
        ASSERT(waits == 0);
        ASSERT_CONTAINS(e, pidstr);
        free(e);
        ASSERT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);

        free(wait_holder);
        wait_holder = NULL;
        test_rm_rf(tmp);
        free(tmp);
        free(path);
}

/* --- before_apply ---------------------------------------------------------- */

static const char *const ids[] = { "s1", "s2", "reboot-like", "s4" };
static char *state_dir;
static char *prepared; /* the steps before_apply saw, one a line */
static const char *refuse; /* before_apply fails for this step */

static int file_check(struct step_context *ctx, const struct plan_step *s) {
        return test_exists(state_dir, s->id);
}

static int file_apply(struct step_context *ctx, const struct plan_step *s) {
        test_write(state_dir, s->id, "done");
        return 0;
}

static const struct step_ops file_ops = { .kind = STEP_MKFS, .check = file_check, .apply = file_apply };
static const struct step_ops *const table[_STEP_KIND_MAX] = { [STEP_MKFS] = &file_ops };

static int before_apply(const struct step_context *ctx, const struct plan_step *s) {
        char *n = NULL;
        ASSERT(ctx->step == s && streq(ctx->target_dir, state_dir));
        ASSERT(asprintf(&n, "%s%s\n", strempty(prepared), s->id) > 0);
        free(prepared);
        prepared = n;
        return refuse && streq(refuse, s->id) ? -EROFS : 0;
}

static void test_before_apply(void) {
        char *tmp = test_tmpdir(), *jdir = test_path(tmp, "journal"), *e = NULL;
        char *dirs[] = { jdir, NULL };
        struct plan *p = test_plan_new("sha256:abcd", ids, ELEMENTSOF(ids), STEP_MKFS, ELEMENTSOF(ids));
        struct executor_options opts = { .before_apply = before_apply };

        state_dir = test_path(tmp, "machine");
        opts.target_dir = state_dir;
        ASSERT(mkdir(state_dir, 0755) == 0 && mkdir(jdir, 0700) == 0);
        /* s2's end state already holds: it is not applied, nothing to prepare. */
        test_write(state_dir, "s2", "done");

        refuse = "reboot-like";
        struct journal *j = test_journal_new(p, dirs);
        ASSERT_ERR(executor_apply(p, j, table, &opts, &e), EROFS);
        ASSERT_CONTAINS(e, "'reboot-like'");
        ASSERT_CONTAINS(e, "cannot prepare it");
        ASSERT_CONTAINS(e, "rootraid resume");
        ASSERT(streq(prepared, "s1\nreboot-like\n"));
        ASSERT(!test_exists(state_dir, "reboot-like")); /* not applied */
        journal_free(j);

        /* Resumably: the next run prepares and applies the failed step and
         * the rest, and nothing done before. */
        j = test_journal_load(dirs, NULL);
        ASSERT(j->steps[2].state == STEP_STATE_FAILED);
        refuse = NULL;
        free(prepared);
        prepared = NULL;
        free(e);
        e = NULL;
        ASSERT_OK(executor_apply(p, j, table, &opts, &e));
        ASSERT(streq(prepared, "reboot-like\ns4\n"));
        ASSERT(j->run_state == RUN_STATE_FINISHED);
        journal_free(j);

        /* A dry run prepares nothing. */
        free(prepared);
        prepared = NULL;
        opts.dry_run = true;
        test_rm_rf(state_dir);
        ASSERT(mkdir(state_dir, 0755) == 0);
        FILE *saved = stdout;
        stdout = fopen("/dev/null", "we");
        ASSERT_OK(executor_apply(p, NULL, table, &opts, &e));
        fclose(stdout);
        stdout = saved;
        ASSERT(!prepared);

        free(e);
        test_plan_free(p);
        test_rm_rf(tmp);
        free(tmp);
        free(jdir);
        free(state_dir);
}

/* --- the events file and its reader ---------------------------------------- */

static void append_raw(const char *path, const char *text) {
        FILE *f = fopen(path, "ae");
        ASSERT(f);
        fputs(text, f);
        ASSERT(fclose(f) == 0);
}

/* Blanks every "time" value in place: the two run-starts are written
 * moments apart. */
static char *untimed(char *text) {
        for (char *p = text; (p = strstr(p, "\"time\":\"")); p += 8)
                for (char *q = p + 8; *q && *q != '"'; q++)
                        *q = 'x';
        return text;
}

static void test_events_file(void) {
        char *tmp = test_tmpdir(), *path = test_path(tmp, EVENTS_FILE_NAME), *out = test_path(tmp, "stdout");
        struct events_tail t = {};
        char **lines = NULL, *text = NULL;
        int code;

        /* Nothing there yet: no lines, no error. */
        ASSERT_OK(events_tail_seek_end(&t, path));
        ASSERT_OK(events_tail_read(&t, path, &lines));
        ASSERT(!lines);

        /* --json's stdout had its run-start; the file gets its own, then
         * both get every event. */
        FILE *o = fopen(out, "we"), *f = fopen(path, "ae");
        ASSERT(o && f);
        events_set_output(o);
        ASSERT_OK(events_run_start("apply", "/root/plan.json"));
        ASSERT_OK(events_record_begin(f, "apply", "/root/plan.json"));
        ASSERT(events_enabled());
        ASSERT_OK(events_step_start("copy-root", "copy-live", 7, 27));
        ASSERT_OK(events_progress("copy-root", 512 << 20, 1024 << 20));
        log_warning("a warning while copying");
        ASSERT_OK(events_step_end("copy-root", "copy-live", "done", NULL));
        ASSERT_OK(events_run_end("rebooting", 14, NULL));
        events_set_output(NULL);
        events_set_record(NULL);
        ASSERT(!events_enabled());
        fclose(o);
        fclose(f);
        char *a = test_read(tmp, "stdout"), *b = test_read(tmp, EVENTS_FILE_NAME);
        ASSERT(streq(untimed(a), untimed(b))); /* the same six events in both */
        free(a);
        free(b);

        ASSERT_OK(events_tail_read(&t, path, &lines));
        ASSERT(strv_length(lines) == 6);
        static const char *const expected[] = {
                " rootraid apply started (plan /root/plan.json)",
                " step 8/27 copy-root (copy-live) started",
                "   copy-root:  50.0%  512",
                " warning: a warning while copying",
                " step copy-root: done",
                " rootraid ended: rebooting (exit 14)",
        };
        for (size_t i = 0; i < 6; i++) {
                ASSERT_OK(event_validate(lines[i], NULL));
                ASSERT_OK(event_describe(lines[i], &text, &code));
                ASSERT_CONTAINS(text, expected[i]);
                ASSERT(text[2] == ':' && text[5] == ':'); /* HH:MM:SS first */
                ASSERT(code == (i == 5 ? 14 : -1));
                free(text);
        }
        strv_free(lines);

        /* Half a line is held back until its newline arrives. */
        append_raw(path, "{\"v\":1,\"time\":\"2026-11-21T22:00:00.000Z\",\"event\":\"run-end\",");
        ASSERT_OK(events_tail_read(&t, path, &lines));
        ASSERT(!lines);
        append_raw(path, "\"result\":\"ok\",\"exit\":0,\"error\":null}\n");
        ASSERT_OK(events_tail_read(&t, path, &lines));
        ASSERT(strv_length(lines) == 1);
        ASSERT_OK(event_describe(lines[0], &text, &code));
        ASSERT(code == 0);
        ASSERT(streq(text, "22:00:00 rootraid ended: ok (exit 0)"));
        free(text);
        strv_free(lines);

        /* A new apply empties the file: read again from its start. */
        f = fopen(path, "we");
        ASSERT(f);
        events_set_record(f);
        ASSERT_OK(events_step_start("s1", "mkfs", 0, 1));
        events_set_record(NULL);
        fclose(f);
        ASSERT_OK(events_tail_read(&t, path, &lines));
        ASSERT(strv_length(lines) == 1);
        ASSERT_CONTAINS(lines[0], "\"step\":\"s1\"");
        strv_free(lines);

        /* Progress of an unknown total (a final sync) says what is done,
         * not a percentage of nothing ("0.0%  38.2 KiB of 0 B"). */
        ASSERT_OK(event_describe("{\"v\":1,\"time\":\"2026-11-21T22:00:00.000Z\",\"event\":\"progress\","
                                 "\"step\":\"copy-final-root\",\"done\":39117,\"total\":0,\"percent\":0.0}\n",
                                 &text, &code));
        ASSERT(streq(text, "22:00:00   copy-final-root: 38.2 KiB so far"));
        free(text);

        /* Not an event: refused, not rendered. */
        ASSERT_ERR(event_describe("{\"v\":1}\n", &text, &code), EBADMSG);
        ASSERT_ERR(event_describe("garbage\n", &text, &code), EBADMSG);

        /* Starting at the end skips what is there. */
        ASSERT_OK(events_tail_seek_end(&t, path));
        ASSERT_OK(events_tail_read(&t, path, &lines));
        ASSERT(!lines);

        events_tail_done(&t);
        test_rm_rf(tmp);
        free(tmp);
        free(path);
        free(out);
}

int main(void) {
        log_set_max_level(LOG_LEVEL_ERROR);
        test_lock_wait();
        test_before_apply();
        test_events_file();
        printf("unattended: all tests passed\n");
        return 0;
}
