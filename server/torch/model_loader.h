// The road from a Keras .h5 file to LibTorch, as both the server and the
// converter CLI take it: read and validate the file, then build either the
// module as converted (the converter writes it) or the served classifier.
//
//   ASSIGN_OR_RETURN(LoadedModel model, LoadKerasFile("pretrainedResnet.h5", {}));
//   ASSIGN_OR_RETURN(torch::jit::Module module, BuildConvertedModule(model));
//   module.forward({images});  // the Keras model's outputs
#ifndef RESNET8_SERVER_TORCH_MODEL_LOADER_H_
#define RESNET8_SERVER_TORCH_MODEL_LOADER_H_

#include <torch/script.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/keras/model.h"
#include "server/torch/torch_classifier.h"

namespace resnet8 {

struct LoadedModel {
  std::string path;
  std::string sha256;       // of the .h5 file
  KerasModel keras;         // the validated graph, weights and input transform, for the self-check
  double load_seconds = 0;  // wall time of reading and validating
};

// Errors: those of ReadKerasH5File, BuildKerasModel and SetInputTransform;
// every message starts with `path`.
absl::StatusOr<LoadedModel> LoadKerasFile(const std::string& path, const InputTransform& transform);

// The model exactly as converted: the Keras model's outputs, BatchNorm not
// folded. Errors: BuildTorchModule's.
absl::StatusOr<torch::jit::Module> BuildConvertedModule(const LoadedModel& model);

// The classifier the server runs; it gives probabilities (a softmax is added
// to logits models). `optimized`: BatchNorm folded (fold_batch_norm.h) and
// TorchClassifierOptions' defaults (the fast path measured in BENCHMARKS.md).
// Not optimized: the module as converted, run the straightforward way, to keep
// the plain path checkable. `options` apply to the optimized path only, except
// on_timing, which both paths report to. INVALID_ARGUMENT when the model is not
// servable: input other than 32x32x3, output not a vector.
absl::StatusOr<std::unique_ptr<TorchClassifier>> MakeServedClassifier(const LoadedModel& model, bool optimized,
                                                                      const TorchClassifierOptions& options = {});

}  // namespace resnet8

#endif  // RESNET8_SERVER_TORCH_MODEL_LOADER_H_
