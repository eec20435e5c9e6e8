#include "common/classification_metrics.h"

#include "absl/strings/str_cat.h"

namespace resnet8 {

int Argmax(absl::Span<const float> values) {
  int best = 0;
  for (int i = 1; i < static_cast<int>(values.size()); ++i) {
    if (values[i] > values[best]) best = i;
  }
  return best;
}

ClassificationMetrics::ClassificationMetrics(int num_classes)
    : num_classes_(num_classes), confusion_(static_cast<size_t>(num_classes) * num_classes, 0) {}

absl::Status ClassificationMetrics::Add(int label, int predicted) {
  if (label < 0 || label >= num_classes_ || predicted < 0 || predicted >= num_classes_) {
    return absl::InvalidArgumentError(
        absl::StrCat("class out of range 0..", num_classes_ - 1, ": label ", label, ", predicted ", predicted));
  }
  ++confusion_[label * num_classes_ + predicted];
  ++images_;
  if (label == predicted) ++correct_;
  return absl::OkStatus();
}

absl::Status ClassificationMetrics::Merge(const ClassificationMetrics& other) {
  if (other.num_classes_ != num_classes_) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot merge metrics over ", other.num_classes_, " classes into metrics over ", num_classes_));
  }
  for (size_t i = 0; i < confusion_.size(); ++i) confusion_[i] += other.confusion_[i];
  images_ += other.images_;
  correct_ += other.correct_;
  return absl::OkStatus();
}

double ClassificationMetrics::top1() const {
  return images_ == 0 ? 0.0 : static_cast<double>(correct_) / static_cast<double>(images_);
}

int64_t ClassificationMetrics::class_images(int label) const {
  int64_t n = 0;
  for (int p = 0; p < num_classes_; ++p) n += confusion_[label * num_classes_ + p];
  return n;
}

int64_t ClassificationMetrics::class_correct(int label) const { return confusion_[label * num_classes_ + label]; }

double ClassificationMetrics::class_accuracy(int label) const {
  const int64_t n = class_images(label);
  return n == 0 ? 0.0 : static_cast<double>(class_correct(label)) / static_cast<double>(n);
}

int64_t ClassificationMetrics::confusion(int label, int predicted) const {
  return confusion_[label * num_classes_ + predicted];
}

}  // namespace resnet8
