/* SPDX-License-Identifier: GPL-2.0-or-later */
/* confirm-boot: after the one-time boot, checks that / is the new root
 * filesystem (by UUID) and only then makes the array the default: the old
 * root's custom.cfg (which the firmware's GRUB still reads) gets
 * `set default="<entry>"`, so every later boot starts the new root too,
 * until the old disk joins the arrays and gets the new GRUB.
 *   check: / is the new root, and the default is set (or the old root is
 *          already overwritten, past the point of no return).
 *   undo:  removes the default: the old root boots by default again. */
#include <stdio.h>
#include <string.h>

#include "steps/grub-entry.h"
#include "steps/kinds.h"
#include "steps/target.h"
#include "util/strutil.h"

#define SECTION "default"

static int render(struct step_context *ctx, char **ret) {
        const struct plan_step *once = grub_boot_once_step(ctx->plan);
        const char *entry_id;
        int r;

        if (!once)
                return step_error(ctx, EBADMSG, "The plan has no boot-once step whose entry could become the default.");
        r = step_arg_string(ctx, once, "entry_id", &entry_id);
        if (r < 0)
                return r;
        return asprintf(ret, "set default=\"%s\"\n", entry_id) < 0 ? -ENOMEM : 0;
}

static int confirm_boot_check(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *grubdir = NULL, *content = NULL;
        bool make_default, mounted = false;
        int r;

        if ((r = step_arg_bool(ctx, step, "make_default", true, &make_default)) < 0)
                return r;
        r = target_running_from_new_root(ctx->plan);
        if (r <= 0 || !make_default)
                return r;
        r = target_old_grub_dir(ctx, &grubdir, &mounted);
        if (r == -ENOENT)
                return 1; /* the old root is overwritten: nothing boots it */
        if (r < 0)
                return r;
        r = render(ctx, &content);
        if (r >= 0)
                r = grub_custom_has(grubdir, SECTION, content);
        if (mounted)
                target_old_umount();
        return r;
}

static int confirm_boot_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *grubdir = NULL, *content = NULL, *uuid = NULL;
        const char *want = target_root_fs_uuid(ctx->plan);
        bool make_default, mounted = false;
        int r;

        if ((r = step_arg_bool(ctx, step, "make_default", true, &make_default)) < 0)
                return r;
        r = target_running_from_new_root(ctx->plan);
        if (ctx->dry_run)
                printf("would check that / is the new root filesystem %s\n", strna(want));
        else if (r < 0)
                return step_error(ctx, r, "Cannot tell which filesystem / is: %m");
        if (r == 0 && !ctx->dry_run) {
                (void) target_fs_uuid_of("/", &uuid);
                return step_error(ctx, EPROTO,
                                  "The machine runs from filesystem %s, not from the new root %s: it was rebooted "
                                  "into the arrays twice and came back on the old root both times (a boot that "
                                  "failed and fell back, or was cut before it was confirmed). Read those boots' "
                                  "console output; 'rootraid rollback' restores the starting system.",
                                  strna(uuid), strna(want));
        }
        if (!make_default)
                return 0;
        r = target_old_grub_dir(ctx, &grubdir, &mounted);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        r = render(ctx, &content);
        if (r >= 0)
                r = grub_custom_set(ctx, grubdir, SECTION, content);
        if (mounted)
                target_old_umount();
        if (r >= 0 && !ctx->dry_run)
                step_log(ctx, LOG_LEVEL_INFO, 0, "The system runs from the arrays; they are now the default boot.");
        return r;
}

static int confirm_boot_undo(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *grubdir = NULL;
        bool mounted = false;
        int r;

        r = target_old_grub_dir(ctx, &grubdir, &mounted);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = grub_custom_set(ctx, grubdir, SECTION, NULL);
        if (mounted)
                target_old_umount();
        return r;
}

const struct step_ops step_confirm_boot = {
        .kind = STEP_CONFIRM_BOOT,
        .check = confirm_boot_check,
        .apply = confirm_boot_apply,
        .undo = confirm_boot_undo,
};
