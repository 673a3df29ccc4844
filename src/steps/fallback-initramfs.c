/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fallback-initramfs (LVM inside LUKS): the running system's own initramfs
 * images, the ones a boot from the old disk uses, are made able to find the
 * root's volume group while it moves into the clone and after.
 *
 * Why.  With the volume group inside LUKS, pv-move takes the extents from
 * the old container into the clone on the array, live, before the reboot.
 * The running /boot's images open only the old container (its UUID is
 * baked into their crypttab): after a power cut during the pvmove the
 * volume group would miss a PV, and after it (vg-reduce empties the old
 * container) the fallback of a failed one-time boot would find no volume
 * group at all; neither would boot.  So, right after luks-clone and
 * before the clone becomes a PV, the images are regenerated with the
 * crypttab overlay of luks.h in its "clones" form: the original entry,
 * plus one that opens the clone under its temporary name (open_as) by the
 * plan's UUID with the same key file.  Every boot from the old disk from
 * then on opens both containers, and lvm2 finds the volume group whole
 * wherever its extents are; mdadm in the image assembles the arrays even
 * though its mdadm.conf does not list them yet (as the lvm strategy's
 * power cut test showed), and under the names the plan's steps expect.
 * The images are checked for mdadm, lvm, and the clone's entry with its
 * key file.
 *
 * Each image is first kept, byte for byte, as IMAGE.rootraid-orig beside
 * it (same filesystem: the undo is a rename), so a rollback gives the old
 * system the very images it booted with.
 *   check: every image has its kept original and passes the inspection
 *          (after the switch: behind us).
 *   apply: keeps the originals not kept yet, runs update-initramfs with
 *          the overlay, inspects.
 *   undo:  renames each kept original back over its image. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "steps/fallback-initramfs.h"
#include "steps/kinds.h"
#include "steps/luks.h"
#include "steps/lvm.h"
#include "steps/md.h"
#include "steps/target.h"
#include "util/fileio.h"
#include "util/run.h"
#include "util/strutil.h"

#define KEPT_SUFFIX ".rootraid-orig"

struct args {
        const char *generator;
};

static int parse(struct step_context *ctx, const struct plan_step *step, struct args *a) {
        int r;
        *a = (struct args) {};
        if ((r = step_arg_string(ctx, step, "generator", &a->generator)) < 0)
                return r;
        if (!streq(a->generator, "initramfs-tools"))
                return step_error(ctx, EOPNOTSUPP, "fallback-initramfs supports initramfs-tools only, not '%s'.", a->generator);
        return 0;
}

/* Calls fn(image, kept, userdata) for /boot/initrd.img-KVER of every
 * kernel in /lib/modules that has one; stops at the first fn() < 0. */
static int for_each_image(int (*fn)(const char *image, const char *kept, void *userdata), void *userdata) {
        _cleanup_(steps_closedirp) DIR *d = opendir("/lib/modules");
        struct dirent *de;
        unsigned n = 0;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *image = NULL, *kept = NULL;
                if (de->d_name[0] == '.')
                        continue;
                if (asprintf(&image, "/boot/initrd.img-%s", de->d_name) < 0 ||
                    asprintf(&kept, "%s" KEPT_SUFFIX, image) < 0)
                        return -ENOMEM;
                if (access(image, F_OK) < 0 && access(kept, F_OK) < 0)
                        continue; /* a kernel without an image: nothing boots it */
                int r = fn(image, kept, userdata);
                if (r < 0)
                        return r;
                n++;
        }
        return n > 0 ? 0 : -ENOENT;
}

static int is_kept(const char *image, const char *kept, void *userdata) {
        bool *all = userdata;
        (void) image;
        if (access(kept, F_OK) < 0)
                *all = false;
        return 0;
}

/* Copies image to kept with write_file_atomic() (temporary file, fsync,
 * rename, fsync of /boot): an image is tens of MiB, read whole. */
static int keep(const char *image, const char *kept, void *userdata) {
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        struct stat st;
        int r;
        (void) userdata;

        if (access(kept, F_OK) == 0)
                return 0; /* kept by an earlier run: that is the original */
        if (stat(image, &st) < 0)
                return -errno;
        r = read_full_file(image, 1u << 30, &data, &size);
        if (r < 0)
                return r;
        return write_file_atomic(kept, data, size, st.st_mode & 07777);
}

static int put_back(const char *image, const char *kept, void *userdata) {
        (void) userdata;
        if (access(kept, F_OK) < 0)
                return 0; /* never kept: the image was not regenerated either */
        if (rename(kept, image) < 0)
                return -errno;
        return fsync_directory_of(image);
}

