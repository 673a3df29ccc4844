/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <blkid.h>
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <linux/blkpg.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "steps/signatures.h"
#include "steps/step.h"
#include "util/fileio.h"
#include "util/macro.h"
#include "util/run.h"
#include "util/strutil.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(blkid_probe, blkid_free_probe);

static int probe_new(int fd, uint64_t offset, uint64_t size, blkid_probe *ret) {
        blkid_probe pr = blkid_new_probe();

        if (!pr)
                return -ENOMEM;
        if (blkid_probe_set_device(pr, fd, (blkid_loff_t) offset, (blkid_loff_t) size) < 0) {
                blkid_free_probe(pr);
                return -EIO;
        }
        *ret = pr;
        return 0;
}

struct part {
        unsigned partno;
        uint64_t start, size; /* bytes */
};

/* The partitions of the table libblkid finds on fd (none without a table). */
static int disk_partitions(int fd, struct part *parts, size_t max, size_t *ret_n) {
        _cleanup_(blkid_free_probep) blkid_probe pr = NULL;
        size_t n = 0;
        int r;

        r = probe_new(fd, 0, 0, &pr);
        if (r < 0)
                return r;
        blkid_probe_enable_superblocks(pr, 0);
        blkid_probe_enable_partitions(pr, 1);
        if (blkid_do_fullprobe(pr) == 0) {
                blkid_partlist ls = blkid_probe_get_partitions(pr);
                int k = ls ? blkid_partlist_numof_partitions(ls) : 0;
                for (int i = 0; i < k && n < max; i++) {
                        blkid_partition p = blkid_partlist_get_partition(ls, i);
                        if (!p || blkid_partition_is_extended(p))
                                continue;
                        parts[n++] = (struct part) {
                                .partno = (unsigned) blkid_partition_get_partno(p),
                                .start = (uint64_t) blkid_partition_get_start(p) * 512,
                                .size = (uint64_t) blkid_partition_get_size(p) * 512,
                        };
                }
        }
        *ret_n = n;
        return 0;
}

/* One window [offset, offset+size) of the device: the loop wipefs runs. */
static int scan_window(int fd, uint64_t offset, uint64_t size, bool wipe, bool dry_run, char ***found) {
        _cleanup_(blkid_free_probep) blkid_probe pr = NULL;
        int n = 0, r;

        r = probe_new(fd, offset, size, &pr);
        if (r < 0)
                return r;
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_MAGIC | BLKID_SUBLKS_TYPE | BLKID_SUBLKS_BADCSUM);
        blkid_probe_enable_partitions(pr, 1);
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);

        while (blkid_do_probe(pr) == 0) {
                const char *type = NULL, *off = NULL;
                if (blkid_probe_lookup_value(pr, "TYPE", &type, NULL) < 0)
                        (void) blkid_probe_lookup_value(pr, "PTTYPE", &type, NULL); /* not every result has both */
                if (blkid_probe_lookup_value(pr, "SBMAGIC_OFFSET", &off, NULL) < 0)
                        (void) blkid_probe_lookup_value(pr, "PTMAGIC_OFFSET", &off, NULL);
                if (found) {
                        _cleanup_free_ char *s = NULL;
                        if (asprintf(&s, "%s at offset %llu", type ? type : "unknown",
                                     (unsigned long long) (offset + (off ? strtoull(off, NULL, 10) : 0))) < 0)
                                return -ENOMEM;
                        r = strv_extend(found, s);
                        if (r < 0)
                                return r;
                }
                n++;
                if (n > 1000)
                        return -ELOOP; /* a wipe that does not stick: never loop forever */
                /* blkid_do_wipe() steps back, so the same prober looks again
                 * (e.g. for the backup GPT header). */
                if (wipe && !dry_run && blkid_do_wipe(pr, 0) < 0)
                        return errno > 0 ? -errno : -EIO;
        }
        return n;
}

