#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real disk images with the layouts of the fixtures, on loop devices, read
# by inspect_system() on the live system through libblkid, libfdisk,
# libcryptsetup, libmount and lvm.  The host kernel has no md and no dm, so
# the md-root layout and open LUKS/LVM mappings are for the vm suite; here
# the LUKS header and the PV are read without being opened.
# Usage: test-inspect-loop.sh TEST-BINARY MAKE-FIXTURE DUMP-FACTS
set -u
BIN=$1
MAKE_FIXTURE=$2
DUMP=$3

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root for loop devices"
for t in losetup sfdisk mkfs.ext4 mkfs.vfat mkswap cryptsetup pvcreate vgcreate blkid python3; do
        command -v "$t" >/dev/null || skip "$t is not installed"
done
[ -e /dev/loop-control ] || skip "no /dev/loop-control"

TMP=$(mktemp -d /tmp/rootraid-inspect-loop.XXXXXX)
VG=rrinspect$$
LOOPS=()
cleanup() {
        umount "$TMP/mnt" 2>/dev/null
        umount "$TMP/bmnt" 2>/dev/null
        vgremove -f --driverloaded n "$VG" >/dev/null 2>&1
        for l in "${LOOPS[@]}"; do
                pvremove -ff -y "${l}p6" >/dev/null 2>&1
                partx --delete "$l" 2>/dev/null
                losetup -d "$l"
        done
        rm -rf "$TMP"
}
trap cleanup EXIT

attach() { # VAR IMAGE [no-scan]: attaches IMAGE (with partition scanning), sets VAR
        local l scan=(-P)
        [ "${3:-}" = no-scan ] && scan=()
        l=$(losetup -f --show "${scan[@]}" "$2") || skip "cannot attach a loop device"
        LOOPS+=("$l")
        printf -v "$1" %s "$l"
}

wait_parts() { # LOOP N: partition N of LOOP exists as a device node
        # losetup -P has the kernel scan the table, but in some containers
        # that is a no-op: partx adds the partitions itself then.
        for i in $(seq 50); do
                [ -b "$1p$2" ] && return 0
                [ "$i" = 10 ] && partx --add "$1" 2>/dev/null
                sleep 0.1
        done
        echo "FAIL: $1p$2 did not appear"; exit 1
}

export LVM_SUPPRESS_FD_WARNINGS=1

# 1. bios-mbr: dos label, ext4 root (active) + swap.
truncate -s 1G "$TMP/mbr.img"
sfdisk -q "$TMP/mbr.img" <<'S' || exit 1
label: dos
label-id: 0xb1b1b1b1
start=2048, size=1638400, type=83, bootable
type=82
S
attach MBR "$TMP/mbr.img"
wait_parts "$MBR" 2
mkfs.ext4 -q -F -U b1000000-0000-4000-8000-000000000001 -L lroot "${MBR}p1" || exit 1
mkswap -U b1000000-0000-4000-8000-000000000002 "${MBR}p2" >/dev/null || exit 1

# 2. gpt: bios_grub, ESP, ext4, swap, LUKS2, LVM PV.
truncate -s 1G "$TMP/gpt.img"
sfdisk -q "$TMP/gpt.img" <<'S' || exit 1
label: gpt
label-id: B2000000-0000-4000-8000-0000000000D0
start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, uuid=B2000000-0000-4000-8000-0000000000F1, name=bios_grub
size=131072, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=B2000000-0000-4000-8000-0000000000F2, name=esp
size=524288, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=B2000000-0000-4000-8000-0000000000F3, name=root
size=131072, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, uuid=B2000000-0000-4000-8000-0000000000F4, name=swap
size=131072, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=B2000000-0000-4000-8000-0000000000F5, name=crypt
type=E6D6D379-F507-44C2-A23C-238F2A3DF928, uuid=B2000000-0000-4000-8000-0000000000F6, name=pv
S
attach GPT "$TMP/gpt.img"
wait_parts "$GPT" 6
mkfs.vfat -F 32 -i B2B20002 -n LESP "${GPT}p2" >/dev/null || exit 1
mkfs.ext4 -q -F -U b2000000-0000-4000-8000-000000000003 "${GPT}p3" || exit 1
mkswap -U b2000000-0000-4000-8000-000000000004 "${GPT}p4" >/dev/null || exit 1
printf pass | cryptsetup luksFormat -q --type luks2 --uuid b2000000-0000-4000-8000-00000000c0de \
        --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file - "${GPT}p5" || exit 1
