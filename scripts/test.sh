#!/usr/bin/env bash
# Installs what is missing (the test set), builds, checks the format, and runs
# every test: ctest (unit, e2e, slow, docker), then scripts/sanitize.sh (the
# ASan/UBSan trees and the bounded libFuzzer runs). Pass ctest arguments to
# run only those ctest tests, e.g. `scripts/test.sh -L unit` (no format check
# and no sanitizer build then). Each stage prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
stage_start=$SECONDS
stage_done() { echo "test.sh: $1 took $((SECONDS - stage_start)) s"; stage_start=$SECONDS; }

scripts/build.sh --test  # installs what is missing first, with the test tooling
stage_done "install and build"
if [[ $# -eq 0 ]]; then
  # The format is part of the code: .clang-format, checked like a test.
  git ls-files '*.cc' '*.h' | xargs clang-format-14 --dry-run --Werror \
    || { echo "test.sh: run clang-format-14 -i on the files above" >&2; exit 1; }
fi
(cd build && ctest --output-on-failure -j "$(nproc)" "$@")
stage_done "ctest"
if [[ $# -eq 0 && "${RESNET8_SKIP_SANITIZERS:-0}" != 1 ]]; then
  scripts/sanitize.sh
  stage_done "sanitizers and fuzzers"
fi
