/* SPDX-License-Identifier: GPL-2.0-or-later */
/* integrity-format (--integrity): gives an md member partition a standalone
 * dm-integrity layer and opens it as /dev/mapper/NAME, which md-create and
 * md-add then use as the member (the plan's member object names it).  A
 * block whose data no longer matches its checksum then reads as an error
 * (EILSEQ) from that member only, and md rewrites it from another member.
 *
 * Parameters: internal hash crc32c, 4-byte tags, journal mode (the
 * default: data and tag are written together, so a crash cannot leave a
 * block whose tag is stale, which would read as an error), and 4096-byte
 * integrity sectors: one tag per 4 KiB block instead of per 512 bytes cuts
 * the tag space and the tag updates eightfold; md, ext4 and swap all work
 * in 4 KiB blocks anyway.  The superblock records tag and sector size; the
 * algorithm is not recorded, so every opener names crc32c (it is the
 * default of integritysetup and systemd-integritysetup too).
 *
 * Initial contents.  A fresh dm-integrity device answers EILSEQ for every
 * block whose tag was never written, and md reads a whole member when it
 * recovers onto another one: when the old disk joins, md reads every block
 * of the new disks' members, most of which the copy never wrote.  Two ways
 * out: wipe at format time (write every block once through the device:
 * hours on a large disk, before the copy can start), or open the device
 * the first time with CRYPT_ACTIVATE_RECALCULATE ("recalculate" in the
 * table): the kernel then computes the tags of the whole device in the
 * background, and until its cursor (recalc_sector, kept in the superblock)
 * passes a block, that block's tag is not checked, so nothing reads as an
 * error; blocks written meanwhile get their tags at once.  We take the
 * second.  The kernel continues an unfinished recalculation at every later
 * activation because the superblock says so (SB_FLAG_RECALCULATING), so
 * the boot chain opens without the flag; passing it again after the end
 * would restart from sector 0, which is why only a fresh format gets it.
 * The old disk's members need no more than that either: md writes every
 * block of a joining member before it reads any (recovery reads only the
 * in-sync members).
 *
 *   check: the partition carries an integrity superblock with our tag and
 *          sector size, and NAME is open on it.
 *   apply: formats unless such a superblock is there, then opens NAME.
 *          A superblock of ours that is not open is opened and kept when
 *          the plan's md superblock is inside; else (a crash between the
 *          format and the first open) it is formatted again.
 *   undo:  closes NAME and erases the superblock (new disks only; on the
 *          old disk it runs after the point of no return). */
#include <errno.h>
#include <fcntl.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "steps/kinds.h"
#include "steps/md.h"
#include "steps/signatures.h"
#include "util/strutil.h"

struct integrity_args {
        const char *array, *name, *device, *algorithm;
        uint64_t tag_size, sector_size;
        json_object *member;
};

static void cd_freep(struct crypt_device **cd) {
        if (*cd)
                crypt_free(*cd);
}

static int parse(struct step_context *ctx, const struct plan_step *step, struct integrity_args *a) {
        int r;

        *a = (struct integrity_args) {};
        if ((r = step_arg_string(ctx, step, "array", &a->array)) < 0 ||
            (r = step_arg_string(ctx, step, "name", &a->name)) < 0 ||
            (r = step_arg_string(ctx, step, "device", &a->device)) < 0 ||
            (r = step_arg_string(ctx, step, "algorithm", &a->algorithm)) < 0 ||
            (r = step_arg_uint64(ctx, step, "tag_size", &a->tag_size)) < 0 ||
            (r = step_arg_uint64(ctx, step, "sector_size", &a->sector_size)) < 0)
                return r;
        if (!json_object_object_get_ex(step->args, "member", &a->member) || !json_object_is_type(a->member, json_type_object))
                return step_error(ctx, EBADMSG, "Step '%s' names no member.", step->id);
        return 0;
}

