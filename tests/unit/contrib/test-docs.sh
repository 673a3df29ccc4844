#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The man page and the bash completion keep up with the program: every
# verb of `rootraid --help`, every long option of every verb's --help and
# every exit code appear in rootraid(8); the completion offers every verb
# and, for each verb, every long option its --help lists.
# Usage: test-docs.sh ROOTRAID MANPAGE COMPLETION
set -eu
rootraid=$1 man=$2 completion=$3
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
for phase in before-copy before-final-sync after-switch after-readd on-failure; do
        grep -qF "$phase" <<<"$text" || bad "hook phase $phase is not in the man page"
done

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

[ $failed = 0 ] && echo "man page and completion cover every verb, option and exit code"
exit $failed
