#!/usr/bin/env bash
# Builds everything that does not need LibTorch with clang-14 under
# AddressSanitizer and UndefinedBehaviorSanitizer, runs its unit tests, then
# runs each libFuzzer target for a bounded time, starting from its corpus in
# tests/fuzz/corpus/<target> (new inputs go to a temporary folder; the repo's
# corpus is only read).
#
#   scripts/sanitize.sh                     # default 60 s per fuzzer
#   RESNET8_FUZZ_SECONDS=600 scripts/sanitize.sh
#
# Then it builds the programs and the LibTorch tests with gcc under ASan +
# UBSan and runs there what the clang tree cannot: the unit tests that need
# LibTorch, and the e2e tests (the real programs over real sockets, the
# restart and replica tests). LibTorch itself is not instrumented, so only
# this project's code is checked. Leak checking is off for that build:
# LibTorch's static registries are never freed by design. Left out there: the
# load test, which asserts that 16 streams are open at the same moment (ASan's
# slowdown makes that a matter of timing); the 1,000-model fuzz loop, whose
# reader code the clang tree's unit tests and model_config fuzzer already run
# under ASan (it runs unsanitized in the main ctest run); and the Docker stack
# (its image is built without sanitizers). ccache, when installed, keeps
# rebuilds of both trees to what changed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${RESNET8_SANITIZE_BUILD_DIR:-$root/build-sanitize}"
seconds="${RESNET8_FUZZ_SECONDS:-60}"
jobs="$(nproc)"

bash "$root/scripts/install_deps.sh" --test
launcher=()
if command -v ccache > /dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DRESNET8_WITH_TORCH=OFF -DRESNET8_SANITIZE=ON -DRESNET8_FUZZERS=ON >/dev/null
cmake --build "$build" -j "$jobs"

export ASAN_SYMBOLIZER_PATH=/usr/bin/llvm-symbolizer-14
# handle_segv=0: some tests make a child process crash on purpose (the HDF5
# reader's isolation) and check that it died from the signal.
export ASAN_OPTIONS="detect_leaks=1:handle_segv=0:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
echo "== unit tests under ASan + UBSan"
ctest --test-dir "$build" -L unit -j "$jobs" --output-on-failure

for fuzzer in request_fuzzer model_config_fuzzer; do
  echo "== $fuzzer for ${seconds} s"
  found="$(mktemp -d)"
  log="$build/fuzz/$fuzzer.log"
  # -rss_limit_mb: no input may make the code allocate without bound.
  status=0
  "$build/fuzz/$fuzzer" -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$build/fuzz/$fuzzer-" "$found" "$root/tests/fuzz/corpus/$fuzzer" >"$log" 2>&1 || status=$?
  rm -rf "$found"
  grep -E "^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::(number_of_executed_units|new_units_added|peak_rss_mb))" "$log" || true
  if [[ $status -ne 0 ]]; then
    tail -n 60 "$log" >&2
    echo "sanitize.sh: $fuzzer failed (exit $status); the input is saved as $build/fuzz/$fuzzer-*" >&2
    exit 1
  fi
done
echo "== the LibTorch unit tests and the e2e tests under ASan + UBSan (gcc)"
torch_build="${RESNET8_SANITIZE_TORCH_BUILD_DIR:-$root/build-sanitize-torch}"
cmake -S "$root" -B "$torch_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRESNET8_SANITIZE=ON "${launcher[@]}" >/dev/null
# Only what these tests run: the programs and the LibTorch and e2e test binaries.
cmake --build "$torch_build" -j "$jobs" --target resnet8_server resnet8_client resnet8_convert \
  keras_to_torch_test state_dict_test golden_test service_e2e_test resilience_e2e_test
export ASAN_OPTIONS="detect_leaks=0:handle_segv=0:detect_stack_use_after_return=1"
ctest --test-dir "$torch_build" -L torch -j "$jobs" --output-on-failure
ctest --test-dir "$torch_build" -L e2e -E "Resilience.SixteenEvaluations|ModelFuzz|Deploy" -j "$jobs" --output-on-failure
echo "sanitize.sh: unit tests (with and without LibTorch), e2e tests and fuzzers passed under ASan + UBSan"