int signatures_scan(const char *dev, bool wipe, bool dry_run, char ***ret_found) {
        _cleanup_strv_free_ char **found = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct part parts[128];
        size_t n_parts = 0;
        int n = 0, r;
        bool rw = wipe && !dry_run;

        fd = open(dev, (rw ? O_RDWR | O_EXCL : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;

        /* The partitions first: their contents would come back to life if
         * the same table were written again. */
        r = disk_partitions(fd, parts, ELEMENTSOF(parts), &n_parts);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n_parts; i++) {
                r = scan_window(fd, parts[i].start, parts[i].size, wipe, dry_run, &found);
                if (r < 0)
                        return r;
                n += r;
        }
        r = scan_window(fd, 0, 0, wipe, dry_run, &found);
        if (r < 0)
                return r;
        n += r;

        if (rw && fsync(fd) < 0)
                return -errno;
        if (ret_found)
                *ret_found = TAKE_PTR(found);
        return n;
}

int signatures_probe_fs(const char *dev, char **ret_type, char **ret_uuid, char **ret_label) {
        _cleanup_(blkid_free_probep) blkid_probe pr = NULL;
        _cleanup_free_ char *type = NULL, *uuid = NULL, *label = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = open(dev, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        r = probe_new(fd, 0, 0, &pr);
        if (r < 0)
                return r;
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID | BLKID_SUBLKS_LABEL);
        blkid_probe_enable_partitions(pr, 0);
        r = blkid_do_safeprobe(pr);
        if (r == -2)
                return -ENOTUNIQ; /* ambiguous: more than one filesystem signature */
        if (r < 0)
                return -EIO;
        if (r == 0) {
                const char *v;
                if (blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0 && !(type = strdup(v)))
                        return -ENOMEM;
                if (blkid_probe_lookup_value(pr, "UUID", &v, NULL) == 0 && !(uuid = strdup(v)))
                        return -ENOMEM;
                if (blkid_probe_lookup_value(pr, "LABEL", &v, NULL) == 0 && !(label = strdup(v)))
                        return -ENOMEM;
        }
        *ret_type = TAKE_PTR(type);
        if (ret_uuid)
                *ret_uuid = TAKE_PTR(uuid);
        if (ret_label)
                *ret_label = TAKE_PTR(label);
        return 0;
}

/* The kernel's partitions of the disk whose sysfs directory is sysdir. */
static int kernel_partitions(const char *sysdir, struct part *parts, size_t max, size_t *ret_n) {
        DIR *d = opendir(sysdir);
        struct dirent *de;
        size_t n = 0;

        if (!d)
                return -errno;
        while ((de = readdir(d)) && n < max) {
                char path[PATH_MAX], *v = NULL;
                unsigned long long no, start, size;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof path, "%s/%s/partition", sysdir, de->d_name);
                if (read_one_line_file(path, &v) < 0)
                        continue; /* not a partition */
                no = strtoull(v, NULL, 10);
                free(v);
                snprintf(path, sizeof path, "%s/%s/start", sysdir, de->d_name);
                if (read_one_line_file(path, &v) < 0)
                        continue;
                start = strtoull(v, NULL, 10);
                free(v);
                snprintf(path, sizeof path, "%s/%s/size", sysdir, de->d_name);
                if (read_one_line_file(path, &v) < 0)
                        continue;
                size = strtoull(v, NULL, 10);
                free(v);
                parts[n++] = (struct part) { (unsigned) no, start * 512, size * 512 };
        }
        closedir(d);
        *ret_n = n;
        return 0;
}

static int blkpg(int fd, int op, const struct part *p) {
        struct blkpg_partition bp = { .start = (long long) p->start, .length = (long long) p->size, .pno = (int) p->partno };
        struct blkpg_ioctl_arg a = { .op = op, .datalen = sizeof bp, .data = &bp };
        return ioctl(fd, BLKPG, &a) < 0 ? -errno : 0;
}

/* The table on disk and the kernel's partitions of dev; fd is dev opened. */
/* The table on disk next to the kernel's partitions of the same disk. */
struct partitions_view {
        int fd;                  /* the disk, read-only */
        struct part disk[128], kern[128];
        size_t n_disk, n_kern;
};

static void view_done(struct partitions_view *v) {
        v->fd = safe_close(v->fd);
}

static int view_read(const char *dev, struct partitions_view *v) {
        _cleanup_free_ char *real = realpath(dev, NULL), *sysdir = NULL;
        int r;

        if (!real)
                return -errno;
        if (v->fd < 0) {
                v->fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (v->fd < 0)
                        return -errno;
        }
        r = disk_partitions(v->fd, v->disk, ELEMENTSOF(v->disk), &v->n_disk);
        if (r < 0)
                return r;
        if (asprintf(&sysdir, "/sys/class/block/%s", basename(real)) < 0)
                return -ENOMEM;
        return kernel_partitions(sysdir, v->kern, ELEMENTSOF(v->kern), &v->n_kern);
}

static const struct part *find_part(const struct part *parts, size_t n, unsigned partno) {
        for (size_t i = 0; i < n; i++)
                if (parts[i].partno == partno)
                        return &parts[i];
        return NULL;
}

int signatures_kernel_partitions_match(const char *dev) {
        _cleanup_(view_done) struct partitions_view v = { .fd = -EBADF };
        int r;

        r = view_read(dev, &v);
        if (r < 0)
                return r;
        if (v.n_disk != v.n_kern)
                return 0;
        for (size_t i = 0; i < v.n_disk; i++) {
                const struct part *k = find_part(v.kern, v.n_kern, v.disk[i].partno);
                if (!k || k->start != v.disk[i].start || k->size != v.disk[i].size)
                        return 0;
        }
        return 1;
}

