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
#include "server/torch/precision.h"
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

// A module and the precision it computes in (precision.h).
struct ConvertedModule {
  torch::jit::Module module;
  PrecisionChoice precision;
};

// The model exactly as converted: the Keras model's outputs, BatchNorm not
// folded, in the precision `policy` gives. Errors: ChoosePrecision's.
absl::StatusOr<ConvertedModule> BuildConvertedModule(const LoadedModel& model,
                                                     PrecisionPolicy policy = PrecisionPolicy::kAuto);

struct ServedClassifier {
  std::unique_ptr<TorchClassifier> classifier;
  PrecisionChoice precision;  // of the module it runs; the self-check's tolerance follows from it
};

// The classifier the server runs; it gives probabilities (a softmax is added
// to logits models). `optimized`: BatchNorm folded (fold_batch_norm.h) and
// TorchClassifierOptions' defaults (the fast path measured in BENCHMARKS.md).
// Not optimized: the module as converted, run the straightforward way, to keep
// the plain path checkable. Either way in the precision `policy` gives for
// that module. `options` apply to the optimized path only, except on_timing,
// which both paths report to. INVALID_ARGUMENT when the model is not
// servable: input other than 32x32x3, output not a vector.
absl::StatusOr<ServedClassifier> MakeServedClassifier(const LoadedModel& model, bool optimized,
                                                      const TorchClassifierOptions& options = {},
                                                      PrecisionPolicy policy = PrecisionPolicy::kAuto);

}  // namespace resnet8

#endif  // RESNET8_SERVER_TORCH_MODEL_LOADER_H_
