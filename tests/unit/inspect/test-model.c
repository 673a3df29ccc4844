/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The model without any fixture: string tables, destructors, look-ups. */
#include "inspect-test.h"

#define CHECK_TABLE(name, max)                                                  \
        for (int i = 0; i < (max); i++) {                                       \
                const char *s = name##_to_string(i);                            \
                CHECK(s != NULL);                                               \
                CHECK((int) name##_from_string(s) == i);                        \
        }                                                                       \
        CHECK((int) name##_from_string("no-such-name") == -EINVAL);             \
        CHECK((int) name##_from_string(NULL) == -EINVAL);                       \
        CHECK(name##_to_string(max) == NULL);                                   \
        CHECK(name##_to_string(-1) == NULL)

int main(void) {
        CHECK_TABLE(firmware, _FIRMWARE_MAX);
        CHECK_TABLE(boot_loader, _BOOT_LOADER_MAX);
        CHECK_TABLE(initramfs_generator, _INITRAMFS_MAX);
        CHECK_TABLE(blockdev_type, _BLOCKDEV_TYPE_MAX);
        CHECK_TABLE(partition_table_type, _PARTITION_TABLE_MAX);
        CHECK_TABLE(partition_role, _PARTITION_ROLE_MAX);

        /* The names are the plan's vocabulary: they must not drift. */
        CHECK_STR(firmware_to_string(FIRMWARE_UEFI), "uefi");
        CHECK_STR(boot_loader_to_string(BOOT_LOADER_GRUB_PC), "grub-pc");
        CHECK_STR(initramfs_generator_to_string(INITRAMFS_TOOLS), "initramfs-tools");
        CHECK_STR(blockdev_type_to_string(BLOCKDEV_DM_OTHER), "dm-other");
        CHECK_STR(partition_table_type_to_string(PARTITION_TABLE_DOS), "dos");
        CHECK_STR(partition_role_to_string(PARTITION_ROLE_BIOS_GRUB), "bios-grub");

        CHECK(facts_free(NULL) == NULL);
        CHECK(facts_find_kname(NULL, "sda") == NULL);
        CHECK(facts_find_device(NULL, "sda") == NULL);

        /* A tiny stack built by hand: md0 on sda1, sda1 on sda. */
        struct facts *f = calloc(1, sizeof(struct facts));
        CHECK(f != NULL);
        if (!f)
                return 1;
        f->n_devices = 3;
        f->devices = calloc(3, sizeof(struct blockdev));
        f->devices[0] = (struct blockdev) { .kname = strdup("sda"), .devnode = strdup("/dev/sda"), .type = BLOCKDEV_DISK };
        f->devices[1] = (struct blockdev) { .kname = strdup("sda1"), .devnode = strdup("/dev/sda1"),
                                            .type = BLOCKDEV_PARTITION, .parent = strdup("sda"), .partno = 1 };
        f->devices[2] = (struct blockdev) { .kname = strdup("md0"), .devnode = strdup("/dev/md0"), .type = BLOCKDEV_MD,
                                            .stable_id = strdup("/dev/disk/by-id/md-uuid-x") };
        CHECK(strv_extend(&f->devices[2].slaves, "sda1") == 0);
        CHECK(strv_extend(&f->devices[0].links, "/dev/disk/by-id/wwn-0x1") == 0);

        CHECK(facts_disk_of(f, &f->devices[2]) == &f->devices[0]);
        CHECK(facts_disk_of(f, &f->devices[1]) == &f->devices[0]);
        CHECK(facts_find_device(f, "/dev/disk/by-id/wwn-0x1") == &f->devices[0]);
        CHECK(facts_find_device(f, "/dev/disk/by-id/md-uuid-x") == &f->devices[2]);
        CHECK(facts_find_device(f, "md0") == &f->devices[2]);
        CHECK(facts_find_device(f, "/dev/sda1") == &f->devices[1]);

        /* A cycle in slaves (corrupt sysfs) must not hang. */
        CHECK(strv_extend(&f->devices[1].slaves, "md0") == 0);
        f->devices[1].type = BLOCKDEV_OTHER;
        CHECK(facts_disk_of(f, &f->devices[2]) == NULL);

        json_object *j = NULL, *v;
        CHECK(facts_to_json(f, &j) == 0);
        CHECK(json_object_object_get_ex(j, "devices", &v) && json_object_array_length(v) == 3);
        CHECK(json_object_object_get_ex(j, "hostname", &v) && v == NULL);   /* null, but present */
        json_object_put(j);

        return finish(f);
}
