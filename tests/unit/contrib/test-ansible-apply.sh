#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The apply half of the Ansible role, without guests: two hosts through the
# local connection, each with a stand-in for rootraid (a script that
# answers `show --check`, `apply --detach --yes` and `status --json` the
# way rootraid does, from a state file).
#   - both succeed: each gets its reviewed plan back, is started once with
#     `apply --detach --yes PLAN`, is polled until `status --json` says
#     finished and not after it, and the recap shows no failure;
#   - serial batches of one, the first host's migration fails (a step in
#     state failed): the play fails with that step's error and the second
#     host is never started;
#   - a detached apply that never writes a journal fails its host after
#     three rounds instead of waiting for the whole timeout.
# Usage: test-ansible-apply.sh SOURCE_ROOT
set -u
src=$1
command -v ansible-playbook >/dev/null || { echo "ansible-playbook not installed (package ansible-core)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ANSIBLE_CONFIG="$src/contrib/ansible/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_LOCAL_TEMP="$tmp/ansible-local" \
        ANSIBLE_REMOTE_TEMP="$tmp/ansible-remote" TMPDIR="$tmp/tmp" HOME="$tmp"
mkdir -p "$tmp/tmp"
fail() { echo "FAIL: $*"; [ -f "$tmp/out" ] && grep -v '^skipping' "$tmp/out" | tail -40; exit 1; }

# fake HOST OUTCOME: a rootraid for HOST whose migration, once started,
# is "applying" for two polls and then OUTCOME (finished, failed, or
# nojournal: the detached apply never gets to write its journal).
fake() {
        local host=$1 outcome=$2 dir="$tmp/$1"
        mkdir -p "$dir"
        cat >"$dir/rootraid" <<EOF
#!/bin/bash
dir=$dir outcome=$outcome
echo "\$*" >>"\$dir/calls"
case "\$1" in
show) [ "\$3" = --check ] && [ -s "\$2" ] ;;
apply) [ "\$*" = "apply --detach --yes \$dir/plan.json" ] || exit 2
       [ -e "\$dir/started" ] && exit 11
       echo 0 >"\$dir/started"; echo "The migration runs as the systemd unit rootraid-apply.service" ;;
status)
        [ -e "\$dir/started" ] && [ "\$outcome" != nojournal ] || { echo "no journal" >&2; exit 8; }
        n=\$(cat "\$dir/started"); echo \$((n + 1)) >"\$dir/started"
        state=applying step=running error=null
        if [ "\$n" -ge 2 ]; then
                case \$outcome in
                finished) state=finished step=done ;;
                failed) step=failed error='"mdadm --create failed: injected"' ;;
                esac
        fi
        printf '{"run_state": "%s", "steps": [{"id": "create-root", "state": "%s", "error": %s}]}\n' \$state \$step "\$error" ;;
*) exit 2 ;;
esac
EOF
        chmod +x "$dir/rootraid"
        mkdir -p "$tmp/plans"
        echo '{"plan": "reviewed"}' >"$tmp/plans/$host.json"
}

inventory() { # HOST...
        echo "[rootraid]"
        for h in "$@"; do
                echo "$h ansible_connection=local ansible_become=false ansible_python_interpreter=/usr/bin/python3" \
                        "rootraid_disks='[\"/dev/sdb\"]' rootraid_binary=$tmp/$h/rootraid rootraid_plan_path=$tmp/$h/plan.json"
        done
}

run() { # SERIAL
        (cd "$src/contrib/ansible" && ansible-playbook -i "$tmp/inventory.ini" site.yml -e rootraid_apply=true \
                -e "rootraid_fetch_dir=$tmp/plans" -e "rootraid_serial=$1" -e rootraid_poll_delay=1 \
                -e rootraid_wait_timeout=8) >"$tmp/out" 2>&1
}

# Both hosts finish.
fake h1 finished
fake h2 finished
inventory h1 h2 >"$tmp/inventory.ini"
run 2 || fail "apply run of two good hosts"
for h in h1 h2; do
        grep -qE "^$h +: ok=[0-9]+ +changed=[1-9][0-9]* +unreachable=0 +failed=0" "$tmp/out" || fail "recap of $h"
        cmp -s "$tmp/plans/$h.json" "$tmp/$h/plan.json" || fail "$h did not get its reviewed plan back"
        [ "$(grep -c '^apply ' "$tmp/$h/calls")" = 1 ] || fail "$h was not started exactly once"
        grep -qx "apply --detach --yes $tmp/$h/plan.json" "$tmp/$h/calls" || fail "$h was not started with apply --detach --yes"
        # "finished" comes with the third poll after the start (one poll
        # before it finds no journal); the later rounds must not poll.
        polls=$(grep -c '^status --json' "$tmp/$h/calls")
        [ "$polls" -ge 4 ] || fail "$h was not polled until finished"
        [ "$polls" = 4 ] || fail "$h was polled $polls times, still after it reported finished"
done
grep -q "h1: migration finished" "$tmp/out" || fail "no report of h1 finishing"
echo "two hosts: both started detached, polled until finished, recap without failures"

# Serial batches of one: h1 fails, h2 is never started.
rm -rf "$tmp/h1" "$tmp/h2" "$tmp/plans"
fake h1 failed
fake h2 finished
inventory h1 h2 >"$tmp/inventory.ini"
if run 1; then fail "the play succeeded although h1's migration failed"; fi
grep -qE "^h1 +: .*failed=1" "$tmp/out" || fail "h1 is not reported failed"
grep -q "step create-root failed: mdadm --create failed: injected" "$tmp/out" || fail "the failed step's error is not shown"
[ -e "$tmp/h2/calls" ] && fail "h2 was touched after h1 failed in an earlier batch: $(cat "$tmp/h2/calls")"
echo "serial 1: the first host's failure stops the play before the second batch"

# A detached apply that dies before its journal: failed after three rounds.
rm -rf "$tmp/h1" "$tmp/h2" "$tmp/plans"
fake h1 nojournal
inventory h1 >"$tmp/inventory.ini"
if run 1; then fail "the play succeeded although h1 never wrote a journal"; fi
grep -q "has no journal 3 rounds after the start" "$tmp/out" || fail "no journal: wrong message"
grep -q "did not finish within" "$tmp/out" && fail "no journal: waited for the timeout instead"
echo "no journal after the start: failed after three rounds"
exit 0
