#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# rootraid plan / show on the command line, as a user meets them: the
# exit code of each refusal (the README's table), no file written when
# refused, the summary, --json, show --check on a matching and on a
# changed machine, an invalid plan file, --help, and root required live.
#   test-cli.sh ROOTRAID FIXTURES_DIR
set -u
rootraid=$(realpath "$1") fixtures=$(realpath "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export SOURCE_DATE_EPOCH=1767225600
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }

# expect CODE NEEDLE COMMAND...: exit code and a word of the message.
expect() {
        local code=$1 needle=$2; shift 2
        "$@" >out 2>err
        local rc=$?
        [ "$rc" = "$code" ] || fail "$* exited $rc, expected $code: $(cat err)"
        grep -q -- "$needle" out err || fail "$*: no \"$needle\" in: $(cat out err)"
}

expect 0 "plan " "$rootraid" --help
expect 0 "show " "$rootraid" --help
expect 0 "--disk DEV" "$rootraid" plan --help
expect 0 "--check" "$rootraid" show --help
expect 0 "rootraid 0" "$rootraid" --version
expect 2 "--level" "$rootraid" plan --sysroot "$fixtures/bios-mbr" --disk /dev/sdb --level 3
expect 2 "No target disk" "$rootraid" plan --sysroot "$fixtures/bios-mbr"

# Refusals: exit code from the table, nothing written.
expect 2 "named twice" "$rootraid" plan --sysroot "$fixtures/bios-mbr" --disk /dev/sdb --disk /dev/sdb -o p.json
expect 2 "RAID 6 needs at least 4 disks" "$rootraid" plan --sysroot "$fixtures/bios-mbr" --disk /dev/sdb --level 6 -o p.json
expect 3 "disk the running system is on" "$rootraid" plan --sysroot "$fixtures/bios-mbr" --disk /dev/sda -o p.json
expect 3 "with --wipe" "$rootraid" plan --sysroot "$fixtures/dirty-targets" --disk /dev/sdb -o p.json
expect 3 "mounted at /srv" "$rootraid" plan --sysroot "$fixtures/dirty-targets" --disk /dev/sdd -o p.json
expect 3 "too small by" "$rootraid" plan --sysroot "$fixtures/dirty-targets" --disk /dev/sde -o p.json
expect 3 "already on md" "$rootraid" plan --sysroot "$fixtures/md-root" --disk /dev/sdc -o p.json
expect 4 "btrfs subvolume" "$rootraid" plan --sysroot "$fixtures/btrfs-root" --disk /dev/sdb -o p.json
expect 4 "/boot is in the root filesystem" "$rootraid" plan --sysroot "$fixtures/bios-mbr" --disk /dev/sdb --disk /dev/sdc --level 5 -o p.json
expect 8 "does not exist" "$rootraid" plan --sysroot "$fixtures/bios-mbr" --disk /dev/sdx -o p.json
expect 2 "Invalid --switch" "$rootraid" plan --sysroot "$fixtures/bios-mbr" --disk /dev/sdb --switch kexec -o p.json
expect 4 "needs systemd 254 or later" "$rootraid" plan --sysroot "$fixtures/bios-mbr" --disk /dev/sdb --switch soft-reboot -o p.json
[ -e p.json ] && fail "a refused plan wrote p.json"

# --switch soft-reboot where systemd has it (a copy of the fixture with
# the unit file): the summary says what the switch changes.
cp -a "$fixtures/bios-mbr" sr-root
mkdir -p sr-root/usr/lib/systemd/system && : >sr-root/usr/lib/systemd/system/systemd-soft-reboot.service
expect 0 "Switch without a reboot: step 16 (switch-root)" "$rootraid" plan --sysroot sr-root --disk /dev/sdb --switch soft-reboot -o sr.json
python3 -c 'import json,sys; s=[x["kind"] for x in json.load(open("sr.json"))["steps"]]; i=s.index("boot-once"); sys.exit(s[i:i+3] != ["boot-once","switch-root","reboot"])' ||
        fail "the soft-reboot plan lacks boot-once, switch-root, reboot in that order"
rm -rf sr-root sr.json

# A plan, its summary, its file.
expect 0 "Point of no return: step" "$rootraid" plan --sysroot "$fixtures/bios-gpt" --disk /dev/sdb -o p.json
[ -s p.json ] || fail "plan wrote no p.json"
expect 0 "POINT OF NO RETURN" "$rootraid" show p.json
"$rootraid" show --json p.json >shown.json || fail "show --json"
python3 -c 'import json,sys; a=json.load(open("p.json")); b=json.load(open("shown.json")); sys.exit(a!=b)' \
        || fail "show --json differs from the file"
"$rootraid" plan --sysroot "$fixtures/bios-gpt" --disk /dev/sdb -o p2.json --json >stdout.json || fail "plan --json"
cmp -s p2.json stdout.json || python3 -c 'import json,sys; sys.exit(json.load(open("p2.json"))!=json.load(open("stdout.json")))' \
        || fail "plan --json prints another plan than it writes"
cmp -s p.json p2.json || fail "two plans of the same machine differ"

# Stale plans.
expect 0 "matches this machine" "$rootraid" show --check --sysroot "$fixtures/bios-gpt" p.json
expect 6 "firmware: bios -> uefi" "$rootraid" show --check --sysroot "$fixtures/uefi" p.json

# Invalid plan files.
sed 's/"md-create"/"md-crate"/' p.json >bad.json
expect 5 'bad.json: steps\[[0-9]*\].kind: unknown step kind "md-crate"' "$rootraid" show bad.json
echo '{' >trunc.json
expect 5 "not valid JSON" "$rootraid" show trunc.json
expect 8 "Cannot read" "$rootraid" show missing.json

# Live planning needs root.
if [ "$(id -u)" = 0 ]; then
        if command -v setpriv >/dev/null; then
                chmod 755 "$tmp"
                expect 9 "run as root" setpriv --reuid=65534 --regid=65534 --clear-groups "$rootraid" plan --disk /dev/sdb -o "$tmp/x.json"
        fi
else
        expect 9 "run as root" "$rootraid" plan --disk /dev/sdb
fi

echo "$failures failure(s)"
[ "$failures" = 0 ]
