# shellcheck shell=bash
# bios-gpt: BIOS boot from a GPT disk: a bios_grub partition for GRUB's core
# image, a separate /boot, root and swap.
FIRMWARE=bios
BUILD_ON=host
DISK_SIZE=4G

recipe_partition() { # DISK
        sfdisk --quiet --wipe always "$1" <<SFDISK
label: gpt
start=2048, size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name=bios_grub
size=512MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=boot
size=3000MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root
type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=swap
SFDISK
}

recipe_filesystems() { # DISK MNT
        mkfs.ext4 -q -F -L boot "$(part "$1" 2)"
        mkfs.ext4 -q -F -L root "$(part "$1" 3)"
        mkswap -L swap "$(part "$1" 4)" >/dev/null
        mount "$(part "$1" 3)" "$2"
        mkdir -p "$2/boot"
        mount "$(part "$1" 2)" "$2/boot"
        fstab_add "$(part "$1" 3)" / ext4 errors=remount-ro 1
        # A TCG guest on a loaded host has taken over 90 s (systemd's
        # default) to show these devices: it then stopped in emergency mode.
        fstab_add "$(part "$1" 2)" /boot ext4 defaults,x-systemd.device-timeout=600s 2
        fstab_add "$(part "$1" 4)" none swap sw,x-systemd.device-timeout=600s 0
}
