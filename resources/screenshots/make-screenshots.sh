#!/usr/bin/env bash
# Makes the README's pictures from the real app: the workbench's states (tests/ui/screenshot_tour,
# run on an X server by xvfb-run) and the first two pages of a report leger-cli writes for the
# sample, rendered by pdftoppm. Dev-only (needs xvfb, imagemagick and poppler-utils); the PNGs
# it writes beside itself are committed.
# Usage: resources/screenshots/make-screenshots.sh [BUILD_DIR]   (default: build; after building)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
for tool in xvfb-run convert pdftoppm; do
  command -v $tool >/dev/null || { echo "$tool is missing (apt install xvfb imagemagick poppler-utils)" >&2; exit 1; }
done
[[ -x $build/tests/ui/screenshot_tour && -x $build/app/leger-cli ]] || { echo "build $build first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

xvfb-run -a -s "-screen 0 1600x1000x24" "$build/tests/ui/screenshot_tour" "$tmp/tour" >/dev/null
# Workbench states: as the tour saved them (1500x950 windows), scaled to 1200 pixels wide.
for shot in 01-start:workbench-start 05-frontier:workbench-frontier 06-fit-and-weights:workbench-fit \
            07-compared-model:workbench-compare; do
  convert "$tmp/tour/${shot%%:*}.png" -resize 1200x -strip "$here/${shot##*:}.png"
done

S=resources/sample # relative, as a user in the repository would type it (the report shows the paths)
(cd "$root" && "$build/app/leger-cli" report $S/fashion_mnist_cnn.onnx --data $S/fashion-mnist-test-2000-images-idx3-ubyte.gz \
   --plan $S/fashion_mnist_cnn.plan.json --compare $S/fashion_mnist_small.onnx --max-drop 0.005 \
   --budget-bytes 100000 -o "$tmp/report.html" >/dev/null 2>&1)
pdftoppm -r 80 -png -f 1 -l 2 "$tmp/report.pdf" "$tmp/page"
convert "$tmp"/page-1.png "$tmp"/page-2.png -bordercolor '#b0b7c0' -border 1 +append -strip "$here/report-pages.png"
ls -l "$here"/*.png
