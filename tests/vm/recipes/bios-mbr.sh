# shellcheck shell=bash
# bios-mbr: BIOS boot from an MBR disk; root and swap partitions, GRUB in
# the MBR gap.  The most common single-disk install.
FIRMWARE=bios
BUILD_ON=host
DISK_SIZE=4G

recipe_partition() { # DISK
        sfdisk --quiet --wipe always "$1" <<SFDISK
label: dos
start=2048, size=3500MiB, type=83, bootable
type=82
SFDISK
}

recipe_filesystems() { # DISK MNT
        mkfs.ext4 -q -F -L root "$(part "$1" 1)"
        mkswap -L swap "$(part "$1" 2)" >/dev/null
        mount "$(part "$1" 1)" "$2"
        fstab_add "$(part "$1" 1)" / ext4 errors=remount-ro 1
        fstab_add "$(part "$1" 2)" none swap sw 0
}
