# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by the copy engine's loop tests: loop images, mounts, cleanup,
# and the comparisons that decide whether a copy is exact.
# Sourced with ROOTRAID set to the binary.
set -u

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root (loop devices, mknod, chown, trusted xattrs)"
for tool in losetup rsync lsattr chattr setfacl setcap python3; do
        command -v "$tool" >/dev/null || skip "needs $tool"
done
[ -e /dev/loop-control ] || skip "no loop device support"

WORK=$(mktemp -d /tmp/rootraid-copy-test.XXXXXX)
LOOPS=()
MOUNTS=()
PIDS=()

cleanup() {
        local i
        for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
        for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
                umount -l "${MOUNTS[$i]}" 2>/dev/null
        done
        for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
        # Never into a filesystem that is still mounted.
        rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

# make_fs NAME SIZE_MB FSTYPE: an image with a filesystem, mounted at $WORK/NAME.
make_fs() {
        local name=$1 size=$2 fstype=$3 dev
        command -v "mkfs.$fstype" >/dev/null || skip "needs mkfs.$fstype"
        truncate -s "${size}M" "$WORK/$name.img"
        case $fstype in
        ext4) mkfs.ext4 -q -F -O ^has_journal "$WORK/$name.img" ;;  # no journal: faster in tests
        xfs) mkfs.xfs -q -f "$WORK/$name.img" ;;
        esac || fail "mkfs.$fstype"
        dev=$(losetup -f --show "$WORK/$name.img") || skip "no free loop device"
        LOOPS+=("$dev")
        mkdir -p "$WORK/$name"
        mount "$dev" "$WORK/$name" || fail "mount $dev"
        MOUNTS+=("$WORK/$name")
}

# hostile_pair SIZE_MB FSTYPE [ARGS...]: SRC and DST filesystems at $S and
# $D, and a hostile tree in SRC (ARGS go to hostile-tree.py).
hostile_pair() {
        local size=$1 fstype=$2
        shift 2
        make_fs src "$size" "$fstype"
        make_fs dst "$size" "$fstype"
        S=$WORK/src D=$WORK/dst
        python3 "$(dirname "${BASH_SOURCE[0]}")/hostile-tree.py" "$S" "$@" || fail "generating the tree"
}

# A non-recursive bind mount of SRC at $VIEW: what is hidden under its
# mount points, the view rsync must compare against.
src_view() {
        VIEW=$WORK/view
        mkdir -p "$VIEW"
        mount --bind "$1" "$VIEW" || fail "bind mount"
        MOUNTS+=("$VIEW")
        # Read-only and noatime: our own checks must not change SRC (atimes).
        mount -o remount,bind,ro,noatime "$VIEW" || fail "remount the view read-only"
}

# rsync_same SRC DST: rsync, in dry run with checksums, finds no difference.
# deep/ holds paths longer than PATH_MAX, which rsync cannot handle:
# tree_same checks it.
rsync_same() {
        local out
        out=$(rsync -aHAXSn --numeric-ids --itemize-changes --checksum --exclude=/deep "$1/" "$2/" 2>&1)
        if [ -n "$out" ]; then
                echo "rsync found differences:"
                echo "$out" | head -50
                return 1
        fi
}

# lsattr_same SRC DST: the same chattr flags on every file and directory.
lsattr_same() {
        local a b
        a=$(cd "$1" && find . -path ./deep -prune -o \( -type f -o -type d \) -print0 | sort -z | xargs -0 lsattr -d 2>&1)
        b=$(cd "$2" && find . -path ./deep -prune -o \( -type f -o -type d \) -print0 | sort -z | xargs -0 lsattr -d 2>&1)
        if [ "$a" != "$b" ]; then
                echo "lsattr differs:"
                diff <(echo "$a") <(echo "$b") | head -20
                return 1
        fi
}

# tree_listing DIR: every entry with its metadata (atime and ctime too,
# and xattrs), walked with directory fds so long paths work.  Used to show
# that SRC was not modified, and to compare the deep/ subtree.
tree_listing() {
        python3 - "$1" "${2:-all}" <<'PY'
import os, stat, sys, hashlib
root, what = sys.argv[1], sys.argv[2]
for dirpath, dirnames, filenames, dfd in os.fwalk(root, follow_symlinks=False):
    dirnames.sort()
    rel = os.path.relpath(dirpath, root)
    for n in sorted(filenames + dirnames) + ["."]:
        st = os.stat(n, dir_fd=dfd, follow_symlinks=False)
        fields = [rel + "/" + n, oct(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns]
        if not stat.S_ISDIR(st.st_mode):
            fields += [st.st_size, st.st_nlink]
        if what == "all":
            fields += [st.st_atime_ns, st.st_ctime_ns, st.st_ino]
        # Through an O_PATH fd: xattrs of symlinks and FIFOs too.
        pfd = os.open(n, os.O_PATH | os.O_NOFOLLOW, dir_fd=dfd)
        proc = "/proc/self/fd/%d" % pfd
        try:
            fields += sorted((x, os.getxattr(proc, x)) for x in os.listxattr(proc))
        except OSError as e:
            fields.append(str(e))
        os.close(pfd)
        if stat.S_ISREG(st.st_mode):
            fd = os.open(n, os.O_RDONLY | os.O_NOATIME, dir_fd=dfd)
            h = hashlib.sha256()
            while True:
                b = os.read(fd, 1 << 20)
                if not b:
                    break
                h.update(b)
            os.close(fd)
            fields.append(h.hexdigest())
        elif stat.S_ISLNK(st.st_mode):
            fields.append(os.readlink(n, dir_fd=dfd))
        print(repr(fields))
PY
}
