/* SPDX-License-Identifier: GPL-2.0-or-later */
/* run-hooks: runs the executables of one phase directory
 * (/etc/rootraid/hooks.d/PHASE/) in name order, e.g. to stop a database
 * before the final sync.  Each runs with ROOTRAID_PHASE and
 * ROOTRAID_TARGET in its environment; the first that fails stops the step
 * (a resume runs the phase again from its first hook, so hooks must be
 * safe to repeat).  The full hook feature is a later issue.
 *   check: a marker in /run says this boot ran the phase; after the switch
 *          a phase from before the reboot is behind us.
 *   undo:  removes the marker; hooks undo their own work if they need to. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "steps/kinds.h"
#include "steps/target.h"
#include "util/run.h"
#include "util/strutil.h"

static int marker_name(const char *phase, char *buf, size_t l) {
        return snprintf(buf, l, "hooks-%s", phase) >= (int) l ? -ENAMETOOLONG : 0;
}

static int parse(struct step_context *ctx, const struct plan_step *step, const char **phase, const char **dir) {
        int r;
        if ((r = step_arg_string(ctx, step, "phase", phase)) < 0 || (r = step_arg_string(ctx, step, "directory", dir)) < 0)
                return r;
        if (strchr(*phase, '/'))
                return step_error(ctx, EBADMSG, "Hook phase '%s' is not a plain name.", *phase);
        return 0;
}

static int run_hooks_check(struct step_context *ctx, const struct plan_step *step) {
        const char *phase, *dir;
        char m[256];
        int r = parse(ctx, step, &phase, &dir);
        if (r < 0)
                return r;
        if (target_presumed_done(ctx, step))
                return 1;
        if ((r = marker_name(phase, m, sizeof m)) < 0)
                return r;
        return target_marker_has(m);
}

static int run_hooks_apply(struct step_context *ctx, const struct plan_step *step) {
        struct dirent **names = NULL;
        const char *phase, *dir;
        char m[256];
        int n, r;

        r = parse(ctx, step, &phase, &dir);
        if (r < 0)
                return r;
        n = scandir(dir, &names, NULL, alphasort);
        if (n < 0) {
                if (errno != ENOENT)
                        return step_error(ctx, errno, "Cannot read the hook directory %s: %m", dir);
                step_log(ctx, LOG_LEVEL_DEBUG, 0, "No hook directory %s.", dir);
                n = 0;
        }
        r = 0;
        if (setenv("ROOTRAID_PHASE", phase, 1) < 0 || setenv("ROOTRAID_TARGET", strempty(ctx->target_dir), 1) < 0)
                r = -errno;
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                struct stat st;
                if (r < 0 || names[i]->d_name[0] == '.' || asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0)
                        continue;
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, X_OK) < 0) {
                        step_log(ctx, LOG_LEVEL_DEBUG, 0, "Skipping %s: not an executable file.", path);
                        continue;
                }
                step_log(ctx, LOG_LEVEL_INFO, 0, "Running hook %s.", path);
                const char *argv[] = { path, phase, NULL };
                int k = run_argv_checked(argv, 0, NULL);
                if (k < 0)
                        r = step_error(ctx, k, "Hook %s failed; fix it (or remove it) and resume.", path);
        }
        for (int i = 0; i < n; i++)
                free(names[i]);
        free(names);
        (void) unsetenv("ROOTRAID_PHASE");
        (void) unsetenv("ROOTRAID_TARGET");
        if (r < 0)
                return r;
        if ((r = marker_name(phase, m, sizeof m)) < 0)
                return r;
        return target_marker_set(ctx, m);
}

static int run_hooks_undo(struct step_context *ctx, const struct plan_step *step) {
        const char *phase, *dir;
        char m[256];
        int r = parse(ctx, step, &phase, &dir);
        if (r < 0)
                return r;
        if ((r = marker_name(phase, m, sizeof m)) < 0)
                return r;
        return target_marker_clear(ctx, m);
}

const struct step_ops step_run_hooks = {
        .kind = STEP_RUN_HOOKS,
        .check = run_hooks_check,
        .apply = run_hooks_apply,
        .undo = run_hooks_undo,
};
