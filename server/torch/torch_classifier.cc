#include "server/torch/torch_classifier.h"

#include <ATen/Parallel.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "server/torch/serving_rewrites.h"

namespace resnet8 {

absl::StatusOr<std::unique_ptr<TorchClassifier>> TorchClassifier::Create(torch::jit::Module module,
                                                                         const Shape& input_shape, int64_t classes,
                                                                         const TorchClassifierOptions& options) {
  if (input_shape != Shape{kImageHeight, kImageWidth, kImageChannels}) {
    return absl::InvalidArgumentError(absl::StrCat("the model takes inputs of shape [",
                                                   absl::StrJoin(input_shape, ", "),
                                                   "]; this service serves models of 32x32x3 images (CIFAR-10)"));
  }
  if (classes <= 0 || classes > (int64_t{1} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat("the model has ", classes, " outputs"));
  }
  if (options.max_forward_batch < 0) return absl::InvalidArgumentError("max_forward_batch is negative");
  if (options.threads > 1024 || options.threads < -1) {
    return absl::InvalidArgumentError("threads is not between -1 and 1024");
  }
  if (options.compute_threads > 1024 || options.compute_threads < 0) {
    return absl::InvalidArgumentError("compute_threads is not between 0 and 1024");
  }
  if (options.serving_rewrites) {
    ASSIGN_OR_RETURN(ServingRewrite rewritten, RewriteForServing(module));
    module = std::move(rewritten.module);
  }
  return std::unique_ptr<TorchClassifier>(new TorchClassifier(std::move(module), classes, options));
}

TorchClassifier::TorchClassifier(torch::jit::Module module, int64_t classes, const TorchClassifierOptions& options)
    : module_(std::move(module)),
      options_(options),
      num_classes_(static_cast<int>(classes)),
      cores_(static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))) {
  const int runners = options_.compute_threads > 0 ? options_.compute_threads : cores_;
  const TeamPolicy teams = ChooseTeams(cores_, runners, options_.threads);
  runner_teams_.assign(runners, 0);
  BatchSchedulerOptions scheduling;
  scheduling.max_pass_images = options_.max_forward_batch;
  scheduling.runners = runners;
  scheduling.batching_delay = options_.batching_delay;
  scheduler_ = std::make_unique<BatchScheduler>(
      scheduling, [this, teams](const SchedulerPass& pass) { return RunPass(pass, teams); },
      [this, teams](int runner) {
        // OpenMP settings belong to the thread. get_num_threads() first:
        // LibTorch sizes a thread's team on its first parallel work, from
        // whichever thread last called set_num_threads().
        runner_teams_[runner] = at::get_num_threads();
        if (teams.shared > 0) at::set_num_threads(runner_teams_[runner] = teams.shared);
      });
}

TorchClassifier::~TorchClassifier() = default;

torch::Tensor TorchClassifier::Pixels(const ImageBatchView& batch, int64_t begin, int64_t count) {
  // from_blob wants non-const data; nothing writes to it.
  const bool floats = !batch.values.empty();
  void* data = floats ? static_cast<void*>(const_cast<float*>(batch.values.data()) + begin * kImageBytes)
                      : static_cast<void*>(const_cast<uint8_t*>(batch.pixels.data()) + begin * kImageBytes);
  const torch::Dtype type = floats ? torch::kFloat32 : torch::kUInt8;
  // Both layouts become NCHW-shaped views of the pixels.
  return batch.layout == PixelLayout::kChannelPlanar
             ? torch::from_blob(data, {count, kImageChannels, kImageHeight, kImageWidth}, type)
             : torch::from_blob(data, {count, kImageHeight, kImageWidth, kImageChannels}, type).permute({0, 3, 1, 2});
}

