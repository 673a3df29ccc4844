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
 *
 * Back on the old root after such a reboot, the boot from the arrays either
 * failed or was cut before confirm-boot made it the default (a crash-chain
 * run cut the power there): the two look the same from the old root.  The
 * steps before this one are redone (their end state is gone with the
 * boot), and this step reboots once more; only a second return to the old
 * root counts as done, and confirm-boot then says the boot failed.  So
 * the file next to the journal lists every boot apply rebooted from.
 *   check: running from the new root, or two boot ids were recorded and
 *          the current one is neither.
 *   undo:  on the old root, none: rebooting again starts the old root,
 *          still the default.  On the new root (a rollback after the boot
 *          from the arrays, before the point of no return; the executor
 *          has undone confirm-boot, so the old root is the default again):
 *          the steps before this one can only be undone from the old root.
 *          The undo mounts the old root, makes it a journal location (the
 *          executor's next commit, "undoing", reaches it), makes sure its
 *          resume unit is installed, records this boot id, schedules a
 *          reboot and returns -ERESTART.  The resume unit on the old root
 *          then finishes the rollback; should the machine come back on the
 *          arrays instead, the recorded boot id shows it and the undo
 *          stops rather than reboot in a loop.
 *
 * With after_switch (plans that switch-root without a reboot first) the
 * system already runs from the arrays, but nothing has booted them: the
 * step does not reboot; it waits for the administrator's reboot, which the
 * one-time entry of boot-once turns into the first real boot from the
 * arrays.  Only a kernel started with the new root counts (its command
 * line names it: a switch keeps the old kernel and its root=), so the old
 * disk is overwritten only after the initramfs and the boot loader have
 * proved themselves.  Before it waits, apply mounts the old root and makes
 * its /var/lib/rootraid a journal location again: the executor's commit
 * after apply ("switch-root done, reboot running") reaches the old root's
 * copy, which until then said "switch-root running", as after a power cut
 * before the switch.  Should the old root boot again (that first real boot
 * cut before confirm-boot), its journal proves the switch happened, and
 * the executor re-arms boot-once and applies this step there once more
 * (see refuse_stale_root() in executor.c): on the old root, apply reboots
 * into the arrays as the plain mode does. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "exec/resume-unit.h"
#include "steps/kinds.h"
#include "steps/reboot.h"
#include "steps/switch-root.h"
#include "steps/target.h"
#include "util/fileio.h"
#include "util/run.h"
#include "util/strutil.h"

char *reboot_record_path(const char *dir, const struct plan_step *step, const char *suffix) {
        char *p;
        return asprintf(&p, "%s/%s.%s", dir, step->id, suffix) < 0 ? NULL : p;
}

int reboot_record_other_boot(char *const *dirs, const struct plan_step *step, const char *suffix, const char *now) {
        for (size_t i = 0; dirs && dirs[i]; i++) {
                _cleanup_free_ char *f = reboot_record_path(dirs[i], step, suffix), *then = NULL;
                if (!f)
                        return -ENOMEM;
                if (read_one_line_file(f, &then) >= 0 && !isempty(then) && !streq(then, now))
                        return 1;
        }
        return 0;
}

int reboot_record_write(struct step_context *ctx, char *const *dirs, const struct plan_step *step, const char *suffix,
                        const char *text, char **ret_path) {
        for (size_t i = 0; dirs && dirs[i]; i++) {
                _cleanup_free_ char *f = reboot_record_path(dirs[i], step, suffix);
                if (!f)
                        return -ENOMEM;
                int r = ctx ? step_write_file(ctx, f, text, strlen(text), 0600) : write_file_atomic(f, text, strlen(text), 0600);
                if (r < 0) {
                        if (ret_path)
                                *ret_path = TAKE_PTR(f);
                        return r;
                }
        }
        return 0;
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

/* Mounts the old root filesystem and makes its journal directory a journal
 * location, which the executor's next commit writes (in a dry run: only
 * the mount is shown).  -ENOENT when the old root is gone. */
static int journal_on_old_root(struct step_context *ctx) {
        int r = target_old_root_mount(ctx);
        if (r < 0 || ctx->dry_run)
                return r;
        if (!ctx->journal)
                return step_error(ctx, EINVAL, "Keeping the journal on the old root needs the journal.");
        r = journal_add_location(ctx->journal, TARGET_OLD_ROOT_DIR JOURNAL_DIR);
        if (r < 0)
                return step_error(ctx, r, "Cannot keep the journal on the old root (%s): %m", TARGET_OLD_ROOT_DIR JOURNAL_DIR);
        return 0;
}

/* The boot ids apply rebooted from, one per line, from the first journal
 * location that has them: the last one and how many.  NULL and 0 when none
 * was recorded. */
static int recorded_boot_ids(struct step_context *ctx, const struct plan_step *step, char **ret_last, size_t *ret_n,
                             char **ret_all) {
        char *const fallback[] = { (char *) JOURNAL_DIR, NULL };
        char *const *dirs = ctx->journal && ctx->journal->locations ? ctx->journal->locations : fallback;

        *ret_last = *ret_all = NULL;
        *ret_n = 0;
        for (size_t i = 0; dirs[i]; i++) {
                _cleanup_free_ char *f = reboot_record_path(dirs[i], step, REBOOT_RECORD_APPLY), *all = NULL;
                size_t size, n = 0;
                const char *last = NULL;
                if (!f)
                        return -ENOMEM;
                if (read_full_file(f, 64 * 1024, &all, &size) < 0)
                        continue;
                for (char *l = all; *l;) {
                        char *e = strchrnul(l, '\n');
                        if (e > l) {
                                last = l;
                                n++;
                        }
                        l = *e ? e + 1 : e;
                }
                if (n == 0)
                        continue;
                *ret_last = strndup(last, strcspn(last, "\n"));
                if (!*ret_last)
                        return -ENOMEM;
                *ret_n = n;
                *ret_all = TAKE_PTR(all);
                return 0;
        }
        return 0;
}

/* This boot's id, and the boot ids apply recorded (see above). */
static int boot_ids(struct step_context *ctx, const struct plan_step *step, char **ret_now, char **ret_last,
                    size_t *ret_n, char **ret_all) {
        int r = target_boot_id(ret_now);
        if (r < 0)
                return step_error(ctx, r, "Cannot read the boot id: %m");
        return recorded_boot_ids(ctx, step, ret_last, ret_n, ret_all);
}

static int reboot_check(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *now = NULL, *then = NULL, *all = NULL;
        size_t n;
        int r;

        if (after_switch(ctx, step)) {
                r = target_running_from_new_root(ctx->plan);
                return r <= 0 ? r : kernel_booted_new_root(ctx->plan);
        }
        /* An error here only means "cannot tell": the boot ids decide. */
        if (target_running_from_new_root(ctx->plan) > 0)
                return 1;

        r = boot_ids(ctx, step, &now, &then, &n, &all);
        if (r < 0)
                return r;
        return n >= 2 && !streq(then, now);
}

static int reboot_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *now = NULL, *then = NULL, *all = NULL, *record = NULL;
        const char *reason = NULL;
        bool waits = false;
        size_t n;
        int r;

        (void) step_arg_string_optional(ctx, step, "reason", &reason);
        if (after_switch(ctx, step) && !ctx->dry_run) {
                r = target_running_from_new_root(ctx->plan);
                if (r < 0)
                        return step_error(ctx, r, "Cannot tell which root the machine runs from: %m");
                /* On the old root, the executor's retry from a stale old
                 * root (see the top): reboot as the plain mode does. */
                waits = r > 0;
        }
        if (waits) {
                /* Not fatal: without it the old root refuses to resume after
                 * a power cut before confirm-boot, as it always did. */
                r = journal_on_old_root(ctx);
                if (r < 0)
                        step_log(ctx, LOG_LEVEL_WARNING, r,
                                 "The old root's copy of the journal cannot learn that the switch happened (%s). Should "
                                 "the power fail before confirm-boot, the old root will not resume by itself; run "
                                 "'grub-reboot rootraid' and reboot there.", ctx->error ? ctx->error : strerror(-r));
        }
        r = boot_ids(ctx, step, &now, &then, &n, &all);
        if (r < 0)
                return r;
        if (waits && then && !streq(then, now))
                /* Waited for a reboot, the machine did reboot, and still the
                 * kernel's root= is the old root: the boot from the arrays
                 * failed, GRUB fell back to the old disk, and the resume
                 * there switched back onto the arrays (the data is there). */
                return step_error(ctx, EPROTO,
                                  "The machine rebooted since the switch, but this kernel's command line names the "
                                  "old root: that boot did not start the arrays. Read its console output to find why; "
                                  "the old disk stays untouched until a boot from the arrays works.");
        /* Every boot rebooted from, the earlier ones kept (see the top). */
        if (then && streq(then, now))
                record = strdup(all); /* applied again in the same boot */
        else if (asprintf(&record, "%s%s\n", strempty(all), now) < 0)
                record = NULL;
        if (!record)
                return -ENOMEM;
        r = reboot_record_write(ctx, ctx->journal ? ctx->journal->locations : NULL, step, REBOOT_RECORD_APPLY, record, NULL);
        if (r < 0)
                return r;
        if (ctx->dry_run) {
                printf(after_switch(ctx, step) ? "would wait for a reboot by the administrator (%s); then 'rootraid resume' continues\n"
                                               : "would reboot (%s); then 'rootraid resume' continues\n",
                       strna(reason));
                return 0;
        }
        if (waits) {
                switch_root_release();
                free(ctx->error);
                ctx->error = strdup("The system runs from the arrays, switched without a reboot. Reboot it when convenient: "
                                    "that boot is the first real one from the arrays (a failed one falls back to the old "
                                    "disk), and only after it does the old disk join them; the resume unit goes on by itself.");
                return -ERESTART; /* the executor prints ctx->error */
        }
        sync();
        if (after_switch(ctx, step)) {
                /* The retry from the stale old root: the executor said why. */
                free(ctx->error);
                ctx->error = strdup("Rebooting into the arrays in 5 seconds (the one-time entry is armed again); the "
                                    "resume unit goes on there by itself. Should the machine come back on this old root "
                                    "once more, rootraid stops here and says so.");
        } else
                step_log(ctx, LOG_LEVEL_NOTICE, 0, "Rebooting in 5 seconds to %s. Once the machine is back, run 'rootraid resume'.",
                         strna(reason));
        r = target_schedule_systemctl("reboot");
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

static int reboot_undo(struct step_context *ctx, const struct plan_step *step) {
        char *const *dirs = ctx->journal && ctx->journal->locations ? ctx->journal->locations : NULL;
        _cleanup_free_ char *now = NULL;
        int r;

        r = target_running_from_new_root(ctx->plan);
        if (r < 0)
                return step_error(ctx, r, "Cannot tell which root the machine runs from: %m");
        if (r == 0) {
                /* On the old root: nothing to undo; the handover is over. */
                for (size_t i = 0; !ctx->dry_run && dirs && dirs[i]; i++) {
                        _cleanup_free_ char *f = reboot_record_path(dirs[i], step, REBOOT_RECORD_UNDO);
                        if (f && unlink(f) < 0 && errno != ENOENT)
                                return step_error(ctx, errno, "Cannot remove %s: %m", f);
                }
                return 0;
        }

        r = target_boot_id(&now);
        if (r < 0)
                return step_error(ctx, r, "Cannot read the boot id: %m");
        r = reboot_record_other_boot(dirs, step, REBOOT_RECORD_UNDO, now);
        if (r < 0)
                return r;
        if (r > 0)
                return step_error(ctx, EHOSTUNREACH,
                                  "The rollback rebooted this machine to finish on the old root, but it came back "
                                  "on the arrays. Make the firmware start the old disk (its GRUB boots the old root "
                                  "by default again), then run 'rootraid rollback' there; nothing of the old root "
                                  "has been touched.");

        r = journal_on_old_root(ctx);
        if (r == -ENOENT)
                return step_error(ctx, r, "The old root filesystem is gone, so there is nothing to roll back to.");
        if (r < 0)
                return r;
        if (ctx->dry_run) {
                printf("would make %s a journal location, install %s there, and reboot into the old root, whose resume "
                       "unit finishes the rollback\n",
                       TARGET_OLD_ROOT_DIR JOURNAL_DIR, RESUME_UNIT_NAME);
                return 0;
        }
        {
                _cleanup_free_ char *e = NULL;
                r = resume_unit_install_self(TARGET_OLD_ROOT_DIR, &e);
                if (r < 0)
                        return step_error(ctx, r, "Cannot install the resume unit on the old root: %s", e ? e : strerror(-r));
        }
        _cleanup_free_ char *record = NULL;
        if (asprintf(&record, "%s\n", now) < 0)
                return -ENOMEM;
        r = reboot_record_write(ctx, dirs, step, REBOOT_RECORD_UNDO, record, NULL);
        if (r < 0)
                return r;
        sync();
        r = target_schedule_systemctl("reboot");
        if (r < 0)
                return step_error(ctx, r, "Cannot schedule the reboot into the old root (systemd-run failed).");
        free(ctx->error);
        ctx->error = strdup("The old root is the default boot again. Rebooting into it in 5 seconds: its resume unit "
                            "finishes the rollback there by itself ('rootraid status' shows it once the machine is back).");
        return -ERESTART; /* the executor keeps the step "undoing" and prints ctx->error */
}

const struct step_ops step_reboot = {
        .kind = STEP_REBOOT,
        .check = reboot_check,
        .apply = reboot_apply,
        .undo = reboot_undo,
};
