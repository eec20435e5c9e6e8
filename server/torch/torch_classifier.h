// The real ImageClassifier: a converted model as a TorchScript module (see
// torchscript_builder.h) that outputs class probabilities.
//
// All inference runs on compute threads owned by the classifier (one per core
// by default); Classify() queues the batch and waits. Which images run in
// which forward pass, on which thread, is the BatchScheduler's policy
// (server/batch_scheduler.h); this class runs the passes. Each compute thread runs its
// pass with an OpenMP team of its own size (1 by default): whole passes in
// parallel waste less than one pass split over the cores, whose every layer
// ends in a barrier (measured on 2 cores: 2-7% more images/s for an evaluation,
// 15-30% more for concurrent small requests; BENCHMARKS.md). A large pass
// with nothing queued or running beside it is split over every core; a small
// one (below kSplitLonePassFromImages, so every pass of the default size) is
// finished sooner by one core. A
// request that arrives meanwhile still starts at once on another compute
// thread; making it wait for the lone pass cost a third of the concurrent
// throughput. Inference
// never runs on gRPC's handler threads: libgomp gives every calling thread
// its own team, and teams whose idle workers spin steal the cores (measured:
// half the throughput).
//
// Pixels are decoded straight from the uint8 batch into a float tensor and run
// under torch::InferenceMode. How fast that is depends on choices measured on
// Debian's LibTorch 1.13 (see BENCHMARKS.md): channels-last activations,
// forward passes of at most 16 images (larger ones fall out of cache and get
// slower), and the module rewritten for serving (serving_rewrites.h).
//
//   ASSIGN_OR_RETURN(auto classifier, TorchClassifier::Create(module, {32, 32, 3}, 10, {}));
//   RETURN_IF_ERROR(classifier->Classify(batch, absl::MakeSpan(probabilities)));
#ifndef RESNET8_SERVER_TORCH_TORCH_CLASSIFIER_H_
#define RESNET8_SERVER_TORCH_TORCH_CLASSIFIER_H_

#include <torch/script.h>

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/image_classifier.h"
#include "server/batch_scheduler.h"
#include "server/keras/model.h"

namespace resnet8 {

struct TorchClassifierOptions {
  // Run the network on channels-last (NHWC-strided) activations, which
  // oneDNN's convolutions take without reordering.
  bool channels_last = true;
  // The module rewritten for serving: oneDNN prepacked convolutions, ReLUs
  // fused into them and into Adds (serving_rewrites.h).
  bool serving_rewrites = true;
  // Split a batch into forward passes of at most this many images; 0 runs the
  // whole batch in one pass.
  int64_t max_forward_batch = 16;
  // Pad a one-image pass with a copy of the image, so that aten::conv2d takes
  // oneDNN's path (PyTorch 1.13 sends a single small image to its native
  // convolution, about 10x slower). Prepacked convolutions run one image on
  // oneDNN as it is, and faster unpadded (BENCHMARKS.md).
  bool pad_single_image = false;
  // Compute threads, each running whole forward passes; 0 means one per core.
  int compute_threads = 0;
  // OpenMP threads of each compute thread's team; 0 means the cores divided
  // among the compute threads (at least 1), and every core for a large pass
  // that runs alone (batch_scheduler.h); -1 leaves LibTorch's default.
  int threads = 0;
  // Dynamic batching: requests smaller than max_forward_batch that wait in
  // the queue together run as one forward pass. A positive delay makes the
  // compute thread wait up to that long for more before running a pass that
  // is not full; zero adds no latency and merges only what is already queued.
  absl::Duration batching_delay = absl::ZeroDuration();
  // Called after every Classify() with how long it waited for the compute
  // thread and how long it ran there (metrics); on the calling thread.
  std::function<void(absl::Duration queue, absl::Duration compute)> on_timing;

  // The module as converted would be run by someone who knows none of this:
  // one thread calling forward() with LibTorch's default thread count (1
  // here), contiguous, whole batches.
  static TorchClassifierOptions Straightforward() {
    TorchClassifierOptions plain;
    plain.channels_last = false;
    plain.serving_rewrites = false;
    plain.max_forward_batch = 0;
    plain.pad_single_image = false;
    plain.compute_threads = 1;
    plain.threads = -1;
    return plain;
  }
};

class TorchClassifier final : public ImageClassifier {
 public:
  // Takes a module in eval mode whose forward() maps [N, 3, 32, 32] pixels to
  // [N, classes] probabilities, and starts the compute thread. Returns
  // INVALID_ARGUMENT if `input_shape` (height, width, channels) is not
  // 32x32x3 (the wire format carries CIFAR-sized images only), if `classes` is
  // not positive, or if an option is out of range; INTERNAL if the module
  // cannot be rewritten for serving.
  static absl::StatusOr<std::unique_ptr<TorchClassifier>> Create(torch::jit::Module module, const Shape& input_shape,
                                                                 int64_t classes,
                                                                 const TorchClassifierOptions& options);
  // Finishes the queued work, then stops the compute threads.
  ~TorchClassifier() override;

  int num_classes() const override { return num_classes_; }
  // Forward passes run so far (merged requests share one). Thread-safe.
  int64_t forward_passes() const { return forward_passes_.load(); }
  // Of those, the passes LibTorch ran split over every core (on a machine
  // of more than one): a large lone pass, or all with one compute thread.
  int64_t passes_on_every_core() const { return passes_on_every_core_.load(); }
  // Thread-safe: calls from many threads queue for the compute threads, in order.
  absl::Status Classify(const ImageBatchView& batch, absl::Span<float> probabilities) const override;

 private:
  TorchClassifier(torch::jit::Module module, int64_t classes, const TorchClassifierOptions& options);
  // Runs one pass on its runner thread, with the team the policy gives it;
  // for merged batches, copies each one's share of the output.
  absl::Status RunPass(const SchedulerPass& pass, TeamPolicy teams);
  // Images [begin, begin + count) of `batch` as an NCHW-shaped view of its
  // bytes (uint8) or values (float).
  static torch::Tensor Pixels(const ImageBatchView& batch, int64_t begin, int64_t count);
  // One forward pass over `bytes` (uint8 or float pixels, N x 3 x 32 x 32).
  void Forward(torch::Tensor bytes, float* probabilities);
  // Runs `work`, turning exceptions into INTERNAL.
  template <typename Work>
  static absl::Status Guarded(Work work);

  torch::jit::Module module_;
  TorchClassifierOptions options_;
  int num_classes_;
  std::atomic<int64_t> forward_passes_{0};
  std::atomic<int64_t> passes_on_every_core_{0};
  int cores_;

  // Each runner's current OpenMP team size; a runner touches only its own.
  std::vector<int> runner_teams_;
  // Last: destroyed first, it finishes the queued passes, which use the above.
  std::unique_ptr<BatchScheduler> scheduler_;
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_TORCH_TORCH_CLASSIFIER_H_
