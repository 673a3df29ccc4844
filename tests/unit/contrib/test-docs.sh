#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The man page and the bash completion keep up with the program: every
# verb of `rootraid --help`, every long option of every verb's --help and
# every exit code appear in rootraid(8); the completion offers every verb
# and, for each verb, every long option its --help lists, and no option
# the verb does not have.  With SOURCE_ROOT, also what only the sources
# list: every hook phase (hooks.c's table) and hook variable in the man
# page and the README; every JSON event type (events.c's table) in both,
# the README's schema version being EVENTS_VERSION; every file and
# directory under /var/lib/rootraid, /run/rootraid, /etc/rootraid and the
# resume unit in the man page's FILES; every environment variable rootraid
# reads (but test hooks) in its ENVIRONMENT.
# Usage: test-docs.sh ROOTRAID MANPAGE COMPLETION [SOURCE_ROOT]
set -eu
rootraid=$1 man=$2 completion=$3 src=${4:-}
failed=0
bad() { echo "FAIL: $*"; failed=1; }
# The long options a verb's --help lists in its option table.
options_of() {
        "$rootraid" "$1" --help | grep -E '^ +(-[a-zA-Z] )? *--[a-z]' | grep -oE -- '--[a-z][a-z-]*' | head -100 | awk '!seen[$0]++'
}

# The man page as text, without hyphenation or adjustment.
if command -v groff >/dev/null; then
        text=$(groff -man -Tascii -P-cbu -rHY=0 -dAD=l "$man" 2>/dev/null)
else
        echo "groff not installed: checking the roff source" >&2
        text=$(sed 's/\\-/-/g' "$man")
fi

verbs=$("$rootraid" --help | sed -n '/^Verbs:/,/^$/p' | awk 'NF > 1 && $1 != "Verbs:" {print $1}')
[ -n "$verbs" ] || bad "no verbs in rootraid --help"
for v in $verbs; do
        grep -qE "^ *$v( |$)" <<<"$text" || bad "verb $v has no section in the man page"
        for o in $(options_of "$v"); do
                grep -qF -- "$o" <<<"$text" || bad "option $o of $v is not in the man page"
        done
done
for code in $("$rootraid" --help | sed -n '/^Exit codes:/,$p' | awk '$1 ~ /^[0-9]+$/ {print $1}'); do
        grep -qE "^ *$code( |$)" <<<"$text" || bad "exit code $code is not in the man page"
done
for o in $("$rootraid" --help | sed -n '/^Options:/,/^$/p' | grep -oE -- '--[a-z][a-z-]*'); do
        grep -qF -- "$o" <<<"$text" || bad "global option $o is not in the man page"
done
# A man page section's text: from its heading to the next one.
section() { awk -v h="$1" '/^[A-Z][A-Z ]+$/ { on = ($0 == h) } on' <<<"$text"; }

