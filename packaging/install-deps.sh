#!/usr/bin/env bash
# Installs the Debian 12 packages Leger needs to build and test; does nothing when all are present.
# Usage: packaging/install-deps.sh [--dev]   (--dev adds the fixture generators: python3-torch, python3-onnx)
# Node.js and npm (Debian's, unless a node and npm are already there) are for the ONNX Runtime tests.
set -euo pipefail

packages=(
  # build
  g++ cmake ninja-build pkg-config ccache dpkg-dev file
  qt6-base-dev libqt6opengl6-dev qt6-charts-dev qt6-svg-dev
  libeigen3-dev libopenblas-dev libonnx-dev libprotobuf-dev nlohmann-json3-dev zlib1g-dev libstb-dev
  libicu-dev
  # tests: ONNX's own operator conformance tests, real data, headless GUI and screenshots
  libonnx-testdata dataset-fashion-mnist fonts-dejavu-core xvfb xauth imagemagick
  # llama.cpp's test vocabularies, read from node-llama-cpp's git bundle (tests/gguf)
  git
  # packaging checks (ctest label packaging, packaging/test-deb.sh): desktop entry, AppStream
  # metadata and MIME type validators, the MIME database, man pages
  desktop-file-utils appstream libxml2-utils shared-mime-info man-db
)
# The ONNX Runtime checks of exports (ctest label ort) run onnxruntime-node from npm.
# node/npm may come from elsewhere (a newer Node.js); Debian's npm would conflict with it.
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
if [[ "${1:-}" == "--dev" ]]; then
  packages+=(python3-torch python3-onnx python3-numpy)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
echo "Installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
