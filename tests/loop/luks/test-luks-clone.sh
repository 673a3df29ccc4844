#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The header part of luks-clone on loop devices: a LUKS container (TYPE
# luks1 or luks2) with a passphrase and a key file in two keyslots is cloned
# onto a smaller device, as onto an array.  Checked with cryptsetup, not
# with the code under test: the clone has the new UUID and the same
# keyslots (luksDump equal apart from UUID and epoch), both the passphrase
# and the key file open it and a wrong passphrase does not, the source is
# untouched, a second run changes nothing, a run interrupted after the
# header copy and before the new UUID is finished by the next run, a device
# too small is refused and left without a header, erase refuses a header
# that is not ours and leaves nothing behind for ours.
# Usage: test-luks-clone.sh LUKS-HEADER-TOOL TYPE
set -u
TOOL=$1 TYPE=$2
NEW_UUID=4c1f0e2d-0000-4000-8000-0000000c10e5
OTHER_UUID=4c1f0e2d-0000-4000-8000-00000000babe
PASS=rootraid-test

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root for loop devices"
command -v cryptsetup >/dev/null || skip "cryptsetup is not installed"
command -v losetup >/dev/null || skip "losetup is not installed"

WORK=$(mktemp -d /tmp/test-luks-clone.XXXXXX) || exit 1
LOOPS=()
cleanup() {
        for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
        rm -rf "$WORK"
}
trap cleanup EXIT

# loop VAR NAME SIZE_MIB: attaches a new image, sets VAR to the device.  Not
# called in $(...): LOOPS must grow in this shell, or cleanup detaches nothing.
loop() {
        truncate -s "${3}M" "$WORK/$2.img" || exit 1
        local l
        l=$(losetup -f --show "$WORK/$2.img") || skip "no loop device available"
        LOOPS+=("$l")
        printf -v "$1" %s "$l"
}

loop SRC src 64
loop DST dst 60   # smaller, as an array is than the old partition
loop SMALL small 40
head -c 64 /dev/urandom >"$WORK/keyfile"

# Fast key derivation: the test is about the header, not the KDF.
printf %s "$PASS" | cryptsetup luksFormat -q --type "$TYPE" --pbkdf pbkdf2 --iter-time 1 \
        --key-file - "$SRC" || fail "luksFormat $TYPE"
printf %s "$PASS" | cryptsetup luksAddKey -q --pbkdf pbkdf2 --iter-time 1 --key-file - \
        "$SRC" "$WORK/keyfile" || fail "luksAddKey"
