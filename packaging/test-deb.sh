#!/usr/bin/env bash
# Builds the Debian package from BUILD_DIR, installs it on this machine with apt (which resolves
# its dependencies), checks the installed programs, sample, desktop entry, file types, icons and
# man pages, and removes it again, with the dependencies that installing it added. Whatever
# happens, the package is removed on exit. Needs root or sudo; refuses to run when a leger
# package is already installed.
# Usage: packaging/test-deb.sh BUILD_DIR
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
step() { echo "== $*"; }
fail() { echo "test-deb: FAILED: $*" >&2; exit 1; }

if dpkg-query -W -f='${Status}' leger 2>/dev/null | grep -q "ok installed"; then
  fail "a leger package is already installed; remove it first (apt-get remove leger)"
fi

step "building the package"
rm -f "$build"/leger_*.deb
cmake --build "$build" --target package >/dev/null
debs=("$build"/leger_*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || fail "expected one leger_*.deb in $build"
deb=${debs[0]}
version=$(dpkg-deb -f "$deb" Version)
echo "$(basename "$deb"): $(du -h "$deb" | cut -f1)"
dpkg-deb -f "$deb" Depends Recommends Section Installed-Size
# The run-time plugins shlibdeps cannot see (packaging/CMakeLists.txt) and the SVG icon engine.
for p in qt6-qpa-plugins libqt6svg6 hicolor-icon-theme fonts-dejavu-core; do
  dpkg-deb -f "$deb" Depends | grep -qE "(^|, )$p( |,|$)" || fail "$p is not in Depends"
done

step "checking its contents"
listing=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
for f in /usr/bin/leger /usr/bin/leger-cli /usr/share/applications/leger.desktop \
         /usr/share/metainfo/io.github.leger.Leger.metainfo.xml /usr/share/mime/packages/leger.xml \
         /usr/share/icons/hicolor/scalable/apps/leger.svg /usr/share/icons/hicolor/16x16/apps/leger.png \
         /usr/share/icons/hicolor/256x256/apps/leger.png /usr/share/man/man1/leger.1.gz \
         /usr/share/man/man1/leger-cli.1.gz /usr/share/leger/sample/fashion_mnist_cnn.onnx \
         /usr/share/leger/sample/fashion-mnist-test-2000-images-idx3-ubyte.gz; do
  grep -qx "$f" <<<"$listing" || fail "$f is not in the package"
done
unexpected=$(grep -E '\.(a|h|cmake|npz|py)$|/include/|/tests?/|^/usr/local/' <<<"$listing" || true)
[[ -z $unexpected ]] || fail "the package holds files a user does not need: $unexpected"
echo "$(grep -vc '/$' <<<"$listing") files, all expected ones present, nothing unexpected"
if command -v appstreamcli >/dev/null; then
  tree=$(mktemp -d)
  dpkg-deb -x "$deb" "$tree"
  appstreamcli validate-tree --no-net "$tree" || { rm -rf "$tree"; fail "appstreamcli validate-tree"; }
  rm -rf "$tree"
fi

step "installing it with apt"
before=$(mktemp) after=$(mktemp) session_dir=$(mktemp -d) xvfb_pid=""
dpkg-query -W -f='${Package}\n' | sort >"$before"
cleanup() {
  status=$?
  [[ -n $xvfb_pid ]] && kill "$xvfb_pid" 2>/dev/null || true
  if dpkg-query -W -f='${Status}' leger 2>/dev/null | grep -q "ok installed"; then
    echo "== removing the package"
    $sudo apt-get purge -y -qq leger >/dev/null || status=1
  fi
  # The dependencies this installation added, as far as nothing else needs them now.
  dpkg-query -W -f='${Package}\n' | sort >"$after"
  added=$(comm -13 "$before" "$after")
  if [[ -n $added ]]; then
    removable=$(apt-get -s autoremove 2>/dev/null | sed -n 's/^Remv \([^ ]*\) .*/\1/p' | sed 's/:.*//' | sort)
    extra=$(comm -12 <(echo "$added") <(echo "$removable"))
    if [[ -n $extra ]]; then
      echo "== removing the dependencies it added: $(echo $extra)"
      # shellcheck disable=SC2086
      $sudo apt-get purge -y -qq $extra >/dev/null || status=1
    fi
  fi
  rm -rf "$before" "$after" "$session_dir"
  [[ $status -eq 0 ]] && echo "test-deb: passed" || echo "test-deb: FAILED (status $status)" >&2
  exit $status
}
trap cleanup EXIT
# Its dependencies may need package lists this machine has not fetched yet (or has pruned).
$sudo apt-get install -y -qq "$deb" >/dev/null ||
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq "$deb" >/dev/null; }
added=$(dpkg-query -W -f='${Package}\n' | sort | comm -13 "$before" - | grep -vx leger || true)
echo "installed leger $version${added:+, and its dependencies: $(echo $added)}"

step "running the installed programs (from an empty folder, with an empty home)"
cd "$session_dir"
export HOME=$session_dir XDG_CONFIG_HOME=$session_dir/config XDG_DATA_HOME=$session_dir/data \
       XDG_RUNTIME_DIR=$session_dir/runtime
