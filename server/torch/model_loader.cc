#include "server/torch/model_loader.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "server/keras/fold_batch_norm.h"
#include "server/torch/torchscript_builder.h"

namespace resnet8 {

absl::StatusOr<LoadedModel> LoadKerasFile(const std::string& path, const InputTransform& transform) {
  const auto start = std::chrono::steady_clock::now();
  LoadedModel result;
  result.path = path;
  ASSIGN_OR_RETURN(result.keras, LoadKerasModel(path));
  if (absl::Status status = SetInputTransform(result.keras, transform.scale, transform.offset); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", status.message()));
  }
  ASSIGN_OR_RETURN(result.sha256, Sha256OfFile(path));
  result.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

absl::StatusOr<torch::jit::Module> BuildConvertedModule(const LoadedModel& model) {
  return BuildTorchModule(model.keras, {}, model.path);
}

absl::StatusOr<std::unique_ptr<TorchClassifier>> MakeServedClassifier(const LoadedModel& model, bool optimized,
                                                                      const TorchClassifierOptions& options) {
  const Shape& output = model.keras.OutputShape();
  if (output.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(model.path, ": the model's output has shape [",
                                                   absl::StrJoin(output, ", "),
                                                   "], not a vector of class scores, so it cannot be served"));
  }
  const TorchModuleOptions probabilities{.softmax_logits = true};
  if (!optimized) {
    TorchClassifierOptions plain = TorchClassifierOptions::Straightforward();
    plain.on_timing = options.on_timing;  // observing, not a speed choice
    ASSIGN_OR_RETURN(torch::jit::Module module, BuildTorchModule(model.keras, probabilities, model.path));
    return TorchClassifier::Create(module, model.keras.InputShape(), output[0], plain);
  }
  ASSIGN_OR_RETURN(torch::jit::Module module, BuildTorchModule(FoldBatchNorm(model.keras), probabilities, model.path));
  return TorchClassifier::Create(module, model.keras.InputShape(), output[0], options);
}

}  // namespace resnet8
