// Executes a KerasModel directly, layer by layer, in Keras's own layouts
// (channels-last images, HWIO kernels, unfused BatchNorm) with plain loops and
// double-precision accumulation. It shares no code with the LibTorch path, so
// agreement between the two is evidence that the conversion (kernel layouts,
// TF 'same' padding, BatchNorm epsilon, wiring) is right.
//
// It is slow (tens of milliseconds per image) and meant for checking: the
// server's startup self-check and the tests.
//
//   ASSIGN_OR_RETURN(ReferenceOutput out, RunKerasReference(model, pixels_hwc, 2));
//   out.probabilities[0 * out.classes + 3];  // image 0, class 3
#ifndef RESNET8_SERVER_KERAS_REFERENCE_EXECUTOR_H_
#define RESNET8_SERVER_KERAS_REFERENCE_EXECUTOR_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/keras/model.h"

namespace resnet8 {

struct ReferenceOutput {
  int64_t classes = 0;
  // The output layer's values before its activation (softmax), [images x classes].
  std::vector<double> logits;
  // The model's output, [images x classes].
  std::vector<double> probabilities;
};

// Runs `images` images through `model`. `pixels` holds them as float values in
// the model's input layout (height x width x channels, channels-last), exactly
// as fed to Keras (raw 0..255 for the MLPerf Tiny model). Returns
// INVALID_ARGUMENT when the pixel count does not match the input shape or the
// output is not a flat vector. Thread-safe.
absl::StatusOr<ReferenceOutput> RunKerasReference(const KerasModel& model, absl::Span<const float> pixels,
                                                  int64_t images);

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_REFERENCE_EXECUTOR_H_
