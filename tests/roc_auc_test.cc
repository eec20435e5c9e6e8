// The one-vs-rest AUC against hand-worked cases and a brute-force count over
// every positive-negative pair (ties one half). tests/e2e/mlperf_scoring_test.sh
// checks the same numbers against scikit-learn on the real test set.
#include "common/roc_auc.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace resnet8 {
namespace {

// Two classes: class 1 scored by `positive_scores`, class 0 by 1 - that.
std::vector<float> TwoClassScores(const std::vector<float>& positive_scores) {
  std::vector<float> scores;
  for (float s : positive_scores) {
    scores.push_back(1 - s);
    scores.push_back(s);
  }
  return scores;
}

TEST(RocAuc, MatchesTheScikitLearnDocumentationExample) {
  // roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
  const std::vector<int> labels = {0, 0, 1, 1};
  OneVsRestAuc auc = ComputeOneVsRestAuc(labels, TwoClassScores({0.1f, 0.4f, 0.35f, 0.8f}), 2);
  ASSERT_TRUE(auc.per_class[1].has_value());
  EXPECT_DOUBLE_EQ(*auc.per_class[1], 0.75);
  EXPECT_DOUBLE_EQ(*auc.per_class[0], 0.75);
  EXPECT_DOUBLE_EQ(*auc.macro, 0.75);
  EXPECT_EQ(auc.classes_averaged, 2);
}

TEST(RocAuc, CountsATieBetweenAPositiveAndANegativeAsOneHalf) {
  const std::vector<int> labels = {1, 0, 1, 0};
  OneVsRestAuc auc = ComputeOneVsRestAuc(labels, TwoClassScores({0.5f, 0.5f, 0.5f, 0.2f}), 2);
  // Pairs (0.5, 0.5) twice count 1/2 each, (0.5, 0.2) twice count 1: 3 of 4.
  EXPECT_DOUBLE_EQ(*auc.per_class[1], 0.75);
}

TEST(RocAuc, LeavesAClassWithoutPositivesOutOfTheMacroAverage) {
  // Three classes, no image of class 2.
  const std::vector<int> labels = {0, 1, 0, 1};
  const std::vector<float> scores = {0.7f, 0.2f, 0.1f,   // 0
                                     0.3f, 0.6f, 0.1f,   // 1
                                     0.8f, 0.1f, 0.1f,   // 0
                                     0.4f, 0.5f, 0.1f};  // 1
  OneVsRestAuc auc = ComputeOneVsRestAuc(labels, scores, 3);
  EXPECT_FALSE(auc.per_class[2].has_value());
  EXPECT_EQ(auc.classes_averaged, 2);
  EXPECT_DOUBLE_EQ(*auc.macro, 1.0);
}

TEST(RocAuc, HasNoMacroWhenNoClassHasBothPositivesAndNegatives) {
  const std::vector<int> labels = {1, 1};
  OneVsRestAuc auc = ComputeOneVsRestAuc(labels, TwoClassScores({0.2f, 0.9f}), 2);
  EXPECT_FALSE(auc.macro.has_value());
  EXPECT_EQ(auc.classes_averaged, 0);
}

TEST(RocAuc, EqualsThePairwiseCountOnRandomScoresWithManyTies) {
  constexpr int kClasses = 10, kImages = 3000;
  std::mt19937 generator(7);
  std::vector<int> labels(kImages);
  std::vector<float> scores(kImages * kClasses);
  for (int i = 0; i < kImages; ++i) {
    labels[i] = static_cast<int>(generator() % kClasses);
    // 21 distinct values per score, so ties are everywhere, and a lean
    // towards the true class so the AUC is far from 0.5.
    for (int c = 0; c < kClasses; ++c) {
      scores[i * kClasses + c] = static_cast<float>(generator() % 16 + (c == labels[i] ? 5 : 0)) / 20.0f;
    }
  }
  OneVsRestAuc auc = ComputeOneVsRestAuc(labels, scores, kClasses);
  double sum = 0;
  for (int c = 0; c < kClasses; ++c) {
    double wins = 0;
    int64_t pairs = 0;
    for (int p = 0; p < kImages; ++p) {
      if (labels[p] != c) continue;
      for (int n = 0; n < kImages; ++n) {
        if (labels[n] == c) continue;
        const float sp = scores[p * kClasses + c], sn = scores[n * kClasses + c];
        wins += sp > sn ? 1.0 : sp == sn ? 0.5 : 0.0;
        ++pairs;
      }
    }
    ASSERT_TRUE(auc.per_class[c].has_value());
    EXPECT_NEAR(*auc.per_class[c], wins / pairs, 1e-12) << "class " << c;
    sum += wins / pairs;
  }
  EXPECT_NEAR(*auc.macro, sum / kClasses, 1e-12);
  EXPECT_GT(*auc.macro, 0.7);
}

TEST(RocAuc, RanksNaNScoresLowestWithoutBreakingTheSort) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<int> labels = {1, 0, 1, 0};
  OneVsRestAuc auc = ComputeOneVsRestAuc(labels, TwoClassScores({0.9f, nan, 0.8f, 0.1f}), 2);
  EXPECT_DOUBLE_EQ(*auc.per_class[1], 1.0);
}

TEST(RocCurve, RunsFromTheOriginToOneOneAndDropsPointsOnAStraightLine) {
  const std::vector<int> labels = {1, 1, 1, 0, 0};
  // Class 1 scores descend through three positives then two negatives: the
  // curve is (0,0) -> (0,1) -> (1,1), with the points between on lines.
  std::vector<RocPoint> curve = OneVsRestRocCurve(labels, TwoClassScores({0.9f, 0.8f, 0.7f, 0.2f, 0.1f}), 2, 1);
  ASSERT_EQ(curve.size(), 3u);
  EXPECT_DOUBLE_EQ(curve[0].false_positive_rate, 0);
  EXPECT_DOUBLE_EQ(curve[0].true_positive_rate, 0);
  EXPECT_DOUBLE_EQ(curve[1].false_positive_rate, 0);
  EXPECT_DOUBLE_EQ(curve[1].true_positive_rate, 1);
  EXPECT_DOUBLE_EQ(curve[2].false_positive_rate, 1);
  EXPECT_DOUBLE_EQ(curve[2].true_positive_rate, 1);
  EXPECT_TRUE(OneVsRestRocCurve({1, 1}, TwoClassScores({0.2f, 0.3f}), 2, 1).empty());
}

}  // namespace
}  // namespace resnet8
