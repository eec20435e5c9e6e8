#include "common/roc_auc.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <utility>

namespace resnet8 {
namespace {

// Cumulative counts at one threshold: images scoring at least it.
struct Counts {
  int64_t true_positives = 0;
  int64_t false_positives = 0;
};

// The ROC curve of one class in counts, one point per distinct score from the
// highest down, starting at (0, 0). Tied scores form one step, which is how
// the trapezoid counts a tie as one half.
std::vector<Counts> RocSteps(absl::Span<const int> labels, absl::Span<const float> scores, int num_classes,
                             int positive_class) {
  std::vector<std::pair<float, bool>> scored(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    scored[i] = {scores[i * num_classes + positive_class], labels[i] == positive_class};
  }
  // Highest first; a NaN (never a real model's output) sorts last, so the
  // order stays well-defined whatever a server sends.
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    if (std::isnan(b.first)) return !std::isnan(a.first);
    return !std::isnan(a.first) && a.first > b.first;
  });
  std::vector<Counts> steps = {Counts{}};
  Counts running;
  for (size_t i = 0; i < scored.size(); ++i) {
    if (scored[i].second) {
      ++running.true_positives;
    } else {
      ++running.false_positives;
    }
    if (i + 1 == scored.size() || scored[i + 1].first != scored[i].first) steps.push_back(running);
  }
  return steps;
}

}  // namespace

OneVsRestAuc ComputeOneVsRestAuc(absl::Span<const int> labels, absl::Span<const float> scores, int num_classes) {
  OneVsRestAuc result;
  result.per_class.resize(num_classes);
  double sum = 0;
  for (int c = 0; c < num_classes; ++c) {
    const std::vector<Counts> steps = RocSteps(labels, scores, num_classes, c);
    const Counts& all = steps.back();
    if (all.true_positives == 0 || all.false_positives == 0) continue;
    // Twice the trapezoidal area in count units: an exact integer.
    int64_t twice_area = 0;
    for (size_t i = 1; i < steps.size(); ++i) {
      twice_area += (steps[i].false_positives - steps[i - 1].false_positives) *
                    (steps[i].true_positives + steps[i - 1].true_positives);
    }
    const double auc = static_cast<double>(twice_area) /
                       (2.0 * static_cast<double>(all.true_positives) * static_cast<double>(all.false_positives));
    result.per_class[c] = auc;
    sum += auc;
    ++result.classes_averaged;
  }
  if (result.classes_averaged > 0) result.macro = sum / result.classes_averaged;
  return result;
}

std::vector<RocPoint> OneVsRestRocCurve(absl::Span<const int> labels, absl::Span<const float> scores, int num_classes,
                                        int positive_class) {
  const std::vector<Counts> steps = RocSteps(labels, scores, num_classes, positive_class);
  const Counts& all = steps.back();
  if (all.true_positives == 0 || all.false_positives == 0) return {};
  std::vector<RocPoint> curve;
  for (size_t i = 0; i < steps.size(); ++i) {
    // Keep the ends and every corner: a point whose neighbours lie on one
    // line with it adds nothing to the drawing or the area.
    if (i > 0 && i + 1 < steps.size()) {
      const Counts& a = steps[i - 1];
      const Counts& b = steps[i];
      const Counts& c = steps[i + 1];
      const int64_t cross = (b.false_positives - a.false_positives) * (c.true_positives - a.true_positives) -
                            (b.true_positives - a.true_positives) * (c.false_positives - a.false_positives);
      if (cross == 0) continue;
    }
    curve.push_back({static_cast<double>(steps[i].false_positives) / all.false_positives,
                     static_cast<double>(steps[i].true_positives) / all.true_positives});
  }
  return curve;
}

}  // namespace resnet8
