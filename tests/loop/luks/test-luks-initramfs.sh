#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The luks strategy's part of update-initramfs, without a guest:
# - the crypttab overlay: while it is mounted, ROOT/etc/crypttab shows the
#   plan's entry with the cryptsetup-initramfs option "initramfs" added
#   (whatever its number of fields) and every other line byte for byte;
#   afterwards the file on disk is unchanged and nothing stays mounted, also
#   after an overlay left behind by an interrupted run; in the clones form
#   (fallback-initramfs) the entry is followed by one that opens the clone
#   under its temporary name by the new UUID, with the same key file and
#   options;
# - the image check: an initramfs whose cryptroot/crypttab opens the clone's
#   UUID with a key file inside the image passes; one without the key file,
#   with the old UUID, without the entry, or with the key file left on the
#   root (/FIXME-initramfs-rootmnt) fails and says why;
# - luks-clone's key sources, parsing only: the key of a dm-crypt table
#   line (a keyring reference and a key that is not hex told apart), and
#   the key file of a crypttab entry with its offset and size (none, "-"
#   and a keyscript are not key files).
# Usage: test-luks-initramfs.sh LUKS-HEADER-TOOL
set -u
TOOL=$1
UUID=927d6186-6a9d-4b15-8c13-8a754c68b4ed
OLD=a5000000-0000-4000-8000-00000000c0de

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root to bind-mount"
for c in unmkinitramfs cpio gzip; do
        command -v "$c" >/dev/null || skip "$c is not installed (initramfs-tools-core, cpio)"
