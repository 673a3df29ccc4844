#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The final sync: a writer keeps creating, modifying, renaming, deleting,
# chmod-ing and hard-linking files on SRC during `rootraid copy --track`
# (names added to and removed from files that had several names before,
# and files written only through a shared mmap by a process that then
# exits); after `rootraid copy --sync` the trees are identical (rsync
# --checksum, lsattr, copy --verify --checksum).  MODE picks how the sync
# learns what changed:
#   tracked   the fanotify record (fails if the sync compared everything)
#   overflow  ROOTRAID_COPY_TEST_OVERFLOW: the full comparison fallback
#   queue     the recorder reads nothing until the sync
#             (ROOTRAID_COPY_TEST_STALL) and a burst of more files than
#             the kernel's queue holds really overflows it
#   gone      the recorder killed with SIGKILL: the fallback again
# Usage: test-copy-sync.sh ROOTRAID FSTYPE MODE
ROOTRAID=$1 FSTYPE=$2 MODE=$3
. "$(dirname "$0")/lib.sh"

hostile_pair 600 "$FSTYPE" --bulk 6000
STATE=$WORK/copy.state
head -c 65536 /dev/urandom >"$S/data/mapped-later" # written through mmap after the first pass
mkdir -p "$S/live" && head -c 65536 /dev/urandom >"$S/live/mapped" # ... and during it
mkdir "$S/hinted" && echo first >"$S/hinted/a" # changed, moved and replaced after the first pass
src_view "$S"
# The sync treats a ctime from the second the recorder started in as a
# change; a real tree was not written just before the copy.
sleep 1.2

# Not by lowering max_queued_events: it is machine-wide, every recorder
# started meanwhile (other tests, a benchmark) gets it too, and two runs of
# this test at once restored each other's lowered value and left it at 16.
QUEUE=$(cat /proc/sys/fs/fanotify/max_queued_events) || skip "no fanotify"
case $MODE in
overflow) export ROOTRAID_COPY_TEST_OVERFLOW=1 ;;
queue) [ "$QUEUE" -le 100000 ] || skip "max_queued_events is $QUEUE: too many files to overflow it"
       export ROOTRAID_COPY_TEST_STALL=1 ;;
esac

# mmap_write FILE: a process maps FILE shared, closes the descriptor, writes
# through the mapping only (no write(), so no FAN_MODIFY) and exits: the
# kernel unmaps, and the last reference going reports FAN_CLOSE_WRITE.
mmap_write() {
        python3 - "$1" <<'PY'
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
os.close(fd)
off = (os.getpid() * 4096) % (len(m) - 4096)
m[off:off + 4096] = os.urandom(4096)
os._exit(0)  # no munmap, no flush: the exit unmaps
PY
}

# The writer: every kind of change, in a loop, until told to stop.
writer() {
        local i=0
        while [ ! -e "$WORK/stop" ]; do
                i=$((i + 1))
                mkdir -p "$S/live/d$((i % 7))"
                echo "new $i" >"$S/live/d$((i % 7))/new-$i"
                echo "appended $i" >>"$S/data/small"
                head -c $((i * 37 % 9000)) /dev/urandom >"$S/bulk/00$((i % 10))/f00$((i % 10))0$((i % 10))$((i % 10))" 2>/dev/null
                [ -e "$S/live/d$((i % 7))/new-$((i - 3))" ] && mv "$S/live/d$((i % 7))/new-$((i - 3))" "$S/live/moved-$i"
                rm -f "$S/live/moved-$((i - 20))"
                chmod $((600 + i % 77)) "$S/live/d$((i % 7))/new-$i" 2>/dev/null
                # Hard links: new files with several names, names added to
                # and removed from files linked before the copy (their other
                # names are not in the record), and their contents changed;
                # every round, since the first pass may last only a few.
                ln -f "$S/live/d$((i % 7))/new-$i" "$S/live/link-$((i % 3))"
                rm -f "$S/live/one-link-$((i % 3))"
                ln "$S/hard/a/one" "$S/live/one-link-$((i % 3))"
                echo "$i" >>"$S/hard/b/two"
                mmap_write "$S/live/mapped"
                [ $((i % 9)) = 0 ] && mv "$S/live/d$((i % 7))" "$S/live/renamed-dir-$i"
                [ $((i % 11)) = 0 ] && rm -rf "$S/live/renamed-dir-$((i - 18))"
                touch -d "@$((1600000000 + i))" "$S/modes/setuid"
                setfattr -n user.counter -v "$i" "$S/data/random-odd"
                rm -f "$S/bulk/001/f$(printf %06d $((500 + i)))"
                echo "$i" >"$WORK/rounds"
        done
}
writer &
WRITER=$!
PIDS+=("$WRITER")
stop_recorder() { # the background recorder, if the test fails before --sync
        local pid
        pid=$(awk '$1 == "pid" { print $2 }' "$STATE" 2>/dev/null)
        [ -n "$pid" ] && kill "$pid" 2>/dev/null
}
trap 'stop_recorder; cleanup' EXIT
sleep 0.5

