#include "server/keras/self_check.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "server/keras/reference_executor.h"

namespace resnet8 {

std::vector<float> SyntheticImages(const Shape& shape, int64_t count) {
  int64_t per_image = 1;
  for (int64_t d : shape) per_image *= d;
  std::vector<float> values(count * per_image);
  std::mt19937 random(20241129);
  const bool image = shape.size() == 3;
  const int64_t height = image ? shape[0] : 1, width = image ? shape[1] : per_image, channels = image ? shape[2] : 1;
  for (int64_t i = 0; i < count; ++i) {
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t y = 0; y < height; ++y) {
        for (int64_t x = 0; x < width; ++x) {
          int value;
          switch (image ? i % 3 : 2) {
            case 0:
              value = static_cast<int>((x * 7 + y * (3 + c) + 40 * c + 23 * i) % 256);
              break;
            case 1:
              value = ((x / (2 + c) + y / 3 + i) % 2) ? 200 - 30 * c : 40 + 20 * c;
              break;
            default:
              value = static_cast<int>(random() % 256);
              break;
          }
          values[i * per_image + (y * width + x) * channels + c] = static_cast<float>(value);
        }
      }
    }
  }
  return values;
}

std::vector<uint8_t> SelfCheckImages(int64_t count) {
  const std::vector<float> hwc = SyntheticImages({kImageHeight, kImageWidth, kImageChannels}, count);
  std::vector<uint8_t> planar(hwc.size());
  for (int64_t i = 0; i < count; ++i) {
    for (int64_t c = 0; c < kImageChannels; ++c) {
      for (int64_t p = 0; p < kImageHeight * kImageWidth; ++p) {
        planar[i * kImageBytes + c * kImageHeight * kImageWidth + p] =
            static_cast<uint8_t>(hwc[i * kImageBytes + p * kImageChannels + c]);
      }
    }
  }
  return planar;
}

absl::StatusOr<CheckResult> RunSelfCheck(const KerasModel& model, const ImageClassifier& classifier, double tolerance) {
  const Shape& input_shape = model.layers[model.Find(model.input_layer)].output_shape;
  if (input_shape != Shape{kImageHeight, kImageWidth, kImageChannels}) {
    return absl::InvalidArgumentError("self-check: the model input is not 32x32x3");
  }
  // The reference takes channels-last floats, as Keras does.
  ASSIGN_OR_RETURN(ReferenceOutput reference,
                   RunKerasReference(model, SyntheticImages(input_shape, kSelfCheckImages), kSelfCheckImages));
  if (reference.classes != classifier.num_classes()) {
    return absl::InvalidArgumentError(absl::StrCat("self-check: the reference has ", reference.classes,
                                                   " classes, the classifier ", classifier.num_classes()));
  }
  const std::vector<uint8_t> planar = SelfCheckImages(kSelfCheckImages);
  std::vector<float> served(kSelfCheckImages * classifier.num_classes());
  RETURN_IF_ERROR(classifier.Classify({planar, kSelfCheckImages, PixelLayout::kChannelPlanar}, absl::MakeSpan(served)));

  CheckResult result;
  result.images = kSelfCheckImages;
  result.tolerance = tolerance;
  bool all_finite = true;
  for (size_t i = 0; i < served.size(); ++i) {
    const double difference = std::abs(served[i] - reference.probabilities[i]);
    if (std::isnan(difference)) {
      all_finite = false;
      result.max_abs_difference = difference;
      break;
    }
    result.max_abs_difference = std::max(result.max_abs_difference, difference);
  }
  result.passed = all_finite && result.max_abs_difference <= tolerance;
  result.detail =
      absl::StrFormat("%s: %d synthetic images, max |served - Keras reference| = %.3g (limit %.3g)",
                      result.passed ? "passed" : "FAILED", kSelfCheckImages, result.max_abs_difference, tolerance);
  return result;
}

}  // namespace resnet8
