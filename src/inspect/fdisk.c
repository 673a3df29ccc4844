/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Partition tables with libfdisk (read-only): label type and id, usable
 * area, alignment, and every partition with its type and role. */
#include <ctype.h>
#include <libfdisk/libfdisk.h>
#include <stdio.h>

#include "inspect/inspect-internal.h"

static void fdisk_unref_contextp(struct fdisk_context **c) {
        if (*c)
                fdisk_unref_context(*c);
}
static void fdisk_unref_tablep(struct fdisk_table **t) {
        if (*t)
                fdisk_unref_table(*t);
}

static const struct {
        const char *type;        /* GPT type GUID, or MBR code as "0x.." */
        enum partition_role role;
} roles[] = {
        { "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", PARTITION_ROLE_ESP },
        { "21686148-6449-6E6F-744E-656564454649", PARTITION_ROLE_BIOS_GRUB },
        { "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", PARTITION_ROLE_SWAP },
        { "A19D880F-05FC-4D3B-A006-743F0F84911E", PARTITION_ROLE_RAID },
        { "E6D6D379-F507-44C2-A23C-238F2A3DF928", PARTITION_ROLE_LVM },
        { "0xef", PARTITION_ROLE_ESP },
        { "0x82", PARTITION_ROLE_SWAP },
        { "0xfd", PARTITION_ROLE_RAID },
        { "0x8e", PARTITION_ROLE_LVM },
        { "0x05", PARTITION_ROLE_EXTENDED },
        { "0x0f", PARTITION_ROLE_EXTENDED },
        { "0x85", PARTITION_ROLE_EXTENDED },
};

/* Role of a partition from its type; anything unknown holds data. */
static enum partition_role role_of(const char *type) {
        for (size_t i = 0; i < ELEMENTSOF(roles); i++)
                if (strcasecmp(roles[i].type, type) == 0)
                        return roles[i].role;
        return PARTITION_ROLE_DATA;
}

static struct blockdev *find_partition(const struct facts *f, const char *disk, unsigned partno) {
        for (size_t i = 0; i < f->n_devices; i++)
                if (streq_ptr(f->devices[i].parent, disk) && f->devices[i].partno == partno)
                        return &f->devices[i];
        return NULL;
}

static int read_partition(struct fdisk_context *cxt, struct fdisk_partition *pa,
                          struct partition_table *t, struct partition *p) {
        struct fdisk_parttype *type = fdisk_partition_get_type(pa);
        uint64_t ss = t->sector_size;
        int r;

        p->partno = (unsigned) fdisk_partition_get_partno(pa) + 1;
        p->start = (uint64_t) fdisk_partition_get_start(pa) * ss;
        p->size = (uint64_t) fdisk_partition_get_size(pa) * ss;
        p->bootable = fdisk_partition_is_bootable(pa) == 1;

        if (t->type == PARTITION_TABLE_GPT) {
                const char *s = type ? fdisk_parttype_get_string(type) : NULL;
                if ((r = strdup_to(&p->type, s)) < 0)
                        return r;
                if (p->type)
                        for (char *c = p->type; *c; c++)
                                *c = (char) toupper((unsigned char) *c);
                if ((r = strdup_to(&p->uuid, fdisk_partition_get_uuid(pa))) < 0)
                        return r;
                /* lower case, as blkid and udev's by-partuuid write it */
                if (p->uuid)
                        for (char *c = p->uuid; *c; c++)
                                *c = (char) tolower((unsigned char) *c);
                if ((r = strdup_to(&p->name, fdisk_partition_get_name(pa))) < 0)
                        return r;
        } else {
                if (asprintf(&p->type, "0x%02x", type ? fdisk_parttype_get_code(type) : 0) < 0) {
                        p->type = NULL;
                        return -ENOMEM;
                }
                /* What the kernel and blkid call the PARTUUID of an MBR
                 * partition: the disk id and the partition number. */
                if (t->id && asprintf(&p->uuid, "%s-%02x", startswith(t->id, "0x") ? t->id + 2 : t->id,
                                      p->partno) < 0) {
                        p->uuid = NULL;
                        return -ENOMEM;
                }
        }
        p->role = p->type ? role_of(p->type) : PARTITION_ROLE_DATA;
        return 0;
}

