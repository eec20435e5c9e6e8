#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: ctest (unit, e2e,
# slow, docker), then the ASan/UBSan unit tests and the bounded libFuzzer runs
# (scripts/sanitize.sh). Pass ctest arguments to run only those ctest tests,
# e.g. `scripts/test.sh -L unit` (no sanitizer build then).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh --test  # installs what is missing first, with the test tooling
(cd build && ctest --output-on-failure -j "$(nproc)" "$@")
if [[ $# -eq 0 && "${RESNET8_SKIP_SANITIZERS:-0}" != 1 ]]; then
  scripts/sanitize.sh
fi
