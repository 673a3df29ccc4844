#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Error cases of `rootraid copy`:
#  - a full target fails at once, exit status 3, with the sizes involved;
#  - a source file that cannot be read (its inode is corrupted with
#    debugfs) is named, everything else is copied, and the copy fails;
#  - SRC that is not the root of a mount is refused with exit status 2.
# Usage: test-copy-errors.sh ROOTRAID
ROOTRAID=$1
. "$(dirname "$0")/lib.sh"
command -v debugfs >/dev/null || skip "needs debugfs (e2fsprogs)"

# 1. ENOSPC: 120 MiB of data onto a 48 MiB filesystem.
make_fs big 300 ext4
make_fs small 48 ext4
for i in $(seq 1 12); do head -c 10M /dev/urandom >"$WORK/big/file$i" || fail "writing data"; done
start=$(date +%s)
"$ROOTRAID" copy "$WORK/big" "$WORK/small" >"$WORK/enospc.out" 2>&1
rc=$?
cat "$WORK/enospc.out"
[ $rc = 3 ] || fail "a full target gave exit status $rc, not 3"
grep -q "target is full" "$WORK/enospc.out" || fail "no 'target is full' message"
grep -Eq "source uses [0-9.]+ [KMG]iB, the target has [0-9.]+ ?[KMG]?i?B free of [0-9.]+ [KMG]iB" "$WORK/enospc.out" \
        || fail "the message does not give the sizes"
[ $(($(date +%s) - start)) -lt 30 ] || fail "the copy did not stop at once"

# 2. A file whose inode is corrupted: stat or read fails with EUCLEAN/EIO.
truncate -s 64M "$WORK/bad.img"
mkfs.ext4 -q -F -O ^has_journal "$WORK/bad.img" || fail mkfs
mkdir -p "$WORK/badsrc"
mount -o loop "$WORK/bad.img" "$WORK/badsrc" || fail "mount bad.img"
mkdir "$WORK/badsrc/dir"
echo one >"$WORK/badsrc/dir/good1"
head -c 100000 /dev/urandom >"$WORK/badsrc/dir/broken"
echo two >"$WORK/badsrc/dir/good2"
umount "$WORK/badsrc"
# Garbage over the extent header in the inode: the kernel refuses the file.
debugfs -w -R "sif /dir/broken block[0] 0x12345678" "$WORK/bad.img" >/dev/null 2>&1 || fail "debugfs"
dev=$(losetup -f --show "$WORK/bad.img") && LOOPS+=("$dev") || skip "no loop device"
mount -o errors=continue "$dev" "$WORK/badsrc" && MOUNTS+=("$WORK/badsrc") || fail "mount"
cat "$WORK/badsrc/dir/broken" >/dev/null 2>&1 && skip "the kernel reads the corrupted file anyway"
mkdir "$WORK/baddst"
"$ROOTRAID" copy "$WORK/badsrc" "$WORK/baddst" >"$WORK/bad.out" 2>&1
rc=$?
cat "$WORK/bad.out"
[ $rc != 0 ] || fail "the copy succeeded although a file could not be read"
grep -q "dir/broken" "$WORK/bad.out" || fail "the error does not name the file"
[ "$(cat "$WORK/baddst/dir/good1" "$WORK/baddst/dir/good2")" = "one
two" ] || fail "the readable files were not all copied"

# 3. SRC that is not the root of a mount.
mkdir -p "$WORK/sub-dst"
mkdir -p "$WORK/big/subdir"
"$ROOTRAID" copy "$WORK/big/subdir" "$WORK/sub-dst" >"$WORK/sub.out" 2>&1
rc=$?
cat "$WORK/sub.out"
[ $rc = 2 ] || fail "SRC not a mount root gave exit status $rc, not 2"
grep -q "not the root of a mount" "$WORK/sub.out" || fail "no explanation"
[ -z "$(ls -A "$WORK/sub-dst")" ] || fail "something was copied from a SRC that is not a mount root"
echo "PASS: error cases"
