#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The Ansible role in contrib/ansible: the playbook passes
# `ansible-playbook --syntax-check`; in check mode, against this machine
# through the local connection with a fixture sysroot, it plans, fetches a
# valid plan to the controller, reports no change and leaves nothing on
# the host (no plan file, no temporary file); without check mode it keeps
# the plan on the host; with rootraid_apply=true and no reviewed plan it
# fails before touching anything.  (Applying needs guests: vm-full.)
# Usage: test-ansible.sh SOURCE_ROOT ROOTRAID FIXTURE_SYSROOT
set -u
src=$1 rootraid=$(realpath "$2") sysroot=$(realpath "$3")
command -v ansible-playbook >/dev/null || { echo "ansible-playbook not installed (package ansible-core)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ANSIBLE_CONFIG="$src/contrib/ansible/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_LOCAL_TEMP="$tmp/ansible-local" \
        ANSIBLE_REMOTE_TEMP="$tmp/ansible-remote" TMPDIR="$tmp/tmp" HOME="$tmp"
mkdir -p "$tmp/tmp"
fail() { echo "FAIL: $*"; [ -f "$tmp/out" ] && tail -40 "$tmp/out"; exit 1; }

cd "$src/contrib/ansible" || exit 1
ansible-playbook --syntax-check site.yml >"$tmp/out" 2>&1 || fail "syntax check"

cat >"$tmp/inventory.ini" <<INV
[rootraid]
testhost ansible_connection=local ansible_become=false ansible_python_interpreter=/usr/bin/python3 rootraid_disks='["/dev/sdb"]' rootraid_sysroot=$sysroot rootraid_binary=$rootraid rootraid_plan_path=$tmp/host/plan.json
INV
mkdir -p "$tmp/host"
run() { ansible-playbook -i "$tmp/inventory.ini" site.yml -e "rootraid_fetch_dir=$tmp/plans" "$@" >"$tmp/out" 2>&1; }

# Check mode: plans, fetches, changes nothing.
run --check || fail "check mode run"
grep -qE 'testhost +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0' "$tmp/out" || fail "check mode recap"
[ -s "$tmp/plans/testhost.json" ] || fail "no plan fetched to the controller"
"$rootraid" show "$tmp/plans/testhost.json" >/dev/null || fail "the fetched plan does not validate"
grep -q 'Point of no return' "$tmp/out" || fail "the plan summary is not shown"
[ -e "$tmp/host/plan.json" ] && fail "check mode left a plan on the host"
left=$(find "$tmp/tmp" "$tmp/ansible-remote" -name '*rootraid-plan*' 2>/dev/null)
[ -z "$left" ] || fail "check mode left $left"
echo "check mode: plan fetched, nothing changed"

# Without check mode and without apply: the plan stays on the host too.
rm -rf "$tmp/plans"
run || fail "plan run"
[ -s "$tmp/host/plan.json" ] || fail "no plan kept on the host"
cmp -s "$tmp/host/plan.json" "$tmp/plans/testhost.json" || fail "fetched plan differs from the host's"
echo "plan run: plan kept on the host and fetched"

# Apply without a reviewed plan: refused before anything runs.  (Only
# where this machine has no journal of its own, which the role would wait on.)
if [ -e /var/lib/rootraid/journal.json ]; then
        echo "this machine has a rootraid journal: apply case not run"
        exit 0
fi
rm -rf "$tmp/plans" "$tmp/host/plan.json"
if run -e rootraid_apply=true -e rootraid_wait_timeout=10; then fail "apply without a reviewed plan succeeded"; fi
grep -q "No plan for testhost" "$tmp/out" || fail "apply without a plan: wrong message"
[ -e "$tmp/host/plan.json" ] && fail "apply without a plan wrote a plan"
echo "apply without a reviewed plan: refused"
exit 0
