/* SPDX-License-Identifier: GPL-2.0-or-later */
/* reboot: reboots into the one-time entry of boot-once.  The executor has
 * committed "running" for this step before apply (COMMIT POINT); apply
 * records the current boot id next to every copy of the journal, schedules
 * the reboot a few seconds ahead (so that this process exits cleanly and
 * an SSH session sees the end of its output), and returns -ERESTART: the
 * executor stops and leaves the step running.  After the boot `rootraid
 * resume` finds a different boot id and the step done.  A power cut after
 * boot-once armed GRUB and before this step rebooted boots the new root
 * early, with the step still pending: the reboot it would do has happened,
 * and doing it again would boot the old root (the one-time entry is spent).
 *   check: running from the new root, or a boot id was recorded and the
 *          current one differs.
 *   undo:  none: rebooting again starts the old root, still the default. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "steps/kinds.h"
#include "steps/target.h"
#include "util/fileio.h"
#include "util/run.h"
#include "util/strutil.h"

static char *boot_id_file(const char *dir, const struct plan_step *step) {
        char *p;
        return asprintf(&p, "%s/%s.boot-id", dir, step->id) < 0 ? NULL : p;
}

static int reboot_check(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *now = NULL;
        char *const fallback[] = { (char *) JOURNAL_DIR, NULL };
        char *const *dirs = ctx->journal && ctx->journal->locations ? ctx->journal->locations : fallback;
        int r;

        /* An error here only means "cannot tell": the boot ids decide. */
        if (target_running_from_new_root(ctx->plan) > 0)
                return 1;

        r = target_boot_id(&now);
        if (r < 0)
                return step_error(ctx, r, "Cannot read the boot id: %m");
        for (size_t i = 0; dirs[i]; i++) {
                _cleanup_free_ char *f = boot_id_file(dirs[i], step), *then = NULL;
                if (!f)
                        return -ENOMEM;
                if (read_one_line_file(f, &then) < 0 || isempty(then))
                        continue;
                return !streq(then, now);
        }
        return 0;
}

static int reboot_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *now = NULL;
        const char *reason = NULL;
        int r;

        (void) step_arg_string_optional(ctx, step, "reason", &reason);
        r = target_boot_id(&now);
        if (r < 0)
                return step_error(ctx, r, "Cannot read the boot id: %m");
        for (size_t i = 0; ctx->journal && ctx->journal->locations && ctx->journal->locations[i]; i++) {
                _cleanup_free_ char *f = boot_id_file(ctx->journal->locations[i], step);
                if (!f)
                        return -ENOMEM;
                r = step_write_file(ctx, f, now, strlen(now), 0600);
                if (r < 0)
                        return r;
        }
        if (ctx->dry_run) {
                printf("would reboot (%s); then 'rootraid resume' continues\n", strna(reason));
                return 0;
        }
        sync();
        step_log(ctx, LOG_LEVEL_NOTICE, 0, "Rebooting in 5 seconds to %s. Once the machine is back, run 'rootraid resume'.",
                 strna(reason));
        const char *delayed[] = { "systemd-run", "--quiet", "--on-active=5", "--timer-property=AccuracySec=100ms",
                                  "--unit=rootraid-reboot", "systemctl", "reboot", NULL };
        r = run_argv_checked(delayed, 0, NULL);
        if (r < 0) {
                /* No systemd timer: reboot now; the journal already says
                 * "running", which is all a resume needs. */
                const char *now_argv[] = { "systemctl", "reboot", NULL };
                r = run_argv_checked(now_argv, 0, NULL);
                if (r < 0)
                        return step_error(ctx, r, "Cannot reboot the machine (systemctl reboot failed).");
        }
        return -ERESTART;
}

const struct step_ops step_reboot = {
        .kind = STEP_REBOOT,
        .check = reboot_check,
        .apply = reboot_apply,
        .undo = NULL,
};