void TorchClassifier::Forward(torch::Tensor bytes, float* probabilities) {
  const int64_t count = bytes.size(0);
  forward_passes_.fetch_add(1);
  if (options_.pad_single_image && count == 1) bytes = bytes.expand({2, kImageChannels, kImageHeight, kImageWidth});
  // One conversion to float writes the memory format the network runs in.
  const auto format = options_.channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  torch::Tensor images = bytes.to(torch::kFloat32, /*non_blocking=*/false, /*copy=*/true, format);
  torch::Tensor output = module_.forward({images}).toTensor().contiguous();
  if (output.dim() != 2 || output.size(0) < count || output.size(1) != num_classes_) {
    throw std::runtime_error(absl::StrCat("the module returned shape [", absl::StrJoin(output.sizes(), ", "),
                                          "], expected [", count, ", ", num_classes_, "]"));
  }
  std::memcpy(probabilities, output.data_ptr<float>(), count * num_classes_ * sizeof(float));
}

template <typename Work>
absl::Status TorchClassifier::Guarded(Work work) {
  try {
    work();
    return absl::OkStatus();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("LibTorch failed: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {  // e.g. std::bad_alloc: fail the call, keep serving
    return absl::InternalError(absl::StrCat("inference failed: ", e.what()));
  }
}

absl::Status TorchClassifier::RunPass(const SchedulerPass& pass, TeamPolicy teams) {
  // omp_set_num_threads, not at::set_num_threads: the latter also rebuilds
  // LibTorch's global pthreadpool, on every call.
  int& team = runner_teams_[pass.runner];
  int64_t images = 0;
  for (const SchedulerSlice& slice : pass.slices) images += slice.count;
  const int wanted = pass.alone && images >= teams.alone_from_images ? teams.alone : teams.shared;
  if (wanted > 0 && wanted != team) omp_set_num_threads(team = wanted);
  // LibTorch's own count, so that a test sees the team it really runs.
  if (cores_ > 1 && at::get_num_threads() == cores_) passes_on_every_core_.fetch_add(1);
  torch::InferenceMode inference;
  if (pass.slices.size() == 1) {  // a slice of a large batch, or one small batch whole
    const SchedulerSlice& slice = pass.slices[0];
    return Guarded([&] { Forward(Pixels(*slice.batch, slice.begin, slice.count), slice.outputs.data()); });
  }
  std::vector<float> merged;
  const absl::Status status = Guarded([&] {
    std::vector<torch::Tensor> parts;
    bool floats = false;
    for (const SchedulerSlice& slice : pass.slices) {
      parts.push_back(Pixels(*slice.batch, slice.begin, slice.count));
      floats = floats || !slice.batch->values.empty();
    }
    if (floats) {  // byte and float requests in one pass: all as floats
      for (torch::Tensor& part : parts) part = part.to(torch::kFloat32);
    }
    torch::Tensor bytes = torch::cat(parts);
    merged.resize(bytes.size(0) * num_classes_);
    Forward(bytes, merged.data());
  });
  if (status.ok()) {
    const float* next = merged.data();
    for (const SchedulerSlice& slice : pass.slices) {
      std::copy(next, next + slice.outputs.size(), slice.outputs.begin());
      next += slice.outputs.size();
    }
  }
  return status;
}

absl::Status TorchClassifier::Classify(const ImageBatchView& batch, absl::Span<float> probabilities) const {
  const size_t values = batch.values.empty() ? batch.pixels.size() : batch.values.size();
  if (batch.count <= 0 || static_cast<int64_t>(values) != batch.count * kImageBytes ||
      (!batch.values.empty() && !batch.pixels.empty())) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected ", batch.count, " images of ", kImageBytes, " pixel values, got ", values));
  }
  if (static_cast<int64_t>(probabilities.size()) != batch.count * num_classes_) {
    return absl::InvalidArgumentError(
        absl::StrCat("output holds ", probabilities.size(), " values, expected ", batch.count * num_classes_));
  }
  SchedulerTiming timing;
  const absl::Status status = scheduler_->Run(batch, probabilities, &timing);
  if (options_.on_timing) options_.on_timing(timing.queue, timing.compute);
  return status;
}

}  // namespace resnet8
