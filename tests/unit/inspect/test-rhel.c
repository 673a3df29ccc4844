/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A RHEL-style system: no dpkg, grub2 paths, dracut, xfs root, a swap
 * file, configuration spread over grub.d and /etc/mdadm.conf, and a LUKS1
 * data volume that is not open. */
#include "inspect-test.h"

int main(int argc, char *argv[]) {
        struct facts *f = load_fixture(argc, argv);
        check_references(f);

        CHECK_STR(f->hostname, "rhelhost");
        CHECK_STR(f->os_id, "rhel");                  /* quotes removed, from /usr/lib/os-release */
        CHECK_STR(f->os_version_id, "9.3");
        CHECK_STR(f->kernel_release, "5.14.0-362.el9.x86_64");

        /* Found from files alone: /boot/grub2/i386-pc and /usr/bin/dracut. */
        CHECK(f->boot_loader == BOOT_LOADER_GRUB_PC);
        CHECK(f->initramfs == INITRAMFS_DRACUT);
        CHECK(f->firmware == FIRMWARE_BIOS);
        /* grub.d/50-console.cfg appends to the main file's value. */
        CHECK_STR(f->grub_cmdline_linux, "crashkernel=1G-4G:192M rhgb quiet console=ttyS0,115200");
        CHECK_STR(f->mdadm_mailaddr, "admin@example.com");
        CHECK(f->grub_install_devices == NULL);

        /* xfs root, its size from the xfs superblock. */
        struct blockdev *root = dev(f, "sda3");
        CHECK_STR(mnt(f, "/")->kname, "sda3");
        CHECK_STR(root->fstype, "xfs");
        CHECK_STR(root->fs_label, "root");
        CHECK_U64(root->fs_size, root->size);
        CHECK(has_signature(root, "xfs", 0));
        CHECK_U64(root->fs_used, 4 * GiB);

        /* The swap file: its name unescaped, no device. */
        CHECK_U64(f->n_swaps, 1);
        CHECK_STR(f->swaps[0].source, "/swap file");
        CHECK(f->swaps[0].is_file);
        CHECK(f->swaps[0].kname == NULL);
        CHECK_U64(f->swaps[0].size, 2 * GiB - 4096);
        CHECK_STR(f->fstab[2].source, "/swap file");

        /* A LUKS1 container, not open. */
        struct blockdev *data = dev(f, "sdb1");
        CHECK(data->luks != NULL);
        if (data->luks) {
                CHECK(data->luks->version == 1);
                CHECK_STR(data->luks->uuid, "ae000000-0000-4000-8000-0000000000c1");
                CHECK_U64(data->luks->data_offset, 2 * MiB);
                CHECK(data->luks->active_name == NULL && data->luks->active_kname == NULL);
        }
        CHECK_U64(strv_length(data->holders), 0);
        /* crypttab with name and device only: no key file means "none". */
        CHECK_U64(f->n_crypttab, 1);
        CHECK_STR(f->crypttab[0].name, "data");
        CHECK_STR(f->crypttab[0].keyfile, "none");
        CHECK(f->crypttab[0].options == NULL);
        CHECK_STR(f->crypttab[0].kname, "sdb1");

        CHECK(part(dev(f, "sda"), 1)->role == PARTITION_ROLE_BIOS_GRUB);
        check_blank(f, "sdc", 20 * GiB);
        return finish(f);
}
