#include "server/torch/model_loader.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/sha256.h"
#include "common/status_macros.h"
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

absl::StatusOr<ConvertedModule> BuildConvertedModule(const LoadedModel& model, PrecisionPolicy policy) {
  ConvertedModule converted;
  ASSIGN_OR_RETURN(converted.precision, ChoosePrecision(model.keras, {}, policy, model.path));
  TorchModuleOptions options;
  options.float64 = converted.precision.precision == Precision::kFloat64;
  ASSIGN_OR_RETURN(converted.module, BuildTorchModule(model.keras, options, model.path));
  return converted;
}

absl::StatusOr<ServedClassifier> MakeServedClassifier(const LoadedModel& model, bool optimized,
                                                      const TorchClassifierOptions& options, PrecisionPolicy policy) {
  const Shape& output = model.keras.OutputShape();
  if (output.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(model.path, ": the model's output has shape [",
                                                   absl::StrJoin(output, ", "),
                                                   "], not a vector of class scores, so it cannot be served"));
  }
  const KerasModel& keras = model.keras;
  TorchClassifierOptions run = options;
  if (!optimized) {
    run = TorchClassifierOptions::Straightforward();
    run.on_timing = options.on_timing;  // observing, not a speed choice
  }
  TorchModuleOptions probabilities{.softmax_logits = true, .fold_batch_norm = optimized};
  ServedClassifier served;
  ASSIGN_OR_RETURN(torch::jit::Module module, BuildTorchModule(keras, probabilities, model.path));
  ASSIGN_OR_RETURN(served.classifier, TorchClassifier::Create(module, keras.InputShape(), output[0], run));
  // The float32 noise of the classifier itself, as it will serve.
  auto classify = [&served](const torch::Tensor& images) -> absl::StatusOr<std::vector<float>> {
    const torch::Tensor planar = images.contiguous();
    ImageBatchView batch{{}, planar.size(0), PixelLayout::kChannelPlanar};
    batch.values = absl::MakeConstSpan(planar.data_ptr<float>(), planar.numel());
    std::vector<float> outputs(planar.size(0) * served.classifier->num_classes());
    RETURN_IF_ERROR(served.classifier->Classify(batch, absl::MakeSpan(outputs)));
    return outputs;
  };
  ASSIGN_OR_RETURN(served.precision, ChoosePrecision(keras, probabilities, policy, model.path, classify));
  if (served.precision.precision == Precision::kFloat64) {
    probabilities.float64 = true;
    ASSIGN_OR_RETURN(module, BuildTorchModule(keras, probabilities, model.path));
    ASSIGN_OR_RETURN(served.classifier, TorchClassifier::Create(module, keras.InputShape(), output[0], run));
  }
  return served;
}

}  // namespace resnet8
