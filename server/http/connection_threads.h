// The task queue behind the HTTP ports (cpp-httplib's TaskQueue): one thread
// per open connection, up to a limit, reused while work keeps coming.
//
// cpp-httplib runs a connection as one task, from accept to close, keep-alive
// waits included. Its default fixed pool (a handful of threads) lets a few
// hundred silent or idle connections occupy every worker, and then health
// probes queue behind them until the timeouts close them. Here a connection
// only waits when `max_threads` connections are already open; the timeouts
// (HttpConnectionLimits) bound how long a silent one is held.
//
//   http.new_task_queue = [] { return new ConnectionThreads(1024); };
#ifndef RESNET8_SERVER_HTTP_CONNECTION_THREADS_H_
#define RESNET8_SERVER_HTTP_CONNECTION_THREADS_H_

#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

#include "absl/time/time.h"

namespace resnet8 {

class ConnectionThreads final : public httplib::TaskQueue {
 public:
  // A thread with nothing to do for `linger` exits.
  explicit ConnectionThreads(int max_threads, absl::Duration linger = absl::Seconds(10));
  // Waits for every task, as shutdown() does.
  ~ConnectionThreads() override;

  // Runs `task` on an idle thread, or a new one below max_threads; at the
  // limit it waits for the first thread to come free (first come, first served).
  void enqueue(std::function<void()> task) override;
  // Runs the tasks already queued, then returns when every thread has exited.
  void shutdown() override;

  // For tests and metrics.
  int threads() const;
  int idle() const;  // threads waiting for a task
  int queued() const;

 private:
  void Work();

  const int max_threads_;
  const absl::Duration linger_;
  mutable std::mutex mutex_;
  std::condition_variable work_;      // a task was queued, or shutdown
  std::condition_variable all_done_;  // threads_ reached zero
  std::deque<std::function<void()>> tasks_;
  int threads_ = 0;
  int idle_ = 0;  // threads waiting for a task
  bool stopping_ = false;
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_HTTP_CONNECTION_THREADS_H_
