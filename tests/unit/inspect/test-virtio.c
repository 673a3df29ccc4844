/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A QEMU guest's virtio disks: stable names from serials, or the PCI path
 * when a disk has no serial. */
#include "inspect-test.h"

int main(int argc, char *argv[]) {
        struct facts *f = load_fixture(argc, argv);
        check_common(f, "guest");

        struct blockdev *vda = dev(f, "vda");
        CHECK(vda->type == BLOCKDEV_DISK);
        CHECK_STR(vda->serial, "rr-sys");              /* from sysfs vda/serial */
        CHECK(vda->wwn == NULL);
        CHECK_STR(vda->stable_id, "/dev/disk/by-id/virtio-rr-sys");
        CHECK_STR(dev(f, "vda1")->stable_id, "/dev/disk/by-id/virtio-rr-sys-part1");
        CHECK_STR(mnt(f, "/")->kname, "vda1");
        CHECK_STR(f->swaps[0].kname, "vda2");
        CHECK_STR(f->grub_install_devices, "/dev/disk/by-id/virtio-rr-sys");
        CHECK(facts_find_device(f, f->grub_install_devices) == vda);

        check_blank(f, "vdb", 8 * GiB);
        check_blank(f, "vdc", 8 * GiB);
        check_blank(f, "vdd", 8 * GiB);
        CHECK_STR(dev(f, "vdb")->stable_id, "/dev/disk/by-id/virtio-rr-t1");
        CHECK_STR(dev(f, "vdc")->stable_id, "/dev/disk/by-id/virtio-rr-t2");
        /* No serial, no by-id: the port it is plugged in is what is left. */
        CHECK_STR(dev(f, "vdd")->stable_id, "/dev/disk/by-path/pci-0000:00:07.0");
        CHECK(dev(f, "vdd")->serial == NULL);
        return finish(f);
}
