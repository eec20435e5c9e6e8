#include "server/torch/torch_classifier.h"

#include <ATen/Parallel.h>
#include <omp.h>

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
  if (options.threads > 1024 || options.threads < -1) {
    return absl::InvalidArgumentError("threads is not between -1 and 1024");
  }
  if (options.compute_threads > 1024 || options.compute_threads < 0) {
    return absl::InvalidArgumentError("compute_threads is not between 0 and 1024");
  }
  return std::unique_ptr<TorchClassifier>(new TorchClassifier(std::move(module), classes, options));
}

// One Classify() call waiting for the compute threads.
struct TorchClassifier::Job {
  ImageBatchView batch;
  absl::Span<float> probabilities;
  absl::Status status;     // the first failure of any of its passes
  int64_t next_image = 0;  // the first image not yet handed to a compute thread
  int passes_running = 0;
  bool done = false;
  absl::Time queued, started, finished;  // for on_timing
};

TorchClassifier::TorchClassifier(torch::jit::Module module, int64_t classes, const TorchClassifierOptions& options)
    : module_(std::move(module)),
      options_(options),
      num_classes_(static_cast<int>(classes)),
      cores_(static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))) {
  const int workers = options_.compute_threads > 0 ? options_.compute_threads : cores_;
  Teams teams;
  if (options_.threads > 0) {
    teams = {options_.threads, options_.threads};
  } else if (options_.threads == 0) {
    teams = {std::max(1, cores_ / workers), cores_};
  }
  for (int i = 0; i < workers; ++i) compute_threads_.emplace_back([this, teams] { ComputeLoop(teams); });
}

TorchClassifier::~TorchClassifier() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  for (std::thread& thread : compute_threads_) thread.join();
}

void TorchClassifier::ComputeLoop(Teams teams) {
  // OpenMP settings belong to the thread. get_num_threads() first: LibTorch
  // sizes a thread's team on its first parallel work, from whichever thread
  // last called set_num_threads().
  int team = at::get_num_threads();
  if (teams.shared > 0) at::set_num_threads(team = teams.shared);
  torch::InferenceMode inference;
  while (true) {
    const Pass pass = NextPass();
    if (pass.jobs.empty()) return;  // stopping, and nothing left to do
    // omp_set_num_threads, not at::set_num_threads: the latter also rebuilds
    // LibTorch's global pthreadpool, on every call.
    const int wanted = pass.alone ? teams.alone : teams.shared;
    if (wanted > 0 && wanted != team) omp_set_num_threads(team = wanted);
    // LibTorch's own count, so that a test sees the team it really runs.
    if (cores_ > 1 && at::get_num_threads() == cores_) passes_on_every_core_.fetch_add(1);
    Finish(pass, Run(pass));
  }
}

TorchClassifier::Pass TorchClassifier::NextPass() {
  absl::MutexLock lock(&mutex_);
  // While one thread gathers small requests for a pass (batching_delay), the
  // others leave the queue to it: taking them would undo the merging.
  mutex_.Await(absl::Condition(
      +[](TorchClassifier* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mutex_) {
        return self->stopping_ || (!self->queue_.empty() && !self->gathering_);
      },
      this));
  Pass pass = TakePass();
  if (pass.jobs.empty()) return pass;
  pass.alone = queue_.empty() && passes_running_ == 0;
  ++passes_running_;
  return pass;
}

TorchClassifier::Pass TorchClassifier::TakePass() {
  Pass pass;
  if (queue_.empty()) return pass;
  Job* first = queue_.front();
  const int64_t room = options_.max_forward_batch;
  if (first->next_image == 0) first->started = absl::Now();
  if (room <= 0 || first->batch.count >= room) {  // a large job: its next slice, alone
    pass.jobs = {first};
    pass.begin = first->next_image;
    pass.count = room > 0 ? std::min(room, first->batch.count - pass.begin) : first->batch.count;
    first->next_image += pass.count;
    ++first->passes_running;
    if (first->next_image == first->batch.count) queue_.pop_front();
    return pass;
  }
  queue_.pop_front();
  pass.jobs.push_back(first);
  int64_t images = first->batch.count;
  if (options_.batching_delay > absl::ZeroDuration()) {
    // Wait a little for more small requests, unless enough are queued already.
    struct Wanted {
      TorchClassifier* self;
      int64_t images;
    } wanted{this, room - images};
    gathering_ = true;
    mutex_.AwaitWithTimeout(absl::Condition(
                                +[](Wanted* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                  int64_t queued = 0;
                                  for (const Job* job : w->self->queue_) queued += job->batch.count;
                                  return w->self->stopping_ || queued >= w->images;
                                },
                                &wanted),
                            options_.batching_delay);
    gathering_ = false;
  }
  // Only jobs no other pass has started: a large job another thread is
  // slicing stays at the front for it.
  while (!queue_.empty() && queue_.front()->next_image == 0 && images + queue_.front()->batch.count <= room) {
    images += queue_.front()->batch.count;
    pass.jobs.push_back(queue_.front());
    queue_.pop_front();
  }
  for (Job* job : pass.jobs) {  // each runs whole, in this one pass
    job->started = first->started;
    job->next_image = job->batch.count;
    job->passes_running = 1;
  }
  return pass;
}

void TorchClassifier::Finish(const Pass& pass, const absl::Status& status) {
  const absl::Time finished = absl::Now();
  absl::MutexLock lock(&mutex_);
  --passes_running_;
  for (Job* job : pass.jobs) {
    if (!status.ok() && job->status.ok()) job->status = status;
    if (--job->passes_running == 0 && job->next_image == job->batch.count) {
      job->finished = finished;
      job->done = true;
    }
  }
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

absl::Status TorchClassifier::Run(const Pass& pass) {
  if (pass.jobs.size() == 1) {  // a slice of a large job, or one small job whole
    const Job& job = *pass.jobs[0];
    const int64_t count = pass.count > 0 ? pass.count : job.batch.count;
    return Guarded(
        [&] { Forward(Pixels(job.batch, pass.begin, count), job.probabilities.data() + pass.begin * num_classes_); });
  }
  std::vector<float> merged;
  const absl::Status status = Guarded([&] {
    std::vector<torch::Tensor> parts;
    bool floats = false;
    for (const Job* job : pass.jobs) {
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
  if (status.ok()) {
    const float* next = merged.data();
    for (const Job* job : pass.jobs) {
      std::copy(next, next + job->probabilities.size(), job->probabilities.begin());
      next += job->probabilities.size();
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
  Job job;
  job.batch = batch;
  job.probabilities = probabilities;
  job.queued = absl::Now();
  {
    absl::MutexLock lock(&mutex_);
    queue_.push_back(&job);
    mutex_.Await(absl::Condition(&job.done));
  }
  if (options_.on_timing) options_.on_timing(job.started - job.queued, job.finished - job.started);
  return job.status;
}

}  // namespace resnet8
