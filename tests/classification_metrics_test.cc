#include "common/classification_metrics.h"

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

TEST(Argmax, PicksTheFirstOfEqualMaxima) {
  const float values[] = {0.1f, 0.4f, 0.4f, 0.1f};
  EXPECT_EQ(Argmax(values), 1);
  const float last[] = {0.1f, 0.2f, 0.7f};
  EXPECT_EQ(Argmax(last), 2);
}

TEST(ClassificationMetrics, CountsTopOnePerClassAndConfusion) {
  ClassificationMetrics metrics(3);
  ASSERT_OK(metrics.Add(0, 0));
  ASSERT_OK(metrics.Add(0, 2));
  ASSERT_OK(metrics.Add(1, 1));
  ASSERT_OK(metrics.Add(2, 2));
  EXPECT_EQ(metrics.images(), 4);
  EXPECT_EQ(metrics.correct(), 3);
  EXPECT_DOUBLE_EQ(metrics.top1(), 0.75);
  EXPECT_EQ(metrics.class_images(0), 2);
  EXPECT_DOUBLE_EQ(metrics.class_accuracy(0), 0.5);
  EXPECT_EQ(metrics.confusion(0, 2), 1);
  EXPECT_EQ(metrics.confusion(2, 0), 0);
}

TEST(ClassificationMetrics, RejectsClassOutOfRange) {
  ClassificationMetrics metrics(3);
  EXPECT_STATUS(metrics.Add(3, 0), absl::StatusCode::kInvalidArgument, "label 3");
  EXPECT_STATUS(metrics.Add(0, -1), absl::StatusCode::kInvalidArgument, "predicted -1");
  EXPECT_EQ(metrics.images(), 0);
}

TEST(ClassificationMetrics, MergedPartsEqualTheWhole) {
  ClassificationMetrics whole(3), first(3), second(3);
  const int pairs[][2] = {{0, 0}, {1, 2}, {2, 2}, {1, 1}, {0, 1}};
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(whole.Add(pairs[i][0], pairs[i][1]));
    ASSERT_OK((i < 2 ? first : second).Add(pairs[i][0], pairs[i][1]));
  }
  EXPECT_NE(first, whole);
  ASSERT_OK(first.Merge(second));
  EXPECT_EQ(first, whole);
  EXPECT_EQ(first.correct(), 3);
}

TEST(ClassificationMetrics, RejectsMergeOfDifferentClassCounts) {
  ClassificationMetrics a(3), b(4);
  EXPECT_STATUS(a.Merge(b), absl::StatusCode::kInvalidArgument, "4 classes");
}

TEST(ClassificationMetrics, EmptyHasZeroAccuracy) {
  ClassificationMetrics metrics(10);
  EXPECT_EQ(metrics.top1(), 0.0);
  EXPECT_EQ(metrics.class_accuracy(5), 0.0);
}

}  // namespace
}  // namespace resnet8
