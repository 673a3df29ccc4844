#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `rootraid apply --yes --json` with a plan made for another machine (a
# fixture sysroot): stdout is nothing but JSON events, one object per line,
# schema v1: run-start, the refusal as an error event, run-end with exit 6
# and the same error; --json with --dry-run is a usage error (exit 2).
# Usage: test-json-cli.sh ROOTRAID FIXTURE_SYSROOT
set -u
rootraid=$1 sysroot=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; cat "$tmp/out" 2>/dev/null; exit 1; }

"$rootraid" plan --sysroot "$sysroot" --disk /dev/sdb -o "$tmp/plan.json" >/dev/null 2>&1 || fail "plan"
"$rootraid" apply --yes --json "$tmp/plan.json" >"$tmp/out" 2>/dev/null </dev/null
rc=$?
[ "$rc" = 6 ] || fail "apply of another machine's plan exited $rc, expected 6"
python3 - "$tmp/out" "$tmp/plan.json" <<'PY' || fail "events"
import json, re, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "", "output does not end with a newline"
events = [json.loads(l) for l in lines[:-1]]
for e in events:
    assert e["v"] == 1 and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["time"]), e
kinds = [e["event"] for e in events]
assert kinds == ["run-start", "error", "run-end"], kinds
assert events[0]["verb"] == "apply" and events[0]["plan"] == sys.argv[2], events[0]
assert "no longer matches this machine" in events[1]["message"], events[1]
assert events[2]["result"] == "failed" and events[2]["exit"] == 6, events[2]
assert events[2]["error"] == events[1]["message"], events[2]
print("apply --json: %d valid events" % len(events))
PY
"$rootraid" apply --yes --json --dry-run "$tmp/plan.json" >"$tmp/out" 2>/dev/null
[ $? = 2 ] || fail "--json --dry-run is not a usage error"
exit 0
