/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Contents of each device with libblkid: filesystem type, UUID, LABEL,
 * PARTUUID, and every signature on it (as wipefs lists them), so that a
 * target disk that still carries an old md superblock or a partition table
 * is not taken for blank. */
#include <blkid/blkid.h>
#include <endian.h>
#include <fcntl.h>
#include <stdio.h>

#include "inspect/inspect-internal.h"

static void blkid_free_probep(blkid_probe *pr) {
        if (*pr)
                blkid_free_probe(*pr);
}
#define _cleanup_blkid_probe_ _cleanup_(blkid_free_probep)

static int lookup_dup(blkid_probe pr, const char *name, char **dst) {
        const char *v = NULL;
        if (blkid_probe_lookup_value(pr, name, &v, NULL) < 0 || isempty(v))
                return 0;
        return strdup_to(dst, v);
}

static int read_at(int fd, uint64_t offset, void *buf, size_t size) {
        ssize_t n = pread(fd, buf, size, (off_t) offset);
        if (n < 0)
                return -errno;
        return (size_t) n == size ? 0 : -EIO;
}

/* The size of the filesystem from its superblock.  libblkid only reports
 * FSSIZE from util-linux 2.39 on; these are the filesystems rootraid
 * copies, read the way their own tools (dumpe2fs, xfs_info, btrfs) do. */
static uint64_t fs_size_of(int fd, const char *fstype) {
        uint8_t b[512];

        if (streq(fstype, "ext2") || streq(fstype, "ext3") || streq(fstype, "ext4")) {
                uint32_t lo, log_bs, hi = 0, incompat;
                if (read_at(fd, 1024, b, sizeof b) < 0)
                        return 0;
                memcpy(&lo, b + 0x04, 4);
                memcpy(&log_bs, b + 0x18, 4);
                memcpy(&incompat, b + 0x60, 4);
                if (le32toh(incompat) & 0x80)   /* INCOMPAT_64BIT */
                        memcpy(&hi, b + 0x150, 4);
                if (le32toh(log_bs) > 16)
                        return 0;
                return (((uint64_t) le32toh(hi) << 32) | le32toh(lo)) * (1024ULL << le32toh(log_bs));
        }
        if (streq(fstype, "xfs")) {
                uint32_t bs;
                uint64_t blocks;
                if (read_at(fd, 0, b, sizeof b) < 0)
                        return 0;
                memcpy(&bs, b + 4, 4);
                memcpy(&blocks, b + 8, 8);
                return be64toh(blocks) * be32toh(bs);
        }
        if (streq(fstype, "btrfs")) {
                uint64_t total;
                if (read_at(fd, 0x10000, b, sizeof b) < 0)
                        return 0;
                memcpy(&total, b + 0x70, 8);
                return le64toh(total);
        }
        if (streq(fstype, "swap")) {
                /* The header is in the first page; "SWAPSPACE2" ends it, and
                 * last_page counts pages of that size. */
                static const unsigned page_sizes[] = { 4096, 8192, 16384, 65536 };
                for (size_t i = 0; i < ELEMENTSOF(page_sizes); i++) {
                        char magic[10];
                        uint32_t last;
                        if (read_at(fd, page_sizes[i] - 10, magic, sizeof magic) < 0)
                                return 0;
                        if (memcmp(magic, "SWAPSPACE2", 10) != 0)
                                continue;
                        if (read_at(fd, 1024 + 4, &last, sizeof last) < 0)
                                return 0;
                        return (uint64_t) le32toh(last) * page_sizes[i];
                }
                return 0;
        }
        if (streq(fstype, "vfat")) {
                uint16_t bps, small;
                uint32_t large;
                if (read_at(fd, 0, b, sizeof b) < 0)
                        return 0;
                memcpy(&bps, b + 11, 2);
                memcpy(&small, b + 19, 2);
                memcpy(&large, b + 32, 4);
                return (uint64_t) (le16toh(small) ? le16toh(small) : le32toh(large)) * le16toh(bps);
        }
        return 0;
}

