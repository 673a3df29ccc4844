#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Live `rootraid plan` with a blank loop device as the target (loop suite:
# root and loop devices).  Planning inspects this machine, must either plan
# or refuse with an exit code of the README's table, must never write to
# any device (the image stays all zeros), and writes a plan file only when
# it plans, one that `show --check` accepts on the same machine.
#   test-live-loop.sh ROOTRAID
set -u
rootraid=$(realpath "$1")
[ "$(id -u)" = 0 ] || { echo "needs root for loop devices"; exit 77; }
command -v losetup >/dev/null || { echo "no losetup"; exit 77; }
tmp=$(mktemp -d)
img=$tmp/blank.img
truncate -s 256M "$img"
loop=$(losetup -f --show "$img" 2>/dev/null) || { rm -rf "$tmp"; echo "cannot attach a loop device here"; exit 77; }
trap 'losetup -d "$loop"; rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }

start=$(date +%s%N)
"$rootraid" plan --disk "$loop" --output "$tmp/plan.json" >"$tmp/out" 2>"$tmp/err"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "rootraid plan --disk $loop: exit $rc in $ms ms"
cat "$tmp/err"
case $rc in
0)
        grep -q "Point of no return" "$tmp/out" || fail "no summary"
        "$rootraid" show --check "$tmp/plan.json" >/dev/null || fail "show --check refuses a fresh plan"
        ;;
2|3|4|8)
        [ -e "$tmp/plan.json" ] && fail "a refusal wrote a plan"
        grep -q "Refused, nothing written" "$tmp/err" || fail "the refusal does not say nothing was written"
        ;;
*)
        fail "exit code $rc is not a planning outcome";;
esac
cmp -s -n $((256 << 20)) "$img" /dev/zero || fail "the target image was written to"
echo "$failures failure(s)"
[ "$failures" = 0 ]
