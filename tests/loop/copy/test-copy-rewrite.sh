#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What a power cut can leave in a copy: files whose size and times reached
# the disk but whose data did not.  The test makes such files in DST by hand
# (same size, zeros or other bytes, times put back), then:
#   - `rootraid copy` again keeps them (size and mtime match): this is the
#     hazard, and shows that the damage is invisible to the usual comparison;
#   - `rootraid copy --rewrite` copies every file again: rsync --checksum and
#     `copy --verify --checksum` then find no difference, hard links and
#     holes included.
# Usage: test-copy-rewrite.sh ROOTRAID FSTYPE
ROOTRAID=$1 FSTYPE=$2
. "$(dirname "$0")/lib.sh"

hostile_pair 400 "$FSTYPE"
src_view "$S"
"$ROOTRAID" copy "$S" "$D" || fail "the first copy exited with $?"
rsync_same "$VIEW" "$D" || fail "the first copy differs"

# damage FILE: the same size, other contents, the same times.
damage() {
        local f=$D/$1 size times
        size=$(stat -c %s "$f") || fail "stat $1"
        times=$(stat -c '%x|%y' "$f")
        [ "$size" -gt 0 ] || fail "$1 is empty: nothing to damage"
        head -c "$size" /dev/zero | tr '\0' 'Z' | dd of="$f" conv=notrunc status=none || fail "writing over $1"
        touch -a -d "${times%%|*}" "$f" && touch -m -d "${times##*|}" "$f" || fail "touch $1"
        [ "$(stat -c %s "$f")" = "$size" ] || fail "the size of $1 changed"
        [ "$(stat -c '%x|%y' "$f")" = "$times" ] || fail "the times of $1 changed"
}
DAMAGED=(data/small data/sparse hard/a/one hard/b/two)
for f in "${DAMAGED[@]}"; do damage "$f"; done
cmp -s "$VIEW/data/sparse" "$D/data/sparse" && fail "the damage did not change data/sparse"

# The usual comparison cannot see it.
"$ROOTRAID" copy "$S" "$D" || fail "the second copy exited with $?"
for f in "${DAMAGED[@]}"; do
        cmp -s "$VIEW/$f" "$D/$f" && fail "a plain copy repaired $f: the damage was not invisible, the test proves nothing"
done
if "$ROOTRAID" copy --verify --checksum "$S" "$D" >"$WORK/verify.out" 2>&1; then
        fail "copy --verify --checksum missed the damage"
fi
for f in "${DAMAGED[@]}"; do
        grep -qF "$f" "$WORK/verify.out" || { cat "$WORK/verify.out"; fail "copy --verify --checksum does not name $f"; }
done

"$ROOTRAID" copy --rewrite "$S" "$D" || fail "copy --rewrite exited with $?"
for f in "${DAMAGED[@]}"; do
        cmp -s "$VIEW/$f" "$D/$f" || fail "copy --rewrite left $f damaged"
done
rsync_same "$VIEW" "$D" || fail "rsync sees differences after copy --rewrite"
lsattr_same "$VIEW" "$D" || fail "inode flags differ after copy --rewrite"
[ "$(stat -c %i "$D/hard/a/one")" = "$(stat -c %i "$D/hard/b/c/one-elsewhere")" ] ||
        fail "copy --rewrite split the names of hard/a/one"
a=$(stat -c %b "$VIEW/data/sparse") b=$(stat -c %b "$D/data/sparse")
[ "$b" -le $((a + 64)) ] || fail "copy --rewrite filled the holes of data/sparse ($a blocks in SRC, $b in DST)"
"$ROOTRAID" copy --verify --checksum "$S" "$D" || fail "copy --verify finds differences after copy --rewrite"
"$ROOTRAID" copy --rewrite --verify "$S" "$D" >/dev/null 2>&1 && fail "--rewrite with --verify was accepted"
echo "PASS: a damaged DST kept by a plain copy, repaired by copy --rewrite ($FSTYPE)"