static int add_signature(struct blockdev *d, const char *type, const char *offset) {
        struct signature *s = array_append((void **) &d->signatures, &d->n_signatures, sizeof(struct signature));
        if (!s)
                return -ENOMEM;
        s->offset = offset ? strtoull(offset, NULL, 10) : 0;
        return strdup_to(&s->type, type);
}

/* Every signature, the way wipefs finds them: blkid_do_probe() steps
 * through each prober of each chain, where the safe probe stops at the
 * first or refuses ambivalent results. */
static int probe_signatures(blkid_probe pr, struct blockdev *d) {
        int r;

        blkid_reset_probe(pr);
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_MAGIC | BLKID_SUBLKS_TYPE | BLKID_SUBLKS_BADCSUM);
        blkid_probe_enable_partitions(pr, 1);
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC | BLKID_PARTS_FORCE_GPT);

        for (unsigned n = 0; n < 64 && blkid_do_probe(pr) == 0; n++) {
                const char *type = NULL, *offset = NULL;

                /* Without an offset (a prober that sets none) the
                 * signature is still listed, at 0. */
                if (blkid_probe_lookup_value(pr, "TYPE", &type, NULL) == 0)
                        (void) blkid_probe_lookup_value(pr, "SBMAGIC_OFFSET", &offset, NULL);
                else if (blkid_probe_lookup_value(pr, "PTTYPE", &type, NULL) == 0)
                        (void) blkid_probe_lookup_value(pr, "PTMAGIC_OFFSET", &offset, NULL);
                else
                        continue;       /* a prober with no magic: nothing to wipe */
                r = add_signature(d, type, offset);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int probe_one(struct inspect_ctx *c, struct blockdev *d) {
        _cleanup_free_ char *dev = NULL, *path = NULL;
        _cleanup_blkid_probe_ blkid_probe pr = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (asprintf(&dev, "/dev/%s", d->kname) < 0)
                return -ENOMEM;
        path = ictx_path(c, dev);
        if (!path)
                return -ENOMEM;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                /* Not root, no device node (a container), a medium gone:
                 * the device stays with what sysfs said. */
                return 0;

        pr = blkid_new_probe();
        if (!pr)
                return -ENOMEM;
        if (blkid_probe_set_device(pr, fd, 0, 0) < 0)
                return 0;

        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID | BLKID_SUBLKS_TYPE |
                                          BLKID_SUBLKS_USAGE | BLKID_SUBLKS_VERSION
#ifdef BLKID_SUBLKS_FSINFO
                                          | BLKID_SUBLKS_FSINFO  /* FSSIZE, util-linux >= 2.39 */
#endif
                                          );
        blkid_probe_enable_partitions(pr, 1);
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);

        /* 0 found, 1 nothing, -2 ambivalent (several filesystems: the
         * signature list below shows them), -1 error. */
        if (blkid_do_safeprobe(pr) == 0) {
                if ((r = lookup_dup(pr, "TYPE", &d->fstype)) < 0 ||
                    (r = lookup_dup(pr, "UUID", &d->fs_uuid)) < 0 ||
                    (r = lookup_dup(pr, "LABEL", &d->fs_label)) < 0 ||
                    (r = lookup_dup(pr, "PART_ENTRY_UUID", &d->part_uuid)) < 0 ||
                    (r = lookup_dup(pr, "PART_ENTRY_NAME", &d->part_label)) < 0)
                        return r;
        }
        if (d->fstype) {
                const char *v = NULL;
                if (blkid_probe_lookup_value(pr, "FSSIZE", &v, NULL) == 0 && v)
                        d->fs_size = strtoull(v, NULL, 10);
                else
                        d->fs_size = fs_size_of(fd, d->fstype);
        }

        return probe_signatures(pr, d);
}

int inspect_probe(struct inspect_ctx *c) {
        for (size_t i = 0; i < c->f->n_devices; i++) {
                int r = probe_one(c, &c->f->devices[i]);
                if (r < 0)
                        return ictx_fail(c, r, "Cannot probe /dev/%s with libblkid: %m", c->f->devices[i].kname);
        }
        return 0;
}
