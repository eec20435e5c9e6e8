#include "server/torch/keras_to_torch.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace resnet8 {
namespace {

const char* KindName(LayerKind kind) {
  switch (kind) {
    case LayerKind::kInput:
      return "InputLayer";
    case LayerKind::kConv2D:
      return "Conv2D";
    case LayerKind::kBatchNorm:
      return "BatchNormalization";
    case LayerKind::kActivation:
      return "Activation";
    case LayerKind::kAdd:
      return "Add";
    case LayerKind::kAveragePooling2D:
      return "AveragePooling2D";
    case LayerKind::kFlatten:
      return "Flatten";
    case LayerKind::kDense:
      return "Dense";
  }
  return "?";
}

// Walks the graph and records which layers the pattern has used, so that any
// layer outside the pattern can be reported at the end.
class Matcher {
 public:
  Matcher(const KerasModel& model, std::string source) : model_(model), source_(std::move(source)) {}

  absl::StatusOr<ResNetSpec> Match() {
    ResNetSpec spec;
    const int input = model_.Find(model_.input_layer);
    Use(input);
    const Shape& shape = model_.layers[input].output_shape;
    spec.input_shape = {shape[0], shape[1], shape[2]};

    ASSIGN_OR_RETURN(int stem_conv, Only(input, LayerKind::kConv2D, "stem convolution"));
    ASSIGN_OR_RETURN(spec.stem_conv, ConvSpecOf(stem_conv));
    ASSIGN_OR_RETURN(int stem_bn, Only(stem_conv, LayerKind::kBatchNorm, "stem BatchNormalization"));
    spec.stem_bn = BatchNormSpecOf(stem_bn);
    ASSIGN_OR_RETURN(int x, Relu(stem_bn, "stem"));

    for (int block_number = 1;; ++block_number) {
      const std::vector<int> consumers = model_.Consumers(Name(x));
      if (consumers.size() == 1 && Kind(consumers[0]) == LayerKind::kAveragePooling2D) break;
      ResidualBlockSpec block;
      ASSIGN_OR_RETURN(x, MatchBlock(x, block_number, block));
      spec.blocks.push_back(std::move(block));
    }
    if (spec.blocks.empty()) return Invalid(x, "expected at least one residual block after the stem");

    ASSIGN_OR_RETURN(int pool, Only(x, LayerKind::kAveragePooling2D, "average pooling"));
    const Shape& pooled = model_.layers[x].output_shape;
    const KerasLayer& pool_layer = model_.layers[pool];
    if (pool_layer.padding != Padding::kValid || pool_layer.kernel_size[0] != pooled[0] ||
        pool_layer.kernel_size[1] != pooled[1]) {
      return Invalid(pool, absl::StrCat("expected a pool over the whole ", pooled[0], "x", pooled[1],
                                        " feature map with 'valid' padding"));
    }
    ASSIGN_OR_RETURN(int flatten, Only(pool, LayerKind::kFlatten, "flatten"));
    ASSIGN_OR_RETURN(int dense, Only(flatten, LayerKind::kDense, "dense classifier"));
    const KerasLayer& dense_layer = model_.layers[dense];
    if (dense_layer.activation != ActivationKind::kSoftmax) {
      return Invalid(dense, "expected the Dense classifier to have a softmax activation");
    }
    if (Name(dense) != model_.output_layer || !model_.Consumers(Name(dense)).empty()) {
      return Invalid(dense, "expected the Dense classifier to be the model's output");
    }
    spec.dense = {Name(dense), dense_layer.weights.kernel.shape[0], dense_layer.filters, dense_layer.use_bias};

    std::vector<std::string> unused;
    for (size_t i = 0; i < model_.layers.size(); ++i) {
      if (used_.count(static_cast<int>(i)) == 0) unused.push_back(model_.layers[i].name);
    }
    if (!unused.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_, ": layers outside the ResNet-v1 pattern: ", absl::StrJoin(unused, ", ")));
    }
    return spec;
  }

 private:
  // Matches one residual block whose input is layer `x`; returns its output.
  absl::StatusOr<int> MatchBlock(int x, int number, ResidualBlockSpec& block) {
    const std::string where = absl::StrCat("block ", number);
    // The main path is the convolution followed by BN and ReLU; a shortcut
    // convolution feeds the Add (directly or through BN).
    int main_conv = -1, shortcut_conv = -1, direct_add = -1;
    for (int consumer : model_.Consumers(Name(x))) {
      if (Kind(consumer) == LayerKind::kAdd) {
        if (direct_add >= 0) return Invalid(x, absl::StrCat(where, ": feeds more than one Add"));
        direct_add = consumer;
      } else if (Kind(consumer) == LayerKind::kConv2D && StartsMainPath(consumer)) {
        if (main_conv >= 0) return Invalid(x, absl::StrCat(where, ": has two main-path convolutions"));
        main_conv = consumer;
      } else if (Kind(consumer) == LayerKind::kConv2D) {
        if (shortcut_conv >= 0) return Invalid(x, absl::StrCat(where, ": has two shortcut convolutions"));
        shortcut_conv = consumer;
      } else {
        return Invalid(consumer, absl::StrCat(where, ": expected a Conv2D or Add after '", Name(x), "', got ",
                                              KindName(Kind(consumer))));
      }
    }
    if (main_conv < 0) {
      return Invalid(x, absl::StrCat(where, ": expected a Conv2D -> BatchNormalization -> ReLU main path after it"));
    }
    if ((shortcut_conv >= 0) == (direct_add >= 0)) {
      return Invalid(x, absl::StrCat(where,
                                     ": expected either an identity shortcut or one shortcut "
                                     "convolution, found ",
                                     shortcut_conv >= 0 ? "both" : "neither"));
    }
    Use(main_conv);
    ASSIGN_OR_RETURN(block.conv1, ConvSpecOf(main_conv));
    ASSIGN_OR_RETURN(int bn1, Only(main_conv, LayerKind::kBatchNorm, where + " first BatchNormalization"));
    block.bn1 = BatchNormSpecOf(bn1);
    ASSIGN_OR_RETURN(int relu1, Relu(bn1, where));
    ASSIGN_OR_RETURN(int conv2, Only(relu1, LayerKind::kConv2D, where + " second convolution"));
    ASSIGN_OR_RETURN(block.conv2, ConvSpecOf(conv2));
    ASSIGN_OR_RETURN(int bn2, Only(conv2, LayerKind::kBatchNorm, where + " second BatchNormalization"));
    block.bn2 = BatchNormSpecOf(bn2);
    ASSIGN_OR_RETURN(int add, Only(bn2, LayerKind::kAdd, where + " residual Add"));

    int shortcut_out = x;
    if (shortcut_conv >= 0) {
      Use(shortcut_conv);
      ASSIGN_OR_RETURN(block.shortcut_conv, ConvSpecOf(shortcut_conv));
      shortcut_out = shortcut_conv;
      const std::vector<int> after = model_.Consumers(Name(shortcut_conv));
      if (after.size() == 1 && Kind(after[0]) == LayerKind::kBatchNorm) {
        Use(after[0]);
        block.shortcut_bn = BatchNormSpecOf(after[0]);
        shortcut_out = after[0];
      }
      if (model_.Consumers(Name(shortcut_out)).size() != 1) {
        return Invalid(shortcut_out, absl::StrCat(where, ": the shortcut must feed only the residual Add"));
      }
    }
    std::vector<std::string> expected_inputs{Name(bn2), Name(shortcut_out)};
    std::vector<std::string> actual_inputs = model_.layers[add].inputs;
    std::sort(expected_inputs.begin(), expected_inputs.end());
    std::sort(actual_inputs.begin(), actual_inputs.end());
    if (actual_inputs != expected_inputs) {
      return Invalid(add, absl::StrCat(where, ": expected the Add of '", Name(bn2), "' and '", Name(shortcut_out),
                                       "', got inputs ", absl::StrJoin(model_.layers[add].inputs, ", ")));
    }
    return Relu(add, where);
  }

  // True if `conv` -> BN -> ReLU, the start of a main path.
  bool StartsMainPath(int conv) const {
    const std::vector<int> bn = model_.Consumers(Name(conv));
    if (bn.size() != 1 || Kind(bn[0]) != LayerKind::kBatchNorm) return false;
    const std::vector<int> act = model_.Consumers(Name(bn[0]));
    return act.size() == 1 && Kind(act[0]) == LayerKind::kActivation &&
           model_.layers[act[0]].activation == ActivationKind::kRelu;
  }

  // The single consumer of `index`, which must be of `kind`.
  absl::StatusOr<int> Only(int index, LayerKind kind, const std::string& role) {
    const std::vector<int> consumers = model_.Consumers(Name(index));
    if (consumers.size() != 1 || Kind(consumers[0]) != kind) {
      std::vector<std::string> found;
      for (int c : consumers) found.push_back(absl::StrCat(Name(c), " (", KindName(Kind(c)), ")"));
      return Invalid(index, absl::StrCat("expected it to feed exactly one ", KindName(kind), " (", role, "), found ",
                                         found.empty() ? "none" : absl::StrJoin(found, ", ")));
    }
    if (kind == LayerKind::kConv2D && model_.layers[consumers[0]].activation != ActivationKind::kLinear) {
      return Invalid(consumers[0],
                     "expected a linear activation: ReLU must be a separate layer after BatchNormalization");
    }
    Use(consumers[0]);
    return consumers[0];
  }

  absl::StatusOr<int> Relu(int index, const std::string& where) {
    ASSIGN_OR_RETURN(int act, Only(index, LayerKind::kActivation, where + " ReLU"));
    if (model_.layers[act].activation != ActivationKind::kRelu) {
      return Invalid(act, absl::StrCat(where, ": expected a ReLU activation"));
    }
    return act;
  }

  absl::StatusOr<Conv2dSpec> ConvSpecOf(int index) {
    const KerasLayer& layer = model_.layers[index];
    const Shape& in = model_.layers[model_.Find(layer.inputs[0])].output_shape;
    Conv2dSpec spec;
    spec.name = layer.name;
    spec.in_channels = in[2];
    spec.out_channels = layer.filters;
    spec.kernel = layer.kernel_size;
    spec.stride = layer.strides;
    spec.bias = layer.use_bias;
    if (layer.padding == Padding::kSame) {
      // TF 'same': the total padding makes ceil(in / stride) outputs; the odd
      // pixel, if any, goes after (bottom/right).
      for (int d = 0; d < 2; ++d) {
        const int64_t out = layer.output_shape[d];
        const int64_t total = std::max<int64_t>((out - 1) * layer.strides[d] + layer.kernel_size[d] - in[d], 0);
        spec.padding[2 * d] = total / 2;
        spec.padding[2 * d + 1] = total - total / 2;
      }
    }
    if (spec.name.find('.') != std::string::npos) {
      return Invalid(index, "layer names containing '.' cannot name a PyTorch submodule");
    }
    return spec;
  }

  BatchNormSpec BatchNormSpecOf(int index) const {
    const KerasLayer& layer = model_.layers[index];
    return {layer.name, layer.output_shape.back(), layer.epsilon};
  }

  absl::Status Invalid(int index, absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": not the MLPerf Tiny ResNet-v1 family at layer '",
                                                   Name(index), "' (", model_.layers[index].class_name, "): ", what));
  }
  const std::string& Name(int index) const { return model_.layers[index].name; }
  LayerKind Kind(int index) const { return model_.layers[index].kind; }
  void Use(int index) { used_.insert(index); }

  const KerasModel& model_;
  std::string source_;
  std::set<int> used_;
};

