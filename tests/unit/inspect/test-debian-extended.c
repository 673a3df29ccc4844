/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Debian's default BIOS layout: root on sda1, swap on logical sda5 inside
 * the extended sda2. */
#include "inspect-test.h"

int main(int argc, char *argv[]) {
        struct facts *f = load_fixture(argc, argv);
        check_common(f, "debhost");

        struct blockdev *sda = dev(f, "sda");
        CHECK(sda->table && sda->table->type == PARTITION_TABLE_DOS);
        CHECK_U64(sda->table->n_partitions, 3);

        const struct partition *ext = part(sda, 2), *sw = part(sda, 5);
        CHECK(ext->role == PARTITION_ROLE_EXTENDED);
        CHECK_STR(ext->type, "0x05");
        CHECK(sw->role == PARTITION_ROLE_SWAP);
        CHECK(sw->start > ext->start && sw->start + sw->size <= ext->start + ext->size);
        CHECK_U64(ext->start + ext->size, 20 * GiB);
        CHECK_STR(sw->uuid, "adadadad-05");
        CHECK_STR(sw->kname, "sda5");

        /* The kernel's extended partition device is only its first 1 KiB. */
        CHECK_U64(dev(f, "sda2")->size, 1024);
        CHECK(dev(f, "sda2")->fstype == NULL);
        CHECK_U64(dev(f, "sda5")->partno, 5);
        CHECK_STR(dev(f, "sda5")->fs_uuid, "ad000000-0000-4000-8000-000000000005");
        CHECK_STR(dev(f, "sda5")->part_uuid, "adadadad-05");
        CHECK_STR(f->swaps[0].kname, "sda5");
        CHECK_STR(f->fstab[1].kname, "sda5");
        CHECK_STR(mnt(f, "/")->kname, "sda1");
        CHECK(part(sda, 1)->bootable);

        check_blank(f, "sdb", 20 * GiB);
        return finish(f);
}
