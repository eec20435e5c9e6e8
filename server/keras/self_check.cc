#include "server/keras/self_check.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "server/keras/reference_executor.h"

namespace resnet8 {
namespace {

constexpr int64_t kCheckImages = 6;

}  // namespace

std::vector<uint8_t> SelfCheckImages(int64_t count) {
  // A mix of smooth gradients, stripes and noise: varied enough that the
  // model's outputs are not all saturated, so a wrong conversion shows.
  std::vector<uint8_t> pixels(count * kImageBytes);
  std::mt19937 random(20241129);
  for (int64_t i = 0; i < count; ++i) {
    for (int64_t c = 0; c < kImageChannels; ++c) {
      for (int64_t y = 0; y < kImageHeight; ++y) {
        for (int64_t x = 0; x < kImageWidth; ++x) {
          int value;
          switch (i % 3) {
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
          pixels[i * kImageBytes + (c * kImageHeight + y) * kImageWidth + x] = static_cast<uint8_t>(value);
        }
      }
    }
  }
  return pixels;
}

absl::StatusOr<SelfCheckResult> RunSelfCheck(const KerasModel& model, const ImageClassifier& classifier) {
  const std::vector<uint8_t> planar = SelfCheckImages(kCheckImages);
  // The reference takes channels-last floats, as Keras does.
  std::vector<float> hwc(planar.size());
  for (int64_t i = 0; i < kCheckImages; ++i) {
    for (int64_t c = 0; c < kImageChannels; ++c) {
      for (int64_t p = 0; p < kImageHeight * kImageWidth; ++p) {
        hwc[i * kImageBytes + p * kImageChannels + c] = planar[i * kImageBytes + c * kImageHeight * kImageWidth + p];
      }
    }
  }
  const Shape& input_shape = model.layers[model.Find(model.input_layer)].output_shape;
  if (input_shape != Shape{kImageHeight, kImageWidth, kImageChannels}) {
    return absl::InvalidArgumentError("self-check: the model input is not 32x32x3");
  }
  ASSIGN_OR_RETURN(ReferenceOutput reference, RunKerasReference(model, hwc, kCheckImages));
  if (reference.classes != classifier.num_classes()) {
    return absl::InvalidArgumentError(absl::StrCat("self-check: the reference has ", reference.classes,
                                                   " classes, the classifier ", classifier.num_classes()));
  }
  std::vector<float> served(kCheckImages * classifier.num_classes());
  RETURN_IF_ERROR(classifier.Classify({planar, kCheckImages, PixelLayout::kChannelPlanar}, absl::MakeSpan(served)));

  SelfCheckResult result;
  result.images = kCheckImages;
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
  result.passed = all_finite && result.max_abs_difference <= kSelfCheckTolerance;
  result.detail = absl::StrFormat("%s: %d synthetic images, max |served - Keras reference| = %.3g (limit %.0e)",
                                  result.passed ? "passed" : "FAILED", kCheckImages, result.max_abs_difference,
                                  kSelfCheckTolerance);
  return result;
}

}  // namespace resnet8
