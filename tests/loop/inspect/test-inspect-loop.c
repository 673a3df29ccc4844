/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Inspects the live system while test-inspect-loop.sh has real images on
 * loop devices, and checks that each is seen as written: tables, types,
 * roles, UUIDs, PARTUUIDs, LUKS header, LVM PV, mounts and usage.
 * Usage: test-inspect-loop MBR-LOOP GPT-LOOP WHOLE-LOOP BLANK-LOOP MOUNTPOINT VG NOSCAN-LOOP DIRTY-LOOP
 *                          BTRFS-LOOP|none BTRFS-MOUNTPOINT */
#include <libgen.h>

#include "../../unit/inspect/inspect-test.h"

static char kn[8][32];

/* "/dev/loop3" + "p2" -> "loop3p2" */
static const char *kname_of(const char *devpath, unsigned partno) {
        static unsigned slot;
        char *b = kn[slot++ % ELEMENTSOF(kn)];
        const char *base = strrchr(devpath, '/') ? strrchr(devpath, '/') + 1 : devpath;
        if (partno)
                snprintf(b, sizeof kn[0], "%sp%u", base, partno);
        else
                snprintf(b, sizeof kn[0], "%s", base);
        return b;
}

static void check_mbr(const struct facts *f, const char *loop, const char *mountpoint) {
        struct blockdev *d = dev(f, kname_of(loop, 0));
        CHECK(d->type == BLOCKDEV_DISK);     /* a loop device with partitions is a disk */
        CHECK_U64(d->size, 1 * GiB);
        CHECK(d->table && d->table->type == PARTITION_TABLE_DOS);
        if (!d->table)
                return;
        CHECK_STR(d->table->id, "0xb1b1b1b1");
        CHECK_U64(d->table->n_partitions, 2);
        CHECK(has_signature(d, "dos", 510));
        const struct partition *p1 = part(d, 1), *p2 = part(d, 2);
        CHECK_U64(p1->start, 1 * MiB);
        CHECK_U64(p1->size, 800 * MiB);
        CHECK(p1->bootable);
        CHECK(p1->role == PARTITION_ROLE_DATA);
        CHECK_STR(p1->kname, kname_of(loop, 1));
        CHECK(p2->role == PARTITION_ROLE_SWAP);

        struct blockdev *root = dev(f, kname_of(loop, 1));
        CHECK(root->type == BLOCKDEV_PARTITION);
        CHECK_STR(root->parent, d->kname);
        CHECK_STR(root->fstype, "ext4");
        CHECK_STR(root->fs_uuid, "b1000000-0000-4000-8000-000000000001");
        CHECK_STR(root->fs_label, "lroot");
        CHECK_STR(root->part_uuid, "b1b1b1b1-01");    /* blkid, through the parent in sysfs */
        CHECK_U64(root->fs_size, 800 * MiB);
        CHECK(root->stable_id != NULL);
        CHECK(facts_disk_of(f, root) == d);

        const struct mount_point *m = mnt(f, mountpoint);
        CHECK_STR(m->kname, root->kname);
        CHECK_STR(m->fstype, "ext4");
        CHECK(root->fs_used >= 20 * MiB && root->fs_used < 200 * MiB);

        struct blockdev *swap = dev(f, kname_of(loop, 2));
        CHECK_STR(swap->fstype, "swap");
        CHECK_STR(swap->fs_uuid, "b1000000-0000-4000-8000-000000000002");
        CHECK_STR(swap->part_uuid, "b1b1b1b1-02");
}

static void check_gpt(const struct facts *f, const char *loop, const char *vg) {
        static const struct {
                enum partition_role role;
                const char *name;
        } want[] = {
                { PARTITION_ROLE_BIOS_GRUB, "bios_grub" },
                { PARTITION_ROLE_ESP, "esp" },
                { PARTITION_ROLE_DATA, "root" },
                { PARTITION_ROLE_SWAP, "swap" },
                { PARTITION_ROLE_DATA, "crypt" },
                { PARTITION_ROLE_LVM, "pv" },
        };
        struct blockdev *d = dev(f, kname_of(loop, 0));
        CHECK(d->table && d->table->type == PARTITION_TABLE_GPT);
        if (!d->table)
                return;
        CHECK_STR(d->table->id, "B2000000-0000-4000-8000-0000000000D0");
        CHECK_U64(d->table->n_partitions, ELEMENTSOF(want));
        CHECK(has_signature(d, "gpt", 512));
        for (unsigned i = 0; i < ELEMENTSOF(want); i++) {
                const struct partition *p = part(d, i + 1);
                char uuid[64];
                snprintf(uuid, sizeof uuid, "b2000000-0000-4000-8000-0000000000f%u", i + 1);
                CHECK(p->role == want[i].role);
                CHECK_STR(p->name, want[i].name);
                CHECK_STR(p->uuid, uuid);
                struct blockdev *pd = dev(f, kname_of(loop, i + 1));
                CHECK_STR(pd->part_uuid, uuid);
                CHECK_STR(pd->part_label, want[i].name);
                CHECK_U64(pd->size, p->size);
        }

        struct blockdev *esp = dev(f, kname_of(loop, 2));
        CHECK_STR(esp->fstype, "vfat");
        CHECK_STR(esp->fs_uuid, "B2B2-0002");
        CHECK_STR(esp->fs_label, "LESP");
        CHECK_STR(dev(f, kname_of(loop, 3))->fs_uuid, "b2000000-0000-4000-8000-000000000003");
        CHECK_STR(dev(f, kname_of(loop, 4))->fstype, "swap");

        /* The LUKS header, read with libcryptsetup; nothing can be open
         * without device-mapper. */
        struct blockdev *crypt = dev(f, kname_of(loop, 5));
        CHECK_STR(crypt->fstype, "crypto_LUKS");
        CHECK(crypt->luks != NULL);
        if (crypt->luks) {
                CHECK(crypt->luks->version == 2);
                CHECK_STR(crypt->luks->uuid, "b2000000-0000-4000-8000-00000000c0de");
                CHECK(crypt->luks->data_offset > 0 && crypt->luks->data_offset <= 16 * MiB);
                CHECK(crypt->luks->cipher != NULL);
                CHECK(crypt->luks->active_name == NULL);
        }

        /* The PV, from the live `lvm fullreport`. */
        struct blockdev *pv = dev(f, kname_of(loop, 6));
        CHECK_STR(pv->fstype, "LVM2_member");
        CHECK_STR(pv->fs_uuid, "B2pv00-0000-0000-0000-0000-0000-000001");
        bool found_pv = false, found_vg = false;
        for (size_t i = 0; i < f->n_pvs; i++)
                if (streq_ptr(f->pvs[i].kname, pv->kname)) {
                        found_pv = true;
                        CHECK_STR(f->pvs[i].vg, vg);
                        CHECK_STR(f->pvs[i].uuid, pv->fs_uuid);
                        CHECK(f->pvs[i].size > 0 && f->pvs[i].size <= pv->size);
                }
        for (size_t i = 0; i < f->n_vgs; i++)
                if (streq_ptr(f->vgs[i].name, vg)) {
                        found_vg = true;
                        CHECK(f->vgs[i].extent_size > 0);
                }
        CHECK(found_pv);
        CHECK(found_vg);
}

