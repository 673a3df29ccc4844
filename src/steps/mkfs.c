/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mkfs: makes a filesystem with the UUID and label the plan chose, so that
 * fstab, crypttab and the boot loader can name it before it exists.
 *   check: libblkid reads that type, UUID and label on the device.
 *   undo:  wipes the signature, only if it is the filesystem made here. */
#include <stdio.h>
#include <string.h>

#include "steps/kinds.h"
#include "steps/md.h"
#include "steps/signatures.h"
#include "steps/target.h"
#include "util/run.h"

struct mkfs_args {
        const char *device, *type, *uuid, *label;
        char *node; /* device, or its /dev/mdN when only that exists */
};

static void args_done(struct mkfs_args *a) {
        free(a->node);
}

static int parse_args(struct step_context *ctx, const struct plan_step *step, struct mkfs_args *a) {
        int r;

        if ((r = step_arg_string(ctx, step, "device", &a->device)) < 0 ||
            (r = step_arg_string(ctx, step, "type", &a->type)) < 0 ||
            (r = step_arg_string(ctx, step, "uuid", &a->uuid)) < 0 ||
            (r = step_arg_string_optional(ctx, step, "label", &a->label)) < 0)
                return r;
        a->node = md_plan_node(ctx, a->device);
        return a->node ? 0 : -ENOMEM;
}

static int mkfs_check(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_(args_done) struct mkfs_args a = {};
        int r = parse_args(ctx, step, &a);
        if (r < 0)
                return r;
        /* Once the system runs from the new root, a filesystem inside a
         * LUKS clone is opened under its crypttab name, not the plan's
         * rootraid-NAME: the node the plan names is gone, and the running
         * root is the proof that the filesystem was made (seen in the
         * luks guest: the resume after the reboot re-ran mkfs-root). */
        if (target_presumed_done(ctx, step))
                return 1;
        return signatures_check_fs(ctx, a.node, a.type, a.uuid, a.label);
}

static int mkfs_apply(struct step_context *ctx, const struct plan_step *step) {
        const char *argv[16];
        char prog[32], uuid_opt[64], vfat_id[16];
        _cleanup_(args_done) struct mkfs_args a = {};
        size_t n = 0;
        int r;

        r = parse_args(ctx, step, &a);
        if (r < 0)
                return r;
        snprintf(prog, sizeof prog, "mkfs.%s", a.type);
        argv[n++] = prog;
        if (startswith(a.type, "ext")) {
                /* -F: the device is a partition or an array, never a file,
                 * but mke2fs asks when it sees leftovers of a previous run. */
                argv[n++] = "-F";
                argv[n++] = "-q";
                argv[n++] = "-U";
                argv[n++] = a.uuid;
        } else if (streq(a.type, "xfs")) {
                snprintf(uuid_opt, sizeof uuid_opt, "uuid=%s", a.uuid);
                argv[n++] = "-f";
                argv[n++] = "-q";
                argv[n++] = "-m";
                argv[n++] = uuid_opt;
        } else if (streq(a.type, "btrfs")) {
                argv[n++] = "-f";
                argv[n++] = "-q";
                argv[n++] = "-U";
                argv[n++] = a.uuid;
        } else if (streq(a.type, "vfat")) {
                /* FAT has a 32-bit volume id, written XXXX-XXXX by blkid and
                 * passed as 8 hex digits to mkfs.vfat -i. */
                if (strlen(a.uuid) != 9 || a.uuid[4] != '-')
                        return step_error(ctx, EBADMSG, "'%s' is not a FAT volume id (XXXX-XXXX).", a.uuid);
                snprintf(vfat_id, sizeof vfat_id, "%.4s%.4s", a.uuid, a.uuid + 5);
                argv[n++] = "-i";
                argv[n++] = vfat_id;
        } else
                return step_error(ctx, EOPNOTSUPP, "Cannot make a filesystem of type %s.", a.type);
        if (a.label) {
                argv[n++] = streq(a.type, "vfat") ? "-n" : "-L";
                argv[n++] = a.label;
        }
        argv[n++] = a.node;
        argv[n] = NULL;

        if (!ctx->dry_run && signatures_wait_for_device(a.node, 10000) < 0)
                return step_error(ctx, ENOENT, "%s does not exist (its partition or array was not created?).", a.node);
        r = run_argv_checked(argv, 0, NULL);
        if (r < 0)
                return step_error(ctx, r, "%s on %s failed (see the log).", prog, a.node);
        return 0;
}

static int mkfs_undo(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_(args_done) struct mkfs_args a = {};
        int r = parse_args(ctx, step, &a);
        return r < 0 ? r : signatures_undo_fs(ctx, a.node, a.uuid);
}

const struct step_ops step_mkfs = {
        .kind = STEP_MKFS,
        .check = mkfs_check,
        .apply = mkfs_apply,
        .undo = mkfs_undo,
};
