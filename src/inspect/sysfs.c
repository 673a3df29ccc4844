/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Block devices from sysfs: disks and their partitions, md arrays, dm
 * devices, sizes, sector sizes, and the stacking (holders/ and slaves/). */
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "inspect/inspect-internal.h"
#include "util/strutil.h"

static int cmp_names(const void *a, const void *b) {
        return strverscmp(*(char *const *) a, *(char *const *) b);
}

/* The entries of a directory, sorted so the facts come out in a stable
 * order; filter may reject names.  A missing directory gives an empty list. */
static int list_dir(const char *path, bool (*filter)(const char *dir, const char *name),
                    char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        DIR *d = opendir(path);
        struct dirent *de;

        if (!d) {
                if (errno != ENOENT && errno != ENOTDIR)
                        return -errno;
        } else {
                while ((de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        if (filter && !filter(path, de->d_name))
                                continue;
                        if (strv_extend(&l, de->d_name) < 0) {
                                closedir(d);
                                return -ENOMEM;
                        }
                }
                closedir(d);
        }
        if (l)
                qsort(l, strv_length(l), sizeof(char *), cmp_names);
        else if (!(l = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

static bool is_partition_dir(const char *dir, const char *name) {
        _cleanup_free_ char *p = NULL;
        if (asprintf(&p, "%s/%s/partition", dir, name) < 0)
                return false;
        return access(p, F_OK) == 0;
}

static bool is_wanted_block(const char *dir, const char *name) {
        /* RAM disks, floppies and optical drives never hold a root. */
        return !startswith(name, "ram") && !startswith(name, "fd") && !startswith(name, "sr");
}

static enum blockdev_type type_of(const char *kname, const char *dm_uuid, bool has_partitions) {
        if (startswith(kname, "md"))
                return BLOCKDEV_MD;
        if (startswith(kname, "dm-")) {
                if (dm_uuid && startswith(dm_uuid, "CRYPT-"))
                        return BLOCKDEV_CRYPT;
                if (dm_uuid && startswith(dm_uuid, "LVM-"))
                        return BLOCKDEV_LVM;
                return BLOCKDEV_DM_OTHER;
        }
        if (startswith(kname, "loop"))
                return has_partitions ? BLOCKDEV_DISK : BLOCKDEV_LOOP;
        if (startswith(kname, "sd") || startswith(kname, "vd") || startswith(kname, "xvd") ||
            startswith(kname, "nvme") || startswith(kname, "hd") || startswith(kname, "mmcblk"))
                return BLOCKDEV_DISK;
        return BLOCKDEV_OTHER;
}

/* Identity strings of a disk: sysfs has them in device/ (SCSI, ATA, NVMe
 * namespaces) or next to it (virtio "serial", NVMe "wwid"). */
static int read_identity(const char *sys, struct blockdev *d) {
        static const struct {
                const char *file;
                size_t offset;
        } attrs[] = {
                { "device/model", offsetof(struct blockdev, model) },
                { "device/vendor", offsetof(struct blockdev, vendor) },
                { "device/serial", offsetof(struct blockdev, serial) },
                { "serial", offsetof(struct blockdev, serial) },
                { "device/wwid", offsetof(struct blockdev, wwn) },
                { "wwid", offsetof(struct blockdev, wwn) },
        };
        for (size_t i = 0; i < ELEMENTSOF(attrs); i++) {
                char **field = (char **) ((char *) d + attrs[i].offset);
                char *v = NULL;
                int r;

                if (*field)
                        continue;
                r = read_attr(sys, attrs[i].file, &v);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                /* SCSI pads model and vendor with blanks; leading ones too. */
                char *s = v + strspn(v, " ");
                if (*s)
                        memmove(v, s, strlen(s) + 1);
                if (isempty(v))
                        free(v);
                else
                        *field = v;
        }
        return 0;
}

struct member {
        const char *name;
        uint64_t slot;
};

static int cmp_member(const void *a, const void *b) {
        const struct member *x = a, *y = b;
        if (x->slot != y->slot)
                return x->slot < y->slot ? -1 : 1;
        return strverscmp(x->name, y->name);
}

/* The members of an md array in the order of their slots (md/dev-X/slot),
 * as mdadm --detail lists them; spares ("none") come last. */
static int md_members_by_slot(const char *sys, char **slaves, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = strv_length(slaves);
        struct member *m = calloc(n + 1, sizeof(struct member));

        if (!m)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *attr = NULL;
                m[i].name = slaves[i];
                m[i].slot = UINT64_MAX;
                if (asprintf(&attr, "md/dev-%s/slot", slaves[i]) < 0) {
                        free(m);
                        return -ENOMEM;
                }
                (void) read_attr_u64(sys, attr, &m[i].slot); /* "none" or absent: a spare, last */
        }
        qsort(m, n, sizeof(struct member), cmp_member);
        for (size_t i = 0; i < n; i++)
                if (strv_extend(&l, m[i].name) < 0) {
                        free(m);
                        return -ENOMEM;
                }
        free(m);
        if (!l && !(l = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

/* Adds the device whose sysfs directory is sys.  Returns 1 when added, 0
 * when skipped (size 0), or a negative errno. */
static int add_device(struct inspect_ctx *c, const char *sys, const char *kname,
                      const struct blockdev *parent, bool has_partitions) {
        struct facts *f = c->f;
        _cleanup_free_ char *dev = NULL;
        unsigned maj, mino;
        uint64_t v;
        int r;

        /* A loop device with nothing attached, or a card reader without a
         * card, has size 0: nothing to inspect. */
        if (read_attr_u64(sys, "size", &v) < 0 || v == 0)
                return 0;

        r = read_attr(sys, "dev", &dev);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        if (sscanf(dev, "%u:%u", &maj, &mino) != 2)
                return ictx_fail(c, -EINVAL, "Cannot parse %s/dev (\"%s\").", sys, dev);

        struct blockdev *d = array_append((void **) &f->devices, &f->n_devices, sizeof(struct blockdev));
        if (!d)
                return -ENOMEM;
        d->size = v * 512;      /* sysfs counts 512-byte sectors whatever the device's sector size */
        d->devnum = makedev(maj, mino);
        if (!(d->kname = strdup(kname)))
                return -ENOMEM;

        if (read_attr_u64(sys, "ro", &v) >= 0)
                d->read_only = v != 0;

        r = read_attr(sys, "dm/name", &d->dm_name);
        if (r == -ENOMEM)
                return r;
        r = read_attr(sys, "dm/uuid", &d->dm_uuid);
        if (r == -ENOMEM)
                return r;

        {
                _cleanup_free_ char *h = NULL, *s = NULL;
                if (asprintf(&h, "%s/holders", sys) < 0 || asprintf(&s, "%s/slaves", sys) < 0)
                        return -ENOMEM;
                r = list_dir(h, NULL, &d->holders);
                if (r < 0)
                        return r;
                r = list_dir(s, NULL, &d->slaves);
                if (r < 0)
                        return r;
        }

        if (parent) {
                d->type = BLOCKDEV_PARTITION;
                if (!(d->parent = strdup(parent->kname)))
                        return -ENOMEM;
                if (read_attr_u64(sys, "partition", &v) >= 0)
                        d->partno = (unsigned) v;
                d->logical_sector_size = parent->logical_sector_size;
                d->physical_sector_size = parent->physical_sector_size;
                d->rotational = parent->rotational;
                d->removable = parent->removable;
                d->read_only = d->read_only || parent->read_only;
        } else {
                d->type = type_of(kname, d->dm_uuid, has_partitions);
                if (read_attr_u64(sys, "queue/logical_block_size", &v) >= 0)
                        d->logical_sector_size = (unsigned) v;
                if (read_attr_u64(sys, "queue/physical_block_size", &v) >= 0)
                        d->physical_sector_size = (unsigned) v;
                if (read_attr_u64(sys, "queue/rotational", &v) >= 0)
                        d->rotational = v != 0;
                if (read_attr_u64(sys, "removable", &v) >= 0)
                        d->removable = v != 0;
                if (d->type == BLOCKDEV_DISK) {
                        r = read_identity(sys, d);
                        if (r < 0)
                                return r;
                }
        }
        if (d->logical_sector_size == 0)
                d->logical_sector_size = 512;
        if (d->physical_sector_size == 0)
                d->physical_sector_size = d->logical_sector_size;

        if (d->dm_name)
                r = asprintf(&d->devnode, "/dev/mapper/%s", d->dm_name);
        else
                r = asprintf(&d->devnode, "/dev/%s", kname);
        if (r < 0) {
                d->devnode = NULL;
                return -ENOMEM;
        }

        if (d->type == BLOCKDEV_MD) {
                d->md = calloc(1, sizeof(struct md_array));
                if (!d->md)
                        return -ENOMEM;
                r = read_attr(sys, "md/level", &d->md->level);
                if (r == -ENOMEM)
                        return r;
                r = read_attr(sys, "md/metadata_version", &d->md->metadata);
                if (r == -ENOMEM)
                        return r;
                /* Not in the kernel's sysfs; fixtures may carry it, else it
                 * comes from the members' superblocks (inspect_md). */
                r = read_attr(sys, "md/uuid", &d->md->uuid);
                if (r == -ENOMEM)
                        return r;
                if (read_attr_u64(sys, "md/raid_disks", &v) >= 0)
                        d->md->raid_disks = (unsigned) v;
                if (read_attr_u64(sys, "md/degraded", &v) >= 0)
                        d->md->degraded = v != 0;
                r = md_members_by_slot(sys, d->slaves, &d->md->members);
                if (r < 0)
                        return r;
        }
        return 1;
}

int inspect_sysfs(struct inspect_ctx *c) {
        _cleanup_free_ char *block = ictx_path(c, "/sys/block");
        _cleanup_strv_free_ char **names = NULL;
        int r;

        if (!block)
                return -ENOMEM;
        if (access(block, F_OK) < 0)
                return ictx_fail(c, -errno, "Cannot read %s: %m. Is sysfs mounted%s?", block,
                                 c->live ? "" : " (or is the sysroot a fixture tree)");
        r = list_dir(block, is_wanted_block, &names);
        if (r < 0)
                return ictx_fail(c, r, "Cannot list %s: %m", block);

        for (char **n = names; *n; n++) {
                _cleanup_free_ char *sys = NULL;
                _cleanup_strv_free_ char **parts = NULL;

                if (asprintf(&sys, "%s/%s", block, *n) < 0)
                        return -ENOMEM;
                r = list_dir(sys, is_partition_dir, &parts);
                if (r < 0)
                        return ictx_fail(c, r, "Cannot list %s: %m", sys);

                r = add_device(c, sys, *n, NULL, parts[0] != NULL);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                size_t disk = c->f->n_devices - 1;

                for (char **p = parts; *p; p++) {
                        _cleanup_free_ char *psys = NULL;
                        if (asprintf(&psys, "%s/%s", sys, *p) < 0)
                                return -ENOMEM;
                        /* by index: add_device() may move the array */
                        struct blockdev parent = c->f->devices[disk];
                        r = add_device(c, psys, *p, &parent, false);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int inspect_md(struct inspect_ctx *c) {
        struct facts *f = c->f;

        for (size_t i = 0; i < f->n_devices; i++) {
                struct blockdev *d = &f->devices[i];
                if (!d->md)
                        continue;

                /* The array's UUID is in each member's superblock, which
                 * libblkid read as the member's UUID. */
                if (!d->md->uuid)
                        for (char **m = d->md->members; m && *m; m++) {
                                struct blockdev *mem = facts_find_kname(f, *m);
                                if (mem && streq_ptr(mem->fstype, "linux_raid_member") && mem->fs_uuid) {
                                        d->md->uuid = uuid_to_mdadm(mem->fs_uuid);
                                        if (!d->md->uuid)
                                                return -ENOMEM;
                                        break;
                                }
                        }
                else if (!strchr(d->md->uuid, ':')) {
                        char *u = uuid_to_mdadm(d->md->uuid);
                        if (u) {
                                free(d->md->uuid);
                                d->md->uuid = u;
                        }
                }
        }
        return 0;
}