static const char *member_disk(const struct integrity_args *a, int64_t *ret_partno) {
        json_object *v;
        *ret_partno = json_object_object_get_ex(a->member, "partno", &v) ? json_object_get_int64(v) : 0;
        return json_object_object_get_ex(a->member, "disk", &v) ? json_object_get_string(v) : NULL;
}

/* The step's arguments, and the partition under the mapping (not the
 * mapping, which is what md_resolve_member() returns for such a member):
 * the start of check, apply and undo.  1 with *ret_part set, 0 when the
 * disk has no such partition (yet; a dry run names the one it would have
 * and returns 1), or a negative errno. */
static int parse_partition(struct step_context *ctx, const struct plan_step *step, struct integrity_args *a, char **ret_part) {
        int64_t partno;
        const char *disk;
        int r;

        r = parse(ctx, step, a);
        if (r < 0)
                return r;
        disk = member_disk(a, &partno);
        if (!disk || partno <= 0)
                return step_error(ctx, EBADMSG, "The member of '%s' names no partition.", a->name);
        r = md_resolve_partition(disk, (unsigned) partno, ret_part);
        if (r < 0 && ctx->dry_run)
                return asprintf(ret_part, "%s-part%lld", disk, (long long) partno) < 0 ? -ENOMEM : 1;
        if (r == -ENOMEM)
                return r;
        return r >= 0;
}

/* >0 when dev carries an integrity superblock with the plan's tag and
 * sector size, 0 when it carries none, -EEXIST when it carries one with
 * other parameters.  On >0, *ret_cd (may be NULL) is the loaded context. */
static int superblock_state(const struct integrity_args *a, const char *dev, struct crypt_device **ret_cd) {
        _cleanup_(cd_freep) struct crypt_device *cd = NULL;
        struct crypt_params_integrity ip = {};
        int r;

        if (crypt_init(&cd, dev) < 0)
                return 0;
        r = crypt_load(cd, CRYPT_INTEGRITY, &(struct crypt_params_integrity) { .integrity = a->algorithm });
        if (r < 0)
                return 0;
        r = crypt_get_integrity_info(cd, &ip);
        if (r < 0 || ip.tag_size != a->tag_size || ip.sector_size != a->sector_size)
                return -EEXIST;
        if (ret_cd)
                *ret_cd = TAKE_PTR(cd);
        return 1;
}

/* >0 when mapping name is active on dev, 0 when not active, -EEXIST when
 * it is active on another device.  Compared through sysfs: the mapping's
 * only slave must be dev. */
static int mapping_state(const char *name, const char *dev) {
        _cleanup_free_ char *mapper = NULL, *slaves = NULL;
        _cleanup_(steps_closedirp) DIR *dir = NULL;
        struct stat m, d;
        struct dirent *de;
        size_t n = 0;
        int r = -EEXIST;

        if (asprintf(&mapper, "/dev/mapper/%s", name) < 0)
                return -ENOMEM;
        if (stat(mapper, &m) < 0)
                return 0;
        if (stat(dev, &d) < 0 || !S_ISBLK(d.st_mode))
                return -EEXIST;
        if (asprintf(&slaves, "/sys/dev/block/%u:%u/slaves", major(m.st_rdev), minor(m.st_rdev)) < 0)
                return -ENOMEM;
        dir = opendir(slaves);
        if (!dir)
                return -EEXIST;
        while ((de = readdir(dir))) {
                _cleanup_free_ char *devfile = NULL, *text = NULL;
                unsigned ma, mi;
                if (de->d_name[0] == '.')
                        continue;
                n++;
                if (asprintf(&devfile, "%s/%s/dev", slaves, de->d_name) < 0)
                        return -ENOMEM;
                FILE *f = fopen(devfile, "re");
                if (!f)
                        continue;
                if (fscanf(f, "%u:%u", &ma, &mi) == 2 && ma == major(d.st_rdev) && mi == minor(d.st_rdev))
                        r = 1;
                fclose(f);
        }
        return n == 1 ? r : -EEXIST;
}

