#include "server/torch/torch_classifier.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

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
  if (options.threads > 1024) return absl::InvalidArgumentError("threads is above 1024");
  return std::unique_ptr<TorchClassifier>(new TorchClassifier(std::move(module), classes, options));
}

// One Classify() call waiting for the compute thread.
struct TorchClassifier::Job {
  ImageBatchView batch;
  absl::Span<float> probabilities;
  absl::Status status;
  bool done = false;
  absl::Time queued, started, finished;  // for on_timing
};

TorchClassifier::TorchClassifier(torch::jit::Module module, int64_t classes, const TorchClassifierOptions& options)
    : module_(std::move(module)),
      options_(options),
      num_classes_(static_cast<int>(classes)),
      compute_thread_([this] { ComputeLoop(); }) {}

TorchClassifier::~TorchClassifier() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  compute_thread_.join();
}

void TorchClassifier::ComputeLoop() {
  // OpenMP settings belong to the thread: size this thread's team.
  if (options_.threads >= 0) {
    at::set_num_threads(options_.threads > 0 ? options_.threads
                                             : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  }
  torch::InferenceMode inference;
  while (true) {
    std::vector<Job*> jobs = NextJobs();
    if (jobs.empty()) return;  // stopping, and nothing left to do
    const absl::Time started = absl::Now();
    for (Job* job : jobs) job->started = started;
    std::vector<absl::Status> statuses =
        jobs.size() == 1 ? std::vector<absl::Status>{Run(jobs[0]->batch, jobs[0]->probabilities)} : RunMerged(jobs);
    const absl::Time finished = absl::Now();
    absl::MutexLock lock(&mutex_);
    for (size_t i = 0; i < jobs.size(); ++i) {
      jobs[i]->finished = finished;
      jobs[i]->status = std::move(statuses[i]);
      jobs[i]->done = true;
    }
  }
}

std::vector<TorchClassifier::Job*> TorchClassifier::NextJobs() {
  absl::MutexLock lock(&mutex_);
  mutex_.Await(absl::Condition(
      +[](TorchClassifier* self)
           ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mutex_) { return self->stopping_ || !self->queue_.empty(); },
      this));
  std::vector<Job*> jobs;
  if (queue_.empty()) return jobs;
  jobs.push_back(queue_.front());
  queue_.pop_front();
  const int64_t room = options_.max_forward_batch;
  int64_t images = jobs[0]->batch.count;
  if (room <= 0 || images >= room) return jobs;  // a big batch goes alone, in passes of its own
  if (options_.batching_delay > absl::ZeroDuration()) {
    // Wait a little for more small requests, unless enough are queued already.
    struct Wanted {
      TorchClassifier* self;
      int64_t images;
    } wanted{this, room - images};
    mutex_.AwaitWithTimeout(absl::Condition(
                                +[](Wanted* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                  int64_t queued = 0;
                                  for (const Job* job : w->self->queue_) queued += job->batch.count;
                                  return w->self->stopping_ || queued >= w->images;
                                },
                                &wanted),
                            options_.batching_delay);
  }
  while (!queue_.empty() && images + queue_.front()->batch.count <= room) {
    images += queue_.front()->batch.count;
    jobs.push_back(queue_.front());
    queue_.pop_front();
  }
  return jobs;
}

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

absl::Status TorchClassifier::Run(const ImageBatchView& batch, absl::Span<float> probabilities) {
  return Guarded([&] {
    const int64_t step = options_.max_forward_batch > 0 ? options_.max_forward_batch : batch.count;
    for (int64_t begin = 0; begin < batch.count; begin += step) {
      Forward(Pixels(batch, begin, std::min(step, batch.count - begin)), probabilities.data() + begin * num_classes_);
    }
  });
}

std::vector<absl::Status> TorchClassifier::RunMerged(const std::vector<Job*>& jobs) {
  std::vector<float> merged;
  const absl::Status status = Guarded([&] {
    std::vector<torch::Tensor> parts;
    bool floats = false;
    for (const Job* job : jobs) {
      parts.push_back(Pixels(job->batch, 0, job->batch.count));
      floats = floats || !job->batch.values.empty();
    }
    if (floats) {  // byte and float requests in one pass: all as floats
      for (torch::Tensor& part : parts) part = part.to(torch::kFloat32);
    }
    torch::Tensor bytes = torch::cat(parts);
    merged.resize(bytes.size(0) * num_classes_);
    Forward(bytes, merged.data());
  });
  std::vector<absl::Status> statuses(jobs.size(), status);
  if (status.ok()) {
    const float* next = merged.data();
    for (const Job* job : jobs) {
      std::copy(next, next + job->probabilities.size(), job->probabilities.begin());
      next += job->probabilities.size();
    }
  }
  return statuses;
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
  Job job{batch, probabilities, absl::OkStatus(), false, absl::Now(), {}, {}};
  {
    absl::MutexLock lock(&mutex_);
    queue_.push_back(&job);
    mutex_.Await(absl::Condition(&job.done));
  }
  if (options_.on_timing) options_.on_timing(job.started - job.queued, job.finished - job.started);
  return job.status;
}

}  // namespace resnet8
