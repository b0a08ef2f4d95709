#!/usr/bin/env bash
# Runtime benchmark against ONNX Runtime (dev only: needs node/npm and, once, Debian's python3-torch
# to generate the MobileNetV2). Prints the table recorded in tests/bench/RESULTS.md.
# Usage: tests/bench/run-bench.sh [--threads N]
set -euo pipefail
cd "$(dirname "$0")/../.."
packaging/install-deps.sh --dev
(cd tests/bench && [ -d node_modules/onnxruntime-node ] || npm ci --no-audit --no-fund >&2)
mkdir -p build/bench
mobilenet=build/bench/mobilenet_v2.onnx
[ -f "$mobilenet" ] || nice /usr/bin/python3 tests/fixtures/generate_fixtures.py --mobilenet "$mobilenet" >&2
cmake -S . -B build -G Ninja >/dev/null
cmake --build build --target bench_runtime >&2
build/tests/bench/bench_runtime "$@" resources/sample/fashion_mnist_cnn.onnx tests/fixtures/cnn_depthwise.onnx "$mobilenet"