SRC_UUID=$(cryptsetup luksUUID "$SRC")
# luksDump prints sectors for LUKS1 ("Payload offset: 4096") and bytes for
# LUKS2's segment ("offset: 16777216 [bytes]").
OFFSET=$(cryptsetup luksDump "$SRC" | awk '/^Payload offset:/ { print $3 * 512; exit }
        /^[[:space:]]+offset:/ { print $2; exit }')
[ "${OFFSET:-0}" -gt 0 ] || fail "cannot read the data offset of the source"
sha256sum "$SRC" >"$WORK/src.sha"

# luksDump without what a clone changes on purpose.
dump() { cryptsetup luksDump "$1" | grep -Ev '^(UUID|Epoch):|^LUKS header information'; }
dump "$SRC" >"$WORK/src.dump" || fail "luksDump of the source"
grep -Eq 'Key Slot 1: ENABLED|^  1: luks2' "$WORK/src.dump" || fail "the source has no second keyslot"

can_open() { # DEV: passphrase and key file both open it, a wrong one does not
        printf %s "$PASS" | cryptsetup open --test-passphrase --key-file - "$1" ||
                fail "the passphrase does not open $1"
        cryptsetup open --test-passphrase --key-file "$WORK/keyfile" "$1" ||
                fail "the key file does not open $1"
        if printf wrong | cryptsetup open --test-passphrase --key-file - "$1" 2>/dev/null; then
                fail "a wrong passphrase opens $1"
        fi
}

# 1. The clone.
"$TOOL" clone "$SRC" "$DST" "$NEW_UUID" $((8 * 1024 * 1024)) || fail "clone onto $DST"
[ "$(cryptsetup luksUUID "$DST")" = "$NEW_UUID" ] || fail "the clone does not have UUID $NEW_UUID"
[ "$(blkid -p -o value -s UUID "$DST")" = "$NEW_UUID" ] || fail "blkid does not see UUID $NEW_UUID on the clone"
[ "$(blkid -p -o value -s VERSION "$DST")" = "${TYPE#luks}" ] || fail "the clone is not $TYPE"
dump "$DST" >"$WORK/dst.dump"
diff -u "$WORK/src.dump" "$WORK/dst.dump" || fail "the clone's keyslots differ from the source's"
can_open "$DST"
sha256sum -c --quiet "$WORK/src.sha" || fail "the source changed"
[ "$(cryptsetup luksUUID "$SRC")" = "$SRC_UUID" ] || fail "the source's UUID changed"

# 2. Again: nothing changes.
sha256sum "$DST" >"$WORK/dst.sha"
"$TOOL" clone "$SRC" "$DST" "$NEW_UUID" $((8 * 1024 * 1024)) || fail "second clone"
sha256sum -c --quiet "$WORK/dst.sha" || fail "a second clone rewrote the header"

# 3. Interrupted after the header copy, before the new UUID: the next run
#    finishes it.
cryptsetup luksHeaderBackup "$SRC" --header-backup-file "$WORK/hdr" || fail "luksHeaderBackup"
"$TOOL" erase "$DST" "$NEW_UUID" || fail "erase before the interrupted clone"
cryptsetup luksHeaderRestore -q "$DST" --header-backup-file "$WORK/hdr" || fail "luksHeaderRestore"
[ "$(cryptsetup luksUUID "$DST")" = "$SRC_UUID" ] || fail "setup: the half clone should carry the source's UUID"
"$TOOL" clone "$SRC" "$DST" "$NEW_UUID" $((8 * 1024 * 1024)) || fail "clone after an interrupted one"
[ "$(cryptsetup luksUUID "$DST")" = "$NEW_UUID" ] || fail "the resumed clone does not have UUID $NEW_UUID"
can_open "$DST"

# 4. Too small for the data offset plus the planned filesystem: refused,
#    nothing written.
"$TOOL" clone "$SRC" "$SMALL" "$NEW_UUID" $((40 * 1024 * 1024 - OFFSET + 512)) 2>"$WORK/err"
rc=$?
[ "$rc" = 2 ] || fail "a device too small was not refused with ENOSPC (exit $rc): $(cat "$WORK/err")"
grep -q 'cannot hold' "$WORK/err" || fail "the refusal does not say why: $(cat "$WORK/err")"
[ -z "$(blkid -p -o value -s TYPE "$SMALL")" ] || fail "the refused device carries a signature"
# Exactly big enough is fine.
"$TOOL" clone "$SRC" "$SMALL" "$NEW_UUID" $((40 * 1024 * 1024 - OFFSET)) || fail "clone onto a device that just fits"

# 5. Erase: another container's header is refused, ours goes entirely.
"$TOOL" erase "$DST" "$OTHER_UUID" 2>"$WORK/err"
rc=$?
[ "$rc" = 3 ] || fail "erase of a header that is not ours was not refused (exit $rc)"
cryptsetup isLuks "$DST" || fail "a refused erase damaged the header"
"$TOOL" erase "$DST" "$OTHER_UUID" "$NEW_UUID" || fail "erase"
cryptsetup isLuks "$DST" 2>/dev/null && fail "the clone is still LUKS after erase"
[ -z "$(blkid -p -o value -s TYPE "$DST")" ] || fail "a signature is left after erase"
cmp -n "$OFFSET" "$DST" /dev/zero || fail "the header area (keyslots) is not zeroed"
"$TOOL" erase "$DST" "$NEW_UUID" || fail "erase of nothing is not success"
echo "OK: $TYPE header cloned (data offset $OFFSET), reopened with passphrase and key file, erased"
