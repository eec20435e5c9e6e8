#include "common/model_loader.h"

#include <chrono>

#include "common/keras_to_torch.h"
#include "common/sha256.h"
#include "common/status_macros.h"

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

}  // namespace resnet8
