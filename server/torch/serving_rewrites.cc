#include "server/torch/serving_rewrites.h"

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/fuse_relu.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/torch/onednn_convolution.h"

namespace resnet8 {
namespace {

using torch::jit::Node;
using torch::jit::Value;

constexpr char kConv2d[] =
    "aten::conv2d(Tensor input, Tensor weight, Tensor? bias=None, int[2] stride=1, int[2] padding=0, "
    "int[2] dilation=1, int groups=1) -> Tensor";
constexpr char kAdd[] = "aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor";

c10::Symbol Aten(const char* name) { return c10::Symbol::fromQualString(std::string("aten::") + name); }

// A convolution the oneDNN op can take: float32 weights of rank 4, every
// argument but the input a constant.
bool Rewritable(const Node& conv) {
  if (!conv.matches(kConv2d)) return false;
  for (size_t i = 1; i < conv.inputs().size(); ++i) {
    if (!torch::jit::toIValue(conv.input(i)).has_value()) return false;
  }
  const at::Tensor weight = torch::jit::toIValue(conv.input(1))->toTensor();
  return weight.scalar_type() == at::kFloat && weight.dim() == 4;
}

Conv2dSpec SpecOf(const Node& conv) {
  auto constant = [&](size_t i) { return *torch::jit::toIValue(conv.input(i)); };
  Conv2dSpec spec;
  spec.weight = constant(1).toTensor().contiguous();
  if (constant(2).isTensor()) spec.bias = constant(2).toTensor().contiguous();
  const std::vector<int64_t> stride = constant(3).toIntVector();
  const std::vector<int64_t> padding = constant(4).toIntVector();
  const std::vector<int64_t> dilation = constant(5).toIntVector();
  for (int d = 0; d < 2; ++d) {
    spec.stride[d] = stride.at(d);
    spec.padding_before[d] = spec.padding_after[d] = padding.at(d);
    spec.dilation[d] = dilation.at(d);
  }
  spec.groups = constant(6).toInt();
  return spec;
}

// The node that is the only use of `value`, in the same block, if it is of
// `kind`; else null.
Node* SoleUser(const Value& value, c10::Symbol kind) {
  const auto& uses = value.uses();
  if (uses.size() != 1 || uses[0].user->kind() != kind) return nullptr;
  if (uses[0].user->owningBlock() != value.node()->owningBlock()) return nullptr;
  return uses[0].user;
}

// The zero padding of height and width only (Keras 'same' at stride 2) whose
// only use is `conv`, or null: the convolution can pad by itself.
Node* FoldablePadding(const Node& conv) {
  Node* pad = conv.input(0)->node();
  if (pad->kind() != Aten("constant_pad_nd") || SoleUser(*pad->output(), Aten("conv2d")) != &conv) return nullptr;
  const auto amounts = torch::jit::toIValue(pad->input(1));
  const auto value = torch::jit::toIValue(pad->input(2));
  if (!amounts.has_value() || !value.has_value() || value->toScalar().toDouble() != 0.0) return nullptr;
  const std::vector<int64_t> sides = amounts->toIntVector();  // [left, right, top, bottom]
  if (sides.size() != 4) return nullptr;
  for (int64_t side : sides) {
    if (side < 0) return nullptr;  // a crop
  }
  return pad;
}

// The residual Add, a + b with alpha 1, that is the only use of `value`, or null.
Node* FollowingSum(const Value& value) {
  Node* add = SoleUser(value, Aten("add"));
  if (add == nullptr || !add->matches(kAdd)) return nullptr;
  const auto alpha = torch::jit::toIValue(add->input(2));
  return alpha.has_value() && alpha->toScalar().toDouble() == 1.0 ? add : nullptr;
}

// Whether the result may be written into `residual`'s memory by a node
// inserted just before `at`: `residual` is a fresh tensor (made by an op that
// returns new memory, not a view or an input), no graph output, and every
// other node that reads it comes before and makes no view of it.
bool MayOverwrite(const Value& residual, const Node& sum, const Node& at) {
  const std::vector<c10::Symbol> fresh = {Aten("conv2d"), Conv2dOp(), Aten("relu"), Aten("add"), Aten("_add_relu")};
  std::vector<c10::Symbol> readers = fresh;
  for (const char* name : {"constant_pad_nd", "max_pool2d", "avg_pool2d", "mean"}) readers.push_back(Aten(name));
  const auto in = [](const std::vector<c10::Symbol>& kinds, const Node& node) {
    return std::find(kinds.begin(), kinds.end(), node.kind()) != kinds.end();
  };
  if (!in(fresh, *residual.node())) return false;
  for (const Value* output : at.owningGraph()->outputs()) {
    if (output == &residual) return false;
  }
  for (const torch::jit::Use& use : residual.uses()) {
    if (use.user == &sum) continue;
    if (!in(readers, *use.user) || use.user->owningBlock() != at.owningBlock() || !use.user->isBefore(&at)) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<ServingRewrite> RewriteForServing(const torch::jit::Module& module) {
  ServingRewrite result;
  try {
    torch::jit::Module eval = module.clone();
    eval.eval();
    // Numerics as converted: no folding beyond what the converter did.
    result.module = torch::jit::freeze(eval, c10::nullopt, /*optimize_numerics=*/false);
    std::shared_ptr<torch::jit::Graph> graph = result.module.get_method("forward").graph();
    std::vector<Node*> convolutions;
    for (Node* node : graph->nodes()) {
      if (Rewritable(*node)) convolutions.push_back(node);
    }
    for (Node* conv : convolutions) {
      Conv2dSpec spec = SpecOf(*conv);
      Value* input = conv->input(0);
      Node* padding = FoldablePadding(*conv);
      if (padding != nullptr) {
        const std::vector<int64_t> sides = torch::jit::toIValue(padding->input(1))->toIntVector();
        spec.padding_before = {spec.padding_before[0] + sides[2], spec.padding_before[1] + sides[0]};
        spec.padding_after = {spec.padding_after[0] + sides[3], spec.padding_after[1] + sides[1]};
        input = padding->input(0);
      }
      // The nodes the new one replaces, in order: conv, then the Add and the
      // ReLU that follow it, if they do.
      std::vector<Node*> replaced = {conv};
      Value* residual = nullptr;
      if (Node* sum = FollowingSum(*conv->output())) {
        residual = sum->input(sum->input(0) == conv->output() ? 1 : 0);
        replaced.push_back(sum);
      }
      if (Node* relu = SoleUser(*replaced.back()->output(), Aten("relu"))) {
        spec.relu = true;
        replaced.push_back(relu);
      }
      Node* last = replaced.back();
      if (residual != nullptr) spec.overwrite_residual = MayOverwrite(*residual, *replaced[1], *last);
      result.sums_in_place += spec.overwrite_residual;

      ++result.convolutions;
      result.fused_paddings += padding != nullptr;
      result.fused_sums += residual != nullptr;
      result.fused_relus += spec.relu;

      torch::jit::WithInsertPoint here(last);
      Value* context = graph->insertConstant(c10::IValue(c10::make_intrusive<Conv2dContext>(std::move(spec))));
      Value* no_residual = residual != nullptr ? residual : graph->insertConstant(c10::IValue());
      Node* fused = graph->insertNode(graph->create(Conv2dOp(), {input, no_residual, context}));
      fused->output()->setType(c10::TensorType::get());
      last->output()->replaceAllUsesWith(fused->output());
      for (auto node = replaced.rbegin(); node != replaced.rend(); ++node) (*node)->destroy();
      if (padding != nullptr) padding->destroy();
    }
    torch::jit::EliminateDeadCode(graph);
    torch::jit::FuseAddRelu(graph);
    for (Node* node : graph->nodes()) result.fused_add_relus += node->kind() == Aten("_add_relu");
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("rewriting the module for serving failed: ", e.what_without_backtrace()));
  }
  return result;
}

}  // namespace resnet8
