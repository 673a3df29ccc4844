/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Two NVMe drives, UEFI: partition names with "p", EUI-based stable ids. */
#include "inspect-test.h"

int main(int argc, char *argv[]) {
        struct facts *f = load_fixture(argc, argv);
        check_common(f, "nvmehost");

        CHECK(f->firmware == FIRMWARE_UEFI);
        CHECK(f->boot_loader == BOOT_LOADER_GRUB_EFI);

        struct blockdev *n0 = dev(f, "nvme0n1");
        CHECK(n0->type == BLOCKDEV_DISK);
        CHECK(!n0->rotational);
        CHECK_U64(n0->size, 476 * GiB);
        CHECK_STR(n0->stable_id, "/dev/disk/by-id/nvme-eui.002538b111b1a1a1");
        CHECK_STR(n0->model, "SAMSUNG MZVL2512HCJQ-00B00");
        CHECK_STR(n0->serial, "S675NX0T100001");
        CHECK(strv_contains(n0->links, "/dev/disk/by-id/nvme-SAMSUNG_MZVL2512HCJQ-00B00_S675NX0T100001"));
        CHECK(n0->table && n0->table->type == PARTITION_TABLE_GPT);
        CHECK(part(n0, 1)->role == PARTITION_ROLE_ESP);
        CHECK_STR(part(n0, 1)->kname, "nvme0n1p1");
        CHECK_STR(part(n0, 3)->kname, "nvme0n1p3");

        struct blockdev *p2 = dev(f, "nvme0n1p2");
        CHECK_STR(p2->parent, "nvme0n1");
        CHECK_U64(p2->partno, 2);
        CHECK_STR(p2->stable_id, "/dev/disk/by-id/nvme-eui.002538b111b1a1a1-part2");
        CHECK_U64(p2->fs_used, 40 * GiB);
        CHECK(facts_disk_of(f, p2) == n0);
        CHECK_STR(mnt(f, "/")->kname, "nvme0n1p2");
        CHECK_STR(mnt(f, "/boot/efi")->kname, "nvme0n1p1");
        CHECK_STR(dev(f, "nvme0n1p1")->fs_uuid, "ACAC-0001");
        CHECK_STR(f->fstab[1].kname, "nvme0n1p1");

        check_blank(f, "nvme1n1", 476 * GiB);
        CHECK_STR(dev(f, "nvme1n1")->stable_id, "/dev/disk/by-id/nvme-eui.002538b111b1a1a2");
        return finish(f);
}