/* True when /dev/mapper/NAME holds the md superblock of the plan's array
 * (also when the plan does not say which UUID that is). */
static bool holds_planned_array(struct step_context *ctx, const struct integrity_args *a) {
        _cleanup_free_ char *mapper = NULL, *uuid = NULL;
        json_object *arrays, *v;
        const char *want = NULL;

        if (!ctx->plan || !ctx->plan->target || !json_object_object_get_ex(ctx->plan->target, "arrays", &arrays))
                return true;
        for (size_t i = 0; i < json_object_array_length(arrays); i++) {
                json_object *ar = json_object_array_get_idx(arrays, i);
                if (json_object_object_get_ex(ar, "name", &v) && streq_ptr(json_object_get_string(v), a->array) &&
                    json_object_object_get_ex(ar, "uuid", &v))
                        want = json_object_get_string(v);
        }
        if (!want)
                return true;
        if (asprintf(&mapper, "/dev/mapper/%s", a->name) < 0)
                return true;
        /* An unwritten block reads as an error: no superblock then. */
        return md_examine_uuid(mapper, &uuid) >= 0 && md_uuid_equal(uuid, want);
}

static int integrity_check(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *part = NULL;
        struct integrity_args a;
        int r = parse_partition(ctx, step, &a, &part);

        if (r <= 0)
                return r; /* 0: not partitioned yet */
        if (superblock_state(&a, part, NULL) <= 0)
                return 0;
        return mapping_state(a.name, part) > 0;
}

static int integrity_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_(cd_freep) struct crypt_device *cd = NULL;
        _cleanup_free_ char *part = NULL;
        struct integrity_args a;
        bool fresh = false;
        int r;

        r = parse_partition(ctx, step, &a, &part);
        if (r < 0)
                return r;
        if (r == 0) {
                int64_t partno;
                const char *disk = member_disk(&a, &partno);
                return step_error(ctx, ENOENT, "Cannot find partition %lld of %s; was the disk partitioned?", (long long) partno, disk);
        }
        if (ctx->dry_run) {
                printf("would write a dm-integrity superblock (%s, %llu-byte tags, %llu-byte sectors, journal) on %s and open it as /dev/mapper/%s\n",
                       a.algorithm, (unsigned long long) a.tag_size, (unsigned long long) a.sector_size, part, a.name);
                return 0;
        }
        if (signatures_wait_for_device(part, 10000) < 0)
                return step_error(ctx, ENOENT, "%s does not exist; was the disk partitioned?", part);

        r = mapping_state(a.name, part);
        if (r == -EEXIST)
                return step_error(ctx, EEXIST, "A device-mapper device named %s exists and is not on %s; close it first.", a.name, part);
        if (r < 0)
                return step_error(ctx, r, "Cannot look at /dev/mapper/%s: %m", a.name);
        bool open = r > 0;

        r = superblock_state(&a, part, &cd);
        if (r == -EEXIST)
                return step_error(ctx, EEXIST, "%s carries a dm-integrity superblock with other parameters than %llu-byte tags on %llu-byte sectors; "
                                  "it is not ours: erase it (wipefs -a) if it holds nothing you need.",
                                  part, (unsigned long long) a.tag_size, (unsigned long long) a.sector_size);
        if (r > 0 && !open) {
                /* Ours, but not open: a crash between the format and the
                 * first open (the recalculation never started), or a volume
                 * in use before.  Open it and look: without this plan's md
                 * superblock inside, nothing was written through it, and a
                 * new format (recalculated) is the safe way on. */
                r = crypt_activate_by_volume_key(cd, a.name, NULL, 0, 0);
                if (r < 0)
                        return step_error(ctx, r, "Cannot open %s as /dev/mapper/%s: %m", part, a.name);
                signatures_settle();
                if (holds_planned_array(ctx, &a))
                        return 0;
                r = crypt_deactivate(cd, a.name);
                if (r < 0)
                        return step_error(ctx, r, "Cannot close /dev/mapper/%s to format it again: %m", a.name);
                step_log(ctx, LOG_LEVEL_INFO, 0, "%s holds nothing yet: formatting it again.", part);
                crypt_free(TAKE_PTR(cd));
                r = 0;
        }
        if (r == 0) {
                if (open)
                        return step_error(ctx, EBUSY, "/dev/mapper/%s is open on %s, which carries no dm-integrity superblock.", a.name, part);
                struct crypt_params_integrity ip = {
                        .integrity = a.algorithm,
                        .tag_size = (uint32_t) a.tag_size,
                        .sector_size = (uint32_t) a.sector_size,
                        /* journal_size, interleave_sectors, buffer_sectors:
                         * 0 = the kernel's defaults, as integritysetup. */
                };
                r = crypt_init(&cd, part);
                if (r < 0)
                        return step_error(ctx, r, "Cannot open %s: %m", part);
                r = crypt_format(cd, CRYPT_INTEGRITY, NULL, NULL, NULL, NULL, 0, &ip);
                if (r < 0)
                        return step_error(ctx, r, "Cannot write the dm-integrity superblock on %s: %m", part);
                step_log(ctx, LOG_LEVEL_INFO, 0, "Wrote a dm-integrity superblock on %s (%s, %llu-byte tags, %llu-byte sectors).",
                         part, a.algorithm, (unsigned long long) a.tag_size, (unsigned long long) a.sector_size);
                fresh = true;
                /* Open from what is on the disk now, as every later opener
                 * does (and as a resume after a crash here would). */
                crypt_free(TAKE_PTR(cd));
                if (superblock_state(&a, part, &cd) <= 0)
                        return step_error(ctx, EIO, "The dm-integrity superblock just written on %s does not read back.", part);
        }
        if (open)
                return 0;
        /* See the top of the file: only a fresh superblock gets the
         * recalculate flag; an unfinished recalculation goes on anyway. */
        r = crypt_activate_by_volume_key(cd, a.name, NULL, 0, fresh ? CRYPT_ACTIVATE_RECALCULATE : 0);
        if (r < 0)
                return step_error(ctx, r, "Cannot open %s as /dev/mapper/%s: %m", part, a.name);
        signatures_settle();
        return 0;
}

