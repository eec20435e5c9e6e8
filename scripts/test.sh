#!/usr/bin/env bash
# Installs what is missing (the test set), builds, checks the format, and runs
# every test: ctest in build/ (unit, e2e, slow), then scripts/sanitize.sh (the
# ASan/UBSan tree and the bounded libFuzzer runs) with the Docker stack test
# beside it. Pass ctest arguments to run only those ctest tests, e.g.
# `scripts/test.sh -L unit` (no format check, no sanitizers, no Docker then).
# Each stage prints how long it took; docs/testing.md says what runs where.
set -euo pipefail
cd "$(dirname "$0")/.."
stage_start=$SECONDS
stage_done() { echo "test.sh: $1 took $((SECONDS - stage_start)) s"; stage_start=$SECONDS; }

scripts/build.sh --test  # installs what is missing first, with the test tooling
stage_done "install and build"
if [[ $# -gt 0 ]]; then
  (cd build && ctest --no-tests=error --output-on-failure -j "$(nproc)" "$@")
  exit
fi

# The format is part of the code: .clang-format, checked like a test.
git ls-files '*.cc' '*.h' | xargs clang-format-14 --dry-run --Werror \
  || { echo "test.sh: run clang-format-14 -i on the files above" >&2; exit 1; }
ctest_status=0
(cd build && ctest --no-tests=error --output-on-failure -j "$(nproc)" -LE docker) || ctest_status=$?
stage_done "ctest (all but the Docker stack)"

# Much of the Docker stack test is waiting: debootstrap and apt downloading
# and unpacking Debian packages. It runs beside the sanitizer stage, after
# the release tree's load tests: in a trial that started it beside those, on
# a machine busy with other work too, the load test failed a Classify call.
docker_log=build/docker_test.log
docker_start=$SECONDS
(cd build && ctest --no-tests=error --verbose -L docker) > "$docker_log" 2>&1 &  # verbose: its phase times
docker_pid=$!
sanitize_status=0
if [[ "${RESNET8_SKIP_SANITIZERS:-0}" != 1 ]]; then
  scripts/sanitize.sh || sanitize_status=$?
  stage_done "sanitizers and fuzzers"
fi
docker_status=0
wait "$docker_pid" || docker_status=$?
cat "$docker_log"
echo "test.sh: the Docker stack test took $((SECONDS - docker_start)) s (beside the sanitizers)"
if [[ $ctest_status -ne 0 || $sanitize_status -ne 0 || $docker_status -ne 0 ]]; then
  echo "test.sh: FAILED: ctest exit $ctest_status, sanitizer stage exit $sanitize_status," \
    "Docker stack test exit $docker_status" >&2
  exit 1
fi
echo "test.sh: every stage passed"
