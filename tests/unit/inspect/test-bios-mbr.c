/* SPDX-License-Identifier: GPL-2.0-or-later */
/* BIOS + MBR: root ext4 on sda1, swap on sda2, four blank targets. */
#include "inspect-test.h"

int main(int argc, char *argv[]) {
        struct facts *f = load_fixture(argc, argv);
        check_common(f, "mbrhost");

        CHECK(f->firmware == FIRMWARE_BIOS);
        CHECK(f->boot_loader == BOOT_LOADER_GRUB_PC);
        CHECK(f->initramfs == INITRAMFS_TOOLS);
        CHECK(strstr(f->cmdline, "root=UUID=a1000000-0000-4000-8000-000000000001") != NULL);
        CHECK_STR(f->grub_cmdline_linux, "console=ttyS0,115200n8 net.ifnames=0");
        CHECK_STR(f->grub_install_devices, "/dev/disk/by-id/ata-ST20000NM007D_ZA1001A1");
        CHECK(f->mdadm_mailaddr == NULL);

        /* The source disk and its DOS table. */
        struct blockdev *sda = dev(f, "sda");
        CHECK(sda->type == BLOCKDEV_DISK);
        CHECK_U64(sda->size, 20 * GiB);
        CHECK_U64(sda->logical_sector_size, 512);
        CHECK(sda->rotational);
        CHECK_STR(sda->stable_id, "/dev/disk/by-id/wwn-0x5000c50000000a01");
        CHECK_STR(sda->wwn, "0x5000c50000000a01");
        CHECK_STR(sda->serial, "ZA1001A1");
        CHECK_STR(sda->model, "ST20000NM007D");
        CHECK(strv_contains(sda->links, "/dev/disk/by-path/pci-0000:00:1f.2-ata-1"));
        CHECK(sda->table && sda->table->type == PARTITION_TABLE_DOS);
        CHECK_STR(sda->table->id, "0xa1a1a1a1");
        CHECK_U64(sda->table->n_partitions, 2);
        CHECK(has_signature(sda, "dos", 510));

        const struct partition *p1 = part(sda, 1), *p2 = part(sda, 2);
        CHECK_U64(p1->start, 1 * MiB);
        CHECK_U64(p1->size, 18 * GiB);
        CHECK_STR(p1->type, "0x83");
        CHECK(p1->role == PARTITION_ROLE_DATA);
        CHECK(p1->bootable);
        CHECK_STR(p1->kname, "sda1");
        CHECK_STR(p1->uuid, "a1a1a1a1-01");
        CHECK_STR(p2->type, "0x82");
        CHECK(p2->role == PARTITION_ROLE_SWAP);
        CHECK(!p2->bootable);
        CHECK_U64(p2->start + p2->size, 20 * GiB);

        /* The root filesystem. */
        struct blockdev *sda1 = dev(f, "sda1");
        const struct mount_point *root = mnt(f, "/");
        CHECK_STR(root->kname, "sda1");
        CHECK_STR(root->fstype, "ext4");
        CHECK_STR(root->fs_root, "/");
        CHECK_STR(root->source, "/dev/sda1");
        CHECK(strstr(root->options, "errors=remount-ro") != NULL);
        CHECK(sda1->type == BLOCKDEV_PARTITION);
        CHECK_STR(sda1->parent, "sda");
        CHECK_U64(sda1->partno, 1);
        CHECK_STR(sda1->fstype, "ext4");
        CHECK_STR(sda1->fs_uuid, "a1000000-0000-4000-8000-000000000001");
        CHECK_STR(sda1->fs_label, "root");
        CHECK_STR(sda1->part_uuid, "a1a1a1a1-01");
        CHECK_U64(sda1->size, 18 * GiB);
        CHECK_U64(sda1->fs_size, 18 * GiB);
        CHECK_U64(sda1->fs_used, 3 * GiB);
        CHECK_STR(sda1->stable_id, "/dev/disk/by-id/wwn-0x5000c50000000a01-part1");
        CHECK(facts_disk_of(f, sda1) == sda);
        CHECK(facts_find_device(f, "UUID=a1000000-0000-4000-8000-000000000001") == NULL); /* not a path */
        CHECK(facts_find_device(f, "/dev/disk/by-uuid/a1000000-0000-4000-8000-000000000001") == sda1);
        CHECK(facts_find_device(f, "/dev/disk/by-partuuid/a1a1a1a1-01") == sda1);

        /* Swap. */
        struct blockdev *sda2 = dev(f, "sda2");
        CHECK_STR(sda2->fstype, "swap");
        CHECK_STR(sda2->fs_uuid, "a1000000-0000-4000-8000-000000000002");
        CHECK_U64(f->n_swaps, 1);
        CHECK_STR(f->swaps[0].kname, "sda2");
        CHECK(!f->swaps[0].is_file);
        CHECK_U64(f->swaps[0].size, sda2->size - 4096); /* the first page is the swap header */
        CHECK_U64(sda2->fs_size, f->swaps[0].size);

        /* fstab, resolved. */
        CHECK_U64(f->n_fstab, 3);
        CHECK_STR(f->fstab[0].source, "UUID=a1000000-0000-4000-8000-000000000001");
        CHECK_STR(f->fstab[0].target, "/");
        CHECK_STR(f->fstab[0].kname, "sda1");
        CHECK(f->fstab[0].passno == 1);
        CHECK_STR(f->fstab[1].fstype, "swap");
        CHECK_STR(f->fstab[1].kname, "sda2");
        CHECK_STR(f->fstab[2].source, "/dev/sr0");
        CHECK(f->fstab[2].kname == NULL);
        CHECK_U64(f->n_crypttab, 0);
        CHECK_U64(f->n_pvs + f->n_vgs + f->n_lvs, 0);

        /* Four blank targets for raid 1, 5, 6 and 10. */
        check_blank(f, "sdb", 20 * GiB);
        check_blank(f, "sdc", 20 * GiB);
        check_blank(f, "sdd", 20 * GiB);
        check_blank(f, "sde", 20 * GiB);
        CHECK_STR(dev(f, "sdb")->stable_id, "/dev/disk/by-id/wwn-0x5000c50000000a02");
        /* No WWN: the ata- name is next best. */
        CHECK_STR(dev(f, "sde")->stable_id, "/dev/disk/by-id/ata-Samsung_SSD_870_EVO_1TB_S6PUNX0T500001");
        CHECK(dev(f, "sde")->wwn == NULL);
        CHECK(!dev(f, "sde")->rotational);
        CHECK(facts_find_device(f, "/dev/disk/by-id/wwn-0x5000c50000000a03") == dev(f, "sdc"));
        CHECK(facts_find_device(f, "sdd") == dev(f, "sdd"));
        CHECK(facts_find_device(f, "/dev/sdd") == dev(f, "sdd"));
        CHECK(facts_find_device(f, "/dev/sdz") == NULL);
        CHECK_U64(f->n_devices, 7);

        return finish(f);
}
