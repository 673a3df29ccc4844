/* SPDX-License-Identifier: GPL-2.0-or-later */
/* partition-disk: writes the planned partition table with libfdisk (never
 * sfdisk), exactly: label type, disk identifier, and per partition its
 * number, start, size, type, GPT name and UUID, bootable flag.
 *   check: the table on disk equals the plan (and has no other partition).
 *   undo:  removes the table (libblkid, as wipefs), but only if it is the
 *          one the plan writes (same disk identifier), or there is none. */
#include <fcntl.h>
#include <libfdisk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "steps/kinds.h"
#include "steps/signatures.h"
#include "util/strutil.h"

#define BUSY_WAIT_SEC 30u

DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_context *, fdisk_unref_context);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_partition *, fdisk_unref_partition);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_table *, fdisk_unref_table);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_parttype *, fdisk_unref_parttype);

struct part_args {
        unsigned partno;
        uint64_t start, size;
        const char *type, *name, *uuid;
        bool bootable;
};

struct table_args {
        const char *disk, *label, *disk_id;
        uint64_t sector_size;
        struct part_args parts[128];
        size_t n_parts;
};

static int parse_args(struct step_context *ctx, const struct plan_step *step, struct table_args *a) {
        json_object *parts;
        int r;

        *a = (struct table_args) {};
        if ((r = step_arg_string(ctx, step, "disk", &a->disk)) < 0 ||
            (r = step_arg_string(ctx, step, "label", &a->label)) < 0 ||
            (r = step_arg_string(ctx, step, "disk_id", &a->disk_id)) < 0 ||
            (r = step_arg_uint64(ctx, step, "sector_size", &a->sector_size)) < 0 ||
            (r = step_arg_array(ctx, step, "partitions", &parts)) < 0)
                return r;
        if (!streq(a->label, "dos") && !streq(a->label, "gpt"))
                return step_error(ctx, EBADMSG, "Unknown partition table type '%s'.", a->label);
        if (a->sector_size == 0)
                return step_error(ctx, EBADMSG, "The plan gives sector size 0.");
        size_t n = json_object_array_length(parts);
        if (n == 0 || n > ELEMENTSOF(a->parts))
                return step_error(ctx, EBADMSG, "The plan lists %zu partitions for %s.", n, a->disk);
        for (size_t i = 0; i < n; i++) {
                struct plan_step sub = { .id = step->id, .args = json_object_array_get_idx(parts, i) };
                struct part_args *p = &a->parts[i];
                uint64_t partno;
                if (!json_object_is_type(sub.args, json_type_object))
                        return step_error(ctx, EBADMSG, "Partition %zu of step '%s' is not an object.", i + 1, step->id);
                if ((r = step_arg_uint64(ctx, &sub, "partno", &partno)) < 0 ||
                    (r = step_arg_uint64(ctx, &sub, "start", &p->start)) < 0 ||
                    (r = step_arg_uint64(ctx, &sub, "size", &p->size)) < 0 ||
                    (r = step_arg_string(ctx, &sub, "type", &p->type)) < 0 ||
                    (r = step_arg_string_optional(ctx, &sub, "name", &p->name)) < 0 ||
                    (r = step_arg_string_optional(ctx, &sub, "uuid", &p->uuid)) < 0 ||
                    (r = step_arg_bool(ctx, &sub, "bootable", false, &p->bootable)) < 0)
                        return r;
                if (partno < 1 || partno > 128 || (streq(a->label, "dos") && partno > 4))
                        return step_error(ctx, EBADMSG, "Partition number %llu cannot be written on a %s table.",
                                          (unsigned long long) partno, a->label);
                if (p->start % a->sector_size || p->size % a->sector_size || p->size == 0)
                        return step_error(ctx, EBADMSG, "Partition %llu is not a whole number of %llu-byte sectors.",
                                          (unsigned long long) partno, (unsigned long long) a->sector_size);
                p->partno = (unsigned) partno;
        }
        a->n_parts = n;
        return 0;
}

