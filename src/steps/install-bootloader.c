/* SPDX-License-Identifier: GPL-2.0-or-later */
/* install-bootloader: GRUB on one disk, from the root that will boot
 * (the new root in a chroot before the switch, "/" after it), and that
 * root's grub.cfg regenerated (update-grub keeps GRUB_CMDLINE_LINUX from
 * /etc/default/grub and finds the array as root=UUID=...).  Debian's
 * grub-pc/install_devices is set to the stable ids of every disk of the
 * target layout, so a later grub-pc upgrade reinstalls GRUB on all of them
 * instead of asking.
 *   check: the disk's first sector is a GRUB boot sector, this step left
 *          its stamp in ROOT/var/lib/rootraid, and (with update_config)
 *          ROOT's grub.cfg names the new root filesystem; after the switch a
 *          step from before the reboot is behind us.
 *   undo:  none: the disk is a new disk (wiped on rollback) or the old one
 *          past the point of no return.
 * BIOS (grub-pc) only; grub-efi is refused with a reason for now. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "steps/kinds.h"
#include "steps/md.h"
#include "steps/target.h"
#include "util/fileio.h"
#include "util/run.h"
#include "util/strutil.h"

struct args {
        const char *root, *loader, *disk;
        bool update_config;
};

static int parse(struct step_context *ctx, const struct plan_step *step, struct args *a) {
        int r;
        *a = (struct args) {};
        if ((r = step_arg_string(ctx, step, "root", &a->root)) < 0 ||
            (r = step_arg_string(ctx, step, "loader", &a->loader)) < 0 ||
            (r = step_arg_string(ctx, step, "disk", &a->disk)) < 0 ||
            (r = step_arg_bool(ctx, step, "update_config", true, &a->update_config)) < 0)
                return r;
        if (!streq(a->loader, "grub-pc"))
                return step_error(ctx, EOPNOTSUPP,
                                  "Installing %s is not supported by this version of rootraid (only grub-pc, BIOS).",
                                  a->loader);
        return 0;
}

static char *root_path(const char *root, const char *path) {
        return path_join(streq(root, "/") ? "" : root, path);
}

static char *stamp_path(const char *root, const struct plan_step *step) {
        _cleanup_free_ char *rel = NULL;
        if (asprintf(&rel, JOURNAL_DIR "/bootloader-%s.done", step->id) < 0)
                return NULL;
        return root_path(root, rel);
}

static int config_names_root(struct step_context *ctx, const char *root) {
        _cleanup_free_ char *cfg = root_path(root, "/boot/grub/grub.cfg"), *text = NULL, *needle = NULL;
        const char *uuid = target_root_fs_uuid(ctx->plan);

        if (!cfg)
                return -ENOMEM;
        if (!uuid)
                return 1; /* nothing to compare with */
        if (read_full_file(cfg, 16 << 20, &text, NULL) < 0)
                return 0;
        if (asprintf(&needle, "root=UUID=%s", uuid) < 0)
                return -ENOMEM;
        return strcasestr(text, needle) != NULL;
}

static int install_bootloader_check(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *node = NULL, *stamp = NULL;
        struct args a;
        int r = parse(ctx, step, &a);
        if (r < 0)
                return r;
        if (target_presumed_done(ctx, step))
                return 1;
        if (md_resolve_partition(a.disk, 0, &node) < 0)
                return 0;
        if (target_disk_has_grub(node) <= 0)
                return 0;
        stamp = stamp_path(a.root, step);
        if (!stamp)
                return -ENOMEM;
        if (access(stamp, F_OK) < 0)
                return 0;
        return a.update_config ? config_names_root(ctx, a.root) : 1;
}

/* Every disk of the target layout, by stable id, as debconf wants them. */
static int install_devices(struct step_context *ctx, char **ret) {
        _cleanup_free_ char *s = NULL;
        json_object *disks, *v;
        size_t l = 0;

        if (!ctx->plan->target || !json_object_object_get_ex(ctx->plan->target, "disks", &disks))
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(disks); i++) {
                const char *dev;
                if (!json_object_object_get_ex(json_object_array_get_idx(disks, i), "device", &v) ||
                    !(dev = json_object_get_string(v)))
                        continue;
                char *n = realloc(s, l + strlen(dev) + 3);
                if (!n)
                        return -ENOMEM;
                s = n;
                l += sprintf(s + l, "%s%s", l ? ", " : "", dev);
        }
        if (!s)
                return -EBADMSG;
        *ret = TAKE_PTR(s);
        return 0;
}

static int install_bootloader_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *node = NULL, *devices = NULL, *sel = NULL, *stamp = NULL, *stampdir = NULL;
        const char *selpath = "/run/rootraid/debconf-grub-pc";
        bool chrooted;
        struct args a;
        int r;

        r = parse(ctx, step, &a);
        if (r < 0)
                return r;
        r = md_resolve_partition(a.disk, 0, &node);
        if (r < 0)
                return step_error(ctx, r, "Cannot find disk %s: %m", a.disk);
        chrooted = !streq(a.root, "/");
        if (chrooted && (r = target_chroot_setup(ctx, a.root)) < 0)
                return r;

        const char *install[] = { "grub-install", "--target=i386-pc", node, NULL };
        r = target_run(a.root, install, NULL);
        if (r < 0) {
                r = step_error(ctx, r, "grub-install on %s (%s) failed (see the log).", a.disk, node);
                goto finish;
        }
        if (a.update_config) {
                const char *update[] = { "update-grub", NULL };
                r = target_run(a.root, update, NULL);
                if (r < 0) {
                        r = step_error(ctx, r, "update-grub in %s failed (see the log).", a.root);
                        goto finish;
                }
        }

        /* Debian's grub-pc reinstalls on these disks when it is upgraded;
         * the old value names only the old disk (or an sdX name). */
        r = install_devices(ctx, &devices);
        if (r < 0) {
                r = step_error(ctx, r, "The plan's target layout names no disks.");
                goto finish;
        }
        if (asprintf(&sel, "grub-pc grub-pc/install_devices multiselect %s\n", devices) < 0) {
                r = -ENOMEM;
                goto finish;
        }
        (void) mkdir_p("/run/rootraid", 0700);
        r = step_write_file(ctx, selpath, sel, strlen(sel), 0600);
        if (r < 0)
                goto finish;
        const char *debconf[] = { "debconf-set-selections", selpath, NULL };
        r = target_run(a.root, debconf, NULL);
        if (r < 0) {
                r = step_error(ctx, r, "debconf-set-selections in %s failed (see the log).", a.root);
                goto finish;
        }
        if (!ctx->dry_run)
                (void) unlink(selpath);

        stamp = stamp_path(a.root, step);
        stampdir = root_path(a.root, JOURNAL_DIR);
        if (!stamp || !stampdir) {
                r = -ENOMEM;
                goto finish;
        }
        if (!ctx->dry_run)
                (void) mkdir_p(stampdir, 0700); /* the write below says why if it fails */
        r = step_write_file(ctx, stamp, node, strlen(node), 0600);
finish:
        if (chrooted)
                target_chroot_teardown(a.root);
        return r;
}

const struct step_ops step_install_bootloader = {
        .kind = STEP_INSTALL_BOOTLOADER,
        .check = install_bootloader_check,
        .apply = install_bootloader_apply,
        .undo = NULL,
};
