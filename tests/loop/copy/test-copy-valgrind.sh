#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The exact copy (test-copy-exact.sh) with rootraid under valgrind's
# memcheck: any memcheck error is an exit status of 99, which fails it.
# valgrind knows neither open_tree() nor mount_setattr(), so this also
# runs the engine's fallback (a bind mount, made read-only, opened and
# detached), and test-copy-exact checks that files hidden under a mount
# point are still copied.
# Usage: test-copy-valgrind.sh ROOTRAID FSTYPE
ROOTRAID=$(realpath "$1") FSTYPE=$2
command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed"; exit 77; }
# An ASan build cannot run under valgrind.
grep -q __asan_init "$ROOTRAID" && { echo "SKIP: $ROOTRAID is built with AddressSanitizer"; exit 77; }
W=$(mktemp -d /tmp/rootraid-valgrind.XXXXXX) || exit 1
trap 'rm -rf "$W"' EXIT
printf '#!/bin/sh\nexec valgrind -q --error-exitcode=99 "%s" "$@"\n' "$ROOTRAID" >"$W/rootraid"
chmod +x "$W/rootraid"
bash "$(dirname "$0")/test-copy-exact.sh" "$W/rootraid" "$FSTYPE"