static int open_disk(struct step_context *ctx, const struct table_args *a, bool readonly, struct fdisk_context **ret) {
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = fdisk_new_context();
        int r;

        if (!cxt)
                return step_error(ctx, ENOMEM, "Out of memory.");
        fdisk_disable_dialogs(cxt, 1);
        r = fdisk_assign_device(cxt, a->disk, readonly);
        if (r < 0)
                return step_error(ctx, r, "Cannot open %s: %m", a->disk);
        if (fdisk_get_sector_size(cxt) != a->sector_size)
                return step_error(ctx, EMEDIUMTYPE, "%s has %lu-byte sectors but the plan was made for %llu-byte sectors.",
                                  a->disk, fdisk_get_sector_size(cxt), (unsigned long long) a->sector_size);
        *ret = TAKE_PTR(cxt);
        return 0;
}

/* libfdisk reports the GPT "legacy BIOS bootable" bit only among the
 * attribute names, not through fdisk_partition_is_bootable(). */
static bool is_bootable(const struct table_args *a, struct fdisk_partition *pa) {
        if (streq(a->label, "dos"))
                return fdisk_partition_is_bootable(pa);
        const char *attrs = fdisk_partition_get_attrs(pa);
        return attrs && strstr(attrs, "LegacyBIOSBootable");
}

/* Compares what libfdisk reads with the plan; >0 equal, 0 different (the
 * first difference is logged at debug level), <0 error. */
static int table_matches(struct step_context *ctx, const struct table_args *a) {
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = NULL;
        _cleanup_(fdisk_unref_tablep) struct fdisk_table *tb = NULL;
        _cleanup_free_ char *id = NULL;
        struct fdisk_label *lb;
        int r;

        r = open_disk(ctx, a, true, &cxt);
        if (r < 0)
                return r;
        if (!fdisk_has_label(cxt))
                return step_log(ctx, LOG_LEVEL_DEBUG, 0, "%s has no partition table.", a->disk), 0;
        lb = fdisk_get_label(cxt, NULL);
        if (!streq(fdisk_label_get_name(lb), a->label))
                return step_log(ctx, LOG_LEVEL_DEBUG, 0, "%s has a %s table, not %s.", a->disk, fdisk_label_get_name(lb),
                                a->label), 0;
        if (fdisk_get_disklabel_id(cxt, &id) < 0 || !id || strcasecmp(id, a->disk_id) != 0)
                return step_log(ctx, LOG_LEVEL_DEBUG, 0, "%s has disk id %s, not %s.", a->disk, strna(id), a->disk_id), 0;
        if (fdisk_get_partitions(cxt, &tb) < 0)
                return step_error(ctx, EIO, "Cannot read the partitions of %s.", a->disk);
        if (fdisk_table_get_nents(tb) != a->n_parts)
                return step_log(ctx, LOG_LEVEL_DEBUG, 0, "%s has %zu partitions, not %zu.", a->disk, fdisk_table_get_nents(tb),
                                a->n_parts), 0;
        for (size_t i = 0; i < a->n_parts; i++) {
                const struct part_args *p = &a->parts[i];
                struct fdisk_partition *pa = NULL;
                struct fdisk_parttype *t;
                uint64_t ss = a->sector_size;

                if (fdisk_get_partition(cxt, p->partno - 1, &pa) < 0)
                        return step_log(ctx, LOG_LEVEL_DEBUG, 0, "%s has no partition %u.", a->disk, p->partno), 0;
                _cleanup_(fdisk_unref_partitionp) struct fdisk_partition *pp = pa;
                t = fdisk_partition_get_type(pa);
                bool type_ok = t && (streq(a->label, "dos")
                                     ? fdisk_parttype_get_code(t) == strtoul(p->type, NULL, 16)
                                     : strcasecmp(strempty(fdisk_parttype_get_string(t)), p->type) == 0);
                if (fdisk_partition_get_start(pa) * ss != p->start || fdisk_partition_get_size(pa) * ss != p->size ||
                    !type_ok || is_bootable(a, pa) != p->bootable ||
                    (p->name && !streq_ptr(fdisk_partition_get_name(pa), p->name)) ||
                    (p->uuid && strcasecmp(strempty(fdisk_partition_get_uuid(pa)), p->uuid) != 0))
                        return step_log(ctx, LOG_LEVEL_DEBUG, 0,
                                        "Partition %u of %s differs from the plan: start %llu size %llu type %s%s name %s uuid %s.",
                                        p->partno, a->disk, (unsigned long long) (fdisk_partition_get_start(pa) * ss),
                                        (unsigned long long) (fdisk_partition_get_size(pa) * ss),
                                        t ? strna(fdisk_parttype_get_string(t)) : "none",
                                        is_bootable(a, pa) ? " bootable" : "",
                                        strna(fdisk_partition_get_name(pa)), strna(fdisk_partition_get_uuid(pa))), 0;
        }
        /* The end state includes the partition devices the next steps
         * use: a run cut between writing and telling the kernel must not
         * count as done. */
        r = signatures_kernel_partitions_match(a->disk);
        if (r < 0)
                return step_error(ctx, r, "Cannot compare the kernel's partitions of %s with its table: %m", a->disk);
        if (r == 0)
                step_log(ctx, LOG_LEVEL_DEBUG, 0, "The kernel's partitions of %s differ from its table.", a->disk);
        return r;
}

