#include "server/batch_scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

// `count` images whose first pixel is its number, from `first` on; the fake
// runner answers each image with that number, so outputs show where every
// image went.
struct Images {
  Images(int64_t count, int first) : bytes(count * kImageBytes) {
    for (int64_t i = 0; i < count; ++i) bytes[i * kImageBytes] = static_cast<uint8_t>(first + i);
    view = {bytes, count, PixelLayout::kChannelPlanar};
  }
  std::vector<uint8_t> bytes;
  ImageBatchView view;
};

absl::Status AnswerFirstPixels(const SchedulerPass& pass) {
  for (const SchedulerSlice& slice : pass.slices) {
    for (int64_t i = 0; i < slice.count; ++i) {
      slice.outputs[i] = slice.batch->pixels[(slice.begin + i) * kImageBytes];
    }
  }
  return absl::OkStatus();
}

TEST(BatchScheduler, CutsALargeBatchIntoPassesAndAnswersEveryImageInPlace) {
  std::atomic<int> passes{0};
  std::atomic<int64_t> largest{0};
  BatchScheduler scheduler({.max_pass_images = 16, .runners = 3}, [&](const SchedulerPass& pass) {
    ++passes;
    int64_t images = 0;
    for (const SchedulerSlice& slice : pass.slices) images += slice.count;
    int64_t seen = largest.load();
    while (images > seen && !largest.compare_exchange_weak(seen, images)) {
    }
    return AnswerFirstPixels(pass);
  });
  Images batch(100, 0);
  std::vector<float> outputs(100);
  ASSERT_OK(scheduler.Run(batch.view, absl::MakeSpan(outputs)));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(outputs[i], i);
  EXPECT_EQ(passes.load(), 7);  // 6 x 16 + 4
  EXPECT_EQ(largest.load(), 16);
}

TEST(BatchScheduler, MergesSmallBatchesQueuedTogetherIntoOnePass) {
  absl::Notification release;
  std::atomic<int> passes{0}, merged{0};
  BatchScheduler scheduler({.max_pass_images = 16, .runners = 1}, [&](const SchedulerPass& pass) {
    if (passes++ == 0) release.WaitForNotification();  // hold the runner while the others queue
    if (pass.slices.size() > 1) ++merged;
    return AnswerFirstPixels(pass);
  });
  Images blocker(1, 200);
  std::vector<float> blocker_out(1);
  std::thread first([&] { EXPECT_OK(scheduler.Run(blocker.view, absl::MakeSpan(blocker_out))); });
  while (passes.load() == 0) std::this_thread::yield();
  std::vector<Images> small;
  for (int i = 0; i < 4; ++i) small.emplace_back(3, 10 * i);
  std::vector<std::vector<float>> outputs(4, std::vector<float>(3));
  std::vector<std::thread> callers;
  for (int i = 0; i < 4; ++i) {
    callers.emplace_back([&, i] { EXPECT_OK(scheduler.Run(small[i].view, absl::MakeSpan(outputs[i]))); });
  }
  absl::SleepFor(absl::Milliseconds(100));  // all four queued behind the held pass
  release.Notify();
  first.join();
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(passes.load(), 2);  // the held one, then the four together
  EXPECT_EQ(merged.load(), 1);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(outputs[i], (std::vector<float>{10.f * i, 10.f * i + 1, 10.f * i + 2}));
  EXPECT_EQ(blocker_out[0], 200);
}

TEST(BatchScheduler, AFailedPassFailsOnlyItsBatches) {
  BatchScheduler scheduler({.max_pass_images = 4, .runners = 2}, [](const SchedulerPass& pass) {
    for (const SchedulerSlice& slice : pass.slices) {
      for (int64_t i = slice.begin; i < slice.begin + slice.count; ++i) {
        if (slice.batch->pixels[i * kImageBytes] == 13) return absl::InternalError("image 13 failed");
      }
    }
    return AnswerFirstPixels(pass);
  });
  Images bad(8, 10), good(8, 20);
  std::vector<float> bad_out(8), good_out(8);
  EXPECT_STATUS(scheduler.Run(bad.view, absl::MakeSpan(bad_out)), absl::StatusCode::kInternal, "image 13");
  ASSERT_OK(scheduler.Run(good.view, absl::MakeSpan(good_out)));
  EXPECT_EQ(good_out[7], 27);
}

