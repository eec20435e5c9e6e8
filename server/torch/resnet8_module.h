// ResNet8, the ResNet-v1 family of the MLPerf Tiny image-classification
// benchmark, as a LibTorch module whose shape comes from a ResNetSpec rather
// than from constants: widths, depth, kernel sizes, strides, padding and the
// BatchNorm epsilon are all options, so the same module serves the 16/32/64
// reference model and upstream's 26-filter variant.
//
//   stem:   conv -> BN -> ReLU
//   block:  conv1 -> BN -> ReLU -> conv2 -> BN, plus the shortcut (identity, or
//           a 1x1 conv with optional BN), added, then ReLU
//   head:   global average pool -> flatten -> dense -> softmax
//
// Submodules are registered under the Keras layer names, so the state dict
// reads `conv2d_3.weight`, `batch_normalization.running_var`, `dense.weight`.
// Input is NCHW float with the Keras model's raw pixel values (0..255).
//
//   ResNet8 model(spec);           // see keras_to_torch.h to fill it from a file
//   model->eval();
//   torch::Tensor probabilities = model->forward(images);  // [N, classes]
#ifndef RESNET8_SERVER_TORCH_RESNET8_MODULE_H_
#define RESNET8_SERVER_TORCH_RESNET8_MODULE_H_

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace resnet8 {

struct Conv2dSpec {
  std::string name;  // Keras layer name; also the submodule name
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  std::array<int64_t, 2> kernel{1, 1};
  std::array<int64_t, 2> stride{1, 1};
  // Zero padding {top, bottom, left, right}. TF's 'same' padding with stride 2
  // on an even size pads only the bottom/right, which PyTorch's symmetric
  // `padding` option cannot express; forward() pads explicitly in that case.
  std::array<int64_t, 4> padding{0, 0, 0, 0};
  bool bias = true;
};

struct BatchNormSpec {
  std::string name;
  int64_t channels = 0;
  double epsilon = 1e-3;  // Keras's default, not PyTorch's 1e-5: it comes from the file
};

struct ResidualBlockSpec {
  Conv2dSpec conv1;
  BatchNormSpec bn1;
  Conv2dSpec conv2;
  BatchNormSpec bn2;
  std::optional<Conv2dSpec> shortcut_conv;  // absent: identity shortcut
  std::optional<BatchNormSpec> shortcut_bn;
};

struct DenseSpec {
  std::string name;
  int64_t in_features = 0;
  int64_t out_features = 0;
  bool bias = true;
};

struct ResNetSpec {
  std::array<int64_t, 3> input_shape{32, 32, 3};  // height, width, channels
  Conv2dSpec stem_conv;
  BatchNormSpec stem_bn;
  std::vector<ResidualBlockSpec> blocks;
  DenseSpec dense;

  // The output width of the stem and of each block: {16, 16, 32, 64} for ResNet8.
  std::vector<int64_t> Widths() const;
};

class ResNet8Impl : public torch::nn::Module {
 public:
  // With `batch_norm_folded`, the module has no BatchNorm submodules: each
  // BatchNorm is expected to be folded into the preceding convolution's weight
  // and bias (see FoldBatchNorm()), and forward() skips it.
  explicit ResNet8Impl(ResNetSpec spec, bool batch_norm_folded = false);

  // Class probabilities, [N, classes], for NCHW float input [N, C, H, W].
  torch::Tensor forward(torch::Tensor x);
  // The dense layer's output before softmax.
  torch::Tensor Logits(torch::Tensor x);

  const ResNetSpec& spec() const { return spec_; }
  bool batch_norm_folded() const { return batch_norm_folded_; }
  torch::nn::Conv2d& conv(const std::string& name) { return convs_.at(name); }
  torch::nn::BatchNorm2d& batch_norm(const std::string& name) { return batch_norms_.at(name); }
  torch::nn::Linear& dense() { return dense_; }

 private:
  torch::Tensor Conv(const Conv2dSpec& spec, const torch::Tensor& x);
  torch::Tensor BatchNorm(const BatchNormSpec& spec, const torch::Tensor& x);

  ResNetSpec spec_;
  bool batch_norm_folded_;
  std::map<std::string, torch::nn::Conv2d> convs_;
  std::map<std::string, torch::nn::BatchNorm2d> batch_norms_;
  torch::nn::Linear dense_{nullptr};
};
TORCH_MODULE(ResNet8);

// Returns an eval-mode copy of `model` with every BatchNorm folded into the
// convolution before it: w' = w * g, b' = (b - mean) * g + beta with
// g = gamma / sqrt(var + eps), computed in double precision. Inference gives
// the same results up to float rounding, with 7 fewer passes over the
// activations. `model` must not be folded already.
ResNet8 FoldBatchNorm(ResNet8 model);

}  // namespace resnet8

#endif  // RESNET8_SERVER_TORCH_RESNET8_MODULE_H_