/* >0 when the running system's images hold mdadm, lvm and the clone's
 * crypttab entry with its key file. */
static int inspect(struct step_context *ctx, const struct args *a, char **ret_problem) {
        int r = target_initramfs_check("/", a->generator, NULL, NULL, ret_problem);
        if (r > 0 && lvm_plan_uses_lvm(ctx->plan))
                r = lvm_initramfs_check("/", a->generator, NULL, ret_problem);
        if (r > 0)
                r = luks_initramfs_check(ctx->plan, "/", NULL, true, ret_problem);
        return r;
}

static int fallback_initramfs_check(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *problem = NULL;
        struct args a;
        bool all = true;
        int r = parse(ctx, step, &a);
        if (r < 0)
                return r;
        if (target_presumed_done(ctx, step))
                return 1;
        r = for_each_image(is_kept, &all);
        if (r < 0 || !all)
                return 0;
        r = inspect(ctx, &a, &problem);
        if (r < 0)
                return step_log(ctx, LOG_LEVEL_DEBUG, r, "Cannot inspect the initramfs in /boot: %m"), 0;
        if (r == 0)
                step_log(ctx, LOG_LEVEL_DEBUG, 0, "Not done yet: %s.", problem);
        return r;
}

static int fallback_initramfs_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *problem = NULL, *overlay_error = NULL;
        const char *argv[] = { "update-initramfs", "-u", "-k", "all", NULL };
        struct args a;
        int r, o;

        r = parse(ctx, step, &a);
        if (r < 0)
                return r;
        if (ctx->dry_run) {
                printf("would keep each /boot/initrd.img-* as /boot/initrd.img-*" KEPT_SUFFIX "\n");
                (void) target_run("/", argv, NULL);
                printf("would check that every initramfs in /boot holds mdadm, lvm and the LUKS clone's crypttab entry\n");
                return 0;
        }
        r = for_each_image(keep, NULL);
        if (r < 0)
                return step_error(ctx, r, "Cannot keep a copy of the initramfs images in /boot: %m");

        o = luks_initramfs_overlay(ctx->plan, "/", true, &overlay_error);
        if (o < 0)
                return step_error(ctx, o, "%s", overlay_error ?: "Cannot prepare crypttab for the initramfs.");
        r = target_run("/", argv, NULL);
        if (o > 0)
                luks_initramfs_overlay_end("/");
        if (r < 0)
                return step_error(ctx, r, "Regenerating the initramfs in /boot failed (see the log); the originals are kept "
                                  "as /boot/initrd.img-*" KEPT_SUFFIX ".");

        r = inspect(ctx, &a, &problem);
        if (r < 0)
                return step_error(ctx, r, "Cannot inspect the initramfs in /boot: %m");
        if (r == 0)
                return step_error(ctx, EPROTO, "The regenerated initramfs in /boot cannot open the LUKS clone on the array: %s.",
                                  problem);
        step_log(ctx, LOG_LEVEL_INFO, 0,
                 "The initramfs in /boot now opens the LUKS clone on the array too; "
                 "the originals are kept as /boot/initrd.img-*" KEPT_SUFFIX ".");
        return 0;
}

static int fallback_initramfs_undo(struct step_context *ctx, const struct plan_step *step) {
        struct args a;
        int r = parse(ctx, step, &a);
        if (r < 0)
                return r;
        if (ctx->dry_run) {
                printf("would rename each /boot/initrd.img-*" KEPT_SUFFIX " back to /boot/initrd.img-*\n");
                return 0;
        }
        r = for_each_image(put_back, NULL);
        if (r < 0 && r != -ENOENT)
                return step_error(ctx, r, "Cannot put the original initramfs images in /boot back: %m");
        return 0;
}

int fallback_initramfs_forget(const char *root) {
        _cleanup_free_ char *dir = path_join(streq(root, "/") ? "" : root, "/boot");
        _cleanup_(steps_closedirp) DIR *d = NULL;
        struct dirent *de;
        int r = 0;

        if (!dir)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d)))
                if (startswith(de->d_name, "initrd.img-") && strlen(de->d_name) > strlen(KEPT_SUFFIX) &&
                    streq(de->d_name + strlen(de->d_name) - strlen(KEPT_SUFFIX), KEPT_SUFFIX) &&
                    unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
                        r = -errno;
        return r;
}

const struct step_ops step_fallback_initramfs = {
        .kind = STEP_FALLBACK_INITRAMFS,
        .check = fallback_initramfs_check,
        .apply = fallback_initramfs_apply,
        .undo = fallback_initramfs_undo,
};
