#!/usr/bin/env bash
# Configures and builds the project into build/ (programs in build/bin/).
#
#   scripts/build.sh          # the programs: installs only what running needs
#   scripts/build.sh --test   # also the tests and the benchmark, with the test tooling
set -euo pipefail
cd "$(dirname "$0")/.."
tests=OFF
if [[ "${1:-}" == "--test" ]]; then tests=ON; fi
scripts/install_deps.sh ${1:+"$1"}
root=$PWD
source scripts/lib/ccache.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" -DRESNET8_BUILD_TESTS="$tests" "${launcher[@]}"
cmake --build build -j "$(nproc)"
