#include "server/torch/module_check.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "server/keras/reference_executor.h"
#include "server/keras/self_check.h"

namespace resnet8 {

absl::StatusOr<CheckResult> CheckModuleAgainstReference(const KerasModel& model, torch::jit::Module module,
                                                        double tolerance, int64_t images) {
  const Shape& shape = model.InputShape();
  std::vector<int64_t> sizes = {images};
  sizes.insert(sizes.end(), shape.begin(), shape.end());
  std::vector<float> pixels = SyntheticImages(shape, images);  // channels-last, as Keras takes them
  ASSIGN_OR_RETURN(ReferenceOutput reference, RunKerasReference(model, pixels, images));

  torch::Tensor output;
  try {
    torch::InferenceMode inference;
    torch::Tensor input = torch::from_blob(pixels.data(), sizes, torch::kFloat32);
    if (shape.size() == 3) input = input.permute({0, 3, 1, 2});  // the module takes NCHW images
    output = module.forward({input.contiguous()}).toTensor().to(torch::kFloat64).contiguous();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("the converted module failed on synthetic input: ", e.what()));
  }
  if (output.numel() != static_cast<int64_t>(reference.outputs.size())) {
    return absl::InternalError(absl::StrCat("the converted module gave ", output.numel(), " values, the reference ",
                                            reference.outputs.size()));
  }
  CheckResult check;
  check.images = images;
  double largest = 0;
  bool finite = true;
  const double* served = output.data_ptr<double>();
  constexpr double kFloatMax = std::numeric_limits<float>::max();
  for (size_t i = 0; i < reference.outputs.size(); ++i) {
    const double expected = reference.outputs[i];
    // Where the true value is beyond float's range, float32 (Keras's and
    // PyTorch's arithmetic alike) can only give infinity.
    if (std::abs(expected) > kFloatMax && std::isinf(served[i]) && (served[i] > 0) == (expected > 0)) continue;
    const double difference = std::abs(served[i] - expected);
    finite = finite && std::isfinite(difference);
    check.max_abs_difference = std::max(check.max_abs_difference, difference);
    largest = std::max(largest, std::abs(expected));
  }
  check.tolerance = tolerance * std::max(1.0, largest);
  check.passed = finite && check.max_abs_difference <= check.tolerance;
  check.detail = absl::StrFormat("%s: %d synthetic inputs, max |module - Keras reference| = %.3g (limit %.3g)",
                                 check.passed ? "passed" : "FAILED", images, check.max_abs_difference, check.tolerance);
  return check;
}

}  // namespace resnet8
