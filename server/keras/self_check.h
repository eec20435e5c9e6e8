// The startup self-check: the served classifier must reproduce the Keras
// reference executor (reference_executor.h) on a fixed set of synthetic images
// before the server reports SERVING. It catches a wrong kernel layout, padding,
// epsilon or wiring, and a broken pixel decoding path, without needing any
// dataset on the server.
//
//   ASSIGN_OR_RETURN(CheckResult check, RunSelfCheck(keras_model, classifier));
//   if (!check.passed) ...  // check.detail says by how much it missed
#ifndef RESNET8_SERVER_KERAS_SELF_CHECK_H_
#define RESNET8_SERVER_KERAS_SELF_CHECK_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/check_result.h"
#include "common/image_classifier.h"
#include "server/keras/model.h"

namespace resnet8 {

// How many synthetic images the check runs.
inline constexpr int64_t kSelfCheckImages = 6;

// Runs the check: every probability within `tolerance` (absolute) of the
// reference's. The caller derives the tolerance from the served module's own
// measured rounding noise (torch/precision.h). Returns an error only if it
// cannot run (classifier failure, model input not 32x32x3); a mismatch is a
// result with passed == false.
absl::StatusOr<CheckResult> RunSelfCheck(const KerasModel& model, const ImageClassifier& classifier, double tolerance);

// Synthetic inputs of any image shape {H, W, C}, channels-last, whole pixel
// values 0..255: smooth gradients, stripes and noise, varied enough that a
// model's outputs are not all saturated, so that a wrong conversion shows.
// Other shapes get noise only. The same for a given shape and count.
std::vector<float> SyntheticImages(const Shape& shape, int64_t count);

// SyntheticImages() of 32x32x3 as channel-planar uint8, as the check sends them.
std::vector<uint8_t> SelfCheckImages(int64_t count);

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_SELF_CHECK_H_
