#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The example hooks in hooks/, run the way the hook runner runs them (phase
# as $1 and in ROOTRAID_PHASE), with systemctl, logger and sendmail
# replaced by recorders: stop-services stops the listed units in order
# before the final sync and starts them in reverse after the switch and on
# failure; notify-syslog logs at err on failure; notify-mail sends a mail
# with To/Subject to sendmail -t, and succeeds without an MTA.
# Usage: test-hook-examples.sh HOOKS_DIR
set -eu
hooks=$1
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
echo "hook examples: ok"