mkdir -m 700 "$XDG_RUNTIME_DIR"
[[ $(command -v leger) == /usr/bin/leger ]] || fail "leger is not /usr/bin/leger"
[[ $(leger --version) == "leger $version" ]] || fail "leger --version: $(leger --version)"
[[ $(leger-cli --version) == "leger-cli $version" ]] || fail "leger-cli --version: $(leger-cli --version)"
leger --version && leger-cli --version
S=/usr/share/leger/sample
leger-cli info $S/fashion_mnist_cnn.onnx >info.txt && head -5 info.txt
grep -q "Conv" info.txt || fail "leger-cli info printed no Conv layer"
leger-cli eval $S/fashion_mnist_cnn.onnx --data $S/fashion-mnist-test-2000-images-idx3-ubyte.gz \
  --plan $S/fashion_mnist_cnn.plan.json 2>/dev/null | tee eval.txt
grep -q "top1" eval.txt || fail "leger-cli eval printed no top1 (labels not found beside the images?)"
# A report, as a team would make one: no display, the charts drawn offscreen by the installed Qt.
leger-cli report $S/fashion_mnist_cnn.onnx --data $S/fashion-mnist-test-2000-images-idx3-ubyte.gz \
  --plan $S/fashion_mnist_cnn.plan.json --compare $S/fashion_mnist_small.onnx --max-drop 0.01 --quick \
  -o report.html 2>/dev/null | tee report.txt
grep -q "ready: every stated check passed" report.txt || fail "leger-cli report: a check failed"
head -c 5 report.pdf | grep -q "%PDF-" || fail "leger-cli report wrote no PDF"
grep -q '"ready": true' report.json || fail "leger-cli report wrote no JSON of its figures"
grep -q "Production checklist" report.html || fail "leger-cli report wrote no checklist"

step "checking the desktop integration"
desktop=/usr/share/applications/leger.desktop
[[ -f $desktop ]] || fail "no $desktop"
if command -v desktop-file-validate >/dev/null; then
  out=$(desktop-file-validate "$desktop" 2>&1) && [[ -z $out ]] || fail "desktop-file-validate: $out"
fi
if command -v update-mime-database >/dev/null; then
  # shared-mime-info's dpkg trigger has compiled /usr/share/mime/packages/leger.xml.
  for t in application/x-leger-session application/x-leger application/x-onnx; do
    grep -q "^$t\$" /usr/share/mime/types || fail "the MIME type $t is not known after installation"
  done
  grep -q ':application/x-leger-session:\*\.leger-session$' /usr/share/mime/globs2 || fail "no glob for *.leger-session"
  echo "MIME types known: application/x-leger-session application/x-leger application/x-onnx"
fi
if command -v update-desktop-database >/dev/null; then
  # desktop-file-utils' trigger: the file types open with leger.desktop.
  grep -q '^application/x-leger-session=.*leger.desktop' /usr/share/applications/mimeinfo.cache ||
    fail "mimeinfo.cache does not open application/x-leger-session with leger.desktop"
  echo "mimeinfo.cache: *.leger-session opens with leger.desktop"
fi
for s in scalable 16x16 32x32 48x48 64x64 128x128 256x256; do
  ls /usr/share/icons/hicolor/$s/apps/leger.* >/dev/null || fail "no $s icon"
done
zcat /usr/share/man/man1/leger-cli.1.gz | grep -q '^\.SH NAME' || fail "leger-cli.1.gz is not a man page"
if command -v man >/dev/null; then
  [[ $(man -w leger-cli) == /usr/share/man/man1/leger-cli.1.gz ]] || fail "man -w leger-cli: $(man -w leger-cli)"
  [[ $(man -w leger) == /usr/share/man/man1/leger.1.gz ]] || fail "man -w leger: $(man -w leger)"
fi

# The workbench as a user starts it: the desktop entry's Exec line on a saved session, on an X
# display (Xvfb), with Qt's xcb platform plugin from the package's dependencies. It must still be
# running after a few seconds; the screen is saved beside the package for a look.
if command -v Xvfb >/dev/null; then
  step "starting the workbench from its desktop entry on a session file, under Xvfb"
  cat >sample.leger-session <<JSON
{
  "leger_session": 1,
  "model": {"path": "$S/fashion_mnist_cnn.onnx", "sha256": "$(sha256sum $S/fashion_mnist_cnn.onnx | cut -d' ' -f1)"},
  "data": {"path": "$S/fashion-mnist-test-2000-images-idx3-ubyte.gz"},
  "plan": $(cat $S/fashion_mnist_cnn.plan.json)
}
JSON
  display=:$((90 + RANDOM % 9))
  Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
  xvfb_pid=$!
  sleep 1
  exec_line=$(sed -n 's/^Exec=//p' "$desktop")
  # shellcheck disable=SC2086
  DISPLAY=$display QT_QPA_PLATFORM=xcb ${exec_line/\%f/$session_dir/sample.leger-session} 2>gui.err &
  gui=$!
  sleep 8
  kill -0 $gui 2>/dev/null || { cat gui.err >&2; fail "leger exited within 8 s"; }
  if command -v import >/dev/null; then
    DISPLAY=$display import -window root "$build/pkg-gui.png" && echo "screen saved to $build/pkg-gui.png"
  fi
  kill $gui; wait $gui 2>/dev/null || true
  [[ ! -s gui.err ]] || { echo "leger's standard error:"; cat gui.err; }
  echo "leger ran for 8 s"
fi

cd /
step "removing the package"
$sudo apt-get purge -y -qq leger >/dev/null
for f in /usr/bin/leger /usr/bin/leger-cli "$desktop" /usr/share/leger; do
  [[ ! -e $f ]] || fail "$f is still there after removal"
done
if command -v update-mime-database >/dev/null; then
  ! grep -q '^application/x-leger-session$' /usr/share/mime/types || fail "the MIME type is still known after removal"
fi
echo "binaries, sample, desktop entry and MIME types are gone"