done
WORK=$(mktemp -d /tmp/test-luks-initramfs.XXXXXX) || exit 1
ROOT=$WORK/root
cleanup() {
        "$TOOL" overlay-end "$ROOT" 2>/dev/null
        rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$ROOT/etc" "$ROOT/boot" "$ROOT/var/tmp" "$ROOT/lib/modules/6.1.0-test"

printf '%s\n' \
        '# <target name> <source device> <key file> <options>' \
        "root_crypt UUID=$UUID /etc/keys/root.key luks,discard,key-slot=1   " \
        "data_crypt	UUID=$OLD	none	luks" \
        "short UUID=$OLD" \
        "three UUID=$OLD /etc/keys/three.key" >"$ROOT/etc/crypttab"
cp "$ROOT/etc/crypttab" "$WORK/crypttab.orig"
mounted() { grep -q " $ROOT/etc/crypttab " /proc/self/mountinfo; }

overlay_is() { # NAME EXPECTED-LINE
        out=$("$TOOL" overlay "$ROOT" "$1" "$UUID") || fail "overlay for $1"
        [ "$out" = mounted ] || fail "overlay for $1 says: $out"
        mounted || fail "no bind mount on $ROOT/etc/crypttab"
        grep -Fx -- "$2" "$ROOT/etc/crypttab" >/dev/null ||
                fail "overlay for $1 lacks the line '$2':$(printf '\n'; cat "$ROOT/etc/crypttab")"
        [ "$(grep -c initramfs "$ROOT/etc/crypttab")" = 1 ] || fail "overlay for $1 changed other lines"
        [ "$(grep -v "^$1[[:space:]]" "$ROOT/etc/crypttab")" = "$(grep -v "^$1[[:space:]]" "$WORK/crypttab.orig")" ] ||
                fail "overlay for $1 changed other lines"
        "$TOOL" overlay-end "$ROOT"
        mounted && fail "overlay for $1 is still mounted"
        cmp -s "$ROOT/etc/crypttab" "$WORK/crypttab.orig" || fail "overlay for $1 changed the file on disk"
}
overlay_is root_crypt "root_crypt UUID=$UUID /etc/keys/root.key luks,discard,key-slot=1,initramfs"
overlay_is short "short UUID=$OLD none initramfs"
overlay_is three "three UUID=$OLD /etc/keys/three.key initramfs"

# The clones form: the entry, then the clone's, with its key and options.
out=$("$TOOL" overlay "$ROOT" root_crypt "$OLD" rootraid-root_crypt) || fail "clones overlay"
[ "$out" = mounted ] || fail "clones overlay says: $out"
[ "$(grep -v '^#' "$ROOT/etc/crypttab" | head -2)" = "root_crypt UUID=$UUID /etc/keys/root.key luks,discard,key-slot=1,initramfs
rootraid-root_crypt UUID=$OLD /etc/keys/root.key luks,discard,key-slot=1,initramfs" ] ||
        fail "clones overlay:$(printf '\n'; cat "$ROOT/etc/crypttab")"
[ "$(grep -v '^root' "$ROOT/etc/crypttab")" = "$(grep -v '^root' "$WORK/crypttab.orig")" ] || fail "clones overlay changed other lines"
"$TOOL" overlay-end "$ROOT"
out=$("$TOOL" overlay "$ROOT" short "$UUID" rootraid-short) || fail "clones overlay of a two-field entry"
grep -Fx "rootraid-short UUID=$UUID none initramfs" "$ROOT/etc/crypttab" >/dev/null ||
        fail "clones overlay of a two-field entry:$(printf '\n'; cat "$ROOT/etc/crypttab")"
"$TOOL" overlay-end "$ROOT"
cmp -s "$ROOT/etc/crypttab" "$WORK/crypttab.orig" || fail "the clones overlay changed the file on disk"

# An overlay left by an interrupted run is replaced, not stacked.
"$TOOL" overlay "$ROOT" root_crypt "$UUID" >/dev/null || fail "first overlay"
"$TOOL" overlay "$ROOT" root_crypt "$UUID" >/dev/null || fail "second overlay"
[ "$(grep -c " $ROOT/etc/crypttab " /proc/self/mountinfo)" = 1 ] || fail "overlays stacked"
"$TOOL" overlay-end "$ROOT"
mounted && fail "still mounted after an interrupted overlay"
cmp -s "$ROOT/etc/crypttab" "$WORK/crypttab.orig" || fail "the file on disk changed"

# No crypttab: nothing to do.
mkdir -p "$WORK/bare/etc"
[ "$("$TOOL" overlay "$WORK/bare" root_crypt "$UUID")" = "nothing to do" ] || fail "overlay without crypttab"

image() { # CRYPTTAB-LINE WITH-KEY(yes/no)
        rm -rf "$WORK/img" && mkdir -p "$WORK/img/cryptroot/keyfiles" "$WORK/img/etc"
        printf '%s\n' "$1" >"$WORK/img/cryptroot/crypttab"
        [ "$2" = yes ] && head -c 64 /dev/urandom >"$WORK/img/cryptroot/keyfiles/root_crypt.key"
        (cd "$WORK/img" && find . | cpio --quiet -o -H newc) | gzip >"$ROOT/boot/initrd.img-6.1.0-test" ||
                fail "making the image"
}
check_fails() { # WHAT PATTERN
        out=$("$TOOL" initramfs-check "$ROOT" root_crypt "$UUID")
        rc=$?
        [ "$rc" = 4 ] || fail "an image $1 passed the check (exit $rc: $out)"
        grep -q -- "$2" <<<"$out" || fail "the check of an image $1 does not say why: $out"
}
KEY=/cryptroot/keyfiles/root_crypt.key
image "root_crypt UUID=$UUID $KEY luks,discard,key-slot=1,initramfs" yes
"$TOOL" initramfs-check "$ROOT" root_crypt "$UUID" || fail "a good image fails the check"
image "root_crypt UUID=$UUID $KEY luks,discard,key-slot=1,initramfs" no
check_fails "without its key file" "key file $KEY"
image "root_crypt UUID=$OLD $KEY luks" yes
check_fails "with the old UUID" "not UUID=$UUID"
image "data_crypt UUID=$UUID none luks" yes
check_fails "without the entry" "no entry root_crypt"
image "root_crypt UUID=$UUID /FIXME-initramfs-rootmnt/etc/keys/root.key luks" no
check_fails "with the key file left on the root" KEYFILE_PATTERN
# The clones form's check looks for the clone's entry, by its temporary name.
image "root_crypt UUID=$OLD $KEY luks,initramfs
rootraid-root_crypt UUID=$UUID $KEY luks,initramfs" yes
"$TOOL" initramfs-check "$ROOT" root_crypt "$UUID" rootraid-root_crypt || fail "a good image of the clones form fails its check"
out=$("$TOOL" initramfs-check "$ROOT" root_crypt "$UUID")
[ $? = 4 ] || fail "an image whose root_crypt opens the old UUID passed the plain check: $out"
image "root_crypt UUID=$OLD $KEY luks,initramfs" yes
out=$("$TOOL" initramfs-check "$ROOT" root_crypt "$UUID" rootraid-root_crypt)
[ $? = 4 ] && grep -q "no entry rootraid-root_crypt" <<<"$out" || fail "an image without the clone's entry passed: $out"
ls "$ROOT/var/tmp" | grep -q . && fail "unpacked images left in var/tmp"

# Where luks-clone finds the key that opens the clone (no device-mapper
# here, so the parsing only): the key in a dm-crypt table, or the key file
# of the running mapping's crypttab entry.
key=$("$TOOL" table-key "aes-xts-plain64 00ff10Ab 0 253:0 32768 1 allow_discards") || fail "table-key of a hex key"
[ "$key" = 00ff10ab ] || fail "table-key read $key"
"$TOOL" table-key "aes-xts-plain64 :64:logon:cryptsetup:4c1f0e2d-d0 0 253:0 32768"
[ $? = 5 ] || fail "a keyring key was not told apart"
"$TOOL" table-key "cipher_null-ecb - 0 253:0 0"
[ $? = 6 ] || fail "an empty key was not refused"
"$TOOL" table-key "aes-xts-plain64 00zz 0 253:0 0"
[ $? = 6 ] || fail "a key that is not hex was not refused"
printf '%s\n' "# comment root_crypt" "root_crypt UUID=$UUID /etc/keys/root.key luks,keyfile-offset=16,keyfile-size=64,discard" \
        "pass UUID=$OLD none luks" "script UUID=$OLD /dev/sdz luks,keyscript=/bin/cat" "dash UUID=$OLD -" >"$WORK/ct"
[ "$("$TOOL" crypttab-keyfile "$WORK/ct" root_crypt)" = "/etc/keys/root.key 16 64" ] || fail "crypttab-keyfile of root_crypt"
for n in pass script dash missing; do
        "$TOOL" crypttab-keyfile "$WORK/ct" "$n" >/dev/null
        [ $? = 5 ] || fail "crypttab entry $n was taken for a key file"
done

# After the switch the clone is opened under its crypttab name: the plan's
# /dev/mapper/rootraid-NAME resolves to the mapping whose dm uuid carries
# the clone's UUID (a fake /sys/block), never to another one.
SYS=$WORK/sys
hex=${UUID//-/}
mkdir -p "$SYS/dm-0/dm" "$SYS/dm-1/dm" "$SYS/sda"
echo "CRYPT-LUKS2-${OLD//-/}-old_crypt" >"$SYS/dm-0/dm/uuid"; echo old_crypt >"$SYS/dm-0/dm/name"
echo "CRYPT-LUKS2-$hex-root_crypt" >"$SYS/dm-1/dm/uuid"; echo root_crypt >"$SYS/dm-1/dm/name"
node=$("$TOOL" plan-node "$SYS" /dev/mapper/rootraid-root_crypt root_crypt "$UUID" rootraid-root_crypt) || fail "plan-node failed"
[ "$node" = /dev/mapper/root_crypt ] || fail "the clone's mapping resolved to '$node', not /dev/mapper/root_crypt"
rm "$SYS/dm-1/dm/uuid"
node=$("$TOOL" plan-node "$SYS" /dev/mapper/rootraid-root_crypt root_crypt "$UUID" rootraid-root_crypt) || fail "plan-node failed"
[ "$node" = /dev/mapper/rootraid-root_crypt ] || fail "without the clone's mapping the node became '$node' (the old container's?)"
node=$("$TOOL" plan-node "$SYS" /dev/mapper/other root_crypt "$UUID" rootraid-root_crypt) || fail "plan-node failed"
[ "$node" = /dev/mapper/other ] || fail "a device that is no plan crypt became '$node'"
echo "OK: crypttab overlay, initramfs check, key sources, the clone's mapping after the switch"
