#include "server/http/connection_threads.h"

#include <thread>

namespace resnet8 {

ConnectionThreads::ConnectionThreads(int max_threads, absl::Duration linger)
    : max_threads_(max_threads < 1 ? 1 : max_threads), linger_(linger) {}

ConnectionThreads::~ConnectionThreads() { shutdown(); }

void ConnectionThreads::enqueue(std::function<void()> task) {
  std::lock_guard<std::mutex> lock(mutex_);
  tasks_.push_back(std::move(task));
  // Each idle thread takes one queued task; start a thread for the rest.
  if (static_cast<int>(tasks_.size()) > idle_ && threads_ < max_threads_) {
    ++threads_;
    std::thread([this] { Work(); }).detach();
  } else {
    work_.notify_one();
  }
}

void ConnectionThreads::Work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (tasks_.empty()) {
      if (stopping_) break;
      ++idle_;
      const bool woken =
          work_.wait_for(lock, absl::ToChronoMilliseconds(linger_), [this] { return stopping_ || !tasks_.empty(); });
      --idle_;
      if (!woken) break;  // lingered long enough
      continue;
    }
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    task = nullptr;  // release what the task holds before taking the lock
    lock.lock();
  }
  if (--threads_ == 0) all_done_.notify_all();
}

void ConnectionThreads::shutdown() {
  std::unique_lock<std::mutex> lock(mutex_);
  stopping_ = true;
  work_.notify_all();
  all_done_.wait(lock, [this] { return threads_ == 0; });
}

int ConnectionThreads::threads() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return threads_;
}

int ConnectionThreads::idle() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return idle_;
}

int ConnectionThreads::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(tasks_.size());
}

}  // namespace resnet8
