/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Root on LUKS2: sda2 is the container, root_crypt its open mapping. */
#include "inspect-test.h"

int main(int argc, char *argv[]) {
        struct facts *f = load_fixture(argc, argv);
        check_common(f, "lukshost");

        struct blockdev *sda2 = dev(f, "sda2");
        CHECK_STR(sda2->fstype, "crypto_LUKS");
        CHECK_STR(sda2->fs_uuid, "a5000000-0000-4000-8000-00000000c0de");
        CHECK(sda2->luks != NULL);
        if (sda2->luks) {
                CHECK(sda2->luks->version == 2);
                CHECK_STR(sda2->luks->uuid, "a5000000-0000-4000-8000-00000000c0de");
                CHECK_U64(sda2->luks->data_offset, 16 * MiB);
                CHECK_STR(sda2->luks->cipher, "aes-xts-plain64");
                CHECK_U64(sda2->luks->key_size, 512);
                CHECK_STR(sda2->luks->active_name, "root_crypt");
                CHECK_STR(sda2->luks->active_kname, "dm-0");
        }

        struct blockdev *dm = dev(f, "dm-0");
        CHECK(dm->type == BLOCKDEV_CRYPT);
        CHECK_STR(dm->dm_name, "root_crypt");
        CHECK_STR(dm->dm_uuid, "CRYPT-LUKS2-a500000000004000800000000000c0de-root_crypt");
        CHECK_STR(dm->devnode, "/dev/mapper/root_crypt");
        CHECK_STR(dm->fstype, "ext4");
        CHECK_STR(dm->fs_uuid, "a5000000-0000-4000-8000-000000000002");
        CHECK_U64(dm->size, sda2->size - 16 * MiB);
        CHECK(facts_disk_of(f, dm) == dev(f, "sda"));
        CHECK_STR(mnt(f, "/")->kname, "dm-0");

        CHECK_U64(f->n_crypttab, 1);
        CHECK_STR(f->crypttab[0].name, "root_crypt");
        CHECK_STR(f->crypttab[0].source, "UUID=a5000000-0000-4000-8000-00000000c0de");
        CHECK_STR(f->crypttab[0].keyfile, "none");
        CHECK_STR(f->crypttab[0].options, "luks,discard");
        CHECK_STR(f->crypttab[0].kname, "sda2");

        CHECK_STR(mnt(f, "/boot")->kname, "sda1");
        CHECK_U64(f->n_swaps, 0);
        check_blank(f, "sdb", 20 * GiB);
        return finish(f);
}
