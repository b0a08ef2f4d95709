#!/usr/bin/env bash
# Checks that a man page describes everything a binary's --help prints, so that the two
# cannot drift apart: every option (--name, -x) must appear in the page, and every command
# listed under "Commands:" must have a subsection (.SS) of its own. The page may describe
# more than --help (a command added in the page first). With groff present, also checks
# that the page renders without warnings.
# Usage: check-manpage.sh MANPAGE BINARY
set -euo pipefail
man=$1 bin=$2

help=$("$bin" --help)
# The page's text with roff's escapes undone: \- is a minus, \fB \fI \fR \fP change fonts.
text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' "$man")

fail=0
options=$(grep -oE '(^|[^A-Za-z0-9_-])--?[A-Za-z][A-Za-z0-9-]*' <<<"$help" | sed -E 's/^[^-]+//' | sort -u)
[[ -n $options ]] || { echo "no options found in $bin --help" >&2; exit 1; }
for o in $options; do
  if ! grep -qE -- "(^|[^A-Za-z0-9_-])${o}([^A-Za-z0-9-]|$)" <<<"$text"; then
    echo "$man: option $o (in $bin --help) is not described" >&2
    fail=1
  fi
done
# Commands: the first word of each line indented by exactly two spaces in the Commands: block.
commands=$(awk '/^Commands:/ {in_=1; next} /^[^ ]/ {in_=0} in_ && /^  [a-z]/ {print $1}' <<<"$help")
for c in $commands; do
  if ! grep -qE "^\.SS \"?${c}( |\"|$)" <<<"$text"; then
    echo "$man: command $c (in $bin --help) has no .SS subsection" >&2
    fail=1
  fi
done
echo "$(wc -w <<<"$options") options, $(wc -w <<<"$commands") commands of $bin --help found in $man"

if command -v groff >/dev/null; then
  warnings=$(groff -man -ww -z -Tutf8 "$man" 2>&1)
  if [[ -n $warnings ]]; then
    echo "$man: groff warnings:" >&2
    echo "$warnings" >&2
    fail=1
  fi
fi
exit $fail