static int integrity_undo(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *part = NULL;
        struct integrity_args a;
        int r = parse_partition(ctx, step, &a, &part);

        if (r <= 0)
                return r; /* 0: the partition is gone, nothing to undo */
        if (ctx->dry_run) {
                printf("would close /dev/mapper/%s and erase the dm-integrity superblock on %s\n", a.name, part);
                return 0;
        }
        if (mapping_state(a.name, part) > 0) {
                r = crypt_deactivate(NULL, a.name);
                if (r < 0)
                        return step_error(ctx, r, "Cannot close /dev/mapper/%s: %m; is the array on it still running?", a.name);
        }
        if (superblock_state(&a, part, NULL) <= 0)
                return 0; /* none, or not one we wrote */
        /* The superblock is the first sector; the journal behind it means
         * nothing without it.  Zero the first 64 KiB, opened exclusively so
         * that a device still in use is refused. */
        static const char zeros[64 * 1024];
        _cleanup_close_ int fd = open(part, O_WRONLY | O_EXCL | O_CLOEXEC);
        if (fd < 0)
                return step_error(ctx, errno, "Cannot open %s to erase its dm-integrity superblock: %m", part);
        if (pwrite(fd, zeros, sizeof zeros, 0) != (ssize_t) sizeof zeros || fsync(fd) < 0)
                return step_error(ctx, errno ?: EIO, "Cannot erase the dm-integrity superblock on %s: %m", part);
        return 0;
}

const struct step_ops step_integrity_format = {
        .kind = STEP_INTEGRITY_FORMAT,
        .check = integrity_check,
        .apply = integrity_apply,
        .undo = integrity_undo,
};
