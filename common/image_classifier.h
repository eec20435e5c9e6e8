// The one interface between the service and the model, as TF Serving keeps
// TensorFlow behind ClassifierInterface: a batch of 32x32 RGB uint8 images in,
// class probabilities out. The gRPC service and its tests depend only on this
// header; TorchClassifier (torch_classifier.h) is the real implementation,
// and unit tests use fakes to reach every error path.
//
//   std::vector<float> probabilities(batch.count * classifier.num_classes());
//   RETURN_IF_ERROR(classifier.Classify(batch, absl::MakeSpan(probabilities)));
#ifndef RESNET8_COMMON_IMAGE_CLASSIFIER_H_
#define RESNET8_COMMON_IMAGE_CLASSIFIER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/image.h"

namespace resnet8 {

class ImageClassifier {
 public:
  virtual ~ImageClassifier() = default;

  virtual int num_classes() const = 0;

  // Writes batch.count * num_classes() probabilities, image-major, into
  // `probabilities`. Returns INVALID_ARGUMENT if the sizes disagree, INTERNAL if
  // the model fails. Thread-safe: concurrent calls are allowed.
  virtual absl::Status Classify(const ImageBatchView& batch, absl::Span<float> probabilities) const = 0;
};

}  // namespace resnet8

#endif  // RESNET8_COMMON_IMAGE_CLASSIFIER_H_
