/* SPDX-License-Identifier: GPL-2.0-or-later */
/* BIOS + GPT: bios_grub, /boot, root, swap on sda; sdb blank. */
#include "inspect-test.h"

int main(int argc, char *argv[]) {
        struct facts *f = load_fixture(argc, argv);
        check_common(f, "gpthost");

        CHECK(f->firmware == FIRMWARE_BIOS);
        CHECK(f->boot_loader == BOOT_LOADER_GRUB_PC);
        CHECK(f->initramfs == INITRAMFS_TOOLS);

        struct blockdev *sda = dev(f, "sda");
        struct partition_table *t = sda->table;
        CHECK(t && t->type == PARTITION_TABLE_GPT);
        if (!t)
                return finish(f);
        CHECK_STR(t->id, "A2000000-0000-4000-8000-0000000000D0");
        CHECK_U64(t->sector_size, 512);
        CHECK_U64(t->grain, 1 * MiB);
        CHECK_U64(t->first_usable, 1 * MiB);
        /* 33 sectors of backup GPT at the end of the disk */
        CHECK_U64(t->last_usable, 20 * GiB - 33 * 512 - 1);
        CHECK_U64(t->n_partitions, 4);
        CHECK(has_signature(sda, "gpt", 512));

        static const struct {
                unsigned partno;
                const char *type, *name;
                enum partition_role role;
        } want[] = {
                { 1, "21686148-6449-6E6F-744E-656564454649", "bios_grub", PARTITION_ROLE_BIOS_GRUB },
                { 2, "0FC63DAF-8483-4772-8E79-3D69D8477DE4", "boot", PARTITION_ROLE_DATA },
                { 3, "0FC63DAF-8483-4772-8E79-3D69D8477DE4", "root", PARTITION_ROLE_DATA },
                { 4, "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", "swap", PARTITION_ROLE_SWAP },
        };
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                const struct partition *p = part(sda, want[i].partno);
                char uuid[64], kname[8];
                snprintf(uuid, sizeof uuid, "a2000000-0000-4000-8000-0000000000f%u", want[i].partno);
                snprintf(kname, sizeof kname, "sda%u", want[i].partno);
                CHECK_STR(p->type, want[i].type);
                CHECK_STR(p->name, want[i].name);
                CHECK(p->role == want[i].role);
                CHECK_STR(p->uuid, uuid);
                CHECK_STR(p->kname, kname);
                CHECK_STR(dev(f, kname)->part_uuid, uuid);
                CHECK_STR(dev(f, kname)->part_label, want[i].name);
                CHECK_U64(dev(f, kname)->size, p->size);
        }
        CHECK_U64(part(sda, 1)->start, 1 * MiB);
        CHECK_U64(part(sda, 1)->size, 1 * MiB);
        CHECK_U64(part(sda, 2)->size, 512 * MiB);
        CHECK_U64(part(sda, 3)->size, 17 * GiB);
        CHECK(dev(f, "sda1")->fstype == NULL);      /* bios_grub holds GRUB's core, no filesystem */

        const struct mount_point *root = mnt(f, "/"), *boot = mnt(f, "/boot");
        CHECK_STR(root->kname, "sda3");
        CHECK_STR(boot->kname, "sda2");
        CHECK_STR(boot->fstype, "ext4");
        CHECK_STR(dev(f, "sda2")->fs_uuid, "a2000000-0000-4000-8000-000000000002");
        CHECK_STR(dev(f, "sda2")->fs_label, "boot");
        CHECK_U64(dev(f, "sda2")->fs_used, 80 * MiB);
        CHECK_STR(dev(f, "sda3")->fs_uuid, "a2000000-0000-4000-8000-000000000003");
        CHECK_U64(dev(f, "sda3")->fs_used, 2 * GiB);
        CHECK_STR(dev(f, "sda3")->stable_id, "/dev/disk/by-id/wwn-0x5000c50000000a01-part3");
        CHECK(facts_find_device(f, "/dev/disk/by-partuuid/a2000000-0000-4000-8000-0000000000f3") == dev(f, "sda3"));

        CHECK_U64(f->n_swaps, 1);
        CHECK_STR(f->swaps[0].kname, "sda4");
        CHECK_STR(dev(f, "sda4")->fstype, "swap");

        CHECK_U64(f->n_fstab, 3);
        CHECK_STR(f->fstab[1].target, "/boot");
        CHECK_STR(f->fstab[1].kname, "sda2");
        CHECK_STR(f->fstab[2].kname, "sda4");

        check_blank(f, "sdb", 20 * GiB);
        return finish(f);
}
