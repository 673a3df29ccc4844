#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The example hooks in hooks/, run the way the hook runner runs them (phase
# as $1 and in ROOTRAID_PHASE), with systemctl, logger and sendmail
# replaced by recorders: stop-services stops the listed units in order
# before the final sync and starts them in reverse after the switch and on
# failure; notify-syslog logs at err on failure; notify-mail sends a mail
# with To/Subject to sendmail -t, and succeeds without an MTA.  Then all
# three installed the way their headers say (stop-services linked into
# after-switch and on-failure) and run by rootraid's own hook runner
# (HOOK_RUN): they get their settings from the environment and the
# runner's phase, step and plan, in the documented order.
# Usage: test-hook-examples.sh HOOKS_DIR HOOK_RUN
set -eu
hooks=$1 hook_run=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
for tool in systemctl logger; do
        printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\n' "$tool" "$tmp" >"$tmp/bin/$tool"
        chmod +x "$tmp/bin/$tool"
done
printf '#!/bin/sh\necho "sendmail $*" >>"%s/calls"\ncat >"%s/mail"\n' "$tmp" "$tmp" >"$tmp/bin/sendmail"
chmod +x "$tmp/bin/sendmail"
export PATH="$tmp/bin:$PATH" ROOTRAID_STEP=hooks-x ROOTRAID_PLAN=/root/plan.json ROOTRAID_JOURNAL=/var/lib/rootraid/journal.json
fail() { echo "FAIL: $*"; echo "--- calls:"; cat "$tmp/calls" 2>/dev/null; exit 1; }
expect_calls() { # EXPECTED
        local got
        got=$(cat "$tmp/calls" 2>/dev/null || true)
        [ "$got" = "$1" ] || fail "expected calls:
$1
got:
$got"
        rm -f "$tmp/calls"
}

printf '# the database first\npostgresql.service\n\ncron.service  nginx.service # web\n' >"$tmp/list"
export ROOTRAID_STOP_SERVICES_FILE="$tmp/list"
ROOTRAID_PHASE=before-final-sync "$hooks/stop-services" before-final-sync >/dev/null
expect_calls "systemctl stop postgresql.service
systemctl stop cron.service
systemctl stop nginx.service"
for p in after-switch on-failure; do
        ROOTRAID_PHASE=$p "$hooks/stop-services" $p >/dev/null
        expect_calls "systemctl start nginx.service
systemctl start cron.service
systemctl start postgresql.service"
done
ROOTRAID_STOP_SERVICES="a.service" "$hooks/stop-services" before-final-sync >/dev/null
expect_calls "systemctl stop a.service"
ROOTRAID_STOP_SERVICES_FILE=/nonexistent "$hooks/stop-services" before-final-sync >/dev/null
expect_calls ""
# A unit that fails to stop fails the hook (so the final sync does not run
# with a writer still up).
printf '#!/bin/sh\nexit 5\n' >"$tmp/bin/systemctl"
if ROOTRAID_STOP_SERVICES="a.service" "$hooks/stop-services" before-final-sync >/dev/null 2>&1; then
        fail "stop-services succeeded although systemctl stop failed"
fi

"$hooks/notify-syslog" after-readd
grep -q "^logger -t rootraid -p daemon.notice -- .*reached phase after-readd (step hooks-x, plan /root/plan.json)" "$tmp/calls" || fail "notify-syslog after-readd"
rm -f "$tmp/calls"
"$hooks/notify-syslog" on-failure
grep -q "^logger -t rootraid -p daemon.err " "$tmp/calls" || fail "notify-syslog on-failure"
rm -f "$tmp/calls"

ROOTRAID_SENDMAIL="$tmp/bin/sendmail" ROOTRAID_MAIL_TO=ops@example.com "$hooks/notify-mail" on-failure >/dev/null
expect_calls "sendmail -t"
grep -qx "To: ops@example.com" "$tmp/mail" || fail "mail To"
grep -q "^Subject: rootraid on .*: FAILED$" "$tmp/mail" || fail "mail Subject"
grep -qx "Phase:   on-failure" "$tmp/mail" || fail "mail body"
if [ ! -x /usr/sbin/sendmail ] && [ ! -x /usr/lib/sendmail ]; then
        out=$(ROOTRAID_MAIL_TO=x "$hooks/notify-mail" after-switch) || fail "notify-mail without an MTA failed"
        case "$out" in *"no sendmail binary"*) ;; *) fail "notify-mail without an MTA said: $out" ;; esac
fi

# Installed as the headers say, run by the hook runner.
printf '#!/bin/sh\necho "systemctl $*" >>"%s/calls"\n' "$tmp" >"$tmp/bin/systemctl"
d="$tmp/hooks.d"
install -D -m 0755 "$hooks/stop-services" "$d/before-final-sync/50-stop-services"
for p in after-switch on-failure; do
        install -d -m 0755 "$d/$p"
        ln -sf ../before-final-sync/50-stop-services "$d/$p/50-start-services"
done
for p in before-copy before-final-sync after-switch after-readd on-failure; do
        install -D -m 0755 "$hooks/notify-syslog" "$d/$p/90-notify-syslog"
done
for p in after-switch after-readd on-failure; do
        install -D -m 0755 "$hooks/notify-mail" "$d/$p/90-notify-mail"
done
chmod 0755 "$d"
export ROOTRAID_STOP_SERVICES="db.service web.service" ROOTRAID_MAIL_TO=ops@example.com \
        ROOTRAID_SENDMAIL="$tmp/bin/sendmail"
unset ROOTRAID_STOP_SERVICES_FILE
run_phase() { # PHASE
        "$hook_run" "$d" "$1" 2>"$tmp/log" || { cat "$tmp/log"; fail "the runner failed phase $1"; }
}
run_phase before-final-sync
expect_calls "systemctl stop db.service
systemctl stop web.service
logger -t rootraid -p daemon.notice -- $(hostname): migration onto RAID reached phase before-final-sync (step hooks-before-final-sync, plan /root/plan.json)"
rm -f "$tmp/mail"
run_phase after-switch
expect_calls "systemctl start web.service
systemctl start db.service
sendmail -t
logger -t rootraid -p daemon.notice -- $(hostname): migration onto RAID reached phase after-switch (step hooks-after-switch, plan /root/plan.json)"
grep -qx "To: ops@example.com" "$tmp/mail" || fail "runner: mail To"
grep -qx "Step:    hooks-after-switch" "$tmp/mail" || fail "runner: mail Step"
grep -q "50-start-services: starting web.service" "$tmp/log" || fail "runner: the hook's output is not in the log"
run_phase on-failure
grep -q "^logger -t rootraid -p daemon.err .*phase on-failure" "$tmp/calls" || fail "runner: on-failure syslog"
grep -q "^Subject: rootraid on .*: FAILED$" "$tmp/mail" || fail "runner: on-failure mail"
expect_calls "$(cat "$tmp/calls")"
# A unit that does not stop fails the phase, with the hook named.
printf '#!/bin/sh\nexit 5\n' >"$tmp/bin/systemctl"
if "$hook_run" "$d" before-final-sync 2>"$tmp/log"; then fail "runner: the phase succeeded although systemctl stop failed"; fi
grep -q "50-stop-services failed with exit status" "$tmp/log" || { cat "$tmp/log"; fail "runner: the failing hook is not named"; }
echo "hook examples: ok"
