/* SPDX-License-Identifier: GPL-2.0-or-later */
/* UEFI + GPT: ESP at /boot/efi, root ext4, swap; GRUB for EFI. */
#include "inspect-test.h"

int main(int argc, char *argv[]) {
        struct facts *f = load_fixture(argc, argv);
        check_common(f, "efihost");

        CHECK(f->firmware == FIRMWARE_UEFI);
        CHECK(f->boot_loader == BOOT_LOADER_GRUB_EFI);
        CHECK(f->initramfs == INITRAMFS_TOOLS);
        CHECK(f->grub_install_devices == NULL);     /* grub-pc's question; EFI has none */

        struct blockdev *sda = dev(f, "sda");
        CHECK(sda->table && sda->table->type == PARTITION_TABLE_GPT);
        const struct partition *esp = part(sda, 1);
        CHECK_STR(esp->type, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
        CHECK(esp->role == PARTITION_ROLE_ESP);
        CHECK_U64(esp->size, 512 * MiB);
        CHECK(part(sda, 2)->role == PARTITION_ROLE_DATA);
        CHECK(part(sda, 3)->role == PARTITION_ROLE_SWAP);

        struct blockdev *sda1 = dev(f, "sda1");
        CHECK_STR(sda1->fstype, "vfat");
        CHECK_STR(sda1->fs_uuid, "A3A3-0001");
        CHECK_STR(sda1->fs_label, "EFI");
        CHECK_STR(sda1->part_uuid, "a3000000-0000-4000-8000-0000000000f1");
        CHECK(sda1->fs_size > 500 * MiB && sda1->fs_size <= 512 * MiB);
        CHECK_U64(sda1->fs_used, 6 * MiB);

        const struct mount_point *efi = mnt(f, "/boot/efi");
        CHECK_STR(efi->kname, "sda1");
        CHECK_STR(efi->fstype, "vfat");
        CHECK_STR(mnt(f, "/")->kname, "sda2");
        CHECK_STR(dev(f, "sda2")->fs_uuid, "a3000000-0000-4000-8000-000000000002");

        /* fstab names the ESP by its vfat serial. */
        CHECK_STR(f->fstab[1].source, "UUID=A3A3-0001");
        CHECK_STR(f->fstab[1].kname, "sda1");
        CHECK_STR(f->swaps[0].kname, "sda3");

        check_blank(f, "sdb", 20 * GiB);
        return finish(f);
}
