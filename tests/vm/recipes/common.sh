# shellcheck shell=bash
# The part of every guest recipe that does not depend on the disk layout:
# the Debian packages and the configuration of the root tree.  Sourced by
# build-image on the host.  Any change here changes the cache key of every
# image, so the next run rebuilds them.

# Packages of every guest, besides the ones debootstrap installs.  The
# runtime libraries of the host-built rootraid binary are listed explicitly
# (libmount1 ... libjson-c5) so that a slimmer base cannot drop them.
COMMON_PACKAGES=(
        linux-image-amd64 systemd-sysv udev kmod
        mdadm lvm2 cryptsetup cryptsetup-bin
        openssh-server rsync attr acl e2fsprogs xfsprogs dosfstools fdisk gdisk
        libmount1 libblkid1 libfdisk1 libcryptsetup12 libjson-c5
        busybox zstd iproute2 procps less psmisc
)

# initramfs generator: initramfs-tools (default) or dracut.  The cryptsetup
# hooks are separate packages for each.
initramfs_packages() { # GENERATOR
        case $1 in
        initramfs-tools) echo initramfs-tools cryptsetup-initramfs ;;
        dracut) echo dracut dracut-core ;;
        *) return 1 ;;
        esac
}

# GRUB flavour for a firmware: the package a Debian installer would pick.
grub_packages() { # FIRMWARE
        case $1 in
        bios) echo grub-pc ;;
        uefi) echo grub-efi-amd64 efibootmgr ;;
        *) return 1 ;;
        esac
}

# configure_tree ROOT: the test-guest configuration of a freshly bootstrapped
# tree.  Runs on the host, before the packages are installed.
configure_tree() {
        local root=$1
        echo rootraid-guest >"$root/etc/hostname"
        printf '127.0.0.1\tlocalhost\n127.0.1.1\trootraid-guest\n' >"$root/etc/hosts"

        # Network: DHCP on whatever NIC QEMU gives, without waiting for it
        # at boot (QEMU's user network answers at once).
        mkdir -p "$root/etc/systemd/network"
        printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n' \
                >"$root/etc/systemd/network/50-rootraid-test.network"

        # SSH: root logs in with the key of the current test run, which the
        # launcher hands over through QEMU's fw_cfg (no extra disk that
        # rootraid would see, no change to the cached image).
        mkdir -p "$root/usr/local/sbin" "$root/etc/ssh/sshd_config.d" "$root/etc/modules-load.d"
        cat >"$root/usr/local/sbin/rootraid-test-keys" <<'KEYS'
#!/bin/sh
# sshd AuthorizedKeysCommand: the public key of this test run, from fw_cfg.
[ "$1" = root ] || exit 0
f=/sys/firmware/qemu_fw_cfg/by_name/opt/org.rootraid/ssh_key/raw
[ -r "$f" ] || modprobe qemu_fw_cfg 2>/dev/null
exec cat "$f" 2>/dev/null
KEYS
        chmod 0755 "$root/usr/local/sbin/rootraid-test-keys"
        echo qemu_fw_cfg >"$root/etc/modules-load.d/rootraid-test.conf"
        cat >"$root/etc/ssh/sshd_config.d/rootraid-test.conf" <<'SSHD'
PermitRootLogin prohibit-password
AuthorizedKeysCommand /usr/local/sbin/rootraid-test-keys %u
AuthorizedKeysCommandUser root
UseDNS no
SSHD

        # Under TCG on a loaded host, udev's coldplug has taken over 90 s
        # (systemd's default device timeout): /boot and swap then "time out"
        # and the guest lands in emergency mode.  Real hardware is not the
        # point here; patience is.
        mkdir -p "$root/etc/systemd/system.conf.d"
        printf '[Manager]\nDefaultTimeoutStartSec=600s\n' >"$root/etc/systemd/system.conf.d/rootraid-test.conf"

        # The serial console is the only console: GRUB and the kernel both
        # talk on ttyS0 so the launcher's console log shows the whole boot.
        # no_timer_check: under TCG on a loaded host the kernel's early
        # check of the IO-APIC timer can miss its ticks and panic ("IO-APIC
        # + timer doesn't work!"), with no timer left to reboot by; that
        # hung a RAID 5 guest's boot with a disk detached (2026-12-07).
        mkdir -p "$root/etc/default/grub.d"
        cat >"$root/etc/default/grub.d/rootraid-test.cfg" <<'GRUB'
GRUB_TIMEOUT=1
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=ttyS0,115200n8 no_timer_check"
GRUB_TERMINAL="serial console"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_OS_PROBER=true
GRUB

        # dracut on Debian builds host-only images by default; the tree is
        # assembled on another machine, so make it generic.
        mkdir -p "$root/etc/dracut.conf.d"
        printf 'hostonly="no"\n' >"$root/etc/dracut.conf.d/10-rootraid-test.conf"

        # Do not let package scripts try to install GRUB anywhere: the layout
        # step does that, on the right disk.
        cat >"$root/tmp/debconf.sel" <<'DEBCONF'
grub-pc grub-pc/install_devices_empty boolean true
grub-pc grub-pc/install_devices multiselect
grub-efi-amd64 grub2/force_efi_extra_removable boolean true
grub-efi-amd64 grub2/update_nvram boolean false
DEBCONF
}

# finish_tree ROOT: after the packages are installed.
finish_tree() {
        local root=$1
        chroot "$root" systemctl enable systemd-networkd ssh >/dev/null 2>&1
        chroot "$root" systemctl mask systemd-networkd-wait-online.service >/dev/null 2>&1
        # A console password, only for looking at a guest by hand.
        echo root:root | chroot "$root" chpasswd
        rm -f "$root/tmp/debconf.sel"
        # One machine id for every guest made from this tree: a guest that
        # boots for the first time would otherwise run systemd's first-boot
        # logic on every start from the pristine image.
        rm -f "$root/etc/machine-id" "$root/var/lib/dbus/machine-id"
        chroot "$root" systemd-machine-id-setup >/dev/null
        chroot "$root" apt-get clean
}
