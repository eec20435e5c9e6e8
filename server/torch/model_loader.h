// The whole road from a Keras .h5 file to a served model, as both the server
// and the converter CLI take it: read, validate, convert to LibTorch.
//
//   ASSIGN_OR_RETURN(ConvertedModel model, ConvertKerasFile("pretrainedResnet.h5"));
//   model.module->forward(images);
#ifndef RESNET8_SERVER_TORCH_MODEL_LOADER_H_
#define RESNET8_SERVER_TORCH_MODEL_LOADER_H_

#include <string>

#include "absl/status/statusor.h"
#include "server/keras/model.h"
#include "server/torch/resnet8_module.h"
#include "server/torch/torch_classifier.h"

namespace resnet8 {

struct ConvertedModel {
  std::string path;
  std::string sha256;          // of the .h5 file
  KerasModel keras;            // the validated graph and weights, for the self-check
  ResNet8 module{nullptr};     // in eval mode
  double convert_seconds = 0;  // wall time of reading and converting
};

// Errors: those of ReadKerasH5File, BuildKerasModel and ConvertToTorch; every
// message starts with `path`.
absl::StatusOr<ConvertedModel> ConvertKerasFile(const std::string& path);

// The classifier the server runs. `optimized`: BatchNorm folded into the
// convolutions and TorchClassifierOptions' defaults (the fast path measured in
// BENCHMARKS.md). Not optimized: the module exactly as converted, run the
// straightforward way, to keep the plain path checkable. `options` apply to
// the optimized path only, except on_timing, which both paths report to.
absl::StatusOr<std::unique_ptr<TorchClassifier>> MakeServedClassifier(const ConvertedModel& model, bool optimized,
                                                                      const TorchClassifierOptions& options = {});

}  // namespace resnet8

#endif  // RESNET8_SERVER_TORCH_MODEL_LOADER_H_
