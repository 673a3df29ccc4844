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
 * UEFI (grub-efi): the disk's ESP (mounted at ROOT+esp.mountpoint if it is
 * not already) gets GRUB under EFI/<bootloader_id>/ and, so that firmware
 * without a boot entry still finds it, under EFI/BOOT/ (--removable); with
 * EFI variables, one boot entry per disk (efibootmgr), placed in BootOrder
 * right after the entry the machine booted from, so that the firmware
 * keeps starting the old disk's GRUB (and its one-time boot) as long as
 * that disk boots.  check then relies
 * on the stamp and grub.cfg only (the ESP is not mounted to look). */
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "steps/efi-boot.h"
#include "steps/kinds.h"
#include "steps/lvm.h"
#include "steps/md.h"
#include "steps/target.h"
#include "util/fileio.h"
#include "util/run.h"
#include "util/strutil.h"

struct args {
        const char *root, *loader, *disk, *bootloader_id;
        const char *esp_device, *esp_mountpoint;
        bool update_config, efi;
};

static int parse(struct step_context *ctx, const struct plan_step *step, struct args *a) {
        int r;
        *a = (struct args) {};
        if ((r = step_arg_string(ctx, step, "root", &a->root)) < 0 ||
            (r = step_arg_string(ctx, step, "loader", &a->loader)) < 0 ||
            (r = step_arg_string(ctx, step, "disk", &a->disk)) < 0 ||
            (r = step_arg_bool(ctx, step, "update_config", true, &a->update_config)) < 0)
                return r;
        a->efi = streq(a->loader, "grub-efi");
        if (!a->efi && !streq(a->loader, "grub-pc"))
                return step_error(ctx, EOPNOTSUPP, "Installing %s is not supported by this version of rootraid.", a->loader);
        if (a->efi) {
                json_object *esp, *v;
                if (!json_object_object_get_ex(step->args, "esp", &esp) || !json_object_is_type(esp, json_type_object) ||
                    !json_object_object_get_ex(esp, "device", &v) || !(a->esp_device = json_object_get_string(v)) ||
                    !json_object_object_get_ex(esp, "mountpoint", &v) || !(a->esp_mountpoint = json_object_get_string(v)))
                        return step_error(ctx, EBADMSG, "Step '%s' installs grub-efi but names no ESP device and mount point.",
                                          step->id);
                if ((r = step_arg_string_optional(ctx, step, "bootloader_id", &a->bootloader_id)) < 0)
                        return r;
                if (!a->bootloader_id)
                        a->bootloader_id = "debian";
        }
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
        if (strcasestr(text, needle))
                return 1;
        /* A root kept on LVM (the lvm strategy): grub-mkconfig names it by
         * its /dev/mapper path, never by UUID. */
        _cleanup_free_ char *mapper = NULL, *word = NULL;
        if (!lvm_plan_keeps_root(ctx->plan) || lvm_root_mapper_path(ctx->plan, &mapper) < 0 ||
            asprintf(&word, "root=%s ", mapper) < 0)
                return 0;
        return strstr(text, word) != NULL;
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
        if (!a.efi && target_disk_has_grub(node) <= 0)
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

/* The boot entry LABEL for partition NUM of DISK, created if missing (no
 * duplicate on a second run) and then moved in BootOrder to just after the
 * entry this machine booted from (efi_boot_order_place() says why). */
static int place_boot_entry(struct step_context *ctx, const struct args *a, const char *disk, const char *num,
                            const char *label, const char *loader) {
        _cleanup_free_ char *list = NULL, *order = NULL;
        const char *show[] = { "efibootmgr", NULL };
        int r;

        if (ctx->dry_run) {
                printf("would add the boot entry '%s' (partition %s of %s, %s) unless it exists, "
                       "right after the entry this machine booted from in BootOrder\n",
                       label, num, disk, loader);
                return 0;
        }
        r = run_argv_checked(show, RUN_CAPTURE_STDOUT, &list);
        if (r >= 0 && (r = efi_boot_order_place(list ? list : "", label, NULL, &order)) == -ENOENT) {
                const char *create[] = { "efibootmgr", "-q", "-c", "-d", disk, "-p", num, "-L", label, "-l", loader, NULL };
                r = run_argv_checked(create, 0, NULL);
                if (r < 0)
                        return step_error(ctx, r, "efibootmgr cannot add a boot entry for %s.", a->disk);
                free(list);
                list = NULL;
                if ((r = run_argv_checked(show, RUN_CAPTURE_STDOUT, &list)) >= 0)
                        r = efi_boot_order_place(list ? list : "", label, NULL, &order);
        }
        if (r < 0)
                return step_error(ctx, r, "Cannot read the firmware's boot entries for %s from efibootmgr.", a->disk);
        if (r > 0) {
                const char *reorder[] = { "efibootmgr", "-q", "-o", order, NULL };
                r = run_argv_checked(reorder, 0, NULL);
                if (r < 0)
                        return step_error(ctx, r, "efibootmgr cannot set the boot order %s.", order);
        }
        return 0;
}

/* grub-efi onto the disk's ESP, and a boot entry for it. */
static int install_efi(struct step_context *ctx, const struct args *a) {
        _cleanup_free_ char *mp = root_path(a->root, a->esp_mountpoint), *esp = realpath(a->esp_device, NULL),
                           *dir = NULL, *part = NULL, *loader = NULL, *label = NULL, *disk = NULL;
        bool mounted_here = false;
        dev_t d;
        int r;

        if (!mp)
                return -ENOMEM;
        if (!esp && !ctx->dry_run)
                return step_error(ctx, errno, "Cannot find the ESP %s: %m", a->esp_device);
        if (ctx->dry_run)
                printf("would mount %s on %s if it is not mounted\n", a->esp_device, mp);
        else if (target_mounted_dev(mp, &d) < 0) {
                (void) mkdir_p(mp, 0755);
                if (mount(esp, mp, "vfat", 0, NULL) < 0)
                        return step_error(ctx, errno, "Cannot mount the ESP %s on %s: %m", esp, mp);
                mounted_here = true;
        }
        if (asprintf(&dir, "--efi-directory=%s", a->esp_mountpoint) < 0 || asprintf(&part, "--bootloader-id=%s", a->bootloader_id) < 0) {
                r = -ENOMEM;
                goto finish;
        }
        const char *install[] = { "grub-install", "--target=x86_64-efi", dir, part, "--no-nvram", NULL };
        const char *removable[] = { "grub-install", "--target=x86_64-efi", dir, "--removable", "--no-nvram", NULL };
        if ((r = target_run(a->root, install, NULL)) < 0 || (r = target_run(a->root, removable, NULL)) < 0) {
                r = step_error(ctx, r, "grub-install onto the ESP %s failed (see the log).", a->esp_device);
                goto finish;
        }

        /* One boot entry per disk, when the firmware has EFI variables. */
        if (access("/sys/firmware/efi/efivars", F_OK) == 0 && esp) {
                _cleanup_free_ char *sys = NULL, *num = NULL, *name = NULL;
                const char *base = strrchr(esp, '/') + 1;
                if (asprintf(&sys, "/sys/class/block/%s/partition", base) < 0 || read_one_line_file(sys, &num) < 0 ||
                    md_resolve_partition(a->disk, 0, &disk) < 0) {
                        r = step_error(ctx, EINVAL, "Cannot tell which partition of %s the ESP %s is.", a->disk, esp);
                        goto finish;
                }
                if (asprintf(&loader, "\\EFI\\%s\\%s", a->bootloader_id, "grubx64.efi") < 0 ||
                    asprintf(&name, "%s/EFI/%s/shimx64.efi", mp, a->bootloader_id) < 0 ||
                    asprintf(&label, "%s (%s)", a->bootloader_id, strrchr(a->disk, '/') + 1) < 0) {
                        r = -ENOMEM;
                        goto finish;
                }
                if (access(name, F_OK) == 0) {
                        free(loader);
                        if (asprintf(&loader, "\\EFI\\%s\\shimx64.efi", a->bootloader_id) < 0) {
                                r = -ENOMEM;
                                goto finish;
                        }
                }
                r = place_boot_entry(ctx, a, disk, num, label, loader);
                if (r < 0)
                        goto finish;
        }
        r = 0;
finish:
        if (mounted_here)
                (void) umount2(mp, 0); /* busy only if someone else uses it: then it stays mounted */
        return r;
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
        if (r < 0 && ctx->dry_run)
                /* A dry run may describe a disk this machine does not have
                 * (yet): print the commands with its stable name. */
                r = (node = strdup(a.disk)) ? 0 : -ENOMEM;
        if (r < 0)
                return step_error(ctx, r, "Cannot find disk %s: %m", a.disk);
        chrooted = !streq(a.root, "/");
        if (chrooted && (r = target_chroot_setup(ctx, a.root)) < 0)
                return r;

        if (a.efi)
                r = install_efi(ctx, &a);
        else {
                const char *install[] = { "grub-install", "--target=i386-pc", node, NULL };
                r = target_run(a.root, install, NULL);
                if (r < 0)
                        r = step_error(ctx, r, "grub-install on %s (%s) failed (see the log).", a.disk, node);
        }
        if (r < 0)
                goto finish;
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
        if (a.efi)
                goto stamp;
        r = install_devices(ctx, &devices);
        if (r < 0) {
                r = step_error(ctx, r, "The plan's target layout names no disks.");
                goto finish;
        }
        if (asprintf(&sel, "grub-pc grub-pc/install_devices multiselect %s\n", devices) < 0) {
                r = -ENOMEM;
                goto finish;
        }
        if (!ctx->dry_run)
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

stamp:
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
