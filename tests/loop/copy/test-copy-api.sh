#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs test-copy-api (the executor's in-process API) on ext4 loop images
# holding a hostile tree.
# Usage: test-copy-api.sh TEST-COPY-API
API=$1
. "$(dirname "$0")/lib.sh"
make_fs src 300 ext4
make_fs dst 300 ext4
python3 "$(dirname "$0")/hostile-tree.py" "$WORK/src" || fail "generating the tree"
sleep 1.2 # see test-copy-sync.sh: ctime in the second the tracker starts counts as a change
"$API" "$WORK/src" "$WORK/dst" "$WORK/copy.links"
