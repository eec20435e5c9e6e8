#include "common/torch_classifier.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace resnet8 {

absl::StatusOr<std::unique_ptr<TorchClassifier>> TorchClassifier::Create(ResNet8 module) {
  const std::array<int64_t, 3>& input = module->spec().input_shape;
  if (input != std::array<int64_t, 3>{kImageHeight, kImageWidth, kImageChannels}) {
    return absl::InvalidArgumentError(absl::StrCat("the model takes ", input[0], "x", input[1], "x", input[2],
                                                   " images; this service serves 32x32x3 (CIFAR-10) models only"));
  }
  return std::unique_ptr<TorchClassifier>(new TorchClassifier(std::move(module)));
}

TorchClassifier::TorchClassifier(ResNet8 module)
    : module_(std::move(module)), num_classes_(static_cast<int>(module_->spec().dense.out_features)) {}

absl::Status TorchClassifier::Classify(const ImageBatchView& batch, absl::Span<float> probabilities) const {
  if (batch.count <= 0 || static_cast<int64_t>(batch.pixels.size()) != batch.count * kImageBytes) {
    return absl::InvalidArgumentError(absl::StrCat("expected ", batch.count, " images of ", kImageBytes,
                                                   " bytes, got ", batch.pixels.size(), " bytes"));
  }
  if (static_cast<int64_t>(probabilities.size()) != batch.count * num_classes_) {
    return absl::InvalidArgumentError(absl::StrCat("output holds ", probabilities.size(), " values, expected ",
                                                   batch.count * num_classes_));
  }
  try {
    torch::InferenceMode inference;
    auto* data = const_cast<uint8_t*>(batch.pixels.data());  // from_blob wants non-const; we only read
    torch::Tensor images;
    if (batch.layout == PixelLayout::kChannelPlanar) {
      images = torch::from_blob(data, {batch.count, kImageChannels, kImageHeight, kImageWidth}, torch::kUInt8)
                   .to(torch::kFloat32);
    } else {
      images = torch::from_blob(data, {batch.count, kImageHeight, kImageWidth, kImageChannels}, torch::kUInt8)
                   .permute({0, 3, 1, 2})
                   .to(torch::kFloat32, /*non_blocking=*/false, /*copy=*/false, torch::MemoryFormat::Contiguous);
    }
    torch::Tensor output = module_->forward(images).contiguous();
    std::memcpy(probabilities.data(), output.data_ptr<float>(), probabilities.size() * sizeof(float));
    return absl::OkStatus();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("LibTorch failed: ", e.what_without_backtrace()));
  }
}

}  // namespace resnet8
