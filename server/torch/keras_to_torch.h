// Maps a KerasModel of the MLPerf Tiny ResNet-v1 family onto a ResNet8 module.
//
// The match follows the graph's wiring from the input layer, never the layer
// names (Keras names them differently from session to session) and never
// assumed widths (upstream trains 16- and 26-filter variants). A valid Keras
// graph that is not this family is refused with a message saying where it
// differs; the converter never runs a model with silently different wiring.
//
// Weights are copied with Keras semantics made explicit: HWIO kernels become
// OIHW, the Dense kernel is transposed, the BatchNorm epsilon comes from the
// file, and TF 'same' padding becomes explicit (possibly asymmetric) padding.
//
//   ASSIGN_OR_RETURN(KerasModel keras, LoadKerasModel(path));
//   ASSIGN_OR_RETURN(ResNet8 model, ConvertToTorch(keras, path));
#ifndef RESNET8_SERVER_TORCH_KERAS_TO_TORCH_H_
#define RESNET8_SERVER_TORCH_KERAS_TO_TORCH_H_

#include <string>

#include "absl/status/statusor.h"
#include "server/keras/model.h"
#include "server/torch/resnet8_module.h"

namespace resnet8 {

// Recognizes the ResNet-v1 family in `model`. Errors (INVALID_ARGUMENT) name
// `source`, the layer where the wiring differs, and what was expected there.
absl::StatusOr<ResNetSpec> MatchResNet(const KerasModel& model, const std::string& source);

// Builds the module for MatchResNet(model) and copies the weights into it, in
// eval mode. Errors as MatchResNet, or INTERNAL if LibTorch fails.
absl::StatusOr<ResNet8> ConvertToTorch(const KerasModel& model, const std::string& source);

}  // namespace resnet8

#endif  // RESNET8_SERVER_TORCH_KERAS_TO_TORCH_H_
