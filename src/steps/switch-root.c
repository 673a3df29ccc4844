/* SPDX-License-Identifier: GPL-2.0-or-later */
/* switch-root: moves the running system onto the new root without a
 * reboot (plans made with `--switch soft-reboot`).  systemd's soft-reboot
 * (254 or later) stops every service, switches the root to /run/nextroot
 * and starts the services again from there, with the same kernel.
 *
 * apply mounts the new root's filesystem a second time, on /run/nextroot
 * itself: systemd keeps that mount through the soft-reboot, while the one
 * under /run/rootraid is unmounted with every other mount unit (a bind
 * mount of it went with it, as a guest showed).  lvm2's blk-availability
 * service would, on its way down, unmount /run/nextroot and stop the arrays
 * (blkdeactivate); a runtime drop-in empties its ExecStop until the next
 * real boot.  Then it schedules `systemctl soft-reboot` a few seconds ahead
 * (so that this process exits cleanly and an SSH session sees the end of
 * its output) and returns -ERESTART: the step stays running, and the
 * resume that the resume unit starts on the new root finds it done.
 *
 * The switch proves neither the initramfs nor the boot loader (neither
 * runs); the plan's reboot step that follows waits for a real reboot into
 * the one-time entry, and the old disk is overwritten only after it.
 *
 *   check: running from the new root (a real boot into it counts too: a
 *          power cut after boot-once starts it early).
 *   undo:  none; rollback is refused once this step has started (the
 *          executor checks): the services write to the arrays from the
 *          switch on, and the old root lacks all of it. */
#include <blkid.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "steps/kinds.h"
#include "steps/signatures.h"
#include "steps/switch-root.h"
#include "steps/target.h"
#include "util/fileio.h"
#include "util/run.h"
#include "util/strutil.h"

#define NEXTROOT "/run/nextroot"
#define DROPIN_DIR "/run/systemd/system/blk-availability.service.d"
#define DROPIN DROPIN_DIR "/50-rootraid.conf"
#define DROPIN_TEXT                                                                          \
        "# rootraid switch-root: blkdeactivate would unmount /run/nextroot and stop the\n"   \
        "# arrays during the soft-reboot.  Lives in /run: gone at the next real boot.\n"     \
        "[Service]\nExecStop=\n"

static int switch_root_check(struct step_context *ctx, const struct plan_step *step) {
        (void) step;
        return target_running_from_new_root(ctx->plan);
}

/* 1 when NEXTROOT is a mount of the same filesystem as root, 0 when it is
 * not a mount point (or missing), -ENOENT when root is not mounted. */
static int nextroot_mounted(const char *root) {
        dev_t want, have;
        int r;

        r = target_mounted_dev(root, &want);
        if (r < 0)
                return r;
        r = target_mounted_dev(NEXTROOT, &have);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        return want == have;
}

static int switch_root_apply(struct step_context *ctx, const struct plan_step *step) {
        const char *root;
        int r;

        if ((r = step_arg_string(ctx, step, "root", &root)) < 0)
                return r;
        if (access(SOFT_REBOOT_UNIT, F_OK) < 0)
                return step_error(ctx, EOPNOTSUPP,
                                  "This system's systemd cannot switch roots without a reboot (%s is missing; "
                                  "it needs systemd 254 or later). Make a plan without --switch soft-reboot.",
                                  SOFT_REBOOT_UNIT);
        if (ctx->dry_run) {
                printf("would mount the filesystem mounted on %s a second time, on %s\n", root, NEXTROOT);
                printf("would write %s (ExecStop= emptied) and run: systemctl daemon-reload\n", DROPIN);
                printf("would run: systemctl soft-reboot (every service stops and starts again from %s)\n", root);
                return 0;
        }
        r = nextroot_mounted(root);
        if (r == -ENOENT)
                return step_error(ctx, ENOENT, "The new root is not mounted on %s; 'rootraid resume' mounts it again.", root);
        if (r < 0)
                return step_error(ctx, r, "Cannot read the mounts of %s and %s: %m", root, NEXTROOT);
        if (r == 0) {
                _cleanup_free_ char *type = NULL, *uuid = NULL, *label = NULL, *node = NULL;
                dev_t dev;

                r = target_mounted_dev(root, &dev);
                if (r < 0)
                        return step_error(ctx, r, "Cannot find the device mounted on %s: %m", root);
                /* The kernel's name (/dev/md127), which / then shows, as
                 * after a boot. */
                node = blkid_devno_to_devname(dev);
                if (!node)
                        return step_error(ctx, ENODEV, "No device node for %u:%u, mounted on %s.", major(dev), minor(dev), root);
                r = signatures_probe_fs(node, &type, &uuid, &label);
                if (r < 0 || !type)
                        return step_error(ctx, r < 0 ? r : ENOENT, "Cannot tell the filesystem type of %s.", node);
                r = mkdir_p(NEXTROOT, 0755);
                if (r < 0)
                        return step_error(ctx, r, "Cannot create %s: %m", NEXTROOT);
                if (mount(node, NEXTROOT, type, 0, NULL) < 0)
                        return step_error(ctx, errno, "Cannot mount %s (%s) on %s: %m", node, type, NEXTROOT);
        }
        r = mkdir_p(DROPIN_DIR, 0755);
        if (r >= 0)
                r = write_file_atomic(DROPIN, DROPIN_TEXT, strlen(DROPIN_TEXT), 0644);
        if (r < 0)
                return step_error(ctx, r, "Cannot write %s: %m", DROPIN);
        const char *reload[] = { "systemctl", "daemon-reload", NULL };
        r = run_argv_checked(reload, 0, NULL);
        if (r < 0)
                return step_error(ctx, r, "systemctl daemon-reload failed; the switch would lose the arrays.");
        sync();
        step_log(ctx, LOG_LEVEL_NOTICE, 0,
                 "Switching to the new root without a reboot in 5 seconds: every service stops and starts again "
                 "from the arrays, and SSH sessions end. 'rootraid resume' goes on by itself there.");
        r = target_schedule_systemctl("soft-reboot");
        if (r < 0) {
                (void) umount2(NEXTROOT, MNT_DETACH);
                return step_error(ctx, r, "Cannot schedule the switch (systemd-run failed).");
        }
        free(ctx->error);
        ctx->error = strdup("The machine is switching to the new root without a reboot; 'rootraid resume' goes on "
                            "there by itself (or run it once SSH answers again).");
        return -ERESTART;
}

void switch_root_release(void) {
        if (unlink(DROPIN) < 0)
                return;
        (void) rmdir(DROPIN_DIR);
        const char *reload[] = { "systemctl", "daemon-reload", NULL };
        (void) run_argv_checked(reload, RUN_QUIET_STDERR, NULL);
}

const struct step_ops step_switch_root = {
        .kind = STEP_SWITCH_ROOT,
        .check = switch_root_check,
        .apply = switch_root_apply,
        .undo = NULL,
};
