#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Hard-linked files changed after `rootraid copy --track`, one kind of
# change at a time (no race): the final sync settles every name of each
# changed file from the change record and the first pass's link map, and
# does not compare the whole tree; without the link map, a change whose
# other names are not in the record makes it compare everything, and say
# why.  Also: `copy --verify` keeps only the inodes whose names it has not
# all met (bounded), and still finds links regrouped in the target.
# Usage: test-copy-links.sh ROOTRAID FSTYPE
ROOTRAID=$1 FSTYPE=$2
. "$(dirname "$0")/lib.sh"

# 30000 names in 15000 one-block files fill 85% of a 300 MiB XFS, and
# XFS's reservations for unwritten data once made the target report ENOSPC
# under CI's parallel load: 600 MiB (sparse images) leaves room to spare.
make_fs src 600 "$FSTYPE"
make_fs dst 600 "$FSTYPE"
S=$WORK/src D=$WORK/dst STATE=$WORK/copy.state

mkdir -p "$S"/{a,b,c,moved/d,swap}
echo one >"$S/a/x" && ln "$S/a/x" "$S/b/x2" && ln "$S/a/x" "$S/c/x3"     # X: rewritten through b/x2
echo two >"$S/a/y" && ln "$S/a/y" "$S/b/y2"                             # Y: a name added
echo three >"$S/a/z" && ln "$S/a/z" "$S/b/z2" && ln "$S/a/z" "$S/c/z3"   # Z: a name removed
echo four >"$S/a/w" && ln "$S/a/w" "$S/b/w2"                            # W: b/w2 becomes a name of X
echo five >"$S/a/f" && ln "$S/a/f" "$S/b/f2" && chattr +i "$S/a/f"       # F: immutable, appended to
echo six >"$S/moved/d/m" && ln "$S/moved/d/m" "$S/a/m2"                 # M: its directory renamed
head -c 5000 /dev/urandom >"$S/a/s" && ln "$S/a/s" "$S/c/s2"           # S: same size and mtime
echo same >"$S/swap/p1" && ln "$S/swap/p1" "$S/swap/p2"
echo same >"$S/swap/q1" && ln "$S/swap/q1" "$S/swap/q2"
touch -d @1600000000 "$S/swap/"*
# Many pairs, each within its directory: verify's link map stays small.
python3 - "$S/pairs" <<'PY' || fail "generating pairs"
import os, sys
for d in range(60):
    dd = os.path.join(sys.argv[1], "%02d" % d)
    os.makedirs(dd)
    for i in range(500):
        p = os.path.join(dd, "f%03d" % i)
        with open(p, "w") as f:
            f.write("%d %d\n" % (d, i))
        os.link(p, os.path.join(dd, "g%03d" % i))
PY
src_view "$S"
sleep 1.2 # the sync treats a ctime from the recorder's first second as a change

stop_recorder() {
        local pid
        pid=$(awk '$1 == "pid" { print $2 }' "$STATE" 2>/dev/null)
        [ -n "$pid" ] && kill "$pid" 2>/dev/null
}
trap 'stop_recorder; cleanup' EXIT

"$ROOTRAID" copy --track --state "$STATE" "$S" "$D" >"$WORK/copy.out" 2>&1 || { cat "$WORK/copy.out"; fail "copy --track"; }
[ -s "$STATE.links" ] || fail "the first pass wrote no link map next to $STATE"

echo rewritten >>"$S/b/x2"
ln "$S/a/y" "$S/c/y3"
rm "$S/c/z3"
ln -f "$S/a/x" "$S/b/w2"
chattr -i "$S/a/f" && echo appended >>"$S/a/f" && chattr +i "$S/a/f"
mv "$S/moved/d" "$S/moved/e" && echo changed >"$S/moved/e/m"
mtime=$(stat -c %y "$S/a/s")
head -c 5000 /dev/urandom >"$S/a/s" && touch -d "$mtime" "$S/a/s"
echo new >"$S/c/n1" && ln "$S/c/n1" "$S/a/n2"                          # all its names are new
mkdir "$S/newdir" && echo p >"$S/newdir/p" && ln "$S/newdir/p" "$S/newdir/q" && ln "$S/newdir/p" "$S/b/p3"

"$ROOTRAID" copy --json --sync "$STATE" "$S" "$D" >"$WORK/sync.out"
rc=$?
grep -v '"progress"' "$WORK/sync.out"
[ $rc = 0 ] || fail "rootraid copy --sync exited with $rc"
grep -q '"full_compare":false' "$WORK/sync.out" || fail "the sync compared the whole tree instead of using the record"
rsync_same "$VIEW" "$D" || fail "rsync sees differences after the sync"
lsattr_same "$VIEW" "$D" || fail "inode flags differ after the sync"
"$ROOTRAID" copy --verify --checksum "$S" "$D" >"$WORK/verify.out" || { cat "$WORK/verify.out"; fail "copy --verify finds differences"; }
[ "$(stat -c %h "$D/a/x")" = 4 ] || fail "a/x has $(stat -c %h "$D/a/x") names in the target, not 4"
[ "$(stat -c %i "$D/b/w2")" = "$(stat -c %i "$D/c/x3")" ] || fail "b/w2 is not linked to c/x3 in the target"
[ ! -e "$STATE.links" ] || fail "the used link map was left behind"

# Without a link map, a name added to an old file cannot be placed: the
# sync says so and compares the whole tree.
"$ROOTRAID" copy --track --state "$STATE" "$S" "$D" >"$WORK/copy2.out" 2>&1 || { cat "$WORK/copy2.out"; fail "second copy --track"; }
ln "$S/a/y" "$S/c/y4"
rm -f "$STATE.links"
"$ROOTRAID" copy --json --sync "$STATE" "$S" "$D" >"$WORK/sync2.out" || { cat "$WORK/sync2.out"; fail "second sync"; }
grep -v '"progress"' "$WORK/sync2.out"
grep -q '"full_compare":true' "$WORK/sync2.out" || fail "without a link map the sync did not compare the whole tree"
grep -q 'names outside the change record, and there is no complete link map' "$WORK/sync2.out" ||
        fail "the sync did not say why it compared everything"
rsync_same "$VIEW" "$D" || fail "rsync sees differences after the full comparison"

# copy --verify: at most one directory's pairs wait at once, not all 30000.
out=$("$ROOTRAID" copy --json --verify "$S" "$D") || fail "copy --verify exited with $?"
n=$(echo "$out" | sed -n 's/.*at most \([0-9]*\) source inodes waited.*/\1/p')
[ -n "$n" ] || fail "copy --verify did not report its link map's size"
[ "$n" -le 600 ] || fail "copy --verify kept $n inodes with several links at once (unbounded)"
# ... and still sees links regrouped in the target (same contents, counts).
rm "$D/swap/p2" "$D/swap/q2" && ln "$D/swap/q1" "$D/swap/p2" && ln "$D/swap/p1" "$D/swap/q2"
out=$("$ROOTRAID" copy --verify "$S" "$D")
[ $? = 1 ] || fail "copy --verify did not fail on regrouped links"
echo "$out" | grep -q 'swap/.*not linked to its other names' || fail "copy --verify missed regrouped links: $out"
echo "PASS: hard-linked changes synced from the record on $FSTYPE"