int main(int argc, char *argv[]) {
        struct inspect_options o = {};
        struct facts *f = NULL;
        char *err = NULL;

        if (argc != 11) {
                fprintf(stderr, "usage: %s MBR GPT WHOLE BLANK MOUNTPOINT VG NOSCAN DIRTY BTRFS|none BTRFS-MOUNTPOINT\n",
                        argv[0]);
                return 2;
        }
        int r = inspect_system(&o, &f, &err);
        if (r < 0) {
                fprintf(stderr, "inspect_system() on the live system failed: %s (%s)\n", strerror(-r), strna(err));
                free(err);
                return 1;
        }
        CHECK(f->sysroot == NULL);

        check_mbr(f, argv[1], argv[5]);
        check_gpt(f, argv[2], argv[6]);

        /* A filesystem on the whole loop device, no table. */
        struct blockdev *whole = dev(f, kname_of(argv[3], 0));
        CHECK(whole->type == BLOCKDEV_LOOP);
        CHECK(whole->table == NULL);
        CHECK_STR(whole->fstype, "ext4");
        CHECK_STR(whole->fs_uuid, "b3000000-0000-4000-8000-000000000001");
        CHECK_STR(whole->fs_label, "lwhole");
        CHECK(has_signature(whole, "ext4", 1080));
        CHECK_U64(whole->fs_size, 512 * MiB);

        /* The blank target. */
        struct blockdev *blank = dev(f, kname_of(argv[4], 0));
        CHECK(blank->type == BLOCKDEV_LOOP);
        CHECK_U64(blank->size, 1 * GiB);
        CHECK_U64(blank->n_signatures, 0);
        CHECK(blank->fstype == NULL && blank->table == NULL);

        /* A table on a loop device without partition devices: still read. */
        struct blockdev *noscan = dev(f, kname_of(argv[7], 0));
        CHECK(noscan->type == BLOCKDEV_LOOP);
        CHECK(noscan->table && noscan->table->type == PARTITION_TABLE_GPT);
        if (noscan->table) {
                CHECK_STR(noscan->table->id, "B5000000-0000-4000-8000-0000000000D0");
                CHECK_U64(noscan->table->n_partitions, 1);
                CHECK(noscan->table->n_partitions == 1 && noscan->table->partitions[0].kname == NULL);
        }

        /* A former array member: both signatures, as wipefs lists them. */
        struct blockdev *dirty = dev(f, kname_of(argv[8], 0));
        CHECK(has_signature(dirty, "linux_raid_member", 4096));
        CHECK(has_signature(dirty, "dos", 510));
        CHECK_STR(dirty->fstype, "linux_raid_member");
        CHECK_STR(dirty->fs_uuid, "b6000000-0000-4000-8000-00000000dead");

        /* btrfs: the mount's device number is anonymous; the source names
         * the partition, and fs_root the subvolume. */
        if (!streq(argv[9], "none")) {
                const struct mount_point *m = mnt(f, argv[10]);
                CHECK_STR(m->fstype, "btrfs");
                CHECK_STR(m->fs_root, "/@");
                CHECK_STR(m->kname, kname_of(argv[9], 1));
                CHECK(facts_find_devnum(f, m->devnum) == NULL);
                CHECK_STR(dev(f, kname_of(argv[9], 1))->fs_uuid, "b7000000-0000-4000-8000-000000000001");
                CHECK(dev(f, kname_of(argv[9], 1))->fs_used > 0);
        }

        for (size_t i = 0; i < f->n_devices; i++)
                CHECK(!f->devices[i].stable_id || !strstr(f->devices[i].stable_id, "/dev/sd"));

        return finish(f);
}