static int partition_disk_check(struct step_context *ctx, const struct plan_step *step) {
        struct table_args a;
        int r = parse_args(ctx, step, &a);
        return r < 0 ? r : table_matches(ctx, &a);
}

static void print_plan(const struct table_args *a) {
        printf("would write a %s partition table with disk id %s on %s:\n", a->label, a->disk_id, a->disk);
        for (size_t i = 0; i < a->n_parts; i++) {
                const struct part_args *p = &a->parts[i];
                printf("  partition %u: start %llu, size %llu bytes, type %s%s%s%s%s%s\n", p->partno,
                       (unsigned long long) p->start, (unsigned long long) p->size, p->type, p->name ? ", name " : "",
                       strempty(p->name), p->uuid ? ", uuid " : "", strempty(p->uuid), p->bootable ? ", bootable" : "");
        }
}

static int add_partition(struct step_context *ctx, struct fdisk_context *cxt, const struct table_args *a,
                         const struct part_args *p) {
        _cleanup_(fdisk_unref_partitionp) struct fdisk_partition *pa = fdisk_new_partition();
        _cleanup_(fdisk_unref_parttypep) struct fdisk_parttype *t = NULL;
        struct fdisk_label *lb = fdisk_get_label(cxt, NULL);
        const char *type = p->type;
        int r;

        if (!pa)
                return step_error(ctx, ENOMEM, "Out of memory.");
        /* libfdisk's DOS parser reads hex without the 0x the plan writes. */
        if (streq(a->label, "dos") && startswith(type, "0x"))
                type += 2;
        t = fdisk_label_parse_parttype(lb, type);
        if (!t)
                return step_error(ctx, EINVAL, "libfdisk does not know partition type %s.", p->type);
        if (fdisk_partition_set_partno(pa, p->partno - 1) < 0 ||
            fdisk_partition_set_start(pa, p->start / a->sector_size) < 0 ||
            fdisk_partition_set_size(pa, p->size / a->sector_size) < 0 ||
            fdisk_partition_set_type(pa, t) < 0 ||
            (p->name && fdisk_partition_set_name(pa, p->name) < 0) ||
            (p->uuid && fdisk_partition_set_uuid(pa, p->uuid) < 0))
                return step_error(ctx, ENOMEM, "Out of memory.");
        r = fdisk_add_partition(cxt, pa, NULL);
        if (r < 0)
                return step_error(ctx, r, "Cannot add partition %u to %s: %m", p->partno, a->disk);
        if (p->bootable) {
                r = fdisk_toggle_partition_flag(cxt, p->partno - 1,
                                                streq(a->label, "dos") ? DOS_FLAG_ACTIVE : GPT_FLAG_LEGACYBOOT);
                if (r < 0)
                        return step_error(ctx, r, "Cannot mark partition %u of %s bootable: %m", p->partno, a->disk);
        }
        return 0;
}

