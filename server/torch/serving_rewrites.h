// Rewrites a converted module for serving on the CPU, so that fewer passes
// go over the activations (measured in BENCHMARKS.md):
// - frozen: its weights become constants of the graph;
// - every float32 2-D convolution runs on oneDNN directly, as the op
//   resnet8::conv2d (onednn_convolution.h), whose weights are reordered once
//   into the blocked layout the CPU's kernels read (aten::conv2d reorders
//   them on every call), and which takes in, when the graph has them:
//   - the zero padding just before it (Keras 'same' at stride 2 pads one
//     pixel more after than before, which aten::conv2d cannot);
//   - the residual Add just after it, as oneDNN's sum post-op, written into
//     the residual's own memory when nothing reads that any more;
//   - the ReLU after those, as an eltwise post-op;
// - any other Add followed by a ReLU becomes one aten::_add_relu.
//
//   ASSIGN_OR_RETURN(ServingRewrite served, RewriteForServing(module));
//
// The function computed is the same, to float32 rounding; the self-check runs
// on the rewritten module because the classifier serves it.
#ifndef RESNET8_SERVER_TORCH_SERVING_REWRITES_H_
#define RESNET8_SERVER_TORCH_SERVING_REWRITES_H_

#include <torch/script.h>

#include "absl/status/statusor.h"

namespace resnet8 {

struct ServingRewrite {
  torch::jit::Module module;
  int convolutions = 0;     // rewritten to resnet8::conv2d
  int fused_paddings = 0;   // of those, with the padding before them fused in
  int fused_sums = 0;       // with the residual Add after them
  int sums_in_place = 0;    // of those, written into the residual's memory
  int fused_relus = 0;      // with the ReLU after them (and after the Add, if fused)
  int fused_add_relus = 0;  // other Adds followed by a ReLU
};

// Convolutions that are not float32 (a float64 module) or whose weights are
// not constants stay as they are. INTERNAL if the rewrite fails.
absl::StatusOr<ServingRewrite> RewriteForServing(const torch::jit::Module& module);

}  // namespace resnet8

#endif  // RESNET8_SERVER_TORCH_SERVING_REWRITES_H_