torch::Tensor FromValues(const KerasWeight& weight) {
  return torch::from_blob(const_cast<float*>(weight.values.data()), weight.shape, torch::kFloat32).clone();
}

void CopyConv(const KerasModel& model, const Conv2dSpec& spec, torch::nn::Conv2d& conv) {
  const BoundWeights& w = model.layers[model.Find(spec.name)].weights;
  // Keras stores kernels as [kh, kw, in, out]; PyTorch wants [out, in, kh, kw].
  conv->weight.copy_(FromValues(w.kernel).permute({3, 2, 0, 1}));
  if (spec.bias) conv->bias.copy_(FromValues(w.bias));
}

void CopyBatchNorm(const KerasModel& model, const BatchNormSpec& spec, torch::nn::BatchNorm2d& bn) {
  const KerasLayer& layer = model.layers[model.Find(spec.name)];
  // A Keras BN without scale (or center) behaves as gamma = 1 (or beta = 0).
  if (layer.scale)
    bn->weight.copy_(FromValues(layer.weights.gamma));
  else
    bn->weight.fill_(1.0);
  if (layer.center)
    bn->bias.copy_(FromValues(layer.weights.beta));
  else
    bn->bias.fill_(0.0);
  bn->running_mean.copy_(FromValues(layer.weights.moving_mean));
  bn->running_var.copy_(FromValues(layer.weights.moving_variance));
}

}  // namespace

