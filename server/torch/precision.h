// Which arithmetic a converted module runs in, chosen per model from measured
// numbers, and the tolerance its checks derive from the same numbers.
//
//   ASSIGN_OR_RETURN(PrecisionChoice precision,
//                    ChoosePrecision(keras_model, {.softmax_logits = true}, PrecisionPolicy::kAuto, path));
//   options.float64 = precision.precision == Precision::kFloat64;
//   RunSelfCheck(keras_model, classifier, CheckTolerance(precision));
//
// Why: the converted module computes in float32 like Keras, but not in the
// same order, and on models with large activations (raw 0..255 pixels through
// deep stacks, a max-pooled head, wide Dense layers) float32 rounding alone
// moves the outputs by more than the 1e-5 faithfulness bar. The bar is held
// against the exact computation of the Keras model (float64), the one result
// every float32 run of Keras approximates; two correct float32 backends can
// disagree by more than the bar on such models. The noise is measured, not
// guessed: the same module is built in float32 and in float64 and both run on
// the check images; their difference is float32's rounding for this model.
// docs/conversion.md gives the numbers behind the budget.
#ifndef RESNET8_SERVER_TORCH_PRECISION_H_
#define RESNET8_SERVER_TORCH_PRECISION_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/keras/model.h"
#include "server/keras/self_check.h"
#include "server/torch/torchscript_builder.h"

namespace resnet8 {

enum class Precision { kFloat32, kFloat64 };
// --precision: auto chooses by the measured noise; the others force one.
enum class PrecisionPolicy { kAuto, kFloat32, kFloat64 };

// The faithfulness bar: every output within this of Keras, absolute for
// probabilities and relative to max(1, |value|) for other outputs (logits).
inline constexpr double kFaithfulnessBar = 1e-5;
// Auto serves float32 when float32 can move no probability by more than half
// the bar; the other half is Keras's own float32 rounding (up to 4e-6 on the
// models measured in docs/conversion.md).
inline constexpr double kFloat32NoiseBudget = kFaithfulnessBar / 2;

struct PrecisionChoice {
  Precision precision = Precision::kFloat32;
  // max |float32 logits - exact logits| over the check images, the output
  // softmax left out.
  // What float32 arithmetic does to this model whatever the images: a
  // probability near 1/2 moves by a quarter of a logit difference, so it can
  // move a probability by about logit_noise / 4 on some image.
  double logit_noise = 0;
  // max |output - exact output| / max(1, max |output|) of the chosen path on
  // the check images themselves (the float64 module's unrounded outputs):
  // the checks' yardstick.
  double rounding_noise = 0;
  std::string detail;  // one line, e.g. "float32 (float32 logit noise 1.3e-05: ...)"
};

// A float32 way of running the module: its outputs for `images` (float pixel
// values, NCHW), row-major. Rounding depends on how a module is run (memory
// format, pass size, threads), so the noise is measured on the path that
// will run it.
using Float32Path = std::function<absl::StatusOr<std::vector<float>>(const torch::Tensor& images)>;

// Runs `images` of SyntheticImages() of the model's input shape (the checks'
// images) through modules built from `model`, chooses by `policy`, and
// measures the chosen path's rounding: `float32_path` if it is float32 and
// given, else the float32 module's forward() on all the images in one call,
// as the converter's check runs it; for float64, the exact outputs rounded to
// float32, which is what the float64 module returns. The float64 module runs
// once, for the logits; the exact outputs are their softmax, if any.
// Errors: BuildTorchModule's, the path's, and INTERNAL if a module fails.
absl::StatusOr<PrecisionChoice> ChoosePrecision(const KerasModel& model, TorchModuleOptions options,
                                                PrecisionPolicy policy, const std::string& source,
                                                const Float32Path& float32_path = {},
                                                int64_t images = kSelfCheckImages);

// How far a correct module may be from the double-precision reference, in
// the same units as rounding_noise: twice the chosen path's measured rounding
// noise, plus the float32 rounding of the module's outputs (it returns float32
// either way). A conversion error moves both precisions of
// the module alike, so it does not grow this; it fails the check by orders
// of magnitude (tests/precision_test.cc measures the margins). Zero when the
// rounding was not finite (an overflow), so that such a path never passes.
double CheckTolerance(const PrecisionChoice& choice);

// "auto", "float32" or "float64"; INVALID_ARGUMENT naming the flag otherwise.
absl::StatusOr<PrecisionPolicy> ParsePrecisionPolicy(absl::string_view text);
const char* PrecisionName(Precision precision);

}  // namespace resnet8

#endif  // RESNET8_SERVER_TORCH_PRECISION_H_
