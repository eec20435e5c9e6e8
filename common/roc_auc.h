// The area under the ROC curve, one class against the rest, as MLPerf Tiny
// scores image classification: scikit-learn's
// `roc_auc_score(labels, scores, multi_class="ovr", average="macro")`.
//
//   // scores: images x classes, row-major (the model's outputs).
//   OneVsRestAuc auc = ComputeOneVsRestAuc(labels, scores, 10);
//   auc.macro;            // the mean of the per-class AUCs
//   auc.per_class[3];     // cat against every other class
//
// Exactly sklearn's numbers: a class's AUC is the trapezoidal area under its
// ROC curve, which equals the probability that a random positive image scores
// above a random negative one, ties counting one half. It is computed here in
// that second form, from counts, so the only rounding is one division.
//
// Classes: sklearn's macro average runs over the classes present in the labels
// (and refuses data that lacks any of the score columns). Here a class with no
// positive or no negative image has no AUC (`per_class[c]` is empty) and is
// left out of the macro average; with no class left the macro is empty too.
// The scores need not be probabilities: the AUC depends only on their order,
// so a model's logits give the same AUC as its softmax.
//
// Pure functions; thread-compatible.
#ifndef RESNET8_COMMON_ROC_AUC_H_
#define RESNET8_COMMON_ROC_AUC_H_

#include <optional>
#include <vector>

#include "absl/types/span.h"

namespace resnet8 {

struct OneVsRestAuc {
  std::optional<double> macro;                   // mean over the classes that have an AUC
  std::vector<std::optional<double>> per_class;  // one entry per class
  int classes_averaged = 0;                      // how many classes the macro averages

  // per_class[c], or empty when there is none (also for a class beyond per_class).
  std::optional<double> of_class(int c) const {
    return c >= 0 && c < static_cast<int>(per_class.size()) ? per_class[c] : std::nullopt;
  }
};

// `labels` has one class per image (each in 0..num_classes-1); `scores` has
// labels.size() * num_classes values, image-major. Labels out of range count
// as negatives for every class.
OneVsRestAuc ComputeOneVsRestAuc(absl::Span<const int> labels, absl::Span<const float> scores, int num_classes);

// One point of a ROC curve: the rates at one score threshold.
struct RocPoint {
  double false_positive_rate = 0;
  double true_positive_rate = 0;
};

// The ROC curve of class `positive_class` against the rest: (0,0), then one
// point per distinct score from the highest down, ending at (1,1); points on
// a straight line with their neighbours are dropped, as sklearn's
// drop_intermediate does, so the curve keeps its shape and area. Empty when
// the class has no positive or no negative image.
std::vector<RocPoint> OneVsRestRocCurve(absl::Span<const int> labels, absl::Span<const float> scores, int num_classes,
                                        int positive_class);

}  // namespace resnet8

#endif  // RESNET8_COMMON_ROC_AUC_H_
