#!/usr/bin/env bash
# Runs a desktop-integration file through its validator; exit status 77 (ctest: skipped) when the
# validator is not installed (packaging/install-deps.sh installs them all).
# Usage: validate.sh desktop FILE.desktop | appstream FILE.metainfo.xml | mime MIME.xml
set -euo pipefail
kind=$1 file=$2
need() { command -v "$1" >/dev/null || { echo "$1 is not installed: skipped" >&2; exit 77; }; }

case $kind in
  desktop)
    # desktop-file-validate exits 0 on warnings and hints; any output counts as a failure here.
    need desktop-file-validate
    out=$(desktop-file-validate "$file" 2>&1) || { echo "$out" >&2; exit 1; }
    [[ -z $out ]] || { echo "$out" >&2; exit 1; }
    echo "desktop-file-validate: $file: no errors, warnings or hints"
    ;;
  appstream)
    # --strict: warnings and info-level issues fail too (only "pedantic" ones are allowed).
    need appstreamcli
    appstreamcli validate --no-net --strict "$file"
    ;;
  mime)
    # Well-formed XML, and update-mime-database (shared-mime-info) compiles it together with the
    # system's definitions without a complaint, with our globs and magic in the result.
    need xmllint
    need update-mime-database
    xmllint --noout "$file"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    db=$tmp/mime
    mkdir -p "$db/packages"
    cp "$file" "$db/packages/leger.xml"
    cp /usr/share/mime/packages/freedesktop.org.xml "$db/packages/"
    out=$(XDG_DATA_HOME=$tmp update-mime-database "$db" 2>&1)
    [[ -z $out ]] || { echo "update-mime-database: $out" >&2; exit 1; }
    for g in 'application/x-leger-session:\*\.leger-session$' 'application/x-leger:\*\.leger$' \
             'application/x-onnx:\*\.onnx$'; do
      grep -q "$g" "$db/globs2" || { echo "no glob $g in the compiled database" >&2; exit 1; }
    done
    grep -q '^application/x-leger-session application/json$' "$db/subclasses" ||
      { echo "application/x-leger-session is not a subclass of application/json" >&2; exit 1; }
    grep -aqF $'\x89LEGER\r' "$db/magic" || { echo "no .leger magic in the compiled database" >&2; exit 1; }
    grep -aq '"leger_session"' "$db/magic" || { echo "no session magic in the compiled database" >&2; exit 1; }
    echo "xmllint and update-mime-database: $file: no complaints; globs, subclass and magic present"
    ;;
  *)
    echo "usage: validate.sh desktop|appstream|mime FILE" >&2
    exit 2
    ;;
esac
