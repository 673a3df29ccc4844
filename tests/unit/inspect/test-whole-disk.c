/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ext4 on the whole of sda, no partition table; dracut. */
#include "inspect-test.h"

int main(int argc, char *argv[]) {
        struct facts *f = load_fixture(argc, argv);
        check_common(f, "wholehost");

        struct blockdev *sda = dev(f, "sda");
        CHECK(sda->type == BLOCKDEV_DISK);
        CHECK(sda->table == NULL);
        CHECK_STR(sda->fstype, "ext4");
        CHECK_STR(sda->fs_uuid, "a8000000-0000-4000-8000-000000000001");
        CHECK_STR(sda->fs_label, "cloudimg-rootfs");
        CHECK_U64(sda->fs_size, 20 * GiB);
        CHECK_U64(sda->fs_used, 1500 * MiB);
        CHECK_U64(sda->n_signatures, 1);
        CHECK(has_signature(sda, "ext4", 1080));
        CHECK_STR(sda->stable_id, "/dev/disk/by-id/wwn-0x5000c50000000a01");

        CHECK_STR(mnt(f, "/")->kname, "sda");
        CHECK_STR(f->fstab[0].source, "LABEL=cloudimg-rootfs");
        CHECK_STR(f->fstab[0].kname, "sda");
        CHECK(f->initramfs == INITRAMFS_DRACUT);
        CHECK(f->boot_loader == BOOT_LOADER_GRUB_PC);
        CHECK(facts_disk_of(f, sda) == sda);

        check_blank(f, "sdb", 20 * GiB);
        CHECK_U64(f->n_devices, 2);
        return finish(f);
}