static int partition_disk_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = NULL;
        struct table_args a;
        int r;

        r = parse_args(ctx, step, &a);
        if (r < 0)
                return r;
        if (ctx->dry_run) {
                print_plan(&a);
                return 0;
        }
        /* Refuse a disk that is in use (a mounted partition, an md or dm
         * holder): the kernel would keep the old partitions under the new
         * table.  O_EXCL on a block device fails with EBUSY exactly then.
         * Holders that go by themselves are waited for, up to
         * BUSY_WAIT_SEC: a guest's resume unit, at boot, found the old
         * disk busy because a service starting then (e2scrub_reap) had
         * copied confirm-boot's short mount of the old root into its own
         * mount namespace, and released it a second later. */
        _cleanup_close_ int excl = -EBADF;
        for (unsigned waited = 0;; waited++) {
                excl = open(a.disk, O_RDONLY | O_EXCL | O_CLOEXEC | O_NOCTTY);
                if (excl >= 0 || errno != EBUSY || waited >= BUSY_WAIT_SEC)
                        break;
                if (waited == 0)
                        step_log(ctx, LOG_LEVEL_INFO, 0, "%s is in use; waiting up to %u s for it to be free.", a.disk,
                                 BUSY_WAIT_SEC);
                sleep(1);
        }
        if (excl < 0)
                return step_error(ctx, errno, errno == EBUSY ?
                                  "%s is in use (a partition is mounted, or held by md, dm or swap); not partitioning it." :
                                  "Cannot open %s: %m", a.disk);
        excl = safe_close(excl);

        r = open_disk(ctx, &a, false, &cxt);
        if (r < 0)
                return r;
        /* Remove the magic of any old table while writing the new one. */
        fdisk_enable_wipe(cxt, 1);
        /* Keep the MBR's boot code (libfdisk zeroes it by default): on the
         * old disk it is GRUB's until the next step installs it anew, and a
         * power cut between the two (a crash chain did it) left a valid
         * 0x55AA sector of zeroed code that the BIOS ran, and hung. */
        fdisk_enable_bootbits_protection(cxt, 1);
        r = fdisk_create_disklabel(cxt, a.label);
        if (r < 0)
                return step_error(ctx, r, "Cannot create a %s table on %s: %m", a.label, a.disk);
        r = fdisk_set_disklabel_id_from_string(cxt, a.disk_id);
        if (r < 0)
                return step_error(ctx, r, "Cannot set disk id %s on %s: %m", a.disk_id, a.disk);
        for (size_t i = 0; i < a.n_parts; i++) {
                r = add_partition(ctx, cxt, &a, &a.parts[i]);
                if (r < 0)
                        return r;
        }
        /* Commit point: the new table is on the disk. */
        r = fdisk_write_disklabel(cxt);
        if (r < 0)
                return step_error(ctx, r, "Cannot write the partition table of %s: %m", a.disk);
        r = fdisk_deassign_device(cxt, 0); /* fsyncs */
        if (r < 0)
                return step_error(ctx, r, "Cannot sync %s: %m", a.disk);
        r = signatures_reread_partitions(a.disk);
        if (r < 0)
                step_log(ctx, LOG_LEVEL_WARNING, r, "The kernel did not re-read the partition table of %s: %m", a.disk);
        /* The next steps name the partitions by their /dev/disk/by-* links. */
        signatures_settle();
        return 0;
}

static int partition_disk_undo(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = NULL;
        _cleanup_strv_free_ char **found = NULL;
        _cleanup_free_ char *id = NULL;
        struct table_args a;
        int r;

        r = parse_args(ctx, step, &a);
        if (r < 0)
                return r;
        r = open_disk(ctx, &a, true, &cxt);
        if (r < 0)
                return r;
        if (!fdisk_has_label(cxt))
                return 0; /* apply never reached the disk */
        if (fdisk_get_disklabel_id(cxt, &id) < 0 || !id || strcasecmp(id, a.disk_id) != 0)
                return step_error(ctx, EEXIST,
                                  "%s carries a partition table with disk id %s, not the %s this plan wrote; not removing it.",
                                  a.disk, strna(id), a.disk_id);
        fdisk_unref_context(TAKE_PTR(cxt));

        r = signatures_scan(a.disk, true, ctx->dry_run, &found);
        if (r < 0)
                return step_error(ctx, r, "Cannot remove the partition table of %s: %m", a.disk);
        for (size_t i = 0; found && found[i]; i++)
                step_log(ctx, ctx->dry_run ? LOG_LEVEL_NOTICE : LOG_LEVEL_INFO, 0, "%s %s on %s", ctx->dry_run ? "would wipe" : "wiped",
                         found[i], a.disk);
        if (!ctx->dry_run) {
                r = signatures_reread_partitions(a.disk);
                if (r < 0)
                        step_log(ctx, LOG_LEVEL_WARNING, r, "The kernel did not re-read the partition table of %s: %m", a.disk);
        }
        return 0;
}

const struct step_ops step_partition_disk = {
        .kind = STEP_PARTITION_DISK,
        .check = partition_disk_check,
        .apply = partition_disk_apply,
        .undo = partition_disk_undo,
};
