// Schedules image batches from many callers onto a few runner threads, in
// forward passes: the batching policy of the served classifier, apart from
// what runs a pass (torch/torch_classifier.h), so that it is tested with a
// fake runner under ASan and TSan.
//
// A batch larger than a pass is cut into passes, and each free runner takes
// the next, so the passes of one large batch run side by side. Small batches
// queued together run as one pass (dynamic batching), optionally waiting up
// to `batching_delay` for more. A pass with nothing else queued or running is
// marked `alone`: its runner may use every core for it (the team policy).
//
//   BatchScheduler scheduler({.max_pass_images = 16, .runners = 2},
//                            [](const SchedulerPass& pass) { ...run pass.slices...; return absl::OkStatus(); });
//   absl::Status status = scheduler.Run(batch, absl::MakeSpan(outputs), &timing);  // blocks until done
#ifndef RESNET8_SERVER_BATCH_SCHEDULER_H_
#define RESNET8_SERVER_BATCH_SCHEDULER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/image_classifier.h"

namespace resnet8 {

struct BatchSchedulerOptions {
  // Images per pass at most; 0 runs every batch whole, in one pass.
  int64_t max_pass_images = 16;
  // Runner threads; each runs whole passes.
  int runners = 1;
  // Wait up to this long for more small batches before running a pass that
  // is not full; zero merges only what is already queued (no added latency).
  absl::Duration batching_delay = absl::ZeroDuration();
};

// OpenMP team sizes for a runner: for its share of parallel passes, and for
// a pass that runs alone and has at least `alone_from_images` images (a
// smaller one keeps the shared team). 0 leaves the library's default.
struct TeamPolicy {
  int shared = 0;
  int alone = 0;
  int64_t alone_from_images = 0;
};
// A lone pass is split over the cores only from this many images: below it,
// one core finishes the pass sooner (measured with oneDNN's prepacked
// convolutions on 2 cores: one image 0.57 ms on one core against 1.58 ms on
// two; 32 images about even; 64 images 1.19x faster on two; BENCHMARKS.md).
inline constexpr int64_t kSplitLonePassFromImages = 64;
// `threads` > 0 fixes both; 0 divides `cores` among the runners (at least 1
// each) and gives a lone pass of kSplitLonePassFromImages or more every
// core; -1 leaves the defaults.
TeamPolicy ChooseTeams(int cores, int runners, int threads);

// One caller's images, as the runner sees them.
struct SchedulerSlice {
  const ImageBatchView* batch;
  int64_t begin;  // first image of `batch` in this pass
  int64_t count;
  absl::Span<float> outputs;  // this slice's outputs: count x the caller's outputs per image
};

struct SchedulerPass {
  std::vector<SchedulerSlice> slices;  // one slice of a large batch, or whole small batches
  bool alone = false;                  // nothing else queued or running
  int runner = 0;                      // which runner thread, 0-based
};

struct SchedulerTiming {
  absl::Duration queue;    // from Run() to its first pass starting
  absl::Duration compute;  // from then to its last pass finishing
};

class BatchScheduler {
 public:
  // Runs a pass, writing each slice's outputs; on the runner thread. An
  // error fails every batch in the pass.
  using Runner = std::function<absl::Status(const SchedulerPass& pass)>;
  // Called first on each runner thread (per-thread library state).
  using RunnerStart = std::function<void(int runner)>;

  BatchScheduler(const BatchSchedulerOptions& options, Runner runner, RunnerStart start = {});
  // Finishes the queued work, then stops the runners.
  ~BatchScheduler();

  // Queues `batch` (whose outputs are `outputs`, outputs.size() / batch.count
  // per image) and waits until its passes have run. The first error of its
  // passes, else OK. Thread-safe.
  absl::Status Run(const ImageBatchView& batch, absl::Span<float> outputs, SchedulerTiming* timing = nullptr);

 private:
  struct Job;
  struct Taken {
    std::vector<Job*> jobs;
    int64_t begin = 0;
    int64_t count = 0;  // 0: the jobs whole
    bool alone = false;
  };

  void RunnerLoop(int runner);
  Taken NextPass();
  // With mutex_ held (`lock`), which the batching delay's wait releases.
  Taken TakePass(std::unique_lock<std::mutex>& lock);
  void Finish(const Taken& taken, const absl::Status& status);

  const BatchSchedulerOptions options_;
  const Runner runner_;
  const RunnerStart start_;
  // std::mutex rather than absl::Mutex: ThreadSanitizer sees pthread's locks,
  // not those of an uninstrumented Abseil, and this class is tested under it.
  std::mutex mutex_;
  std::condition_variable work_;  // queued work, a gatherer done, or stopping
  std::condition_variable done_;  // some job finished
  // Guarded by mutex_:
  std::deque<Job*> queue_;
  bool stopping_ = false;
  bool gathering_ = false;  // a runner waits for more small batches
  int passes_running_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_BATCH_SCHEDULER_H_
