# shellcheck shell=bash
# uefi: UEFI boot from a GPT disk: an ESP (GRUB in EFI/debian and in the
# removable path EFI/BOOT, since a fresh OVMF variable store has no boot
# entry), root and swap.
FIRMWARE=uefi
# The ESP is FAT and this host's kernel has no vfat: laid out in a guest.
BUILD_ON=guest
DISK_SIZE=4G

recipe_partition() { # DISK
        sfdisk --quiet --wipe always "$1" <<SFDISK
label: gpt
start=2048, size=256MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp
size=3300MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root
type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=swap
SFDISK
}

recipe_filesystems() { # DISK MNT
        mkfs.vfat -F 32 -n ESP "$(part "$1" 1)" >/dev/null
        mkfs.ext4 -q -F -L root "$(part "$1" 2)"
        mkswap -L swap "$(part "$1" 3)" >/dev/null
        mount "$(part "$1" 2)" "$2"
        mkdir -p "$2/boot/efi"
        mount "$(part "$1" 1)" "$2/boot/efi"
        fstab_add "$(part "$1" 2)" / ext4 errors=remount-ro 1
        # As on bios-gpt: a TCG guest on a loaded host can take longer than
        # systemd's 90 s to show these devices (emergency mode otherwise).
        fstab_add "$(part "$1" 1)" /boot/efi vfat umask=0077,x-systemd.device-timeout=600s 1
        fstab_add "$(part "$1" 3)" none swap sw,x-systemd.device-timeout=600s 0
}