static int read_table(struct inspect_ctx *c, struct blockdev *d) {
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = NULL;
        _cleanup_(fdisk_unref_tablep) struct fdisk_table *tb = NULL;
        _cleanup_free_ char *dev = NULL, *path = NULL, *id = NULL;
        struct partition_table *t;
        int r;

        if (asprintf(&dev, "/dev/%s", d->kname) < 0)
                return -ENOMEM;
        if (!(path = ictx_path(c, dev)))
                return -ENOMEM;
        if (!(cxt = fdisk_new_context()))
                return -ENOMEM;
        r = fdisk_assign_device(cxt, path, /* readonly= */ 1);
        if (r < 0)
                /* Not readable (no root, no node): blkid's signatures still
                 * say whether a table is there. */
                return 0;
        if (!fdisk_has_label(cxt))
                return 0;

        t = d->table = calloc(1, sizeof(struct partition_table));
        if (!t)
                return -ENOMEM;
        if (fdisk_is_labeltype(cxt, FDISK_DISKLABEL_GPT))
                t->type = PARTITION_TABLE_GPT;
        else if (fdisk_is_labeltype(cxt, FDISK_DISKLABEL_DOS))
                t->type = PARTITION_TABLE_DOS;
        else {
                /* sun, sgi, bsd: not something rootraid migrates from */
                d->table = partition_table_free(d->table);
                return 0;
        }

        t->sector_size = (unsigned) fdisk_get_sector_size(cxt);
        t->grain = fdisk_get_grain_size(cxt);
        t->first_usable = (uint64_t) fdisk_get_first_lba(cxt) * t->sector_size;
        t->last_usable = ((uint64_t) fdisk_get_last_lba(cxt) + 1) * t->sector_size - 1;
        if (fdisk_get_disklabel_id(cxt, &id) == 0 && id) {
                t->id = TAKE_PTR(id);
                if (t->type == PARTITION_TABLE_DOS)
                        for (char *s = t->id; *s; s++)
                                *s = (char) tolower((unsigned char) *s);
        }

        r = fdisk_get_partitions(cxt, &tb);
        if (r < 0)
                return ictx_fail(c, r, "Cannot read the partitions of %s: %m", path);

        size_t n = fdisk_table_get_nents(tb);
        for (size_t i = 0; i < n; i++) {
                struct fdisk_partition *pa = fdisk_table_get_partition(tb, i);
                struct partition *p;

                if (!pa || !fdisk_partition_has_partno(pa))
                        continue;
                p = array_append((void **) &t->partitions, &t->n_partitions, sizeof(struct partition));
                if (!p)
                        return -ENOMEM;
                r = read_partition(cxt, pa, t, p);
                if (r < 0)
                        return r;

                /* Fill in what blkid cannot find when the partition is an
                 * image file rather than a device with a parent in sysfs. */
                struct blockdev *pd = find_partition(c->f, d->kname, p->partno);
                if (!pd)
                        continue;
                if ((r = strdup_to(&p->kname, pd->kname)) < 0)
                        return r;
                if (!pd->part_uuid && p->uuid && (r = strdup_to(&pd->part_uuid, p->uuid)) < 0)
                        return r;
                if (!pd->part_label && p->name && (r = strdup_to(&pd->part_label, p->name)) < 0)
                        return r;
        }
        return 0;
}

int inspect_fdisk(struct inspect_ctx *c) {
        for (size_t i = 0; i < c->f->n_devices; i++) {
                struct blockdev *d = &c->f->devices[i];
                int r;

                /* A loop device attached without partition scanning still
                 * has its table read: it is a disk image. */
                if (d->type != BLOCKDEV_DISK && d->type != BLOCKDEV_MD && d->type != BLOCKDEV_LOOP)
                        continue;
                r = read_table(c, d);
                if (r < 0)
                        return ictx_fail(c, r, "Cannot read the partition table of /dev/%s: %m", d->kname);
        }
        return 0;
}
