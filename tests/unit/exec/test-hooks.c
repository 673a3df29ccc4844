/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The hook runner: hooks run in byte order with the documented
 * environment (the caller's own hook settings kept, a stale ROOTRAID_STEP
 * replaced), leftovers (dotfiles, *~, *.dpkg-old) never run, a
 * non-executable file is skipped (chmod -x disables a hook), the first
 * failure stops the phase, a hook that hangs is killed at its timeout, its
 * output reaches the log, and unsafe files or directories are refused
 * before anything of the phase runs. */
#include <fcntl.h>
#include <sys/time.h>

#include "exec-test.h"
#include "exec/hooks.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/strutil.h"

static char *logged;

static void sink(enum log_level level, const char *msg, void *userdata) {
        char *n = NULL;
        if (asprintf(&n, "%s%s\n", logged ?: "", msg) < 0)
                abort();
        free(logged);
        logged = n;
}

/* A hook that appends its name and environment to $OUT. */
static void write_hook(const char *dir, const char *name, const char *body, mode_t mode) {
        char *p = test_path(dir, name), *text = NULL;
        ASSERT(asprintf(&text, "#!/bin/sh\n%s\n", body) > 0);
        ASSERT_OK(write_file_atomic(p, text, strlen(text), mode));
        ASSERT_OK(chmod(p, mode));
        free(text);
        free(p);
}

static char *read_out(const char *path) {
        char *s = NULL;
        size_t l;
        if (read_full_file(path, 1 << 20, &s, &l) == -ENOENT)
                return strdup("");
        return s;
}

static const char *const recorder = "echo \"$(basename \"$0\") $1 $ROOTRAID_PHASE $ROOTRAID_PLAN $ROOTRAID_TARGET $ROOTRAID_STEP $ROOTRAID_JOURNAL\" >>\"$OUT\"";

