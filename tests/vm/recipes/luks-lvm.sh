# shellcheck shell=bash
# luks-lvm: Debian's "encrypted LVM": BIOS, MBR; /boot on a plain partition,
# LUKS2 on the second partition, and inside it the volume group vg0 with
# the root and swap LVs.  Unlocked at boot by a key file that the initramfs
# carries (and by the passphrase "rootraid" in another key slot, for a
# person at the console).  Needs device-mapper, so it is laid out inside a
# builder guest.
FIRMWARE=bios
BUILD_ON=guest
DISK_SIZE=4G
INITRAMFS_SUPPORTED="initramfs-tools"
# The initramfs must carry the crypttab entry and its keyfile.
INITRAMFS=make

recipe_partition() { # DISK
        sfdisk --quiet --wipe always "$1" <<SFDISK
label: dos
start=2048, size=512MiB, type=83, bootable
type=83
SFDISK
}

recipe_filesystems() { # DISK MNT
        local key=/run/rootraid-build-root.key
        mkfs.ext4 -q -F -L boot "$(part "$1" 1)"
        head -c 64 /dev/urandom >"$key"
        # A small PBKDF memory cost so that unlocking stays quick under TCG.
        printf rootraid | cryptsetup luksFormat -q --type luks2 --pbkdf argon2id \
                --pbkdf-memory 65536 --iter-time 500 "$(part "$1" 2)" -
        printf rootraid | cryptsetup luksAddKey -q --pbkdf argon2id --pbkdf-memory 65536 \
                --iter-time 500 --key-file - "$(part "$1" 2)" "$key"
        cryptsetup open --key-file "$key" "$(part "$1" 2)" pv_crypt
        pvcreate -q -ff -y /dev/mapper/pv_crypt
        vgcreate -q vg0 /dev/mapper/pv_crypt
        lvcreate -q -y -L 256M -n swap vg0
        # Leaves some room in the VG, as installers do.
        lvcreate -q -y -l 90%FREE -n root vg0
        mkfs.ext4 -q -F -L root /dev/vg0/root
        mkswap -L swap /dev/vg0/swap >/dev/null
        mount /dev/vg0/root "$2"
        mkdir -p "$2/boot"
        mount "$(part "$1" 1)" "$2/boot"
        FSTAB+=("/dev/mapper/vg0-root / ext4 errors=remount-ro 0 1")
        # As on luks: a TCG guest on a loaded host can take longer than
        # systemd's 90 s to show /boot's device.
        fstab_add "$(part "$1" 1)" /boot ext4 defaults,x-systemd.device-timeout=600s 2
        FSTAB+=("/dev/mapper/vg0-swap none swap sw 0 0")
        CRYPTTAB+=("pv_crypt UUID=$(blkid -s UUID -o value "$(part "$1" 2)") /etc/keys/root.key luks,discard,key-slot=1")
}

recipe_configure() { # MNT: after the tree is in place
        install -d -m 0700 "$1/etc/keys"
        install -m 0400 /run/rootraid-build-root.key "$1/etc/keys/root.key"
        rm -f /run/rootraid-build-root.key
        # The keyfile goes into the initramfs, which must then be private.
        echo 'KEYFILE_PATTERN="/etc/keys/*.key"' >>"$1/etc/cryptsetup-initramfs/conf-hook"
        echo 'UMASK=0077' >>"$1/etc/initramfs-tools/initramfs.conf"
}

recipe_close() { # DISK
        vgchange -q -an vg0 >/dev/null 2>&1 || true
        cryptsetup close pv_crypt 2>/dev/null || true
}
