#!/usr/bin/env bash
# Renders the committed PNG icons from leger.svg (needs rsvg-convert, Debian package librsvg2-bin,
# and optipng if present). Run by hand after editing the SVG; the build only installs the PNGs.
set -euo pipefail
cd "$(dirname "$0")"
for s in 16 32 48 64 128 256; do
  mkdir -p "hicolor/${s}x${s}"
  rsvg-convert -w "$s" -h "$s" leger.svg -o "hicolor/${s}x${s}/leger.png"
  if command -v optipng >/dev/null; then optipng -quiet -o7 -strip all "hicolor/${s}x${s}/leger.png"; fi
done
