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
 *   undo:  none: rebooting again starts the old root, still the default.
 *
 * With after_switch (plans that switch-root without a reboot first) the
 * system already runs from the arrays, but nothing has booted them: the
 * step does not reboot; it waits for the administrator's reboot, which the
 * one-time entry of boot-once turns into the first real boot from the
 * arrays.  Only a kernel started with the new root counts (its command
 * line names it: a switch keeps the old kernel and its root=), so the old
 * disk is overwritten only after the initramfs and the boot loader have
 * proved themselves. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "steps/kinds.h"
#include "steps/switch-root.h"
#include "steps/target.h"
#include "util/fileio.h"
#include "util/run.h"
#include "util/strutil.h"

static char *boot_id_file(const char *dir, const struct plan_step *step) {
        char *p;
        return asprintf(&p, "%s/%s.boot-id", dir, step->id) < 0 ? NULL : p;
}

/* 1 when the running kernel was booted with root= naming the new root. */
static int kernel_booted_new_root(const struct plan *p) {
        _cleanup_free_ char *cmdline = NULL;
        const char *uuid = target_root_fs_uuid(p);
        int r;

        r = read_one_line_file("/proc/cmdline", &cmdline);
        if (r < 0)
                return r;
        for (char *w = strtok(cmdline, " \t"); w; w = strtok(NULL, " \t")) {
                const char *v = startswith(w, "root=");
                if (!v)
                        continue;
                const char *u = startswith(v, "UUID=");
                return u && uuid && strcasecmp(u, uuid) == 0;
        }
        return 0;
}

static bool after_switch(struct step_context *ctx, const struct plan_step *step) {
        bool b = false;
        (void) step_arg_bool(ctx, step, "after_switch", false, &b);
        return b;
}

/* The boot id apply recorded, from the first journal location that has
 * one; NULL when none has. */
static int recorded_boot_id(struct step_context *ctx, const struct plan_step *step, char **ret) {
        char *const fallback[] = { (char *) JOURNAL_DIR, NULL };
        char *const *dirs = ctx->journal && ctx->journal->locations ? ctx->journal->locations : fallback;

        for (size_t i = 0; dirs[i]; i++) {
                _cleanup_free_ char *f = boot_id_file(dirs[i], step), *then = NULL;
                if (!f)
                        return -ENOMEM;
                if (read_one_line_file(f, &then) < 0 || isempty(then))
                        continue;
                *ret = TAKE_PTR(then);
                return 0;
        }
        *ret = NULL;
        return 0;
}

/* This boot's id, and the one apply recorded (NULL when none was). */
static int boot_ids(struct step_context *ctx, const struct plan_step *step, char **ret_now, char **ret_then) {
        int r = target_boot_id(ret_now);
        if (r < 0)
                return step_error(ctx, r, "Cannot read the boot id: %m");
        return recorded_boot_id(ctx, step, ret_then);
}

static int reboot_check(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *now = NULL, *then = NULL;
        int r;

        if (after_switch(ctx, step)) {
                r = target_running_from_new_root(ctx->plan);
                return r <= 0 ? r : kernel_booted_new_root(ctx->plan);
        }
        /* An error here only means "cannot tell": the boot ids decide. */
        if (target_running_from_new_root(ctx->plan) > 0)
                return 1;

        r = boot_ids(ctx, step, &now, &then);
        if (r < 0)
                return r;
        return then && !streq(then, now);
}

static int reboot_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *now = NULL, *then = NULL;
        const char *reason = NULL;
        int r;

        (void) step_arg_string_optional(ctx, step, "reason", &reason);
        r = boot_ids(ctx, step, &now, &then);
        if (r < 0)
                return r;
        if (after_switch(ctx, step) && then && !streq(then, now) && !ctx->dry_run)
                /* Waited for a reboot, the machine did reboot, and still the
                 * kernel's root= is the old root: the boot from the arrays
                 * failed, GRUB fell back to the old disk, and the resume
                 * there switched back onto the arrays (the data is there). */
                return step_error(ctx, EPROTO,
                                  "The machine rebooted since the switch, but that boot did not start the arrays "
                                  "(this kernel's command line names the old root): the one-time boot failed and "
                                  "GRUB fell back to the old disk, and rootraid switched back onto the arrays, where "
                                  "the data written since the switch is. Read that boot's console output to find why; "
                                  "the old disk stays untouched until a boot from the arrays works.");
        for (size_t i = 0; ctx->journal && ctx->journal->locations && ctx->journal->locations[i]; i++) {
                _cleanup_free_ char *f = boot_id_file(ctx->journal->locations[i], step);
                if (!f)
                        return -ENOMEM;
                r = step_write_file(ctx, f, now, strlen(now), 0600);
                if (r < 0)
                        return r;
        }
        if (ctx->dry_run) {
                printf(after_switch(ctx, step) ? "would wait for a reboot by the administrator (%s); then 'rootraid resume' continues\n"
                                               : "would reboot (%s); then 'rootraid resume' continues\n",
                       strna(reason));
                return 0;
        }
        if (after_switch(ctx, step)) {
                switch_root_release();
                free(ctx->error);
                ctx->error = strdup("The system runs from the arrays, switched without a reboot. Reboot it when convenient: "
                                    "that boot is the first real one from the arrays (a failed one falls back to the old "
                                    "disk), and only after it does the old disk join them; the resume unit goes on by itself.");
                return -ERESTART; /* the executor prints ctx->error */
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