"$ROOTRAID" copy --jobs 4 --track --state "$STATE" "$S" "$D" >"$WORK/copy.out" 2>&1
rc=$?
cat "$WORK/copy.out"
touch "$WORK/stop"
wait "$WRITER"
echo "the writer made $(cat "$WORK/rounds" 2>/dev/null || echo 0) rounds of changes"
[ $rc = 0 ] || fail "rootraid copy --track exited with $rc"
unset ROOTRAID_COPY_TEST_OVERFLOW ROOTRAID_COPY_TEST_STALL

# Changes after the first pass (services "stopped" after this), also to be synced.
echo "after the copy" >"$S/live/after"
rm -rf "$S/hard/b/c"
mv "$S/data/random-1m" "$S/data/renamed-1m"
mkdir -p "$S/live/new-tree/sub" && echo deep >"$S/live/new-tree/sub/file"
mv "$S/bulk/002" "$S/live/moved-bulk"
mv "$S/hard/a/two" "$S/hard/two-renamed"        # hard-linked with hard/b/two
echo rewritten >"$S/hard/a/one-again"           # hard-linked with hard/a/one
chattr -i "$S/flags/frozen-dir" && echo more >"$S/flags/frozen-dir/added" && chattr +i "$S/flags/frozen-dir"
mmap_write "$S/data/mapped-later"
ln "$S/hard/b/two" "$S/live/two-added-late"     # a name added to a file named before
# The recorder notes where hinted/ is at its first change; then it moves
# and another directory takes that path: the sync finds it by its handle
# (both are compared whole as new subtrees anyway).
echo changed >"$S/hinted/a"
mv "$S/hinted" "$S/live/hinted-moved" && echo new >"$S/live/hinted-moved/b"
mkdir "$S/hinted" && echo other >"$S/hinted/c"

if [ "$MODE" = queue ]; then
        # A burst of more new files than the unread queue holds (each
        # file's create, attribute change and close merge into one event).
        mkdir "$S/live/burst" && (cd "$S/live/burst" && seq -f 'b%g' 1 $((QUEUE + QUEUE / 4 + 1000)) | xargs touch) \
                || fail "cannot create the burst of files"
fi
if [ "$MODE" = gone ]; then
        pid=$(awk '$1 == "pid" { print $2 }' "$STATE")
        kill -KILL "$pid" || fail "no recorder to kill"
        sleep 0.2
fi

recorder=$(awk '$1 == "pid" { print $2 }' "$STATE")
ROOTRAID_COPY_TIMING=1 "$ROOTRAID" copy --json --sync "$STATE" "$S" "$D" >"$WORK/sync.out"
rc=$?
# Gone, or a zombie waiting for whoever inherited it to reap it.
state=$(awk '{ print $3 }' "/proc/$recorder/stat" 2>/dev/null)
[ -z "$state" ] || [ "$state" = Z ] || fail "the change recorder (pid $recorder) is still running after the sync"
cat "$WORK/sync.out" | grep -v '"progress"'
[ $rc = 0 ] || fail "rootraid copy --sync exited with $rc"
case $MODE in
tracked)
        # Hard-linked files changed, and their other names were outside
        # the record: the link map must have placed them.
        grep -q '"full_compare":false' "$WORK/sync.out" || fail "the recorded changes were not used"
        # Most directories are found by the path the recorder noted; those
        # moved since (hinted/, whose old path is another directory's now)
        # by their handle, and the trees must come out equal all the same.
        resolved=$(grep -o 'resolved [0-9]* directories by the path the recorder saw, [0-9]* by handle' "$WORK/sync.out")
        echo "$resolved"
        set -- $resolved
        [ "${2:-0}" -gt 0 ] || fail "no directory was found by its recorded path"
        [ "${10:-0}" -gt 0 ] || fail "no directory needed its handle (a renamed one should have)" ;;
queue) grep -q 'queue overflowed' "$WORK/sync.out" || fail "the queue did not overflow, or the sync did not say so" ;;&
*) grep -q '"full_compare":true' "$WORK/sync.out" || fail "no full comparison in mode $MODE"
   grep -q '"event":"info".*full comparison' "$WORK/sync.out" || fail "the sync did not say why it compares everything" ;;
esac

rsync_same "$VIEW" "$D" || fail "rsync sees differences after the sync"
lsattr_same "$VIEW" "$D" || fail "inode flags differ after the sync"
"$ROOTRAID" copy --verify --checksum "$S" "$D" || fail "copy --verify finds differences after the sync"
# The used record is gone; another sync compares everything, finds the
# trees equal and writes nothing.
[ ! -e "$STATE" ] || fail "the used change record was left behind"
out=$("$ROOTRAID" copy --json --sync "$STATE" "$S" "$D") || fail "second sync exited with $?"
echo "$out" | grep -q '"event":"done".*"files":0,"bytes":0,.*"deleted":0,.*"full_compare":true' \
        || fail "a second sync of equal trees changed something: $(echo "$out" | tail -1)"
echo "PASS: final sync on $FSTYPE, $MODE"
