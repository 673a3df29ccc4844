# shellcheck shell=bash
# lvm: BIOS, MBR; /boot on a plain partition, root and swap as logical
# volumes of the volume group vg0 on the second partition.  Needs
# device-mapper, so it is laid out inside a builder guest.
FIRMWARE=bios
BUILD_ON=guest
DISK_SIZE=4G

recipe_partition() { # DISK
        sfdisk --quiet --wipe always "$1" <<SFDISK
label: dos
start=2048, size=512MiB, type=83, bootable
type=8e
SFDISK
}

recipe_filesystems() { # DISK MNT
        mkfs.ext4 -q -F -L boot "$(part "$1" 1)"
        pvcreate -q -ff -y "$(part "$1" 2)"
        vgcreate -q vg0 "$(part "$1" 2)"
        lvcreate -q -y -L 512M -n swap vg0
        # Leaves some room in the VG, as installers do.
        lvcreate -q -y -l 90%FREE -n root vg0
        mkfs.ext4 -q -F -L root /dev/vg0/root
        mkswap -L swap /dev/vg0/swap >/dev/null
        mount /dev/vg0/root "$2"
        mkdir -p "$2/boot"
        mount "$(part "$1" 1)" "$2/boot"
        FSTAB+=("/dev/mapper/vg0-root / ext4 errors=remount-ro 0 1")
        fstab_add "$(part "$1" 1)" /boot ext4 defaults 2
        FSTAB+=("/dev/mapper/vg0-swap none swap sw 0 0")
}

recipe_close() { # DISK
        vgchange -q -an vg0 >/dev/null 2>&1 || true
}
