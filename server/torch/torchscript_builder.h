// Turns a KerasModel into a TorchScript module: LibTorch code generated from
// the graph, with the weights registered under the Keras layer names. The
// same module is what the server runs and what the converter writes, so
// `torch.jit.load("model.torchscript.pt")` in Python runs exactly the model
// the server's self-check proved.
//
//   ASSIGN_OR_RETURN(torch::jit::Module module, BuildTorchModule(model, {}, path));
//   torch::Tensor out = module.forward({images}).toTensor();  // [N, outputs]
//
// The module's forward(x) takes float pixels shaped [N, C, H, W] (NCHW, as
// PyTorch's convolutions), before the model's input_transform, which the
// module applies first, exactly: float32(x * scale + offset) computed in
// double and rounded once, as Keras users' `x / 255.0` gives it. It returns the model's outputs; an image-shaped
// output comes back channels-last ([N, H, W, C]), as Keras gives it.
//
// Keras semantics are made explicit in the generated code: HWIO kernels
// become OIHW, TF 'same' padding becomes explicit (possibly asymmetric) zero
// padding, max pooling pads with -inf and average pooling divides by the
// unpadded count, BatchNorm takes the file's epsilon, and Flatten and Reshape
// go through channels-last order. Inside, images are NCHW and every other
// rank stays in Keras's order.
//
// Each layer with weights is a submodule named after the layer (characters
// other than letters, digits and '_' become '_'), holding PyTorch's names:
//   conv2d.weight [16, 3, 3, 3], conv2d.bias, batch_normalization.weight,
//   .bias, .running_mean, .running_var, dense.weight [10, 64], dense.bias,
//   depthwise_conv2d.weight [C * multiplier, 1, kh, kw],
//   separable_conv2d.depthwise_weight, .pointwise_weight, .bias,
//   p_re_lu.alpha, rescaling.scale/.offset and normalization.mean/.variance
//   (per-channel ones only).
#ifndef RESNET8_SERVER_TORCH_TORCHSCRIPT_BUILDER_H_
#define RESNET8_SERVER_TORCH_TORCHSCRIPT_BUILDER_H_

#include <torch/script.h>

#include <string>

#include "absl/status/statusor.h"
#include "server/keras/model.h"

namespace resnet8 {

struct TorchModuleOptions {
  // Append a softmax when the model outputs logits (OutputKind::kLogits), so
  // that the module gives class probabilities: what the server serves.
  bool softmax_logits = false;
  // Compute in float64 throughout: the exact computation of the Keras model
  // (its float32 weights and input), which every float32 run of Keras only
  // approximates. The module still takes and returns float32. For models
  // whose float32 rounding is too large for the faithfulness bar
  // (precision.h).
  bool float64 = false;
  // With float64: return the float64 outputs themselves, unrounded (the
  // yardstick the checks measure rounding against).
  bool float64_output = false;
  // Fold each BatchNormalization into the layer before it (fold_batch_norm.h):
  // one pass fewer over the activations per folded layer. float32 only: the
  // folded weights are stored in float32, so a float64 module keeps its
  // BatchNormalization layers to stay exact.
  bool fold_batch_norm = false;
};

// Errors: INTERNAL if LibTorch refuses the generated code (a bug here), with
// `source` and the code in the message.
absl::StatusOr<torch::jit::Module> BuildTorchModule(const KerasModel& model, const TorchModuleOptions& options,
                                                    const std::string& source);

// The generated TorchScript source of forward(), for messages and tests.
std::string TorchScriptSource(const KerasModel& model, const TorchModuleOptions& options);

}  // namespace resnet8

#endif  // RESNET8_SERVER_TORCH_TORCHSCRIPT_BUILDER_H_
