/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Root on the btrfs subvolume @, /home on @home of the same filesystem. */
#include "inspect-test.h"

int main(int argc, char *argv[]) {
        struct facts *f = load_fixture(argc, argv);
        check_common(f, "btrfshost");

        const struct mount_point *root = mnt(f, "/"), *home = mnt(f, "/home");
        CHECK_STR(root->fstype, "btrfs");
        CHECK_STR(root->fs_root, "/@");
        CHECK(strstr(root->options, "subvol=/@") != NULL);
        CHECK_STR(root->kname, "sda2");
        CHECK_STR(home->fs_root, "/@home");
        CHECK_STR(home->kname, "sda2");

        struct blockdev *sda2 = dev(f, "sda2");
        CHECK_STR(sda2->fstype, "btrfs");
        CHECK_STR(sda2->fs_uuid, "a7000000-0000-4000-8000-000000000002");
        CHECK_U64(sda2->fs_size, sda2->size);
        /* Two mounts of one filesystem: its usage counts once. */
        CHECK_U64(sda2->fs_used, 3 * GiB);
        CHECK(has_signature(sda2, "btrfs", 0x10040));

        CHECK(part(dev(f, "sda"), 1)->role == PARTITION_ROLE_BIOS_GRUB);
        CHECK_U64(f->n_fstab, 3);
        CHECK_STR(f->fstab[0].kname, "sda2");
        CHECK_STR(f->fstab[1].kname, "sda2");
        CHECK(strstr(f->fstab[0].options, "subvol=@") != NULL);
        CHECK_STR(f->fstab[2].source, "/swapfile");
        CHECK(f->fstab[2].kname == NULL);
        CHECK(strstr(f->cmdline, "rootflags=subvol=@") != NULL);

        check_blank(f, "sdb", 20 * GiB);
        return finish(f);
}
