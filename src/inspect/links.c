/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Stable names: every /dev/disk/by-* link udev made for a device, and the
 * one the plan uses for it (blockdev.stable_id), because kernel names like
 * sda change from one boot to the next. */
#include <dirent.h>
#include <stdio.h>

#include "inspect/inspect-internal.h"
#include "util/strutil.h"

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static const char *const link_dirs[] = {
        "by-id", "by-path", "by-partuuid", "by-uuid", "by-partlabel", "by-label",
};

static int scan_dir(struct inspect_ctx *c, const char *sub) {
        _cleanup_free_ char *rel = NULL, *dir = NULL;
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (asprintf(&rel, "/dev/disk/%s", sub) < 0)
                return -ENOMEM;
        if (!(dir = ictx_path(c, rel)))
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return 0;       /* no udev (containers), or no such links */

        while (r >= 0 && (de = readdir(d))) {
                char target[PATH_MAX];
                _cleanup_free_ char *full = NULL, *link = NULL;
                ssize_t n;

                if (de->d_name[0] == '.')
                        continue;
                if (asprintf(&full, "%s/%s", dir, de->d_name) < 0 ||
                    asprintf(&link, "%s/%s", rel, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                n = readlink(full, target, sizeof target - 1);
                if (n < 0)
                        continue;
                target[n] = 0;
                /* udev's links are relative, "../../sda1": the kernel name
                 * is the last component. */
                const char *kname = strrchr(target, '/');
                kname = kname ? kname + 1 : target;
                struct blockdev *b = facts_find_kname(c->f, kname);
                if (b && !strv_contains(b->links, link))
                        r = strv_extend(&b->links, link);
        }
        closedir(d);
        return r;
}

/* udev names a partition's by-id and by-path links after the disk's, with
 * "-partN" appended. */
static bool has_part_suffix(const char *l) {
        const char *p = strrchr(l, '-');
        const char *n = p ? startswith(p, "-part") : NULL;
        return n && *n && strspn(n, "0123456789") == strlen(n);
}

/* The first link in links that starts with one of the prefixes (in the
 * order of the prefixes), or NULL. */
static const char *first_link(char **links, const char *const *prefixes, bool partition) {
        for (const char *const *p = prefixes; *p; p++)
                for (char **l = links; l && *l; l++) {
                        if (!startswith(*l, *p))
                                continue;
                        /* For a partition, by-id and by-path name the disk
                         * plus "-partN"; never a link of the whole disk. */
                        if (partition != has_part_suffix(*l) &&
                            (startswith(*l, "/dev/disk/by-id/") || startswith(*l, "/dev/disk/by-path/")))
                                continue;
                        return *l;
                }
        return NULL;
}

static const char *pick_stable_id(const struct blockdev *d) {
        /* WWN first (printed on the disk's label and the same through any
         * controller), then the bus's model_serial names, then the port. */
        static const char *const disk_order[] = {
                "/dev/disk/by-id/wwn-",
                "/dev/disk/by-id/nvme-eui.",
                "/dev/disk/by-id/ata-",
                "/dev/disk/by-id/nvme-",
                "/dev/disk/by-id/scsi-",
                "/dev/disk/by-id/virtio-",
                "/dev/disk/by-id/usb-",
                "/dev/disk/by-id/mmc-",
                "/dev/disk/by-id/xen-",
                "/dev/disk/by-path/",
                NULL,
        };
        static const char *const part_tail[] = {
                "/dev/disk/by-partuuid/",
                "/dev/disk/by-uuid/",
                NULL,
        };
        static const char *const md_order[] = { "/dev/disk/by-id/md-uuid-", "/dev/disk/by-id/md-name-", NULL };
        static const char *const dm_order[] = { "/dev/disk/by-id/dm-uuid-", "/dev/disk/by-id/dm-name-", NULL };
        static const char *const uuid_only[] = { "/dev/disk/by-uuid/", NULL };
        const char *s;

        switch (d->type) {
        case BLOCKDEV_DISK:
                return first_link(d->links, disk_order, false);
        case BLOCKDEV_PARTITION:
                s = first_link(d->links, disk_order, true);
                return s ? s : first_link(d->links, part_tail, true);
        case BLOCKDEV_MD:
                return first_link(d->links, md_order, false);
        case BLOCKDEV_CRYPT:
        case BLOCKDEV_LVM:
        case BLOCKDEV_DM_OTHER:
                s = first_link(d->links, dm_order, false);
                return s ? s : d->devnode;      /* /dev/mapper/NAME is stable too */
        default:
                return first_link(d->links, uuid_only, false);
        }
}

int inspect_links(struct inspect_ctx *c) {
        int r;

        for (size_t i = 0; i < ELEMENTSOF(link_dirs); i++) {
                r = scan_dir(c, link_dirs[i]);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < c->f->n_devices; i++) {
                struct blockdev *d = &c->f->devices[i];
                if (d->links)
                        qsort(d->links, strv_length(d->links), sizeof(char *), cmp_str);
                const char *s = pick_stable_id(d);
                /* Loop devices have no udev identity; their name is all
                 * there is (they only appear in tests). */
                if (!s && startswith(d->kname, "loop"))
                        s = d->devnode;
                if ((r = strdup_to(&d->stable_id, s)) < 0)
                        return r;

                /* by-id wwn-0x... is the WWN as udev read it. */
                const char *w = first_link(d->links, (const char *const[]) { "/dev/disk/by-id/wwn-", NULL }, false);
                if (d->type == BLOCKDEV_DISK && w && (r = strdup_to(&d->wwn, w + strlen("/dev/disk/by-id/wwn-"))) < 0)
                        return r;
        }
        return 0;
}
