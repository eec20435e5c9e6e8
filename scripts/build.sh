#!/usr/bin/env bash
# Configures and builds the project into build/ (programs in build/bin/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}"
cmake --build build -j "$(nproc)"
