#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Writes a reproducible tree shaped like a Debian root filesystem.

Usage: gen-tree.py ROOT [--files N] [--seed S] [--max-size BYTES]

Shape (fixed seed, so every run writes the same tree):
- N regular files (default 200,000) in directories of very unequal sizes:
  most hold a handful of files, a few hold hundreds (like /usr/share/doc
  against /usr/lib/x86_64-linux-gnu), nested up to 9 levels;
- file sizes log-normal with a median of 3 KiB and a mean near 20 KiB
  (a Debian root: many small files under /usr/share and /etc, a tail of
  large libraries and binaries), capped at 48 MiB; 3% empty files;
- 4% of entries are symlinks, 0.5% of files get a second hard link in
  another directory, a few files carry xattrs;
- contents are slices of one random buffer: the filesystems do not
  compress, and generating it stays fast.
"""
import os
import random
import sys

root = sys.argv[1]
args = sys.argv[2:]
def opt(name, default):
    return int(args[args.index(name) + 1]) if name in args else default
n_files = opt("--files", 200_000)
seed = opt("--seed", 1)
max_size = opt("--max-size", 48 << 20)

rnd = random.Random(seed)
pool = random.Random(seed + 1).randbytes(8 << 20)

# Directories: a random tree where each new directory hangs under an
# existing one, preferring shallow ones, like a root filesystem.
n_dirs = max(1, n_files // 11)
dirs = [""]
depth = {"": 0}
for i in range(n_dirs):
    parent = rnd.choice(dirs[-200:] if rnd.random() < 0.5 else dirs)
    if depth[parent] >= 9:
        parent = ""
    d = os.path.join(parent, "d%05d" % i)
    dirs.append(d)
    depth[d] = depth[parent] + 1
for d in dirs[1:]:
    os.makedirs(os.path.join(root, d), exist_ok=True)

# Files per directory: Pareto-like weights, so a few directories are big.
weights = [rnd.paretovariate(1.2) for _ in dirs]
targets = rnd.choices(range(len(dirs)), weights=weights, k=n_files)

def size():
    if rnd.random() < 0.03:
        return 0
    return min(int(rnd.lognormvariate(8.0, 1.9)), max_size)

total = 0
files = []
for i, t in enumerate(targets):
    path = os.path.join(root, dirs[t], "f%07d" % i)
    s = size()
    total += s
    with open(path, "wb") as f:
        off = rnd.randrange(0, len(pool) - min(s, len(pool)) + 1)
        left = s
        while left > 0:
            chunk = pool[off:off + min(left, len(pool) - off)]
            f.write(chunk)
            left -= len(chunk)
            off = 0
    os.chmod(path, rnd.choice([0o644, 0o644, 0o644, 0o755, 0o600, 0o4755]))
    files.append(path)
    if i % 50 == 0:
        os.symlink("../" * depth[dirs[t]] + os.path.relpath(files[rnd.randrange(len(files))], root),
                   os.path.join(root, dirs[t], "l%07d" % i))
    if i % 200 == 7:
        other = os.path.join(root, rnd.choice(dirs), "h%07d" % i)
        os.link(path, other)
    if i % 500 == 3:
        os.setxattr(path, "user.origin", b"bench")

print("%d files, %d directories, %.2f GiB" % (n_files, len(dirs), total / 2**30))
