#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `rootraid copy` of a hostile tree (see hostile-tree.py) on FSTYPE: rsync
# -aHAXSn --checksum then finds no difference, lsattr matches, the part
# deeper than PATH_MAX matches, files hidden under a mount point are copied
# while the mounted filesystem is not, holes stay holes, `copy --verify
# --checksum` agrees, and SRC is not modified at all.
# Usage: test-copy-exact.sh ROOTRAID FSTYPE
ROOTRAID=$1 FSTYPE=$2
. "$(dirname "$0")/lib.sh"

hostile_pair 400 "$FSTYPE"
mkdir "$S/covered" && echo "hidden under a mount point" >"$S/covered/hidden" || fail "covered"
mkdir -p "$WORK/other"
mount -t tmpfs none "$S/covered" && MOUNTS+=("$S/covered") || fail "tmpfs"
echo "on another filesystem" >"$S/covered/not-copied"

src_view "$S"
sync
before=$(tree_listing "$VIEW") || fail "listing SRC"

"$ROOTRAID" copy "$S" "$D" || fail "rootraid copy exited with $?"

rsync_same "$VIEW" "$D" || fail "rsync sees differences after the copy"
lsattr_same "$VIEW" "$D" || fail "inode flags differ"
[ "$(tree_listing "$VIEW/deep" same)" = "$(tree_listing "$D/deep" same)" ] || fail "the deep (> PATH_MAX) subtree differs"
[ -f "$D/covered/hidden" ] || fail "the file hidden under a mount point was not copied"
[ ! -e "$D/covered/not-copied" ] || fail "a file of another filesystem was copied"
for f in sparse all-hole hole-first; do
        a=$(stat -c %b "$VIEW/data/$f") b=$(stat -c %b "$D/data/$f")
        [ "$b" -le $((a + 64)) ] || fail "holes of data/$f were filled ($a blocks in SRC, $b in DST)"
done
"$ROOTRAID" copy --verify --checksum "$S" "$D" || fail "copy --verify finds differences"

after=$(tree_listing "$VIEW") || fail "listing SRC again"
[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after") | head; fail "SRC was modified"; }

# A second run finds nothing to do and changes nothing.
out=$("$ROOTRAID" copy --json "$S" "$D") || fail "second copy exited with $?"
echo "$out" | grep -q '"event":"done".*"files":0,"bytes":0' || fail "second copy rewrote files: $(echo "$out" | tail -1)"
rsync_same "$VIEW" "$D" || fail "rsync sees differences after the second copy"

# --verify notices a difference and exits 1.
chattr -i "$D/flags/immutable" && echo changed >"$D/flags/immutable"
"$ROOTRAID" copy --verify --checksum "$S" "$D" >"$WORK/verify.out"
[ $? = 1 ] || fail "copy --verify did not exit 1 on a difference"
grep -q "flags/immutable" "$WORK/verify.out" || fail "copy --verify did not name the file"
echo "PASS: exact copy on $FSTYPE"
