// Classification accuracy: top-1, per-class accuracy and the confusion matrix,
// accumulated image by image and mergeable, so that partial results (per
// batch, per stream, per replica) add up to exactly the whole.
//
//   ClassificationMetrics metrics(10);
//   metrics.Add(/*label=*/3, /*predicted=*/Argmax(probabilities));
//   metrics.top1();                  // 0.8719
//   metrics.confusion(3, 5);         // cats predicted as dogs
//
// Not thread-safe; merge per-thread instances instead.
#ifndef RESNET8_COMMON_CLASSIFICATION_METRICS_H_
#define RESNET8_COMMON_CLASSIFICATION_METRICS_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace resnet8 {

// Index of the largest value; the first one on ties, as numpy.argmax.
// `values` must not be empty.
int Argmax(absl::Span<const float> values);

class ClassificationMetrics {
 public:
  explicit ClassificationMetrics(int num_classes);

  int num_classes() const { return num_classes_; }
  // Records one image. Returns INVALID_ARGUMENT if either class is out of range.
  absl::Status Add(int label, int predicted);
  // Adds `other`'s counts. Returns INVALID_ARGUMENT if the class counts differ.
  absl::Status Merge(const ClassificationMetrics& other);

  int64_t images() const { return images_; }
  int64_t correct() const { return correct_; }
  double top1() const;  // 0 when there are no images
  int64_t class_images(int label) const;
  int64_t class_correct(int label) const;
  double class_accuracy(int label) const;  // 0 when the class has no images
  // Images of class `label` predicted as `predicted`.
  int64_t confusion(int label, int predicted) const;
  // Row-major [label][predicted].
  const std::vector<int64_t>& confusion_matrix() const { return confusion_; }

  bool operator==(const ClassificationMetrics& other) const {
    return num_classes_ == other.num_classes_ && confusion_ == other.confusion_;
  }
  bool operator!=(const ClassificationMetrics& other) const { return !(*this == other); }

 private:
  int num_classes_;
  int64_t images_ = 0;
  int64_t correct_ = 0;
  std::vector<int64_t> confusion_;
};

}  // namespace resnet8

#endif  // RESNET8_COMMON_CLASSIFICATION_METRICS_H_
