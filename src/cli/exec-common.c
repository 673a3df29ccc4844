/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by the executor verbs; see exec-common.h. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/exec-common.h"
#include "exec/events.h"
#include "exec/resume-unit.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/strutil.h"

int exec_journal_dirs(const char *target_dir, char ***ret) {
        _cleanup_strv_free_ char **dirs = NULL;
        _cleanup_free_ char *t = NULL;
        struct stat a, b;

        if (strv_extend(&dirs, JOURNAL_DIR) < 0)
                return -ENOMEM;
        if (target_dir && asprintf(&t, "%s" JOURNAL_DIR, target_dir) >= 0 && stat(t, &a) == 0 &&
            !(stat(JOURNAL_DIR, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) && strv_extend(&dirs, t) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(dirs);
        return 0;
}

const char *exec_target_dir(const struct plan *p) {
        for (size_t i = 0; p && i < p->n_steps; i++) {
                json_object *v;
                if (p->steps[i].kind == STEP_MOUNT_TARGET && p->steps[i].args &&
                    json_object_object_get_ex(p->steps[i].args, "root", &v) && json_object_is_type(v, json_type_string))
                        return json_object_get_string(v);
        }
        return EXEC_DEFAULT_TARGET;
}

static bool waited;

static void say_waiting(const char *holder, unsigned long timeout_ms) {
        _cleanup_free_ char *who = strdup(strna(holder));
        unsigned long s = (timeout_ms + 999) / 1000;
        char *advice;

        /* The holder's description ends in advice for a refusal; here we wait. */
        if (who && (advice = strstr(who, " Wait for it")))
                *advice = '\0';
        log_notice("%s", who ? who : "Another rootraid executor is running.");
        log_notice("Waiting up to %lu %s for it to finish (after a reboot, that is %s; 'rootraid status --follow' "
                   "shows its progress; --wait=0 does not wait).",
                   s >= 7200 ? s / 3600 : s >= 120 ? s / 60 : s, s >= 7200 ? "hours" : s >= 120 ? "minutes" : "seconds",
                   RESUME_UNIT_NAME);
        waited = true;
}

int exec_take_lock_wait(unsigned long timeout_sec, struct exec_lock **ret, bool *ret_waited) {
        _cleanup_free_ char *error = NULL;
        int r;

        if (geteuid() != 0)
                return log_error_errno(-EACCES, "Running a migration needs root.");
        r = mkdir_p(JOURNAL_DIR, 0700);
        if (r < 0)
                return log_error_errno(r, "Cannot create %s: %m", JOURNAL_DIR);
        r = exec_lock_acquire_wait(JOURNAL_DIR "/" EXEC_LOCK_FILE_NAME, timeout_sec * 1000, 1000, say_waiting, ret,
                                   &error);
        if (r == -EAGAIN)
                return log_error_errno(r, "%s%s", strna(error),
                                       timeout_sec > 0 ? " Gave up waiting for it; 'rootraid status' shows where it is." : "");
        if (r < 0)
                return log_error_errno(r, "Cannot take the lock %s: %s", JOURNAL_DIR "/" EXEC_LOCK_FILE_NAME,
                                       error ? error : strerror(-r));
        if (ret_waited)
                *ret_waited = waited;
        return 0;
}

int exec_take_lock(struct exec_lock **ret) {
        return exec_take_lock_wait(0, ret, NULL);
}

int exec_load(struct journal **ret_journal, struct plan **ret_plan) {
        _cleanup_strv_free_ char **dirs = NULL, **warnings = NULL;
        _cleanup_journal_free_ struct journal *j = NULL;
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_free_ char *error = NULL;
        const char *text;
        int r;

        r = exec_journal_dirs(EXEC_DEFAULT_TARGET, &dirs);
        if (r < 0)
                return log_oom();
        r = journal_load(dirs, &j, &warnings, &error);
        for (size_t i = 0; warnings && warnings[i]; i++)
                log_warning("%s", warnings[i]);
        if (r == -ENOENT)
                return log_error_errno(r, "No migration is recorded on this machine (no journal in %s).", JOURNAL_DIR);
        if (r < 0)
                return log_error_errno(r, "Cannot read the journal: %s", error ? error : strerror(-r));
        if (!j->plan)
                return log_error_errno(-EBADMSG, "The journal carries no plan.");
        text = json_object_to_json_string_ext(j->plan, JSON_C_TO_STRING_PLAIN);
        r = plan_load_string(text, strlen(text), &p, &error);
        if (r < 0)
                return log_error_errno(r, "The plan in the journal is invalid: %s", strna(error));

        /* The plan may put the new root elsewhere than the default. */
        const char *target = exec_target_dir(p);
        if (!streq(target, EXEC_DEFAULT_TARGET)) {
                _cleanup_strv_free_ char **more = NULL;
                if (exec_journal_dirs(target, &more) >= 0)
                        for (size_t i = 0; more && more[i]; i++)
                                if (!strv_contains(j->locations, more[i]))
                                        (void) journal_add_location(j, more[i]);
        }
        *ret_journal = TAKE_PTR(j);
        *ret_plan = TAKE_PTR(p);
        return 0;
}

/* A progress event (--json) at most once a second per step, and at the end;
 * resync progress comes in 512-byte sectors and is reported in bytes. */
static void exec_progress_event(const struct step_context *ctx, uint64_t done, uint64_t total) {
        static const struct plan_step *step;
        static struct timespec last;
        struct timespec now;

        clock_gettime(CLOCK_MONOTONIC, &now);
        bool final = total > 0 && done >= total;
        if (step == ctx->step && !final && now.tv_sec - last.tv_sec < 1)
                return;
        step = ctx->step;
        last = now;
        uint64_t unit = ctx->step && ctx->step->kind == STEP_WAIT_RESYNC ? 512 : 1;
        /* Best effort: a reader that went away must not stop the step. */
        (void) events_progress(ctx->step ? ctx->step->id : NULL, done * unit, total * unit);
}

void exec_progress(const struct step_context *ctx, uint64_t done, uint64_t total) {
        static const struct plan_step *step;
        static struct timespec start, last;
        struct timespec now;
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX], c[FORMAT_BYTES_MAX];

        if (events_enabled())
                exec_progress_event(ctx, done, total);
        if (!isatty(STDERR_FILENO))
                return;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (step != ctx->step) {
                step = ctx->step;
                start = now;
                last = (struct timespec) {};
        }
        bool final = total > 0 && done >= total;
        if (!final && now.tv_sec - last.tv_sec < 1)
                return;
        last = now;
        double elapsed = (double) (now.tv_sec - start.tv_sec) + (double) (now.tv_nsec - start.tv_nsec) / 1e9;
        double rate = elapsed > 0 ? (double) done / elapsed : 0;
        const char *id = ctx->step ? ctx->step->id : "";
        if (ctx->step && (ctx->step->kind == STEP_WAIT_RESYNC)) {
                /* md counts in 512-byte sectors */
                fprintf(stderr, "\r%s: %5.1f%%  %s of %s", id, total ? 100.0 * (double) done / (double) total : 0.0,
                        format_bytes(a, sizeof a, done * 512), format_bytes(b, sizeof b, total * 512));
        } else if (total == 0) /* not known: a final sync's amount, say */
                fprintf(stderr, "\r%s: %s so far  %s/s", id, format_bytes(a, sizeof a, done),
                        format_bytes(c, sizeof c, (uint64_t) rate));
        else
                fprintf(stderr, "\r%s: %5.1f%%  %s of ~%s  %s/s", id,
                        total ? 100.0 * (double) MIN(done, total) / (double) total : 0.0, format_bytes(a, sizeof a, done),
                        format_bytes(b, sizeof b, total), format_bytes(c, sizeof c, (uint64_t) rate));
        if (rate > 0 && total > done)
                fprintf(stderr, "  ETA %.0f s   ", (double) (total - done) / rate);
        else
                fputs("            ", stderr);
        if (final)
                fputc('\n', stderr);
        fflush(stderr);
}

int exec_report(int r, const char *error, const char *what) {
        if (r == -ERESTART) {
                log_notice("%s", error ? error : "The machine is rebooting; run 'rootraid resume' once it is back.");
                return r;
        }
        if (r < 0)
                return log_error_errno(r, "%s", error ? error : what);
        return 0;
}

int exec_events_begin(const char *verb, const char *plan_path) {
        /* Line buffered, so a reader sees each event as it happens even
         * through a pipe (events_emit() flushes too). */
        (void) setvbuf(stdout, NULL, _IOLBF, 0);
        events_set_output(stdout);
        return events_run_start(verb, plan_path);
}

void exec_events_record(const char *verb, const char *plan_path, bool fresh) {
        static FILE *f;
        _cleanup_close_ int fd = -EBADF;

        if (f)
                return;
        fd = open(JOURNAL_DIR "/" EVENTS_FILE_NAME,
                  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | (fresh ? O_TRUNC : 0), 0600);
        if (fd < 0) {
                log_warning_errno(errno, "Cannot open %s; 'rootraid status --follow' will not see this run: %m",
                                  JOURNAL_DIR "/" EVENTS_FILE_NAME);
                return;
        }
        f = fdopen(fd, "a");
        if (!f) {
                log_warning_errno(errno, "Cannot open %s: %m", JOURNAL_DIR "/" EVENTS_FILE_NAME);
                return;
        }
        TAKE_FD(fd);
        /* Stays open until the process exits: every event up to run-end. */
        (void) events_record_begin(f, verb, plan_path);
}

/* True when dir is a directory on another filesystem than /: the new root
 * is mounted there. */
static bool is_other_root(const char *dir) {
        struct stat a, b;
        return dir && stat(dir, &a) == 0 && S_ISDIR(a.st_mode) && stat("/", &b) == 0 && a.st_dev != b.st_dev;
}

int exec_resume_unit_install(const char *target_dir) {
        const char *roots[] = { "/", is_other_root(target_dir) ? target_dir : NULL };

        for (size_t i = 0; i < ELEMENTSOF(roots); i++) {
                _cleanup_free_ char *e = NULL;
                if (!roots[i])
                        continue;
                int r = resume_unit_install_self(roots[i], &e);
                if (r < 0)
                        return log_error_errno(r, "Cannot install the resume unit: %s", e ? e : strerror(-r));
        }
        log_info("Installed %s%s%s: the migration continues by itself after the reboot.", RESUME_UNIT_NAME,
                 roots[1] ? " on both roots, here and in " : "", roots[1] ?: "");
        return 0;
}

int exec_before_apply(const struct step_context *ctx, const struct plan_step *s) {
        if (s->kind != STEP_REBOOT && s->kind != STEP_SWITCH_ROOT)
                return 0;
        return exec_resume_unit_install(ctx->target_dir);
}

int exec_run_ended(int r, const struct journal *j, const char *target_dir) {
        if (r < 0 || !j || (j->run_state != RUN_STATE_FINISHED && j->run_state != RUN_STATE_ROLLED_BACK))
                return r;
        return exec_resume_unit_remove(target_dir);
}

int exec_resume_unit_remove(const char *target_dir) {
        const char *roots[] = { "/", target_dir };
        int ret = 0;

        for (size_t i = 0; i < ELEMENTSOF(roots); i++) {
                _cleanup_free_ char *e = NULL;
                struct stat st;

                if (!roots[i] || (i > 0 && (stat(roots[i], &st) < 0 || !S_ISDIR(st.st_mode))))
                        continue;
                int r = resume_unit_remove(roots[i], &e);
                if (r < 0 && ret == 0)
                        ret = log_error_errno(r, "Cannot remove the resume unit: %s", e ? e : strerror(-r));
        }
        if (ret == 0)
                log_info("Removed %s: nothing of rootraid is left in the boot path.", RESUME_UNIT_NAME);
        return ret;
}
