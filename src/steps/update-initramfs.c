/* SPDX-License-Identifier: GPL-2.0-or-later */
/* update-initramfs: regenerates the new root's initramfs in a chroot of it
 * (/dev, /proc, /sys and /run bound in), with the generator the system
 * uses: `update-initramfs -u -k all` or `dracut -f --regenerate-all`.  Then
 * it looks inside every image for mdadm, its mdadm.conf and an ARRAY line
 * per array UUID, and fails with a clear message when one is missing: an
 * initramfs that cannot assemble the root array is the classic failure of
 * a manual migration, found only at the next boot.
 *   check: the images pass that inspection (after the switch: behind us).
 *   undo:  none on the old system; the new root is discarded on rollback. */
#include <stdio.h>
#include <string.h>

#include "steps/fallback-initramfs.h"
#include "steps/kinds.h"
#include "steps/luks.h"
#include "steps/lvm.h"
#include "steps/target.h"
#include "util/run.h"
#include "util/strutil.h"

struct args {
        const char *root, *generator, *kernel_release;
        json_object *arrays;
};

static int parse(struct step_context *ctx, const struct plan_step *step, struct args *a) {
        int r;
        *a = (struct args) {};
        if ((r = step_arg_string(ctx, step, "root", &a->root)) < 0 ||
            (r = step_arg_string(ctx, step, "generator", &a->generator)) < 0 ||
            (r = step_arg_string_optional(ctx, step, "kernel_release", &a->kernel_release)) < 0 ||
            (r = step_arg_array(ctx, step, "arrays", &a->arrays)) < 0)
                return r;
        if (!streq(a->generator, "initramfs-tools") && !streq(a->generator, "dracut"))
                return step_error(ctx, EOPNOTSUPP, "Unknown initramfs generator '%s'.", a->generator);
        return 0;
}

static int update_initramfs_check(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *problem = NULL;
        struct args a;
        int r = parse(ctx, step, &a);
        if (r < 0)
                return r;
        if (target_presumed_done(ctx, step))
                return 1;
        r = target_initramfs_check(a.root, a.generator, a.kernel_release, a.arrays, &problem);
        if (r > 0 && lvm_plan_uses_lvm(ctx->plan))
                r = lvm_initramfs_check(a.root, a.generator, a.kernel_release, &problem);
        if (r > 0 && streq(a.generator, "initramfs-tools"))
                r = luks_initramfs_check(ctx->plan, a.root, a.kernel_release, false, &problem);
        if (r < 0)
                /* e.g. no new root mounted yet (a dry run): not done */
                return step_log(ctx, LOG_LEVEL_DEBUG, r, "Cannot inspect the initramfs in %s: %m", a.root), 0;
        if (r == 0)
                step_log(ctx, LOG_LEVEL_DEBUG, 0, "Not done yet: %s.", problem);
        return r;
}

static int update_initramfs_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *problem = NULL;
        struct args a;
        int r;

        r = parse(ctx, step, &a);
        if (r < 0)
                return r;
        /* The old system's images that fallback-initramfs kept came along
         * with the copy of /boot; the new /boot has no use for them. */
        if (!streq(a.root, "/") && !ctx->dry_run && (r = fallback_initramfs_forget(a.root)) < 0)
                step_log(ctx, LOG_LEVEL_WARNING, r, "Cannot remove the copies of the old initramfs images from %s/boot: %m", a.root);
        r = target_chroot_setup(ctx, a.root);
        if (r < 0)
                return r;
        if (streq(a.generator, "dracut")) {
                const char *all[] = { "dracut", "-f", "--regenerate-all", NULL };
                const char *one[] = { "dracut", "-f", "--kver", a.kernel_release, NULL };
                r = target_run(a.root, a.kernel_release ? one : all, NULL);
        } else {
                const char *argv[] = { "update-initramfs", "-u", "-k", a.kernel_release ?: "all", NULL };
                _cleanup_free_ char *overlay_error = NULL;
                /* luks strategy: the clone is open under a temporary name
                 * that crypttab does not know (see luks.h). */
                int o = ctx->dry_run ? 0 : luks_initramfs_overlay(ctx->plan, a.root, false, &overlay_error);
                if (o < 0) {
                        target_chroot_teardown(a.root);
                        return step_error(ctx, o, "%s", overlay_error ?: "Cannot prepare crypttab for the initramfs.");
                }
                r = target_run(a.root, argv, NULL);
                if (o > 0)
                        luks_initramfs_overlay_end(a.root);
        }
        target_chroot_teardown(a.root);
        if (r < 0)
                return step_error(ctx, r, "Regenerating the initramfs of %s with %s failed (see the log).", a.root,
                                  a.generator);
        if (ctx->dry_run) {
                printf("would check that every initramfs in %s/boot contains mdadm and the ARRAY lines\n", a.root);
                return 0;
        }

        r = target_initramfs_check(a.root, a.generator, a.kernel_release, a.arrays, &problem);
        /* The lvm strategy: the root's volume group sits on an array, so
         * the image must also hold lvm to activate it once mdadm has
         * assembled the array (initramfs-tools and dracut both run md
         * assembly before LVM activation when both are present). */
        if (r > 0 && lvm_plan_uses_lvm(ctx->plan))
                r = lvm_initramfs_check(a.root, a.generator, a.kernel_release, &problem);
        if (r < 0)
                return step_error(ctx, r, "Cannot inspect the new initramfs in %s/boot: %m", a.root);
        if (r == 0)
                return step_error(ctx, EPROTO,
                                  "The new initramfs cannot assemble the arrays: %s. The system would not boot from "
                                  "the arrays; check that mdadm is installed in the new root and that its "
                                  "/etc/mdadm/mdadm.conf lists them.",
                                  problem);
        if (streq(a.generator, "initramfs-tools")) {
                r = luks_initramfs_check(ctx->plan, a.root, a.kernel_release, false, &problem);
                if (r < 0)
                        return step_error(ctx, r, "Cannot inspect the new initramfs in %s/boot: %m", a.root);
                if (r == 0)
                        return step_error(ctx, EPROTO,
                                          "The new initramfs cannot unlock the encrypted root: %s. The system would "
                                          "not boot from the arrays unattended.",
                                          problem);
        }
        step_log(ctx, LOG_LEVEL_INFO, 0, "The initramfs contains mdadm%s and an ARRAY line for every array.",
                 lvm_plan_uses_lvm(ctx->plan) ? ", lvm" : "");
        return 0;
}

const struct step_ops step_update_initramfs = {
        .kind = STEP_UPDATE_INITRAMFS,
        .check = update_initramfs_check,
        .apply = update_initramfs_apply,
        .undo = NULL,
};
