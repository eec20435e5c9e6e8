#include "tests/benchmark/fma_peak.h"

#include <immintrin.h>

#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace resnet8::benchmark {
namespace {

// 12 independent accumulators: an FMA has a latency of 4-5 cycles and a core
// issues up to two per cycle, so about 10 chains must be in flight for the
// units never to wait on a result. 12 plus the two constants fit in AVX2's 16
// vector registers; the loops are unrolled so that they stay there.
constexpr int kChains = 12;

// Each function runs `rounds` x kChains FMAs of `lanes` floats and returns a
// value that depends on all of them, so that nothing is optimised away.
__attribute__((target("avx512f"))) float FmaLoopAvx512(int64_t rounds) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(1.0f + i * 1e-3f);
  const __m512 mul = _mm512_set1_ps(0.999999f), add = _mm512_set1_ps(1e-7f);
  for (int64_t r = 0; r < rounds; ++r) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], mul, add);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = _mm512_add_ps(sum, acc[i]);
  return _mm512_reduce_add_ps(sum);
}

__attribute__((target("avx2,fma"))) float FmaLoopAvx2(int64_t rounds) {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(1.0f + i * 1e-3f);
  const __m256 mul = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(1e-7f);
  for (int64_t r = 0; r < rounds; ++r) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], mul, add);
  }
  __m256 sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = _mm256_add_ps(sum, acc[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  float total = 0;
  for (float lane : lanes) total += lane;
  return total;
}

struct Kernel {
  float (*loop)(int64_t rounds);
  int lanes;
};

// GFLOP/s of `threads` copies of the loop running at once, each for about
// `seconds`; rounds are calibrated on one thread first.
double Gflops(const Kernel& kernel, int threads, double seconds) {
  using Clock = std::chrono::steady_clock;
  auto elapsed = [](Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); };
  int64_t rounds = 1 << 16;
  volatile float sink = 0;
  for (;;) {  // calibrate: grow until one run takes a tenth of the time asked
    const auto start = Clock::now();
    sink = sink + kernel.loop(rounds);
    if (elapsed(start) > seconds / 10) break;
    rounds *= 2;
  }
  rounds = static_cast<int64_t>(rounds * 10);
  std::vector<std::thread> workers;
  std::vector<float> results(threads);
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) workers.emplace_back([&, t] { results[t] = kernel.loop(rounds); });
  for (auto& worker : workers) worker.join();
  const double took = elapsed(start);
  for (float r : results) sink = sink + r;
  return 2.0 * kernel.lanes * kChains * static_cast<double>(rounds) * threads / took / 1e9;
}

}  // namespace

FmaPeak MeasureFmaPeak(double seconds) {
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const Kernel kernel = avx512 ? Kernel{FmaLoopAvx512, 16} : Kernel{FmaLoopAvx2, 8};
  FmaPeak peak;
  peak.instructions = avx512 ? "AVX-512" : "AVX2";
  peak.cores = static_cast<int>(std::thread::hardware_concurrency());
  peak.gflops_one_core = Gflops(kernel, 1, seconds);
  peak.gflops_all_cores = Gflops(kernel, peak.cores, seconds);
  return peak;
}

}  // namespace resnet8::benchmark
