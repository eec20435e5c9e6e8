// A perf_analyzer-style load test of the Open Inference Protocol: ModelInfer
// with one image per request (UINT8, raw contents, as perf_analyzer sends by
// default) from `concurrency` clients that each wait for their answer before
// asking again, for a fixed time per level. The server's own statistics
// (ModelStatistics, from its queue and compute histograms) split the time.
#ifndef RESNET8_TESTS_BENCHMARK_INFER_LOAD_H_
#define RESNET8_TESTS_BENCHMARK_INFER_LOAD_H_

#include <string>
#include <vector>

#include "common/cifar10.h"

namespace resnet8 {

struct InferLoadLevel {
  int concurrency = 0;
  double inferences_per_second = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0;
  // Per classifier call, from the server's statistics over this level.
  double queue_ms = 0, compute_ms = 0;
  int64_t errors = 0;
};

// Runs each level for `seconds` after a short warm-up, against the server at
// `address` serving model `model_name`.
std::vector<InferLoadLevel> MeasureInferLoad(const std::string& address, const std::string& model_name,
                                             const LabeledImages& images, const std::vector<int>& concurrencies,
                                             double seconds);

}  // namespace resnet8

#endif  // RESNET8_TESTS_BENCHMARK_INFER_LOAD_H_
