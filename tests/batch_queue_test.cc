#include "client/batch_queue.h"

#include <gtest/gtest.h>

#include <thread>

#include "absl/time/clock.h"

namespace resnet8 {
namespace {

// Takes up to `count` batches for `stream` (window unbounded) and returns their ids.
std::vector<int> Take(BatchQueue& queue, BatchQueue::StreamId stream, int count) {
  std::vector<int> ids;
  for (int i = 0; i < count; ++i) {
    std::optional<int> id = queue.NextToSend(stream, 1000);
    if (!id) break;
    ids.push_back(*id);
  }
  return ids;
}

TEST(BatchQueue, CutsTheDatasetInOrderWithAShortLastBatch) {
  BatchQueue queue(12, 5);
  BatchQueue::StreamId stream = queue.OpenStream();
  EXPECT_EQ(Take(queue, stream, 10), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(queue.batch(0).begin, 0);
  EXPECT_EQ(queue.batch(1).end, 10);
  EXPECT_EQ(queue.batch(2).size(), 2);
}

TEST(BatchQueue, AnswersAreTheOldestInFlightAndCountImages) {
  BatchQueue queue(12, 5);
  BatchQueue::StreamId stream = queue.OpenStream();
  Take(queue, stream, 2);
  EXPECT_EQ(queue.OldestInFlight(stream), 0);
  EXPECT_EQ(queue.MarkAnswered(stream), 5);
  EXPECT_EQ(queue.OldestInFlight(stream), 1);
  EXPECT_EQ(queue.MarkAnswered(stream), 10);
  EXPECT_EQ(queue.OldestInFlight(stream), std::nullopt);
  EXPECT_FALSE(queue.finished());
}

TEST(BatchQueue, AClosedStreamsUnansweredBatchesAreSentNextInTheirOrder) {
  BatchQueue queue(50, 10);
  BatchQueue::StreamId broken = queue.OpenStream();
  Take(queue, broken, 3);  // 0, 1, 2
  queue.MarkAnswered(broken);
  EXPECT_EQ(queue.CloseStream(broken), 2);
  EXPECT_EQ(queue.open_streams(), 0);
  BatchQueue::StreamId next = queue.OpenStream();
  EXPECT_EQ(Take(queue, next, 10), (std::vector<int>{1, 2, 3, 4}));
}

TEST(BatchQueue, TwoStreamsShareTheBatchesAndTheRunFinishesWhenAllAreAnswered) {
  BatchQueue queue(4, 1);
  BatchQueue::StreamId a = queue.OpenStream(), b = queue.OpenStream();
  EXPECT_EQ(queue.open_streams(), 2);
  EXPECT_EQ(queue.NextToSend(a, 1), 0);
  EXPECT_EQ(queue.NextToSend(b, 1), 1);
  queue.MarkAnswered(a);
  queue.MarkAnswered(b);
  EXPECT_EQ(queue.NextToSend(b, 1), 2);
  EXPECT_EQ(queue.NextToSend(a, 1), 3);
  queue.MarkAnswered(a);
  EXPECT_EQ(queue.MarkAnswered(b), 4);
  EXPECT_TRUE(queue.finished());
  EXPECT_FALSE(queue.WaitForWork());
  EXPECT_EQ(queue.NextToSend(a, 1), std::nullopt);
}

TEST(BatchQueue, AFullWindowWaitsForAnAnswer) {
  BatchQueue queue(30, 10);
  BatchQueue::StreamId stream = queue.OpenStream();
  ASSERT_EQ(queue.NextToSend(stream, 2), 0);
  ASSERT_EQ(queue.NextToSend(stream, 2), 1);
  std::thread answer([&] {
    absl::SleepFor(absl::Milliseconds(50));
    queue.MarkAnswered(stream);
  });
  const absl::Time start = absl::Now();
  EXPECT_EQ(queue.NextToSend(stream, 2), 2);  // only after the answer
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(40));
  answer.join();
}

TEST(BatchQueue, StopSendingWakesAWriterWaitingOnItsWindow) {
  BatchQueue queue(30, 10);
  BatchQueue::StreamId stream = queue.OpenStream();
  ASSERT_EQ(queue.NextToSend(stream, 1), 0);
  std::thread reader_done([&] {
    absl::SleepFor(absl::Milliseconds(20));
    queue.StopSending(stream);
  });
  EXPECT_EQ(queue.NextToSend(stream, 1), std::nullopt);
  reader_done.join();
  EXPECT_EQ(queue.CloseStream(stream), 1);
}

TEST(BatchQueue, TheFirstFailureEndsTheRunAndWakesEveryone) {
  BatchQueue queue(30, 10);
  BatchQueue::StreamId stream = queue.OpenStream();
  ASSERT_EQ(queue.NextToSend(stream, 1), 0);
  std::thread fail([&] {
    absl::SleepFor(absl::Milliseconds(20));
    queue.Fail(absl::UnavailableError("first"));
    queue.Fail(absl::InternalError("second"));
  });
  EXPECT_EQ(queue.NextToSend(stream, 1), std::nullopt);  // was waiting on the window
  fail.join();
  EXPECT_TRUE(queue.finished());
  EXPECT_FALSE(queue.WaitForWork());
  EXPECT_EQ(queue.failure(), absl::UnavailableError("first"));
  const absl::Time start = absl::Now();
  queue.WaitUnlessFinished(absl::Seconds(10));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

}  // namespace
}  // namespace resnet8
