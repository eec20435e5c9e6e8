// The startup self-check: the served classifier must reproduce the Keras
// reference executor (reference_executor.h) on a fixed set of synthetic images
// before the server reports SERVING. It catches a wrong kernel layout, padding,
// epsilon or wiring, and a broken pixel decoding path, without needing any
// dataset on the server.
//
//   ASSIGN_OR_RETURN(SelfCheckResult check, RunSelfCheck(keras_model, classifier));
//   if (!check.passed) ...  // check.detail says by how much it missed
#ifndef RESNET8_SERVER_KERAS_SELF_CHECK_H_
#define RESNET8_SERVER_KERAS_SELF_CHECK_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/image_classifier.h"
#include "server/keras/model.h"

namespace resnet8 {

// Probabilities must agree to this absolute difference (the project's
// faithfulness bar: the golden Keras outputs are matched to about 1e-5).
inline constexpr double kSelfCheckTolerance = 1e-5;

struct SelfCheckResult {
  bool passed = false;
  int64_t images = 0;
  double max_abs_difference = 0;  // over all probabilities of all images
  std::string detail;             // one line for logs and GetModelInfo
};

// Runs the check. Returns an error only if it cannot run (classifier failure,
// model input not 32x32x3); a mismatch is a result with passed == false.
absl::StatusOr<SelfCheckResult> RunSelfCheck(const KerasModel& model, const ImageClassifier& classifier);

// The synthetic images used by the check, channel-planar uint8 (exposed for tests).
std::vector<uint8_t> SelfCheckImages(int64_t count);

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_SELF_CHECK_H_
