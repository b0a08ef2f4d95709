#!/usr/bin/env bash
# Checks that the desktop-integration files agree with each other: the file types the desktop
# entry opens are those the MIME package defines and the AppStream metadata lists; the metainfo
# launches this desktop entry and provides its binary; the icon exists as SVG and as a PNG at
# each size, of that size.
# Usage: check-consistency.sh PACKAGING_DIR
set -euo pipefail
dir=$1
command -v xmllint >/dev/null || { echo "xmllint is not installed: skipped" >&2; exit 77; }
desktop=$dir/leger.desktop metainfo=$dir/io.github.leger.Leger.metainfo.xml mime=$dir/leger-mime.xml
fail=0
differ() { echo "$1" >&2; fail=1; }
key() { sed -n "s/^$1=//p" "$desktop"; }

desktop_types=$(key MimeType | tr ';' '\n' | grep -v '^$' | sort)
mime_types=$(xmllint --xpath '//*[local-name()="mime-type"]/@type' "$mime" | sed 's/ type="\([^"]*\)"/\1\n/g' | grep -v '^$' | sort)
meta_types=$(xmllint --xpath '//provides/mediatype/text()' "$metainfo" | sort)
[[ $desktop_types == "$mime_types" ]] || differ "desktop MimeType ($(echo $desktop_types)) differs from the MIME package's types ($(echo $mime_types))"
[[ $desktop_types == "$meta_types" ]] || differ "desktop MimeType ($(echo $desktop_types)) differs from the metainfo's mediatypes ($(echo $meta_types))"

launchable=$(xmllint --xpath '//launchable[@type="desktop-id"]/text()' "$metainfo")
[[ $launchable == "$(basename "$desktop")" ]] || differ "metainfo launchable $launchable is not $(basename "$desktop")"
exec_bin=$(key Exec | cut -d' ' -f1)
[[ $(key TryExec) == "$exec_bin" ]] || differ "TryExec $(key TryExec) is not the Exec binary $exec_bin"
xmllint --xpath '//provides/binary/text()' "$metainfo" | grep -qx "$exec_bin" ||
  differ "metainfo does not provide the binary $exec_bin"

icon=$(key Icon)
[[ -f $dir/icons/$icon.svg ]] || differ "no icons/$icon.svg"
for s in 16 32 48 64 128 256; do
  png=$dir/icons/hicolor/${s}x${s}/$icon.png
  file -b "$png" 2>/dev/null | grep -q "PNG image data, $s x $s," || differ "$png is not a ${s}x${s} PNG"
done
[[ $fail -eq 0 ]] && echo "desktop entry, MIME package, metainfo and icons agree: types $(echo $desktop_types)"
exit $fail