absl::StatusOr<ResNetSpec> MatchResNet(const KerasModel& model, const std::string& source) {
  return Matcher(model, source).Match();
}

absl::StatusOr<ResNet8> ConvertToTorch(const KerasModel& model, const std::string& source) {
  ASSIGN_OR_RETURN(ResNetSpec spec, MatchResNet(model, source));
  try {
    ResNet8 module(spec);
    torch::NoGradGuard no_grad;
    CopyConv(model, spec.stem_conv, module->conv(spec.stem_conv.name));
    CopyBatchNorm(model, spec.stem_bn, module->batch_norm(spec.stem_bn.name));
    for (const ResidualBlockSpec& block : spec.blocks) {
      CopyConv(model, block.conv1, module->conv(block.conv1.name));
      CopyBatchNorm(model, block.bn1, module->batch_norm(block.bn1.name));
      CopyConv(model, block.conv2, module->conv(block.conv2.name));
      CopyBatchNorm(model, block.bn2, module->batch_norm(block.bn2.name));
      if (block.shortcut_conv) CopyConv(model, *block.shortcut_conv, module->conv(block.shortcut_conv->name));
      if (block.shortcut_bn) CopyBatchNorm(model, *block.shortcut_bn, module->batch_norm(block.shortcut_bn->name));
    }
    const BoundWeights& dense = model.layers[model.Find(spec.dense.name)].weights;
    // Keras stores the Dense kernel as [in, units]; nn::Linear wants [units, in].
    module->dense()->weight.copy_(FromValues(dense.kernel).t());
    if (spec.dense.bias) module->dense()->bias.copy_(FromValues(dense.bias));
    module->eval();
    return module;
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat(source, ": LibTorch failed building the module: ", e.what_without_backtrace()));
  }
}

}  // namespace resnet8
