#!/usr/bin/env bash
# Renders the workbench's main states to PNGs for review, light and dark, under a real X server
# when xvfb-run is there (else Qt's offscreen platform).
# Usage: tests/ui/render-screenshots.sh [OUTDIR]   (after building; default OUTDIR: screenshots/)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-screenshots}
tour=${LEGER_BUILD_DIR:-build}/tests/ui/screenshot_tour
[[ -x $tour ]] || { echo "build first: $tour is missing" >&2; exit 1; }
if command -v xvfb-run >/dev/null; then
  run=(xvfb-run -a -s "-screen 0 1600x1000x24")
else
  export QT_QPA_PLATFORM=offscreen
  run=()
fi
"${run[@]}" "$tour" "$out"
"${run[@]}" "$tour" "$out" --dark
