/* SPDX-License-Identifier: GPL-2.0-or-later */
/* LVM on LUKS (Debian's encrypted LVM): the stack from the root LV down to
 * the disk must be visible whole, so the planner can refuse it precisely. */
#include "inspect-test.h"

int main(int argc, char *argv[]) {
        struct facts *f = load_fixture(argc, argv);
        check_common(f, "cryptlvm");

        /* / -> dm-1 (LV) -> dm-0 (crypt, the PV) -> sda5 (LUKS) -> sda */
        struct blockdev *lv = dev(f, "dm-1"), *crypt = dev(f, "dm-0"), *sda5 = dev(f, "sda5");
        CHECK_STR(mnt(f, "/")->kname, "dm-1");
        CHECK(lv->type == BLOCKDEV_LVM);
        CHECK_STR(lv->dm_name, "debian--vg-root");  /* dashes doubled in dm names */
        CHECK(strv_length(lv->slaves) == 1 && streq(lv->slaves[0], "dm-0"));
        CHECK(crypt->type == BLOCKDEV_CRYPT);
        CHECK_STR(crypt->fstype, "LVM2_member");
        CHECK(strv_contains(crypt->holders, "dm-1") && strv_contains(crypt->holders, "dm-2"));
        CHECK(strv_length(crypt->slaves) == 1 && streq(crypt->slaves[0], "sda5"));
        CHECK(sda5->luks && streq_ptr(sda5->luks->active_kname, "dm-0"));
        CHECK(facts_disk_of(f, lv) == dev(f, "sda"));

        CHECK_U64(f->n_pvs, 1);
        CHECK_STR(f->pvs[0].name, "/dev/mapper/sda5_crypt");
        CHECK_STR(f->pvs[0].kname, "dm-0");
        CHECK_STR(f->pvs[0].vg, "debian-vg");
        CHECK_U64(f->n_lvs, 2);
        CHECK_STR(f->lvs[0].path, "/dev/debian-vg/root");
        CHECK_STR(f->lvs[0].kname, "dm-1");
        CHECK_STR(f->lvs[1].kname, "dm-2");
        CHECK_STR(f->swaps[0].kname, "dm-2");
        CHECK_STR(f->fstab[2].kname, "dm-2");
        CHECK_STR(f->crypttab[0].name, "sda5_crypt");
        CHECK_STR(f->crypttab[0].kname, "sda5");
        CHECK(part(dev(f, "sda"), 2)->role == PARTITION_ROLE_EXTENDED);

        check_blank(f, "sdb", 20 * GiB);
        return finish(f);
}
