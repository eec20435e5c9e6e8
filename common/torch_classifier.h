// The real ImageClassifier: a converted ResNet8 LibTorch module.
//
// Pixels are decoded straight from the uint8 batch into a float NCHW tensor
// (CIFAR's planar layout needs no reordering) and run under
// torch::InferenceMode, so no autograd state is kept.
//
//   ASSIGN_OR_RETURN(auto classifier, TorchClassifier::Create(module));
//   RETURN_IF_ERROR(classifier->Classify(batch, absl::MakeSpan(probabilities)));
#ifndef RESNET8_COMMON_TORCH_CLASSIFIER_H_
#define RESNET8_COMMON_TORCH_CLASSIFIER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/image_classifier.h"
#include "common/resnet8.h"

namespace resnet8 {

class TorchClassifier final : public ImageClassifier {
 public:
  // Takes a module in eval mode. Returns INVALID_ARGUMENT if its input is not
  // 32x32x3 (the wire format carries CIFAR-sized images only).
  static absl::StatusOr<std::unique_ptr<TorchClassifier>> Create(ResNet8 module);

  int num_classes() const override { return num_classes_; }
  // Thread-safe: forward() of an eval-mode module only reads its weights.
  absl::Status Classify(const ImageBatchView& batch, absl::Span<float> probabilities) const override;

 private:
  explicit TorchClassifier(ResNet8 module);

  mutable ResNet8 module_;  // forward() is not const in LibTorch, but does not mutate
  int num_classes_;
};

}  // namespace resnet8

#endif  // RESNET8_COMMON_TORCH_CLASSIFIER_H_
