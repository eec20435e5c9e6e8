#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, e2e, slow).
# Pass ctest arguments to narrow it, e.g. `scripts/test.sh -L unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh  # installs what is missing first
cd build
ctest --output-on-failure -j "$(nproc)" "$@"
