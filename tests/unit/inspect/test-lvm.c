/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Root on LVM: sda2 is the PV of vg0, root and swap are LVs. */
#include "inspect-test.h"

int main(int argc, char *argv[]) {
        struct facts *f = load_fixture(argc, argv);
        check_common(f, "lvmhost");

        struct blockdev *sda2 = dev(f, "sda2");
        CHECK_STR(sda2->fstype, "LVM2_member");
        CHECK_STR(sda2->fs_uuid, "A4pv00-0000-0000-0000-0000-0000-000001");
        CHECK(has_signature(sda2, "LVM2_member", 536));
        CHECK(part(dev(f, "sda"), 2)->role == PARTITION_ROLE_LVM);
        CHECK_STR(part(dev(f, "sda"), 2)->type, "0x8e");
        CHECK_U64(strv_length(sda2->holders), 2);
        CHECK(strv_contains(sda2->holders, "dm-0") && strv_contains(sda2->holders, "dm-1"));

        /* The root LV. */
        const struct mount_point *root = mnt(f, "/");
        CHECK_STR(root->kname, "dm-0");
        CHECK_STR(root->source, "/dev/mapper/vg0-root");
        struct blockdev *lv = dev(f, "dm-0");
        CHECK(lv->type == BLOCKDEV_LVM);
        CHECK_STR(lv->dm_name, "vg0-root");
        CHECK(startswith(lv->dm_uuid, "LVM-") != NULL);
        CHECK_STR(lv->devnode, "/dev/mapper/vg0-root");
        CHECK_STR(lv->fstype, "ext4");
        CHECK_STR(lv->fs_uuid, "a4000000-0000-4000-8000-000000000002");
        CHECK_U64(lv->size, 16 * GiB);
        CHECK(strv_length(lv->slaves) == 1 && streq(lv->slaves[0], "sda2"));
        CHECK(facts_disk_of(f, lv) == dev(f, "sda"));
        CHECK(startswith(lv->stable_id, "/dev/disk/by-id/dm-uuid-LVM-") != NULL);
        CHECK(facts_find_device(f, "/dev/mapper/vg0-root") == lv);

        /* lvm's report. */
        CHECK_U64(f->n_vgs, 1);
        CHECK_STR(f->vgs[0].name, "vg0");
        CHECK_STR(f->vgs[0].uuid, "A4vg00-0000-0000-0000-0000-0000-000001");
        CHECK_U64(f->vgs[0].extent_size, 4 * MiB);
        CHECK(f->vgs[0].free > 2 * GiB && f->vgs[0].free < 3 * GiB);
        CHECK_U64(f->n_pvs, 1);
        CHECK_STR(f->pvs[0].name, "/dev/sda2");
        CHECK_STR(f->pvs[0].kname, "sda2");
        CHECK_STR(f->pvs[0].vg, "vg0");
        CHECK_STR(f->pvs[0].uuid, sda2->fs_uuid);
        CHECK_U64(f->n_lvs, 2);
        CHECK_STR(f->lvs[0].name, "root");
        CHECK_STR(f->lvs[0].vg, "vg0");
        CHECK_STR(f->lvs[0].path, "/dev/vg0/root");
        CHECK_STR(f->lvs[0].kname, "dm-0");
        CHECK_U64(f->lvs[0].size, 16 * GiB);
        CHECK_STR(f->lvs[1].name, "swap");
        CHECK_STR(f->lvs[1].kname, "dm-1");

        /* /boot stays a plain partition. */
        CHECK_STR(mnt(f, "/boot")->kname, "sda1");
        CHECK_STR(f->swaps[0].kname, "dm-1");
        CHECK_STR(f->fstab[0].source, "/dev/mapper/vg0-root");
        CHECK_STR(f->fstab[0].kname, "dm-0");
        CHECK_STR(f->fstab[2].kname, "dm-1");

        check_blank(f, "sdb", 20 * GiB);
        return finish(f);
}
