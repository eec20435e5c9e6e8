#!/usr/bin/env bash
# One clang-14 tree under AddressSanitizer and UndefinedBehaviorSanitizer
# (build-sanitize/), LibTorch parts included, built with line tables only
# (-O1 -gline-tables-only: what a sanitizer report needs, a fraction of the
# build time of full debug info). In it:
#   1. every unit test without LibTorch, with leak checking;
#   2. the three libFuzzer targets at once, each for a bounded time, starting from
#      its corpus in tests/fuzz/corpus/<target> (new inputs go to a temporary
#      folder; the repo's corpus is only read);
#   3. the unit tests that need LibTorch, and a representative set of e2e
#      tests: the real programs over real sockets, the golden agreement on
#      the perf200 subset, a killed client. Leak checking is off there:
#      LibTorch's static registries are never freed by design.
# LibTorch itself is not instrumented, so only this project's code is
# checked. The tests labelled e2e_slow are left out here (tests/CMakeLists.txt
# and tests/e2e/CMakeLists.txt say why for each): the release tree runs them,
# and the code paths they reach run here through other tests. So is the Docker
# stack: its image is built without sanitizers.
#
#   scripts/sanitize.sh                     # default 45 s per fuzzer
#   RESNET8_FUZZ_SECONDS=600 scripts/sanitize.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${RESNET8_SANITIZE_BUILD_DIR:-$root/build-sanitize}"
seconds="${RESNET8_FUZZ_SECONDS:-45}"
jobs="$(nproc)"

bash "$root/scripts/install_deps.sh" --test
source "$root/scripts/lib/ccache.sh"
# No precompiled LibTorch header here: clang writes the build folder's path
# into it, so in a new clone it and every file using it missed ccache (7 of
# the 22 files of resnet8_torch alone); without it all 22 hit.
cmake -S "$root" -B "$build" "${launcher[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRESNET8_TORCH_PCH=OFF \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DRESNET8_SANITIZE=ON -DRESNET8_FUZZERS=ON >/dev/null
# Everything but the benchmark, which measures speed.
cmake --build "$build" -j "$jobs"

export ASAN_SYMBOLIZER_PATH=/usr/bin/llvm-symbolizer-14
# handle_segv=0: some tests make a child process crash on purpose (the HDF5
# reader's isolation) and check that it died from the signal.
export ASAN_OPTIONS="detect_leaks=1:handle_segv=0:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
echo "== unit tests without LibTorch under ASan + UBSan, with leak checking"
ctest --no-tests=error --test-dir "$build" -L unit -LE torch -j "$jobs" --output-on-failure

# One fuzzer per core, side by side.
fuzz() {
  local fuzzer=$1 found status=0
  found="$(mktemp -d)"
  # -rss_limit_mb: no input may make the code allocate without bound.
  "$build/fuzz/$fuzzer" -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$build/fuzz/$fuzzer-" "$found" "$root/tests/fuzz/corpus/$fuzzer" >"$build/fuzz/$fuzzer.log" 2>&1 \
    || status=$?
  rm -rf "$found"
  return $status
}
fuzzers=(request_fuzzer model_config_fuzzer zip_archive_fuzzer)
echo "== ${fuzzers[*]}, ${seconds} s each, at once"
declare -A fuzz_pid fuzz_status
for fuzzer in "${fuzzers[@]}"; do
  fuzz "$fuzzer" & fuzz_pid[$fuzzer]=$!
done
for fuzzer in "${fuzzers[@]}"; do
  fuzz_status[$fuzzer]=0
  wait "${fuzz_pid[$fuzzer]}" || fuzz_status[$fuzzer]=$?
done
for fuzzer in "${fuzzers[@]}"; do
  log="$build/fuzz/$fuzzer.log"
  echo "-- $fuzzer"
  grep -E "^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::(number_of_executed_units|new_units_added|peak_rss_mb))" "$log" || true
done
for fuzzer in "${fuzzers[@]}"; do
  if [[ ${fuzz_status[$fuzzer]} -ne 0 ]]; then
    tail -n 60 "$build/fuzz/$fuzzer.log" >&2
    echo "sanitize.sh: $fuzzer failed (exit ${fuzz_status[$fuzzer]}); the input is saved as $build/fuzz/$fuzzer-*" >&2
    exit 1
  fi
done

echo "== the LibTorch unit tests and the representative e2e tests under ASan + UBSan"
export ASAN_OPTIONS="detect_leaks=0:handle_segv=0:detect_stack_use_after_return=1"
ctest --no-tests=error --test-dir "$build" -L torch -j "$jobs" --output-on-failure
ctest --no-tests=error --test-dir "$build" -L '^e2e$' -j "$jobs" --output-on-failure

# The batch scheduler's threads under ThreadSanitizer: its own small build of
# the one test (ASan and TSan cannot share a binary).
echo "== the batch scheduler under TSan"
tsan_build="$build-tsan"
cmake -S "$root" -B "$tsan_build" "${launcher[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRESNET8_TORCH_PCH=OFF \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DRESNET8_TSAN=ON >/dev/null
cmake --build "$tsan_build" -j "$jobs" --target batch_scheduler_test
TSAN_OPTIONS="halt_on_error=1" "$tsan_build/tests/batch_scheduler_test"
echo "sanitize.sh: unit tests (with and without LibTorch), e2e tests and fuzzers passed under ASan + UBSan;"
echo "the batch scheduler under TSan"
