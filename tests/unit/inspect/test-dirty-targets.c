/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Targets that are not blank: leftovers of an old array and an old PV, a
 * disk in use, a disk too small.  inspect reports; the planner refuses. */
#include "inspect-test.h"

int main(int argc, char *argv[]) {
        struct facts *f = load_fixture(argc, argv);
        check_common(f, "dirtyhost");

        /* sdb: an old DOS table and a stale md superblock on the whole disk,
         * as wipefs would list them, and an old ext4 in sdb1. */
        struct blockdev *sdb = dev(f, "sdb");
        CHECK(has_signature(sdb, "linux_raid_member", 4096));
        CHECK(has_signature(sdb, "dos", 510));
        CHECK_U64(sdb->n_signatures, 2);
        CHECK(sdb->table && sdb->table->type == PARTITION_TABLE_DOS);
        CHECK_STR(dev(f, "sdb1")->fstype, "ext4");
        CHECK_STR(dev(f, "sdb1")->fs_label, "old");
        CHECK(has_signature(dev(f, "sdb1"), "ext4", 1080));
        CHECK_U64(dev(f, "sdb1")->fs_used, 0);       /* not mounted */

        /* sdc: a stale LVM PV label, no table. */
        struct blockdev *sdc = dev(f, "sdc");
        CHECK_STR(sdc->fstype, "LVM2_member");
        CHECK(has_signature(sdc, "LVM2_member", 536));
        CHECK(sdc->table == NULL);

        /* sdd: its partition is mounted. */
        CHECK_STR(mnt(f, "/srv")->kname, "sdd1");
        CHECK_STR(dev(f, "sdd1")->parent, "sdd");
        CHECK(facts_disk_of(f, dev(f, "sdd1")) == dev(f, "sdd"));

        /* sde: blank but 2 GiB. */
        check_blank(f, "sde", 2 * GiB);

        /* sdf: the primary GPT was zeroed, the backup header at the end was
         * not.  No table for fdisk or the kernel, but not blank either. */
        struct blockdev *sdf = dev(f, "sdf");
        CHECK(sdf->table == NULL);
        CHECK(sdf->fstype == NULL);
        CHECK_U64(sdf->n_signatures, 1);
        CHECK(has_signature(sdf, "gpt", 20 * GiB - 512));

        /* The source is untouched by all that. */
        CHECK_STR(mnt(f, "/")->kname, "sda1");
        CHECK_U64(dev(f, "sda")->n_signatures, 1);
        return finish(f);
}
