#include "tests/benchmark/infer_load.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "common/image.h"
#include "inference/grpc_service.grpc.pb.h"

namespace resnet8 {
namespace {

using Clock = std::chrono::steady_clock;

double Percentile(std::vector<double>& sorted, double p) {
  return sorted.empty() ? 0 : sorted[std::min(sorted.size() - 1, static_cast<size_t>(sorted.size() * p))];
}

// The server's cumulative classifier statistics: calls, queue ns, compute ns.
struct Totals {
  uint64_t calls = 0, queue_ns = 0, compute_ns = 0;
};

Totals ServerTotals(inference::GRPCInferenceService::Stub& stub, const std::string& model_name) {
  grpc::ClientContext context;
  inference::ModelStatisticsRequest request;
  request.set_name(model_name);
  inference::ModelStatisticsResponse response;
  if (!stub.ModelStatistics(&context, request, &response).ok() || response.model_stats_size() == 0) return {};
  const auto& stats = response.model_stats(0).inference_stats();
  return {stats.compute_infer().count(), stats.queue().ns(), stats.compute_infer().ns()};
}

}  // namespace

std::vector<InferLoadLevel> MeasureInferLoad(const std::string& address, const std::string& model_name,
                                             const LabeledImages& images, const std::vector<int>& concurrencies,
                                             double seconds) {
  // One HWC image per request, as Keras takes it; the first 64 test images in turn.
  std::vector<std::string> pixels;
  for (int64_t i = 0; i < std::min<int64_t>(64, images.size()); ++i) {
    std::string hwc(kImageBytes, '\0');
    PlanarToHwc(images.image(i), reinterpret_cast<uint8_t*>(hwc.data()));
    pixels.push_back(std::move(hwc));
  }
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stats_stub = inference::GRPCInferenceService::NewStub(channel);
  std::string input_name = "input_1";
  {  // the input's name, from the model's metadata, as perf_analyzer reads it
    grpc::ClientContext context;
    inference::ModelMetadataRequest request;
    request.set_name(model_name);
    inference::ModelMetadataResponse metadata;
    if (stats_stub->ModelMetadata(&context, request, &metadata).ok() && metadata.inputs_size() > 0) {
      input_name = metadata.inputs(0).name();
    }
  }
  auto make_request = [&](size_t i) {
    inference::ModelInferRequest request;
    request.set_model_name(model_name);
    auto* input = request.add_inputs();
    input->set_name(input_name);
    input->set_datatype("UINT8");
    for (int64_t d : {int64_t{1}, kImageHeight, kImageWidth, kImageChannels}) input->add_shape(d);
    request.add_raw_input_contents(pixels[i % pixels.size()]);
    return request;
  };

  std::vector<InferLoadLevel> levels;
  for (int concurrency : concurrencies) {
    std::atomic<bool> measuring{false}, stop{false};
    std::atomic<int64_t> errors{0};
    std::vector<std::vector<double>> ms(concurrency);
    std::vector<std::thread> clients;
    for (int c = 0; c < concurrency; ++c) {
      clients.emplace_back([&, c] {
        // One channel per client, as perf_analyzer's separate connections.
        auto stub = inference::GRPCInferenceService::NewStub(
            grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), [c] {
              grpc::ChannelArguments arguments;
              arguments.SetInt("resnet8.client", c);  // distinct arguments: distinct connections
              return arguments;
            }()));
        for (size_t i = c; !stop.load(); i += concurrency) {
          const inference::ModelInferRequest request = make_request(i);
          inference::ModelInferResponse response;
          grpc::ClientContext context;
          const auto start = Clock::now();
          const grpc::Status status = stub->ModelInfer(&context, request, &response);
          const double elapsed = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
          if (!measuring.load()) continue;
          if (!status.ok()) ++errors;
          ms[c].push_back(elapsed);
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // warm-up: connections, caches
    const Totals before = ServerTotals(*stats_stub, model_name);
    const auto start = Clock::now();
    measuring = true;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    measuring = false;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const Totals after = ServerTotals(*stats_stub, model_name);
    stop = true;
    for (std::thread& t : clients) t.join();

    std::vector<double> all;
    for (const auto& v : ms) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    InferLoadLevel level;
    level.concurrency = concurrency;
    level.inferences_per_second = all.size() / elapsed;
    level.p50_ms = Percentile(all, 0.50);
    level.p90_ms = Percentile(all, 0.90);
    level.p99_ms = Percentile(all, 0.99);
    level.errors = errors.load();
    const double calls = static_cast<double>(after.calls - before.calls);
    if (calls > 0) {
      level.queue_ms = (after.queue_ns - before.queue_ns) / calls / 1e6;
      level.compute_ms = (after.compute_ns - before.compute_ns) / calls / 1e6;
    }
    levels.push_back(level);
  }
  return levels;
}

}  // namespace resnet8
