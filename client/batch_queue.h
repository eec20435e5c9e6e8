// The work of one dataset evaluation, shared by its streams: the dataset cut
// into batches, which are pending (not sent, or to be sent again), in flight
// on a stream (sent, not answered), or answered. It owns the run's one lock
// and the failure that ends the run; streams block here for work and window
// space. No gRPC: what goes over the wire is the caller's business.
//
//   BatchQueue queue(images.size(), /*batch_size=*/500);
//   BatchQueue::StreamId stream = queue.OpenStream();
//   while (std::optional<int> id = queue.NextToSend(stream, /*window=*/4)) Send(queue.batch(*id));
//   ...on each answer: queue.MarkAnswered(stream)  (the oldest in flight)
//   queue.CloseStream(stream);  // what it left unanswered is pending again
//
// Thread-safe. A stream's writer and reader may be different threads.
#ifndef RESNET8_CLIENT_BATCH_QUEUE_H_
#define RESNET8_CLIENT_BATCH_QUEUE_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace resnet8 {

// Records [begin, end) of the dataset.
struct Batch {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
};

class BatchQueue {
 public:
  using StreamId = int;

  // Cuts `images` records into batches of `batch_size` (the last may be
  // shorter), all pending, in order. batch_size must be at least 1.
  BatchQueue(int64_t images, int64_t batch_size);

  const Batch& batch(int id) const { return batches_[id]; }
  int64_t images() const { return images_; }

  // --- a stream's life ---
  StreamId OpenStream();
  // Blocks until the stream has fewer than `window` batches in flight, then
  // moves the next pending batch into its flight. nullopt once nothing is
  // pending, the run is finished, or StopSending() was called.
  std::optional<int> NextToSend(StreamId stream, int window);
  // The batch the stream's next answer belongs to (its oldest in flight).
  std::optional<int> OldestInFlight(StreamId stream) const;
  // The oldest in-flight batch was answered. Returns the run's answered
  // images after it. The stream must have a batch in flight.
  int64_t MarkAnswered(StreamId stream);
  // The stream will send no more (its reader is done); wakes its writer.
  void StopSending(StreamId stream);
  // Ends the stream: what it left unanswered goes back to the front of the
  // pending batches, in order. Returns how many batches that was.
  int64_t CloseStream(StreamId stream);

  // --- the run ---
  // Blocks until a batch is pending or the run is finished. False if finished.
  bool WaitForWork();
  // Blocks for `timeout` or until the run is finished.
  void WaitUnlessFinished(absl::Duration timeout);
  // Records the error that ends the run (the first one wins) and wakes all.
  void Fail(absl::Status status);
  absl::Status failure() const;
  // Every image answered, or failed.
  bool finished() const;
  int64_t answered_images() const;
  int open_streams() const;

 private:
  struct InFlight {
    std::deque<int> batches;  // sent, not answered, in sending order
    bool stopped = false;
  };
  bool FinishedLocked() const { return answered_images_ == images_ || !failure_.ok(); }

  const int64_t images_;
  std::vector<Batch> batches_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<int> pending_;
  std::map<StreamId, InFlight> streams_;
  StreamId next_stream_ = 0;
  int64_t answered_images_ = 0;
  absl::Status failure_;
};

}  // namespace resnet8

#endif  // RESNET8_CLIENT_BATCH_QUEUE_H_
