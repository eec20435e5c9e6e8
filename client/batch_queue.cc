#include "client/batch_queue.h"

#include <algorithm>
#include <utility>

namespace resnet8 {

BatchQueue::BatchQueue(int64_t images, int64_t batch_size) : images_(images) {
  for (int64_t begin = 0; begin < images; begin += batch_size) {
    pending_.push_back(static_cast<int>(batches_.size()));
    batches_.push_back({begin, std::min(begin + batch_size, images)});
  }
}

BatchQueue::StreamId BatchQueue::OpenStream() {
  std::lock_guard<std::mutex> lock(mutex_);
  streams_[next_stream_] = {};
  return next_stream_++;
}

std::optional<int> BatchQueue::NextToSend(StreamId stream, int window) {
  std::unique_lock<std::mutex> lock(mutex_);
  InFlight& flight = streams_.at(stream);
  changed_.wait(lock, [&] {
    return flight.stopped || FinishedLocked() || pending_.empty() || static_cast<int>(flight.batches.size()) < window;
  });
  if (flight.stopped || FinishedLocked() || pending_.empty()) return std::nullopt;
  const int id = pending_.front();
  pending_.pop_front();
  flight.batches.push_back(id);
  return id;
}

std::optional<int> BatchQueue::OldestInFlight(StreamId stream) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const InFlight& flight = streams_.at(stream);
  if (flight.batches.empty()) return std::nullopt;
  return flight.batches.front();
}

int64_t BatchQueue::MarkAnswered(StreamId stream) {
  int64_t answered;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    InFlight& flight = streams_.at(stream);
    answered_images_ += batches_[flight.batches.front()].size();
    flight.batches.pop_front();
    answered = answered_images_;
  }
  changed_.notify_all();
  return answered;
}

void BatchQueue::StopSending(StreamId stream) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    streams_.at(stream).stopped = true;
  }
  changed_.notify_all();
}

int64_t BatchQueue::CloseStream(StreamId stream) {
  int64_t returned;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = streams_.find(stream);
    const std::deque<int>& unanswered = it->second.batches;
    pending_.insert(pending_.begin(), unanswered.begin(), unanswered.end());
    returned = static_cast<int64_t>(unanswered.size());
    streams_.erase(it);
  }
  changed_.notify_all();
  return returned;
}

bool BatchQueue::WaitForWork() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return FinishedLocked() || !pending_.empty(); });
  return !FinishedLocked();
}

void BatchQueue::WaitUnlessFinished(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [this] { return FinishedLocked(); });
}

void BatchQueue::Fail(absl::Status status) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failure_.ok()) failure_ = std::move(status);
  }
  changed_.notify_all();
}

absl::Status BatchQueue::failure() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failure_;
}

bool BatchQueue::finished() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return FinishedLocked();
}

int64_t BatchQueue::answered_images() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return answered_images_;
}

int BatchQueue::open_streams() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(streams_.size());
}

}  // namespace resnet8