# The completion, run as bash would run it (bash-completion's helpers stubbed).
complete_words() { # WORDS... (the last is the word being completed)
        bash -c '
                _init_completion() { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
                _filedir() { :; }
                complete() { :; }
                source "$1"; shift
                COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
                _rootraid
                printf "%s\n" "${COMPREPLY[@]}"' _ "$completion" "$@"
}
offered=$(complete_words rootraid "")
for v in $verbs; do
        grep -qx "$v" <<<"$offered" || bad "completion does not offer verb $v"
        opts=$(complete_words rootraid "$v" --)
        for o in $(options_of "$v"); do
                grep -qx -- "$o" <<<"$opts" || bad "completion does not offer $o for $v"
        done
done
[ "$(complete_words rootraid plan --level "")" = "$(printf '1\n5\n6\n10')" ] || bad "completion of plan --level"
for o in --help --version --verbose; do
        grep -qx -- "$o" <<<"$(complete_words rootraid --)" || bad "completion does not offer global option $o"
done
# Nothing stale: what the completion offers for a verb, its --help lists.
for v in $verbs; do
        known=$(options_of "$v")
        for o in $(complete_words rootraid "$v" --); do
                grep -qx -- "$o" <<<"$known" || bad "completion offers $o for $v, which $v --help does not list"
        done
done

if [ -n "$src" ]; then
        readme=$(cat "$src/README.md")
        # A C string table's values: the quoted names of "[X] = \"name\"," lines.
        table() { sed -n "/$2\[.*\] = {/,/^};/p" "$src/$1" | grep -oE '\] = "[^"]+"' | cut -d'"' -f2; }
        phases=$(table src/exec/hooks.c hook_phase_table)
        [ -n "$phases" ] || bad "no hook phases found in src/exec/hooks.c"
        hooks_text=$(section HOOKS)
        readme_hooks=$(sed -n '/^## Hooks/,/^## /p' <<<"$readme")
        for phase in $phases; do
                grep -qE "^ +$phase$" <<<"$hooks_text" || bad "hook phase $phase has no entry in the man page's HOOKS"
                grep -qF "| \`$phase\` |" <<<"$readme_hooks" || bad "hook phase $phase is not in the README's Hooks table"
        done
        hook_vars=$(sed -n '/static int build_env/,/^}/p' "$src/src/exec/hooks.c" | grep -oE '"ROOTRAID_[A-Z_]+"' | tr -d '"')
        [ -n "$hook_vars" ] || bad "no hook variables found in src/exec/hooks.c"
        for var in $hook_vars; do
                grep -qE "^ +$var$" <<<"$hooks_text" || bad "hook variable $var has no entry in the man page's HOOKS"
                grep -qF "\`$var\`" <<<"$readme_hooks" || bad "hook variable $var is not in the README's Hooks section"
        done

        events=$(table src/exec/events.c event_type_table)
        [ -n "$events" ] || bad "no event types found in src/exec/events.c"
        events_text=$(section "JSON EVENTS")
        readme_events=$(sed -n '/^## JSON events/,/^## /p' <<<"$readme")
        for e in $events; do
                grep -qF "$e" <<<"$events_text" || bad "event $e is not in the man page's JSON EVENTS"
                grep -qE "^\| (\`[a-z-]+\`, )*\`$e\`" <<<"$readme_events" || bad "event $e has no row in the README's JSON events table"
        done
        version=$(sed -n 's/^#define EVENTS_VERSION \([0-9]*\)$/\1/p' "$src/src/exec/events.h")
        grep -qF "Schema version $version:" <<<"$readme_events" || bad "the README's JSON events do not say schema version $version"
        grep -qF "schema version $version" <<<"$(tr '\n' ' ' <<<"$events_text" | tr -s ' ')" || bad "the man page's JSON EVENTS do not say schema version $version"

        # Files: every path literal under rootraid's directories, and the
        # names joined to them through #defines.
        files_text=$(section FILES)
        paths=$(grep -rhoE '"/(var/lib|run|etc)/rootraid(/[^"%]*)?"|"/etc/default/rootraid"' "$src/src" | tr -d '"' | sort -u)
        jdir=$(sed -n 's/^#define JOURNAL_DIR "\(.*\)"$/\1/p' "$src/src/exec/journal.h")
        for n in $(grep -rhoE '^#define [A-Z_]+_(FILE|LOG)_NAME "[^"]+"' "$src/src/exec" | cut -d'"' -f2); do
                paths+=$'\n'"$jdir/$n"
        done
        udir=$(sed -n 's/^#define RESUME_UNIT_DIR "\(.*\)"$/\1/p' "$src/src/exec/resume-unit.h")
        uname=$(sed -n 's/^#define RESUME_UNIT_NAME "\(.*\)"$/\1/p' "$src/src/exec/resume-unit.h")
        paths+=$'\n'"$udir/$uname"
        [ "$(wc -l <<<"$paths")" -ge 8 ] || bad "too few paths found in the sources: $paths"
        for f in $paths; do
                # A directory is covered by the entries of what it holds.
                grep -qE "^ +${f//./\\.}(/.*)?$" <<<"$files_text" || bad "file $f has no entry in the man page's FILES"
        done

        envs=$(grep -rhoE 'getenv\("[A-Z_]+"\)' "$src/src" | cut -d'"' -f2 | grep -vE 'TEST|FAULT' | sort -u)
        [ -n "$envs" ] || bad "no getenv() found in the sources"
        env_text=$(section ENVIRONMENT)
        for var in $envs; do
                grep -qE "^ +$var$" <<<"$env_text" || bad "environment variable $var has no entry in the man page's ENVIRONMENT"
        done
fi

[ $failed = 0 ] && echo "man page and completion cover every verb, option and exit code${src:+, phase, event, file and variable}"
exit $failed