int main(void) {
        char *root = test_tmpdir();
        char *phase_dir = test_path(root, "before-final-sync");
        char *out = test_path(root, "out.log");
        char *error = NULL, *s;
        struct hook_env env = {
                .plan_path = "/root/plan.json",
                .target_dir = "/run/rootraid/target",
                .step_id = "hooks-before-final-sync",
                .journal_path = "/var/lib/rootraid/journal.json",
                .timeout_sec = 20,
        };

        umask(022);
        ASSERT_OK(chmod(root, 0755));
        ASSERT(setenv("OUT", out, 1) == 0);
        /* A caller's stale ROOTRAID_* must not leak into the hooks. */
        ASSERT(setenv("ROOTRAID_STEP", "stale", 1) == 0);
        log_set_sink(sink, NULL);

        /* No directory for the phase: nothing to do. */
        ASSERT_OK(hooks_run(root, HOOK_PHASE_BEFORE_FINAL_SYNC, &env, &error));
        ASSERT(!error);

        ASSERT(mkdir(phase_dir, 0755) == 0);
        write_hook(phase_dir, "a-lower", recorder, 0755);
        write_hook(phase_dir, "B-upper", recorder, 0755);
        write_hook(phase_dir, "2-b", recorder, 0755);
        write_hook(phase_dir, "10-a", recorder, 0755);
        write_hook(phase_dir, "20-speaks", "echo hello from a hook; echo to stderr >&2", 0755);
        write_hook(phase_dir, ".hidden", recorder, 0755);
        write_hook(phase_dir, "editor~", recorder, 0755);
        write_hook(phase_dir, "old.dpkg-old", recorder, 0755);
        write_hook(phase_dir, "50-disabled", recorder, 0644);
        ASSERT(mkdir(phase_dir, 0755) < 0); /* exists */
        s = test_path(phase_dir, "60-subdir");
        ASSERT(mkdir(s, 0755) == 0);
        free(s);

        /* The order is byte order (digits, upper case, lower case), whatever
         * the locale; every hook sees the phase as argv[1] and the
         * documented variables. */
        ASSERT_OK(hooks_run(root, HOOK_PHASE_BEFORE_FINAL_SYNC, &env, &error));
        s = read_out(out);
        const char *tail = " before-final-sync before-final-sync /root/plan.json /run/rootraid/target hooks-before-final-sync /var/lib/rootraid/journal.json\n";
        char *expected = NULL;
        ASSERT(asprintf(&expected, "10-a%s2-b%sB-upper%sa-lower%s", tail, tail, tail, tail) > 0);
        if (!streq(s, expected)) {
                fprintf(stderr, "hooks ran as:\n%s\nexpected:\n%s\n", s, expected);
                abort();
        }
        free(expected);
        free(s);
        /* Output goes to the log, a line at a time, with the hook's name;
         * the skipped hook is named in a warning. */
        ASSERT_CONTAINS(logged, "20-speaks: hello from a hook\n");
        ASSERT_CONTAINS(logged, "20-speaks: to stderr\n");
        ASSERT_CONTAINS(logged, "50-disabled: it is not executable");

        /* hooks_list() agrees, with full paths. */
        char **l = NULL;
        ASSERT_OK(hooks_list(phase_dir, &l, &error));
        ASSERT(strv_length(l) == 5);
        ASSERT(strstr(l[0], "/before-final-sync/10-a") && strstr(l[2], "/20-speaks") && strstr(l[4], "/a-lower"));
        strv_free(l);

        /* A failing hook stops the phase: what sorts after it does not run,
         * and the error names it with its status. */
        ASSERT(unlink(out) == 0);
        write_hook(phase_dir, "3-fails", "exit 3", 0755);
        ASSERT_ERR(hooks_run(root, HOOK_PHASE_BEFORE_FINAL_SYNC, &env, &error), EPROTO);
        ASSERT_CONTAINS(error, "/before-final-sync/3-fails failed with exit status 3");
        free(error);
        error = NULL;
        s = read_out(out);
        ASSERT(streq(s, "10-a before-final-sync before-final-sync /root/plan.json /run/rootraid/target hooks-before-final-sync /var/lib/rootraid/journal.json\n"
                        "2-b before-final-sync before-final-sync /root/plan.json /run/rootraid/target hooks-before-final-sync /var/lib/rootraid/journal.json\n"));
        free(s);
        s = test_path(phase_dir, "3-fails");
        ASSERT(unlink(s) == 0);
        free(s);

        /* A hook that leaves something running in the background (keeping
         * its output open) is done when it exits: the phase goes on. */
        write_hook(phase_dir, "4-daemon", "sleep 30 &\necho started", 0755);
        env.timeout_sec = 10;
        struct timeval t0, t1;
        gettimeofday(&t0, NULL);
        ASSERT_OK(hooks_run(root, HOOK_PHASE_BEFORE_FINAL_SYNC, &env, &error));
        gettimeofday(&t1, NULL);
        ASSERT(t1.tv_sec - t0.tv_sec < 5);
        ASSERT_CONTAINS(logged, "4-daemon: started\n");
        s = test_path(phase_dir, "4-daemon");
        ASSERT(unlink(s) == 0);
        free(s);

        /* A hook that hangs is killed at its timeout, with its children. */
        write_hook(phase_dir, "4-hangs", "sleep 60 & sleep 60", 0755);
        env.timeout_sec = 0;
        ASSERT(setenv("ROOTRAID_HOOK_TIMEOUT", "1", 1) == 0);
        gettimeofday(&t0, NULL);
        ASSERT_ERR(hooks_run(root, HOOK_PHASE_BEFORE_FINAL_SYNC, &env, &error), ETIME);
        gettimeofday(&t1, NULL);
        ASSERT(t1.tv_sec - t0.tv_sec < 15);
        ASSERT_CONTAINS(error, "4-hangs did not finish within 1 s");
        free(error);
        error = NULL;
        s = test_path(phase_dir, "4-hangs");
        ASSERT(unlink(s) == 0);
        free(s);
        env.timeout_sec = 20;
        ASSERT(setenv("ROOTRAID_HOOK_TIMEOUT", "soon", 1) == 0);
        ASSERT(hooks_timeout_from_env() == HOOKS_DEFAULT_TIMEOUT_SEC);
        ASSERT(unsetenv("ROOTRAID_HOOK_TIMEOUT") == 0);

        /* Unsafe permissions: refused before any hook of the phase runs,
         * and the message names the file or directory. */
        struct {
                const char *what;
                const char *path;
                mode_t mode, restore;
                const char *says;
        } unsafe[] = {
                { "group-writable hook", "a-lower", 0775, 0755, "a-lower: it is writable by its group" },
                { "world-writable hook", "2-b", 0757, 0755, "2-b: it is writable by others" },
                { "group-writable phase directory", "", 0775, 0755, "before-final-sync: it is writable by its group" },
                { "world-writable hooks root", "..", 0757, 0755, "is writable by others" },
        };
        for (size_t i = 0; i < ELEMENTSOF(unsafe); i++) {
                char *p = test_path(phase_dir, unsafe[i].path);
                (void) unlink(out);
                ASSERT_OK(chmod(p, unsafe[i].mode));
                ASSERT_ERR(hooks_run(root, HOOK_PHASE_BEFORE_FINAL_SYNC, &env, &error), EPERM);
                fprintf(stderr, "%s refused: %s\n", unsafe[i].what, error);
                ASSERT_CONTAINS(error, unsafe[i].says);
                ASSERT_CONTAINS(error, "Refusing");
                s = read_out(out);
                ASSERT(streq(s, ""));
                free(s);
                free(error);
                error = NULL;
                ASSERT_OK(chmod(p, unsafe[i].restore));
                free(p);
        }

        /* Owned by another user: needs root to arrange. */
        if (geteuid() == 0) {
                char *p = test_path(phase_dir, "B-upper");
                (void) unlink(out);
                ASSERT_OK(chown(p, 65534, 65534));
                ASSERT_ERR(hooks_run(root, HOOK_PHASE_BEFORE_FINAL_SYNC, &env, &error), EPERM);
                ASSERT_CONTAINS(error, "B-upper: it is owned by another user");
                free(error);
                error = NULL;
                ASSERT_OK(chown(p, 0, 0));
                ASSERT_OK(chown(phase_dir, 65534, 65534));
                ASSERT_ERR(hooks_run(root, HOOK_PHASE_BEFORE_FINAL_SYNC, &env, &error), EPERM);
                ASSERT_CONTAINS(error, "before-final-sync: it is owned by another user");
                free(error);
                error = NULL;
                ASSERT_OK(chown(phase_dir, 0, 0));
                s = read_out(out);
                ASSERT(streq(s, ""));
                free(s);
                free(p);
        } else
                fprintf(stderr, "not root: the other-owner case is not checked\n");

        /* The caller's other ROOTRAID_* reach the hooks: they configure
         * them (the examples' ROOTRAID_MAIL_TO, from /etc/default/rootraid
         * in the resume unit), while the stale ROOTRAID_STEP is still
         * replaced by the runner's own. */
        char *readd_dir = test_path(root, "after-readd");
        ASSERT(mkdir(readd_dir, 0755) == 0);
        write_hook(readd_dir, "90-config", "echo \"$ROOTRAID_MAIL_TO $ROOTRAID_STEP\" >\"$OUT\"", 0755);
        ASSERT(setenv("ROOTRAID_MAIL_TO", "ops@example.com", 1) == 0);
        ASSERT_OK(hooks_run(root, HOOK_PHASE_AFTER_READD, &env, &error));
        s = read_out(out);
        ASSERT(streq(s, "ops@example.com hooks-before-final-sync\n"));
        free(s);
        ASSERT(unsetenv("ROOTRAID_MAIL_TO") == 0);
        free(readd_dir);

        /* Back to safe: the phase runs again from its first hook. */
        (void) unlink(out);
        ASSERT_OK(hooks_run(root, HOOK_PHASE_BEFORE_FINAL_SYNC, &env, &error));
        s = read_out(out);
        ASSERT(strncmp(s, "10-a ", 5) == 0);
        free(s);

        ASSERT(hook_phase_from_string("on-failure") == HOOK_PHASE_ON_FAILURE);
        ASSERT(streq(hook_phase_to_string(HOOK_PHASE_AFTER_READD), "after-readd"));

        log_set_sink(NULL, NULL);
        free(logged);
        test_rm_rf(root);
        free(root);
        free(phase_dir);
        free(out);
        return 0;
}
