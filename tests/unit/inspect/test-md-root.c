/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Root already on md0 (raid1 of sda1 + sdb1): the planner must see it. */
#include "inspect-test.h"

int main(int argc, char *argv[]) {
        struct facts *f = load_fixture(argc, argv);
        check_common(f, "mdhost");

        struct blockdev *md = dev(f, "md0");
        CHECK(md->type == BLOCKDEV_MD);
        CHECK(md->md != NULL);
        if (md->md) {
                CHECK_STR(md->md->level, "raid1");
                CHECK_STR(md->md->metadata, "1.2");
                CHECK_STR(md->md->uuid, "a6d00000:00004000:80000000:00000001");
                CHECK_U64(md->md->raid_disks, 2);
                CHECK(!md->md->degraded);
                CHECK(strv_length(md->md->members) == 2 && streq(md->md->members[0], "sda1") &&
                      streq(md->md->members[1], "sdb1"));
        }
        CHECK_STR(md->fstype, "ext4");
        CHECK_STR(md->fs_uuid, "a6000000-0000-4000-8000-000000000001");
        CHECK_STR(md->stable_id, "/dev/disk/by-id/md-uuid-a6d00000:00004000:80000000:00000001");
        CHECK(facts_disk_of(f, md) == dev(f, "sda"));

        const struct mount_point *root = mnt(f, "/");
        CHECK_STR(root->kname, "md0");
        CHECK_STR(root->source, "/dev/md0");
        CHECK_STR(f->fstab[0].kname, "md0");   /* UUID= names the array, not its members */

        for (const char *const *m = (const char *const[]) { "sda1", "sdb1", NULL }; *m; m++) {
                struct blockdev *d = dev(f, *m);
                CHECK_STR(d->fstype, "linux_raid_member");
                CHECK_STR(d->fs_uuid, "a6d00000-0000-4000-8000-000000000001");
                CHECK(has_signature(d, "linux_raid_member", 4096));
                CHECK(strv_length(d->holders) == 1 && streq(d->holders[0], "md0"));
        }
        CHECK(part(dev(f, "sda"), 1)->role == PARTITION_ROLE_RAID);
        CHECK_STR(part(dev(f, "sdb"), 1)->type, "0xfd");
        CHECK_STR(f->mdadm_mailaddr, "root@example.org");
        CHECK(strstr(f->grub_install_devices, "ZA1001A2") != NULL);

        check_blank(f, "sdc", 20 * GiB);
        return finish(f);
}
