// Executes a KerasModel directly, layer by layer, in Keras's own layouts
// (channels-last images, HWIO kernels, unfused BatchNorm) with plain loops and
// double-precision arithmetic. Every layer kind has its own implementation
// here, written from Keras's definitions, sharing no code with the LibTorch
// path: agreement between the two is evidence that the conversion (kernel
// layouts, TF 'same' padding, pooling at borders, BatchNorm epsilon, flatten
// order, wiring) is right.
//
// It is slow (tens of milliseconds per image) and meant for checking: the
// server's startup self-check and the tests.
//
//   ASSIGN_OR_RETURN(ReferenceOutput out, RunKerasReference(model, pixels_hwc, 2));
//   out.outputs[0 * out.classes + 3];  // image 0, output 3
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
  // The model's outputs, [images x classes].
  std::vector<double> outputs;
  // Class probabilities: the outputs of a softmax model, or the softmax of a
  // logits model's outputs (see OutputKind).
  std::vector<double> probabilities;
};

// Runs `images` images through `model`, applying its input_transform first.
// `pixels` holds them in the model's input layout (height x width x channels,
// channels-last), as fed to Keras before that transform. Returns
// INVALID_ARGUMENT when the pixel count does not match the input shape or the
// output is not a flat vector. Thread-safe.
absl::StatusOr<ReferenceOutput> RunKerasReference(const KerasModel& model, absl::Span<const float> pixels,
                                                  int64_t images);

// Softmax over each row of `values` ([rows x width]), in double precision.
std::vector<double> SoftmaxRows(std::vector<double> values, int64_t width);

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_REFERENCE_EXECUTOR_H_
