// Rewrites a converted module for serving on the CPU, so that fewer passes
// go over the activations (measured in BENCHMARKS.md):
// - frozen: its weights become constants of the graph;
// - every float32 2-D convolution runs as oneDNN's prepacked convolution
//   (mkldnn_prepacked::conv2d_run), whose weights are reordered once, here,
//   into the blocked layout the CPU's kernels read (aten::conv2d reorders
//   them on every call), and a ReLU that directly follows a convolution
//   becomes that convolution's post-op;
// - an Add followed by a ReLU becomes one aten::_add_relu.
//
//   ASSIGN_OR_RETURN(ServingRewrite served, RewriteForServing(module, 16));
//
// The function computed is the same, to float32 rounding; the self-check runs
// on the rewritten module because the classifier serves it.
#ifndef RESNET8_SERVER_TORCH_SERVING_REWRITES_H_
#define RESNET8_SERVER_TORCH_SERVING_REWRITES_H_

#include <torch/script.h>

#include <cstdint>

#include "absl/status/statusor.h"

namespace resnet8 {

struct ServingRewrite {
  torch::jit::Module module;
  int convolutions = 0;  // rewritten to prepacked ones
  int fused_relus = 0;   // of those, with the following ReLU fused in
  int fused_add_relus = 0;
};

// `pass_images` is the usual forward pass size: oneDNN chooses the weights'
// layout for it (any batch size runs). Convolutions that are not float32 (a
// float64 module) or whose weights are not constants stay as they are.
// INTERNAL if LibTorch has no oneDNN prepacked convolution (built without
// oneDNN) or the rewrite fails.
absl::StatusOr<ServingRewrite> RewriteForServing(const torch::jit::Module& module, int64_t pass_images);

}  // namespace resnet8

#endif  // RESNET8_SERVER_TORCH_SERVING_REWRITES_H_
