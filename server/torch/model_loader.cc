#include "server/torch/model_loader.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "server/torch/keras_to_torch.h"

namespace resnet8 {

absl::StatusOr<ConvertedModel> ConvertKerasFile(const std::string& path) {
  const auto start = std::chrono::steady_clock::now();
  ConvertedModel result;
  result.path = path;
  ASSIGN_OR_RETURN(result.keras, LoadKerasModel(path));
  ASSIGN_OR_RETURN(result.module, ConvertToTorch(result.keras, path));
  ASSIGN_OR_RETURN(result.sha256, Sha256OfFile(path));
  result.convert_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

absl::StatusOr<std::unique_ptr<TorchClassifier>> MakeServedClassifier(const ConvertedModel& model, bool optimized,
                                                                      const TorchClassifierOptions& options) {
  if (!optimized) {
    TorchClassifierOptions plain = TorchClassifierOptions::Straightforward();
    plain.on_timing = options.on_timing;  // observing, not a speed choice
    return TorchClassifier::Create(model.module, plain);
  }
  try {
    return TorchClassifier::Create(FoldBatchNorm(model.module), options);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(model.path, ": folding BatchNorm failed: ", e.what_without_backtrace()));
  }
}

}  // namespace resnet8