pvcreate -q -y -ff --norestorefile -u B2pv00-0000-0000-0000-0000-0000-000001 "${GPT}p6" >/dev/null || exit 1
vgcreate -q "$VG" "${GPT}p6" >/dev/null || exit 1

# 3. whole-disk: ext4 on the whole loop device, no table.
truncate -s 512M "$TMP/whole.img"
mkfs.ext4 -q -F -U b3000000-0000-4000-8000-000000000001 -L lwhole "$TMP/whole.img" || exit 1
attach WHOLE "$TMP/whole.img"

# 4. a blank target.
truncate -s 1G "$TMP/blank.img"
attach BLANK "$TMP/blank.img"

# 5. a disk image attached without partition scanning: a loop device with
# a table but no partition devices.
truncate -s 256M "$TMP/noscan.img"
printf 'label: gpt\nlabel-id: B5000000-0000-4000-8000-0000000000D0\ntype=linux\n' | sfdisk -q "$TMP/noscan.img" || exit 1
attach NOSCAN "$TMP/noscan.img" no-scan

# 6. a former array member: a DOS table and a stale md v1.2 superblock on
# the whole disk (written as mdadm does, by make-fixture's writer: this
# kernel has no md to run mdadm --create against).
truncate -s 1G "$TMP/dirty.img"
printf 'label: dos\nlabel-id: 0xb6b6b6b6\ntype=83\n' | sfdisk -q "$TMP/dirty.img" || exit 1
python3 - "$MAKE_FIXTURE" "$TMP/dirty.img" <<'PY' || exit 1
import importlib.machinery, importlib.util, sys
loader = importlib.machinery.SourceFileLoader("make_fixture", sys.argv[1])
mf = importlib.util.module_from_spec(importlib.util.spec_from_loader("make_fixture", loader))
loader.exec_module(mf)
mf.write_md_superblock(sys.argv[2], "b6000000-0000-4000-8000-00000000dead", "old:0", 1, 2,
                       ((1 << 30) - (1 << 20)) // 512, 2048, 0, b"\x66" * 16)
PY
attach DIRTY "$TMP/dirty.img"

# The root of the mbr layout is mounted, so mountinfo and statvfs have it.
mkdir -p "$TMP/mnt"
mount "${MBR}p1" "$TMP/mnt" || exit 1
dd if=/dev/zero of="$TMP/mnt/data" bs=1M count=20 status=none
sync

# 7. btrfs with its root in subvolume @, mounted the way Ubuntu mounts /:
# mountinfo gives an anonymous device number (0:N), not the partition's.
BTRFS=none
if grep -qw btrfs /proc/filesystems && command -v mkfs.btrfs >/dev/null; then
        truncate -s 1G "$TMP/btrfs.img"
        printf 'label: dos\nlabel-id: 0xb7b7b7b7\ntype=83\n' | sfdisk -q "$TMP/btrfs.img" || exit 1
        attach BTRFS "$TMP/btrfs.img"
        wait_parts "$BTRFS" 1
        mkfs.btrfs -q -f -U b7000000-0000-4000-8000-000000000001 "${BTRFS}p1" || exit 1
        mkdir -p "$TMP/bmnt"
        mount "${BTRFS}p1" "$TMP/bmnt" && btrfs subvolume create "$TMP/bmnt/@" >/dev/null && umount "$TMP/bmnt" || exit 1
        mount -o subvol=@ "${BTRFS}p1" "$TMP/bmnt" || exit 1
else
        echo "no btrfs here: the subvolume case is not checked"
fi

"$BIN" "$MBR" "$GPT" "$WHOLE" "$BLANK" "$TMP/mnt" "$VG" "$NOSCAN" "$DIRTY" "$BTRFS" "$TMP/bmnt" || exit 1

# Without lvm2 installed, a PV label (no LV active: this kernel has no dm)
# is only a signature: inspection still succeeds.
if ! grep -q ' dm-' /proc/partitions; then
        PATH=/nonexistent "$DUMP" >"$TMP/facts.json" || { echo "FAIL: inspection without an lvm command"; exit 1; }
        grep -q '"LVM2_member"' "$TMP/facts.json" || { echo "FAIL: the PV label is not listed"; exit 1; }
fi
echo "all checks passed"
