/* SPDX-License-Identifier: GPL-2.0-or-later */
/* run-hooks: runs the executables of one phase directory
 * (/etc/rootraid/hooks.d/PHASE/) in name order, e.g. to stop a database
 * before the final sync.  Each runs with ROOTRAID_PHASE and
 * ROOTRAID_TARGET in its environment; the first that fails stops the step
 * (a resume runs the phase again from its first hook, so hooks must be
 * safe to repeat).  The rules (order, environment, refusals, timeout) are
 * the hook runner's: src/exec/hooks.h.
 *   check: a marker in /run says this boot ran the phase; after the switch
 *          a phase from before the reboot is behind us.
 *   undo:  removes the marker; hooks undo their own work if they need to. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/hooks.h"
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
        _cleanup_free_ char *e = NULL;
        const char *phase, *dir;
        char m[256];
        int r;

        r = parse(ctx, step, &phase, &dir);
        if (r < 0)
                return r;
        if (ctx->dry_run) {
                /* What would run, refusals included, without running it. */
                _cleanup_strv_free_ char **l = NULL;
                r = hooks_list(dir, &l, &e);
                if (r < 0)
                        return step_error(ctx, r, "%s", e ? e : "Cannot list the hooks.");
                for (char **h = l; *h; h++)
                        printf("would run hook %s %s\n", *h, phase);
                if (!l || !*l)
                        printf("no %s hooks to run (none in %s)\n", phase, dir);
        } else {
                /* The hook runner (src/exec/hooks.c): byte order, unsafe
                 * owners and modes refused, output to the log, timeout. */
                struct hook_env env = {
                        .plan_path = ctx->journal ? ctx->journal->plan_path : NULL,
                        .target_dir = ctx->target_dir,
                        .step_id = step->id,
                        .journal_path = JOURNAL_DIR "/" JOURNAL_FILE_NAME,
                };
                r = hooks_run_dir(dir, phase, &env, &e);
                if (r < 0)
                        return step_error(ctx, r, "%s", e ? e : "The hooks failed; fix them (or remove them) and resume.");
        }
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
