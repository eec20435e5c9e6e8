// The FP32 peak this machine really has, measured: a loop of independent
// fused multiply-adds on the widest vectors the CPU has (AVX-512 or AVX2),
// first on one core, then on every core at once. Every "% of peak" the
// benchmark prints divides by the all-cores figure, not by a nominal one
// that assumes two FMA units per core.
#ifndef RESNET8_TESTS_BENCHMARK_FMA_PEAK_H_
#define RESNET8_TESTS_BENCHMARK_FMA_PEAK_H_

#include <string>

namespace resnet8::benchmark {

struct FmaPeak {
  std::string instructions;  // "AVX-512" or "AVX2"
  int cores = 0;
  double gflops_one_core = 0;
  double gflops_all_cores = 0;
};

// Takes about 2 x `seconds`.
FmaPeak MeasureFmaPeak(double seconds = 0.5);

}  // namespace resnet8::benchmark

#endif  // RESNET8_TESTS_BENCHMARK_FMA_PEAK_H_