static int reread_once(const char *dev) {
        _cleanup_(view_done) struct partitions_view v = { .fd = -EBADF };
        int r;

        r = view_read(dev, &v);
        if (r < 0)
                return r;
        /* Where the whole disk is not in use, the kernel re-reads it all.
         * Some kernels and containers accept this and do nothing, so the
         * result is compared with the table below in any case. */
        if (ioctl(v.fd, BLKRRPART, 0) == 0) {
                r = view_read(dev, &v);
                if (r < 0)
                        return r;
        }

        /* As partx does: drop what differs, add what is missing (BLKPG). */
        for (size_t k = 0; k < v.n_kern; k++) {
                const struct part *d = find_part(v.disk, v.n_disk, v.kern[k].partno);
                if (d && d->start == v.kern[k].start && d->size == v.kern[k].size)
                        continue;
                r = blkpg(v.fd, BLKPG_DEL_PARTITION, &v.kern[k]);
                if (r < 0)
                        return r;
                v.kern[k].partno = 0;
        }
        for (size_t i = 0; i < v.n_disk; i++) {
                if (find_part(v.kern, v.n_kern, v.disk[i].partno))
                        continue;
                r = blkpg(v.fd, BLKPG_ADD_PARTITION, &v.disk[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int signatures_reread_partitions(const char *dev) {
        int r;

        /* A partition just let go of (an array stopped, its superblock
         * erased) stays open for a moment while udev probes it again:
         * dropping it fails with EBUSY (seen in a guest, rolling back right
         * after create-swap's undo).  Up to 10 s. */
        for (unsigned i = 0;; i++) {
                r = reread_once(dev);
                if (r != -EBUSY || i >= 50)
                        return r;
                (void) usleep(200 * 1000);
        }
}

int signatures_check_fs(struct step_context *ctx, const char *dev, const char *type, const char *uuid, const char *label) {
        _cleanup_free_ char *t = NULL, *u = NULL, *l = NULL;
        int r;

        r = signatures_probe_fs(dev, &t, &u, &l);
        if (r == -ENOENT)
                return step_log(ctx, LOG_LEVEL_DEBUG, 0, "%s does not exist (yet).", dev), 0;
        if (r < 0)
                return step_error(ctx, r, "Cannot read the signature on %s: %m", dev);
        if (!streq_ptr(t, type) || !u || strcasecmp(u, uuid) != 0 || (label && !streq_ptr(l, label)))
                return step_log(ctx, LOG_LEVEL_DEBUG, 0, "%s carries %s UUID=%s LABEL=%s, not %s UUID=%s LABEL=%s.", dev,
                                strna(t), strna(u), strna(l), type, uuid, strna(label)), 0;
        return 1;
}

int signatures_undo_fs(struct step_context *ctx, const char *dev, const char *uuid) {
        _cleanup_free_ char *t = NULL, *u = NULL;
        _cleanup_strv_free_ char **found = NULL;
        int r;

        r = signatures_probe_fs(dev, &t, &u, NULL);
        if (r == -ENOENT)
                return 0; /* the device is gone (its array was stopped): nothing of ours is left on it */
        if (r < 0)
                return step_error(ctx, r, "Cannot read the signature on %s: %m", dev);
        if (!t)
                return 0; /* apply never reached the device */
        if (!u || strcasecmp(u, uuid) != 0)
                return step_error(ctx, EEXIST, "%s carries %s UUID=%s, which rootraid did not make; not wiping it.", dev, t,
                                  strna(u));
        r = signatures_scan(dev, true, ctx->dry_run, &found);
        if (r < 0)
                return step_error(ctx, r, "Cannot wipe %s: %m", dev);
        for (size_t i = 0; found && found[i]; i++)
                step_log(ctx, LOG_LEVEL_INFO, 0, "%s %s on %s.", ctx->dry_run ? "Would wipe" : "Wiped", found[i], dev);
        return 0;
}

void signatures_settle(void) {
        const char *argv[] = { "udevadm", "settle", "--timeout=30", NULL };
        /* No udevadm (a container) or a timeout: the callers wait for the
         * device nodes they need themselves. */
        (void) run_argv(argv, RUN_QUIET_STDERR, NULL, NULL);
}

int signatures_wait_for_device(const char *dev, unsigned timeout_ms) {
        for (unsigned waited = 0;; waited += 100) {
                if (access(dev, F_OK) == 0)
                        return 0;
                if (errno != ENOENT)
                        return -errno;
                if (waited >= timeout_ms)
                        return -ENOENT;
                usleep(100 * 1000);
        }
}
