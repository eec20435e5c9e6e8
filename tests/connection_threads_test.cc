// The HTTP ports' task queue (connection_threads.h): a thread per task up to
// the limit, queueing beyond it, reuse and lingering, and a shutdown that
// waits for every task.
#include "server/http/connection_threads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

namespace resnet8 {
namespace {

// Waits (up to 10 s) until `condition` holds.
bool Eventually(const std::function<bool()>& condition) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

TEST(ConnectionThreads, BlockedTasksDoNotHoldUpOthersBelowTheLimit) {
  ConnectionThreads queue(300);
  absl::Notification release;
  std::atomic<int> started{0};
  // 250 connections that stay silent (held until released) ...
  for (int i = 0; i < 250; ++i) {
    queue.enqueue([&] {
      started.fetch_add(1);
      release.WaitForNotification();
    });
  }
  // ... and a probe, which still runs at once.
  std::promise<void> probe;
  queue.enqueue([&] { probe.set_value(); });
  EXPECT_EQ(probe.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(Eventually([&] { return started.load() == 250; }));
  EXPECT_EQ(queue.threads(), 251);
  release.Notify();
  queue.shutdown();
  EXPECT_EQ(queue.threads(), 0);
}

// One thread, so that the order the tasks run in is the order they were taken.
TEST(ConnectionThreads, AtTheLimitTasksWaitTheirTurnInOrder) {
  ConnectionThreads queue(1);
  absl::Notification release, started;
  queue.enqueue([&] {
    started.Notify();
    release.WaitForNotification();
  });
  std::vector<int> order;
  for (int i = 0; i < 3; ++i) {
    queue.enqueue([&, i] { order.push_back(i); });  // only the one thread writes
  }
  started.WaitForNotification();
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(queue.threads(), 1);
  EXPECT_EQ(queue.queued(), 3);  // nothing ran past the limit
  release.Notify();
  queue.shutdown();  // runs what is queued first
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

TEST(ConnectionThreads, IdleThreadsAreReusedThenExit) {
  ConnectionThreads queue(8, absl::Milliseconds(200));
  for (int round = 0; round < 5; ++round) {
    std::promise<void> done;
    queue.enqueue([&] { done.set_value(); });
    done.get_future().wait();
    EXPECT_TRUE(Eventually([&] { return queue.idle() == 1; }));
    EXPECT_EQ(queue.threads(), 1) << "round " << round;  // the idle thread took it: no new one
  }
  EXPECT_TRUE(Eventually([&] { return queue.threads() == 0; }));  // lingered 200 ms, then left
  std::promise<void> later;
  queue.enqueue([&] { later.set_value(); });
  EXPECT_EQ(later.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
}

}  // namespace
}  // namespace resnet8
