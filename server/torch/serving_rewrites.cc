#include "server/torch/serving_rewrites.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/fuse_relu.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace resnet8 {
namespace {

constexpr char kConv2d[] =
    "aten::conv2d(Tensor input, Tensor weight, Tensor? bias=None, int[2] stride=1, int[2] padding=0, "
    "int[2] dilation=1, int groups=1) -> Tensor";

// The oneDNN context of one convolution: its weights reordered for a pass of
// `pass_images` images of the convolution's input channels.
c10::IValue Prepack(const c10::OperatorHandle& prepack, const torch::jit::Node& conv, int64_t pass_images,
                    bool fuse_relu) {
  const at::Tensor weight = torch::jit::toIValue(conv.input(1))->toTensor();
  const int64_t groups = torch::jit::toIValue(conv.input(6))->toInt();
  // The spatial size only guides the choice of layout; 32x32 is the input's.
  const std::vector<int64_t> input_size = {pass_images, weight.size(1) * groups, 32, 32};
  std::vector<c10::IValue> stack = {weight,
                                    *torch::jit::toIValue(conv.input(2)),
                                    *torch::jit::toIValue(conv.input(3)),
                                    *torch::jit::toIValue(conv.input(4)),
                                    *torch::jit::toIValue(conv.input(5)),
                                    groups,
                                    input_size,
                                    std::string(fuse_relu ? "relu" : "none")};
  prepack.callBoxed(&stack);
  return stack.at(0);
}

// A convolution the prepacked op can take: float32 weights of rank 4, every
// argument but the input a constant.
bool Rewritable(const torch::jit::Node& conv) {
  if (!conv.matches(kConv2d)) return false;
  for (size_t i = 1; i < conv.inputs().size(); ++i) {
    if (!torch::jit::toIValue(conv.input(i)).has_value()) return false;
  }
  const at::Tensor weight = torch::jit::toIValue(conv.input(1))->toTensor();
  return weight.scalar_type() == at::kFloat && weight.dim() == 4;
}

// The ReLU that is the convolution's only use, or null.
torch::jit::Node* FollowingRelu(const torch::jit::Node& conv) {
  const auto& uses = conv.output()->uses();
  if (uses.size() != 1 || uses[0].user->kind() != c10::Symbol::fromQualString("aten::relu")) return nullptr;
  return uses[0].user;
}

}  // namespace

absl::StatusOr<ServingRewrite> RewriteForServing(const torch::jit::Module& module, int64_t pass_images) {
  const auto prepack = c10::Dispatcher::singleton().findSchema({"mkldnn_prepacked::conv2d_prepack", ""});
  if (!prepack.has_value()) {
    return absl::InternalError("this LibTorch has no oneDNN prepacked convolution (mkldnn_prepacked::conv2d_prepack)");
  }
  const c10::Symbol run = c10::Symbol::fromQualString("mkldnn_prepacked::conv2d_run");
  ServingRewrite result;
  try {
    torch::jit::Module eval = module.clone();
    eval.eval();
    // Numerics as converted: no folding beyond what the converter did.
    result.module = torch::jit::freeze(eval, c10::nullopt, /*optimize_numerics=*/false);
    std::shared_ptr<torch::jit::Graph> graph = result.module.get_method("forward").graph();
    std::vector<torch::jit::Node*> convolutions;
    for (torch::jit::Node* node : graph->nodes()) {
      if (Rewritable(*node)) convolutions.push_back(node);
    }
    for (torch::jit::Node* conv : convolutions) {
      torch::jit::Node* relu = FollowingRelu(*conv);
      torch::jit::WithInsertPoint here(conv);
      torch::jit::Value* context = graph->insertConstant(Prepack(*prepack, *conv, pass_images, relu != nullptr));
      torch::jit::Node* prepacked = graph->insertNode(graph->create(run, {conv->input(0), context}));
      prepacked->output()->setType(c10::TensorType::get());
      torch::jit::Node* replaced = relu != nullptr ? relu : conv;
      replaced->output()->replaceAllUsesWith(prepacked->output());
      if (relu != nullptr) {
        relu->destroy();
        ++result.fused_relus;
      }
      conv->destroy();
      ++result.convolutions;
    }
    torch::jit::EliminateDeadCode(graph);
    torch::jit::FuseAddRelu(graph);
    for (torch::jit::Node* node : graph->nodes()) {
      result.fused_add_relus += node->kind() == c10::Symbol::fromQualString("aten::_add_relu");
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("rewriting the module for serving failed: ", e.what_without_backtrace()));
  }
  return result;
}

}  // namespace resnet8
