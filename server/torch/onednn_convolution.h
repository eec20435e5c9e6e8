// A float32 2-D convolution run directly on oneDNN, the library under
// LibTorch's own CPU convolutions, for what LibTorch 1.13's ops cannot ask of
// it (BENCHMARKS.md has the measurements):
// - padding that differs before and after (Keras 'same' at stride 2), which
//   would otherwise be a constant_pad_nd pass over the input;
// - a residual sum and a ReLU after it as post-ops, so that the Add + ReLU of
//   a residual block takes no pass of its own.
// Activations stay NHWC (channels-last), the layout the classifier feeds, and
// the weights are reordered once into the layout the CPU's kernels read.
//
// In a TorchScript graph it is the op resnet8::conv2d, with its weights and
// settings in a constant of class resnet8.Conv2dContext:
//
//   auto context = c10::make_intrusive<Conv2dContext>(spec);  // checks spec
//   torch::Tensor y = context->Run(x, residual);  // relu(conv(x) + residual)
//
// Thread-safe: one context serves concurrent calls. It compiles a oneDNN
// primitive per input shape, the first time that shape comes, and keeps the
// most recent kMaxCompiledShapes.
#ifndef RESNET8_SERVER_TORCH_ONEDNN_CONVOLUTION_H_
#define RESNET8_SERVER_TORCH_ONEDNN_CONVOLUTION_H_

#include <torch/custom_class.h>
#include <torch/script.h>

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace resnet8 {

struct Conv2dSpec {
  at::Tensor weight;               // [out channels, in channels / groups, kernel height, kernel width], float32
  std::optional<at::Tensor> bias;  // [out channels], float32
  std::array<int64_t, 2> stride = {1, 1};
  std::array<int64_t, 2> dilation = {1, 1};
  std::array<int64_t, 2> padding_before = {0, 0};  // top, left
  std::array<int64_t, 2> padding_after = {0, 0};   // bottom, right
  int64_t groups = 1;
  bool relu = false;  // a ReLU on the result, after the residual sum if any
  // The residual's memory may take the result: the graph uses it no more
  // (the rewrite proves it; serving_rewrites.cc). Otherwise it is copied.
  bool overwrite_residual = false;
};

class Conv2dContext : public torch::CustomClassHolder {
 public:
  static constexpr size_t kMaxCompiledShapes = 32;

  // Throws c10::Error if the spec is not a float32 2-D convolution.
  explicit Conv2dContext(Conv2dSpec spec);
  ~Conv2dContext() override;

  // relu?(conv(input) + residual?), NHWC float32; `residual` may be null. `input` is float32 NCHW-
  // shaped in any memory format. A residual of another shape is broadcast
  // as aten::add does, in a separate pass. Throws c10::Error.
  at::Tensor Run(const at::Tensor& input, const at::Tensor* residual);

 private:
  struct Compiled;
  // Throws c10::Error if the input does not fit the weights.
  std::vector<int64_t> OutputSizes(at::IntArrayRef input_sizes) const;
  std::shared_ptr<const Compiled> Compile(const at::IntArrayRef input_sizes, bool sum, bool relu);
  at::Tensor Execute(const at::Tensor& input, bool relu, const at::Tensor* sum_into);

  const Conv2dSpec spec_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<const Compiled>> compiled_;  // most recently used last
};

// The TorchScript op, registered with this library: resnet8::conv2d(Tensor
// input, Tensor? residual, __torch__.torch.classes.resnet8.Conv2dContext
// context) -> Tensor.
c10::Symbol Conv2dOp();

}  // namespace resnet8

#endif  // RESNET8_SERVER_TORCH_ONEDNN_CONVOLUTION_H_
