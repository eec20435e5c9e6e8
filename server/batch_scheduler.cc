#include "server/batch_scheduler.h"

#include <algorithm>
#include <utility>

namespace resnet8 {

TeamPolicy ChooseTeams(int cores, int runners, int threads) {
  if (threads > 0) return {threads, threads};
  if (threads < 0) return {};
  return {std::max(1, cores / std::max(1, runners)), cores, kSplitLonePassFromImages};
}

// One Run() call waiting for the runners.
struct BatchScheduler::Job {
  const ImageBatchView* batch;
  absl::Span<float> outputs;
  int64_t outputs_per_image;
  absl::Status status;     // the first failure of any of its passes
  int64_t next_image = 0;  // the first image not yet handed to a runner
  int passes_running = 0;
  bool done = false;
  absl::Time queued, started, finished;
};

BatchScheduler::BatchScheduler(const BatchSchedulerOptions& options, Runner runner, RunnerStart start)
    : options_(options), runner_(std::move(runner)), start_(std::move(start)) {
  for (int i = 0; i < std::max(1, options_.runners); ++i) threads_.emplace_back([this, i] { RunnerLoop(i); });
}

BatchScheduler::~BatchScheduler() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

void BatchScheduler::RunnerLoop(int runner) {
  if (start_) start_(runner);
  while (true) {
    const Taken taken = NextPass();
    if (taken.jobs.empty()) return;  // stopping, and nothing left to do
    SchedulerPass pass;
    pass.alone = taken.alone;
    pass.runner = runner;
    for (Job* job : taken.jobs) {
      const int64_t begin = taken.count > 0 ? taken.begin : 0;
      const int64_t count = taken.count > 0 ? taken.count : job->batch->count;
      pass.slices.push_back({job->batch, begin, count,
                             job->outputs.subspan(begin * job->outputs_per_image, count * job->outputs_per_image)});
    }
    Finish(taken, runner_(pass));
  }
}

BatchScheduler::Taken BatchScheduler::NextPass() {
  std::unique_lock<std::mutex> lock(mutex_);
  // While one runner gathers small batches for a pass (batching_delay), the
  // others leave the queue to it: taking them would undo the merging.
  work_.wait(lock, [this] { return stopping_ || (!queue_.empty() && !gathering_); });
  Taken taken = TakePass(lock);
  if (taken.jobs.empty()) return taken;
  taken.alone = queue_.empty() && passes_running_ == 0;
  ++passes_running_;
  return taken;
}

BatchScheduler::Taken BatchScheduler::TakePass(std::unique_lock<std::mutex>& lock) {
  Taken taken;
  if (queue_.empty()) return taken;
  Job* first = queue_.front();
  const int64_t room = options_.max_pass_images;
  if (first->next_image == 0) first->started = absl::Now();
  if (room <= 0 || first->batch->count >= room) {  // a large batch: its next slice, alone
    taken.jobs = {first};
    taken.begin = first->next_image;
    taken.count = room > 0 ? std::min(room, first->batch->count - taken.begin) : first->batch->count;
    first->next_image += taken.count;
    ++first->passes_running;
    if (first->next_image == first->batch->count) queue_.pop_front();
    return taken;
  }
  queue_.pop_front();
  taken.jobs.push_back(first);
  int64_t images = first->batch->count;
  if (options_.batching_delay > absl::ZeroDuration()) {
    // Wait a little for more small batches, unless enough are queued already.
    const int64_t wanted = room - images;
    gathering_ = true;
    work_.wait_for(lock, absl::ToChronoNanoseconds(options_.batching_delay), [this, wanted] {
      int64_t queued = 0;
      for (const Job* job : queue_) queued += job->batch->count;
      return stopping_ || queued >= wanted;
    });
    gathering_ = false;
    work_.notify_all();  // the other runners may take what this pass leaves
  }
  // Only batches no other pass has started: a large batch another runner is
  // slicing stays at the front for it.
  while (!queue_.empty() && queue_.front()->next_image == 0 && images + queue_.front()->batch->count <= room) {
    images += queue_.front()->batch->count;
    taken.jobs.push_back(queue_.front());
    queue_.pop_front();
  }
  for (Job* job : taken.jobs) {  // each runs whole, in this one pass
    job->started = first->started;
    job->next_image = job->batch->count;
    job->passes_running = 1;
  }
  return taken;
}

void BatchScheduler::Finish(const Taken& taken, const absl::Status& status) {
  const absl::Time finished = absl::Now();
  std::lock_guard<std::mutex> lock(mutex_);
  --passes_running_;
  for (Job* job : taken.jobs) {
    // A fresh copy, not a second reference to the runner's: Abseil's Status
    // shares its payload through a reference count in uninstrumented library
    // code, which ThreadSanitizer cannot follow across threads.
    if (!status.ok() && job->status.ok()) job->status = absl::Status(status.code(), status.message());
    if (--job->passes_running == 0 && job->next_image == job->batch->count) {
      job->finished = finished;
      job->done = true;
    }
  }
  done_.notify_all();
}

absl::Status BatchScheduler::Run(const ImageBatchView& batch, absl::Span<float> outputs, SchedulerTiming* timing) {
  if (batch.count <= 0 || outputs.size() % batch.count != 0) {
    return absl::InvalidArgumentError("a batch needs images and the same number of outputs for each");
  }
  Job job;
  job.batch = &batch;
  job.outputs = outputs;
  job.outputs_per_image = static_cast<int64_t>(outputs.size()) / batch.count;
  job.queued = absl::Now();
  {
    std::unique_lock<std::mutex> lock(mutex_);
    queue_.push_back(&job);
    work_.notify_all();
    done_.wait(lock, [&job] { return job.done; });
  }
  if (timing != nullptr) *timing = {job.started - job.queued, job.finished - job.started};
  return job.status;
}

}  // namespace resnet8
