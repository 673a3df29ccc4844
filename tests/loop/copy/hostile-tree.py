#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Builds a tree that exercises everything `rootraid copy` must preserve.

Usage: hostile-tree.py ROOT [--bulk N]

Covers: data files, holes (sparse, all-hole, trailing hole), empty files,
directories (deep, with a path longer than PATH_MAX under deep/), symlinks
(relative, absolute, dangling, long target), hard links (in one directory,
across directories, groups of three, an immutable one), device nodes,
FIFOs, sockets, numeric owners without names, set-id and sticky modes,
nanosecond times on files, directories and symlinks, xattrs in the user,
trusted and security namespaces (an SELinux label, a file capability),
POSIX ACLs (access and default), chattr flags (immutable, append-only,
nodump, noatime, on files and a directory), 255-byte names and names that
are not UTF-8.  Deterministic: the same ROOT content every run.  Root only.
"""
import os
import random
import socket
import stat
import subprocess
import sys

root = sys.argv[1]
bulk = int(sys.argv[sys.argv.index("--bulk") + 1]) if "--bulk" in sys.argv else 0
rnd = random.Random(4)
os.umask(0)


def p(*parts):
    return os.path.join(root, *parts)


def write(path, data=b"", mode=0o644):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def run(*argv):
    subprocess.run(argv, check=True)


def times(path, sec, nsec, follow=True):
    ns = sec * 10**9 + nsec
    os.utime(path, ns=(ns + 17, ns), follow_symlinks=follow)


os.makedirs(p("data"), exist_ok=True)
write(p("data", "empty"))
write(p("data", "small"), b"hello\n")
write(p("data", "random-1m"), rnd.randbytes(1 << 20))
write(p("data", "random-odd"), rnd.randbytes(123457))
with open(p("data", "sparse"), "wb") as f:        # data, hole, data, trailing hole
    f.write(rnd.randbytes(8192))
    f.seek(4 << 20)
    f.write(rnd.randbytes(4096))
    f.truncate(16 << 20)
with open(p("data", "all-hole"), "wb") as f:
    f.truncate(64 << 20)
with open(p("data", "hole-first"), "wb") as f:
    f.seek(1 << 20)
    f.write(b"tail")

# Owners without names, set-id bits, sticky, odd modes.
os.makedirs(p("modes"), exist_ok=True)
for name, mode, uid, gid in [("setuid", 0o4755, 0, 0), ("setgid", 0o2750, 1234, 5678),
                             ("both", 0o6711, 4242, 4243), ("none", 0o000, 65534, 65534),
                             ("odd", 0o1604, 99999, 88888)]:
    write(p("modes", name), name.encode(), 0o644)
    os.chown(p("modes", name), uid, gid)
    os.chmod(p("modes", name), mode)
os.mkdir(p("modes", "sticky"))
os.chmod(p("modes", "sticky"), 0o1777)
os.mkdir(p("modes", "setgid-dir"))
os.chown(p("modes", "setgid-dir"), 2000, 3000)
os.chmod(p("modes", "setgid-dir"), 0o2775)

# Symlinks.
os.makedirs(p("links"), exist_ok=True)
os.symlink("../data/small", p("links", "relative"))
os.symlink("/etc/passwd", p("links", "absolute"))
os.symlink("nowhere/at/all", p("links", "dangling"))
os.symlink("t/" * 500, p("links", "long-target"))
os.symlink(".", p("links", "loop"))
os.lchown(p("links", "relative"), 777, 888)

# Hard links within and across directories, and a group of three.
os.makedirs(p("hard", "a"), exist_ok=True)
os.makedirs(p("hard", "b", "c"), exist_ok=True)
write(p("hard", "a", "one"), b"linked 1\n")
os.link(p("hard", "a", "one"), p("hard", "a", "one-again"))
os.link(p("hard", "a", "one"), p("hard", "b", "c", "one-elsewhere"))
write(p("hard", "b", "two"), rnd.randbytes(70000))
os.link(p("hard", "b", "two"), p("hard", "a", "two"))
write(p("hard", "frozen"), b"immutable and linked\n")
os.link(p("hard", "frozen"), p("hard", "b", "frozen-too"))

# Special files.
os.makedirs(p("dev"), exist_ok=True)
os.mknod(p("dev", "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
os.mknod(p("dev", "loop99"), 0o660 | stat.S_IFBLK, os.makedev(7, 99))
os.chown(p("dev", "loop99"), 0, 6)
os.mkfifo(p("dev", "fifo"), 0o620)
s = socket.socket(socket.AF_UNIX)
s.bind(p("dev", "socket"))
s.close()
os.chmod(p("dev", "socket"), 0o755)

# Names.
os.makedirs(p("names"), exist_ok=True)
write(p("names", "n" * 255), b"long name\n")
write(os.path.join(p("names").encode(), b"latin1-\xe9t\xe9"), b"not utf-8\n")
write(os.path.join(p("names").encode(), b"\xff\xfe\x01\x7f"), b"bytes\n")
write(p("names", "unicode-\u00e9\u4e2d"), b"utf-8\n")
write(p("names", " leading space"), b"")
write(p("names", "new\nline"), b"")
write(p("names", "-dash"), b"")

# Xattrs, capabilities, ACLs.
os.makedirs(p("xattr"), exist_ok=True)
write(p("xattr", "user"), b"x")
os.setxattr(p("xattr", "user"), "user.comment", b"hello")
os.setxattr(p("xattr", "user"), "user.binary", bytes(range(256)))
os.setxattr(p("xattr", "user"), "user.empty", b"")
write(p("xattr", "trusted"), b"x")
os.setxattr(p("xattr", "trusted"), "trusted.overlay.opaque", b"y")
write(p("xattr", "selinux"), b"x")
os.setxattr(p("xattr", "selinux"), "security.selinux", b"system_u:object_r:bin_t:s0\0")
write(p("xattr", "ping"), b"\x7fELF", 0o755)
os.chown(p("xattr", "ping"), 0, 0)
run("setcap", "cap_net_raw,cap_net_admin+ep", p("xattr", "ping"))
write(p("xattr", "acl"), b"acl", 0o640)
run("setfacl", "-m", "u:1001:rw-,g:1002:r--,m::rw-", p("xattr", "acl"))
os.mkdir(p("xattr", "acl-dir"))
run("setfacl", "-m", "u:1003:rwx", "-d", "-m", "u:1004:r-x,g::r-x", p("xattr", "acl-dir"))
write(p("xattr", "acl-dir", "inherited"), b"inherits the default ACL")
os.symlink("user", p("xattr", "symlink-with-label"))
os.setxattr(p("xattr", "symlink-with-label"), "security.selinux", b"system_u:object_r:etc_t:s0\0",
            follow_symlinks=False)
os.setxattr(p("dev", "fifo"), "trusted.fifo", b"on a fifo")

# Deep tree, and a path longer than PATH_MAX (walked with dir fds).
d = p("deep")
os.makedirs(d, exist_ok=True)
fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
for i in range(24):
    name = "%02d-" % i + "d" * 196
    os.mkdir(name, dir_fd=fd)
    nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    fd = nfd
wfd = os.open("at-the-bottom", os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=fd)
os.write(wfd, b"more than PATH_MAX below the root\n")
os.close(wfd)
os.symlink("at-the-bottom", "link-at-the-bottom", dir_fd=fd)
os.close(fd)

# Bulk files for the tests that need a copy taking a while.
for i in range(bulk):
    dd = p("bulk", "%03d" % (i // 500))
    if i % 500 == 0:
        os.makedirs(dd, exist_ok=True)
    size = int(rnd.lognormvariate(8, 1.7)) % (2 << 20)
    write(os.path.join(dd, "f%06d" % i), rnd.randbytes(size))

# Times with nanoseconds, children before their directories.
for dirpath, dirnames, filenames in os.walk(root, topdown=False):
    if "/deep" in dirpath:
        continue
    for n in filenames + dirnames:
        times(os.path.join(dirpath, n), 1_500_000_000 + rnd.randrange(10**8), rnd.randrange(10**9),
              follow=False)
    times(dirpath, 1_400_000_000 + rnd.randrange(10**8), rnd.randrange(10**9))

# Flags last: immutable things cannot change afterwards.  lsattr names
# them: i immutable, a append-only, d nodump, A noatime, S sync.
os.makedirs(p("flags", "frozen-dir"), exist_ok=True)
write(p("flags", "frozen-dir", "inside"), b"in an immutable directory")
for name in ["immutable", "append", "nodump", "noatime", "sync"]:
    write(p("flags", name), name.encode())
for name, f in [("immutable", "+i"), ("append", "+a"), ("nodump", "+d"), ("noatime", "+A"), ("sync", "+S")]:
    run("chattr", f, p("flags", name))
times(p("flags", "frozen-dir", "inside"), 1_300_000_000, 123456789)
times(p("flags", "frozen-dir"), 1_300_000_001, 987654321)
run("chattr", "+i", p("flags", "frozen-dir"))
run("chattr", "+i", p("hard", "frozen"))
times(p("flags"), 1_300_000_002, 5)
times(p("hard"), 1_300_000_003, 6)
times(p("hard", "b"), 1_300_000_004, 7)
