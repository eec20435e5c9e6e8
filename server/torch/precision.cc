#include "server/torch/precision.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "server/keras/self_check.h"

namespace resnet8 {
namespace {

constexpr double kFloat32Roundoff = std::numeric_limits<float>::epsilon() / 2;  // 2^-24

// Builds `model` and runs it on `input`; the outputs in double.
absl::StatusOr<torch::Tensor> RunBuilt(const KerasModel& model, const TorchModuleOptions& options,
                                       const std::string& source, const torch::Tensor& input) {
  ASSIGN_OR_RETURN(torch::jit::Module module, BuildTorchModule(model, options, source));
  try {
    torch::InferenceMode inference;
    return module.forward({input}).toTensor().to(torch::kFloat64).contiguous();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(source, ": the converted module failed on the check images: ", e.what()));
  }
}

// max |low - high| over the outputs both can represent: where `high` is
// beyond float32's range, float32 arithmetic (Keras's and PyTorch's alike)
// can only give infinity, so an infinity of the same sign there is right.
// Infinite when `low` is not finite anywhere else. Also returns (through
// `largest`) the largest such |high|.
double Distance(const torch::Tensor& low, const torch::Tensor& high, double* largest) {
  constexpr double kFloatMax = std::numeric_limits<float>::max();
  const torch::Tensor beyond = high.abs() > kFloatMax;
  const torch::Tensor overflowed_alike = beyond & torch::isinf(low) & (torch::sign(low) == torch::sign(high));
  const torch::Tensor compared = ~overflowed_alike;
  if (largest != nullptr) {
    *largest = (compared & ~beyond).any().item<bool>()
                   ? high.masked_select(compared & ~beyond).abs().max().item<double>()
                   : 0.0;
  }
  if (!compared.any().item<bool>()) return 0;
  const double distance = (low.masked_select(compared) - high.masked_select(compared)).abs().max().item<double>();
  return std::isfinite(distance) ? distance : std::numeric_limits<double>::infinity();
}

// The model with its output's softmax left out: logits. The softmax may sit
// before pass-on layers that end the model (a Dropout, a nested model's end).
KerasModel WithoutOutputSoftmax(KerasModel model) {
  if (model.Outputs() == OutputKind::kProbabilities) {
    model.layers[model.OutputComputingLayer()].activation.kind = ActivationKind::kLinear;
  }
  return model;
}

}  // namespace

absl::StatusOr<PrecisionChoice> ChoosePrecision(const KerasModel& model, TorchModuleOptions options,
                                                PrecisionPolicy policy, const std::string& source,
                                                const Float32Path& float32_path, int64_t images) {
  const Shape& shape = model.InputShape();
  std::vector<float> pixels = SyntheticImages(shape, images);
  std::vector<int64_t> sizes = {images};
  sizes.insert(sizes.end(), shape.begin(), shape.end());
  torch::Tensor input = torch::from_blob(pixels.data(), sizes, torch::kFloat32);
  if (shape.size() == 3) input = input.permute({0, 3, 1, 2});  // the module takes NCHW images
  input = input.contiguous();

  // float32's distance from the exact logits, measured without the output
  // softmax that hides it on images the model is sure of.
  const KerasModel logits_model = WithoutOutputSoftmax(model);
  TorchModuleOptions logits_options = options;
  logits_options.softmax_logits = false;
  ASSIGN_OR_RETURN(torch::Tensor logits32, RunBuilt(logits_model, logits_options, source, input));
  logits_options.float64 = logits_options.float64_output = true;
  ASSIGN_OR_RETURN(torch::Tensor logits_exact, RunBuilt(logits_model, logits_options, source, input));

  PrecisionChoice choice;
  choice.logit_noise = Distance(logits32.reshape({-1}), logits_exact.reshape({-1}), nullptr);
  const double probability_noise = choice.logit_noise / 4;
  switch (policy) {
    case PrecisionPolicy::kAuto:
      choice.precision = probability_noise <= kFloat32NoiseBudget ? Precision::kFloat32 : Precision::kFloat64;
      break;
    case PrecisionPolicy::kFloat32:
      choice.precision = Precision::kFloat32;
      break;
    case PrecisionPolicy::kFloat64:
      choice.precision = Precision::kFloat64;
      break;
  }
  choice.detail =
      absl::StrFormat("%s (float32 logit noise %.2g: a probability moves by up to %.2g, budget %.2g%s)",
                      PrecisionName(choice.precision), choice.logit_noise, probability_noise, kFloat32NoiseBudget,
                      policy == PrecisionPolicy::kAuto ? "" : "; chosen by --precision");

  // The exact outputs, from the exact logits: float64 runs on LibTorch's
  // slow reference kernels, so the float64 module runs once. The softmax,
  // the module's own or the one appended for softmax_logits, is over the last
  // axis of what the module returns (an image output is returned
  // channels-last), and what follows the output's softmax passes it on.
  const bool softmax = model.Outputs() == OutputKind::kProbabilities || options.softmax_logits;
  torch::Tensor exact = softmax ? torch::softmax(logits_exact, -1) : logits_exact;

  // The chosen path's rounding: its outputs against the exact computation.
  // The float64 module returns the exact outputs rounded to float32.
  torch::Tensor served;
  if (choice.precision == Precision::kFloat64) {
    served = exact.to(torch::kFloat32).to(torch::kFloat64);
  } else if (float32_path) {
    ASSIGN_OR_RETURN(std::vector<float> outputs, float32_path(input));
    served = torch::tensor(outputs, torch::kFloat64);
  } else {
    options.float64 = false;
    ASSIGN_OR_RETURN(served, RunBuilt(model, options, source, input));
  }
  served = served.reshape({-1});
  exact = exact.reshape({-1});
  if (served.numel() != exact.numel()) {
    return absl::InternalError(
        absl::StrCat(source, ": the served path gave ", served.numel(), " outputs, the module ", exact.numel()));
  }
  double largest = 0;
  choice.rounding_noise = Distance(served, exact, &largest) / std::max(1.0, largest);
  return choice;
}

double CheckTolerance(const PrecisionChoice& choice) {
  // A path whose rounding overflowed (float32 forced on a model beyond its
  // range) earns no tolerance: nothing it gives can pass.
  if (!std::isfinite(choice.rounding_noise)) return 0;
  return 2 * choice.rounding_noise + kFloat32Roundoff;
}

absl::StatusOr<PrecisionPolicy> ParsePrecisionPolicy(absl::string_view text) {
  if (text == "auto") return PrecisionPolicy::kAuto;
  if (text == "float32") return PrecisionPolicy::kFloat32;
  if (text == "float64") return PrecisionPolicy::kFloat64;
  return absl::InvalidArgumentError(absl::StrCat("--precision='", text, "' is not auto, float32 or float64"));
}

const char* PrecisionName(Precision precision) { return precision == Precision::kFloat32 ? "float32" : "float64"; }

}  // namespace resnet8