TEST(BatchScheduler, ALonePassIsMarkedAloneAndConcurrentOnesAreNot) {
  std::atomic<int> alone{0}, shared{0};
  absl::Notification both_started;
  std::atomic<int> running{0};
  BatchScheduler scheduler({.max_pass_images = 2, .runners = 2}, [&](const SchedulerPass& pass) {
    (pass.alone ? alone : shared)++;
    if (++running == 2) both_started.Notify();
    if (!pass.alone) both_started.WaitForNotificationWithTimeout(absl::Seconds(5));
    --running;
    return AnswerFirstPixels(pass);
  });
  Images one(1, 0);
  std::vector<float> out(1);
  ASSERT_OK(scheduler.Run(one.view, absl::MakeSpan(out)));
  EXPECT_EQ(alone.load(), 1);
  Images four(4, 0);  // two passes of 2, side by side
  std::vector<float> four_out(4);
  ASSERT_OK(scheduler.Run(four.view, absl::MakeSpan(four_out)));
  EXPECT_EQ(shared.load(), 2);
}

TEST(BatchScheduler, BatchingDelayGathersSmallBatchesArrivingApart) {
  std::atomic<int> passes{0};
  BatchScheduler scheduler({.max_pass_images = 4, .runners = 1, .batching_delay = absl::Seconds(5)},
                           [&](const SchedulerPass& pass) {
                             ++passes;
                             return AnswerFirstPixels(pass);
                           });
  std::vector<Images> small;
  for (int i = 0; i < 4; ++i) small.emplace_back(1, i);
  std::vector<std::vector<float>> outputs(4, std::vector<float>(1));
  std::vector<std::thread> callers;
  const absl::Time start = absl::Now();
  for (int i = 0; i < 4; ++i) {
    callers.emplace_back([&, i] { EXPECT_OK(scheduler.Run(small[i].view, absl::MakeSpan(outputs[i]))); });
    absl::SleepFor(absl::Milliseconds(20));
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(passes.load(), 1);                       // one full pass of four
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));  // it ran when full, not at the deadline
  for (int i = 0; i < 4; ++i) EXPECT_EQ(outputs[i][0], i);
}

TEST(BatchScheduler, FinishesQueuedWorkWhenDestroyed) {
  std::vector<float> outputs(64);
  Images batch(64, 0);
  std::thread caller;
  {
    BatchScheduler scheduler({.max_pass_images = 1, .runners = 1}, [](const SchedulerPass& pass) {
      absl::SleepFor(absl::Milliseconds(1));
      return AnswerFirstPixels(pass);
    });
    caller = std::thread([&] { EXPECT_OK(scheduler.Run(batch.view, absl::MakeSpan(outputs))); });
    absl::SleepFor(absl::Milliseconds(10));
  }
  caller.join();
  EXPECT_EQ(outputs[63], 63);
}

TEST(BatchScheduler, RefusesOutputsThatDoNotDivideAmongTheImages) {
  BatchScheduler scheduler({}, AnswerFirstPixels);
  Images batch(3, 0);
  std::vector<float> outputs(4);
  EXPECT_STATUS(scheduler.Run(batch.view, absl::MakeSpan(outputs)), absl::StatusCode::kInvalidArgument,
                "the same number of outputs for each");
}

TEST(TeamPolicy, DividesTheCoresAmongRunnersAndGivesALargeLonePassEveryCore) {
  EXPECT_EQ(ChooseTeams(8, 2, 0).shared, 4);
  EXPECT_EQ(ChooseTeams(8, 2, 0).alone, 8);
  EXPECT_EQ(ChooseTeams(8, 2, 0).alone_from_images, kSplitLonePassFromImages);
  EXPECT_EQ(ChooseTeams(2, 4, 0).shared, 1);  // at least one each
  EXPECT_EQ(ChooseTeams(8, 2, 3).shared, 3);
  EXPECT_EQ(ChooseTeams(8, 2, 3).alone, 3);
  EXPECT_EQ(ChooseTeams(8, 2, -1).shared, 0);  // the library's default
}

}  // namespace
}  // namespace resnet8
