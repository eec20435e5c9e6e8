#include "server/torch/torchscript_builder.h"

#include <cmath>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "server/keras/fold_batch_norm.h"

namespace resnet8 {
namespace {

bool IsImage(const Shape& shape) { return shape.size() == 3; }

// A Python float literal that round-trips a double.
std::string Float(double value) {
  if (std::isinf(value)) return value > 0 ? "float('inf')" : "float('-inf')";
  std::string text = absl::StrFormat("%.17g", value);
  if (text.find_first_of(".en") == std::string::npos) text += ".0";
  return text;
}

std::string List(const std::vector<int64_t>& values) { return absl::StrCat("[", absl::StrJoin(values, ", "), "]"); }

torch::Tensor FromValues(const std::vector<float>& values, const std::vector<int64_t>& shape) {
  return torch::from_blob(const_cast<float*>(values.data()), shape, torch::kFloat32).clone();
}
torch::Tensor FromWeight(const KerasWeight& weight) { return FromValues(weight.values, weight.shape); }

// Python and TorchScript words, and torch.nn.Module members, that a layer
// name must not shadow.
bool Reserved(const std::string& name) {
  static const std::set<std::string> kWords = {
      "False",      "None",       "True",    "and",     "as",       "assert", "async",  "await",       "break",
      "class",      "continue",   "def",     "del",     "elif",     "else",   "except", "finally",     "for",
      "from",       "global",     "if",      "import",  "in",       "is",     "lambda", "nonlocal",    "not",
      "or",         "pass",       "raise",   "return",  "try",      "while",  "with",   "yield",       "self",
      "forward",    "training",   "torch",   "float",   "int",      "print",  "x",      "eval",        "train",
      "state_dict", "parameters", "buffers", "modules", "children", "to",     "cpu",    "cuda",        "type",
      "apply",      "zero_grad",  "half",    "double",  "code",     "graph",  "save",   "input_scale", "input_offset"};
  return kWords.count(name) > 0 || (name.size() > 1 && name[0] == 'v' && absl::ascii_isdigit(name[1]));
}

class Builder {
 public:
  Builder(const KerasModel& model, const TorchModuleOptions& options)
      : model_(model),
        options_(options),
        compilation_unit_(std::make_shared<torch::jit::CompilationUnit>()),
        root_(c10::QualifiedName("__torch__.keras.Model"), compilation_unit_, /*shouldMangle=*/true) {}

  std::string Generate() {
    std::vector<std::string> lines = {"def forward(self, x: Tensor) -> Tensor:"};
    for (size_t i = 0; i < model_.layers.size(); ++i) {
      const KerasLayer& layer = model_.layers[i];
      std::vector<std::string> in;
      for (const std::string& name : layer.inputs) in.push_back(Var(model_.Find(name)));
      lines.push_back(
          absl::StrCat("    ", Var(i), " = ", Expression(i, in), "  # ", layer.name, " (", layer.class_name, ")"));
    }
    const int output = model_.Find(model_.output_layer);
    std::string result = Var(output);
    if (IsImage(model_.OutputShape())) result = absl::StrCat(result, ".permute([0, 2, 3, 1])");
    if (options_.softmax_logits && model_.Outputs() == OutputKind::kLogits) {
      result = absl::StrCat("torch.softmax(", result, ", -1)");
    }
    if (options_.float64 && !options_.float64_output) result = absl::StrCat("(", result, ").float()");
    lines.push_back(absl::StrCat("    return ", result));
    return absl::StrJoin(lines, "\n") + "\n";
  }

  torch::jit::Module& root() { return root_; }

 private:
  static std::string Var(size_t index) { return absl::StrCat("v", index); }

  // Registers `tensor` on layer `index`'s submodule; returns how code reads it.
  std::string Tensor(size_t index, const std::string& name, torch::Tensor tensor, bool buffer) {
    const std::string& sub = Submodule(index);
    torch::jit::Module module = root_.attr(sub).toModule();
    if (buffer) {
      module.register_buffer(name, std::move(tensor));
    } else {
      module.register_parameter(name, std::move(tensor), /*is_buffer=*/false);
    }
    return absl::StrCat("self.", sub, ".", name);
  }
  std::string Parameter(size_t index, const std::string& name, torch::Tensor tensor) {
    return Tensor(index, name, std::move(tensor), false);
  }
  std::string Buffer(size_t index, const std::string& name, torch::Tensor tensor) {
    return Tensor(index, name, std::move(tensor), true);
  }

  const std::string& Submodule(size_t index) {
    auto it = submodules_.find(index);
    if (it != submodules_.end()) return it->second;
    std::string name;
    for (char c : model_.layers[index].name) name += absl::ascii_isalnum(c) || c == '_' ? c : '_';
    if (name.empty() || absl::ascii_isdigit(name[0]) || Reserved(name)) name = "layer_" + name;
    while (used_names_.count(name) > 0) name += "_";
    used_names_.insert(name);
    root_.register_module(name, torch::jit::Module(c10::QualifiedName("__torch__.keras.Layer"), compilation_unit_,
                                                   /*shouldMangle=*/true));
    return submodules_[index] = name;
  }

  // A per-channel vector shaped to broadcast over the channels of a tensor of
  // Keras shape `shape`: [1, C, 1, 1] for images, [C] otherwise; a single
  // value becomes a literal.
  // The input transform's values: a literal, or a float64 buffer per channel.
  std::string DoubleValues(const std::string& name, const std::vector<double>& values, const Shape& shape) {
    if (values.size() == 1) return Float(values[0]);
    const int64_t c = static_cast<int64_t>(values.size());
    torch::Tensor tensor = torch::tensor(values, torch::kFloat64);
    if (IsImage(shape)) tensor = tensor.reshape({1, c, 1, 1});
    root_.register_buffer(name, tensor);
    return absl::StrCat("self.", name);
  }

  std::string ChannelValues(size_t index, const std::string& name, const std::vector<float>& values,
                            const Shape& shape) {
    const int64_t c = static_cast<int64_t>(values.size());
    torch::Tensor tensor = FromValues(values, {c});
    if (IsImage(shape)) tensor = tensor.reshape({1, c, 1, 1});
    return Buffer(index, name, tensor);
  }

  // Explicit zero padding {top, bottom, left, right} for TF 'same' padding.
  static std::array<int64_t, 4> SamePadding(const KerasLayer& layer, const Shape& in) {
    std::array<int64_t, 4> pads{0, 0, 0, 0};
    if (layer.padding != Padding::kSame) return pads;
    for (int d = 0; d < 2; ++d) {
      const int64_t window = (layer.kernel_size[d] - 1) * layer.dilation[d] + 1;
      const int64_t total = std::max<int64_t>((layer.output_shape[d] - 1) * layer.strides[d] + window - in[d], 0);
      pads[2 * d] = total / 2;
      pads[2 * d + 1] = total - total / 2;  // the odd pixel goes after, as in TF
    }
    return pads;
  }
  static std::string Pad(const std::string& x, const std::array<int64_t, 4>& pads, const std::string& value) {
    if (pads == std::array<int64_t, 4>{0, 0, 0, 0}) return x;
    // constant_pad_nd takes the last dimension first: [left, right, top, bottom].
    return absl::StrCat("torch.constant_pad_nd(", x, ", ", List({pads[2], pads[3], pads[0], pads[1]}), ", ", value,
                        ")");
  }

  // A convolution; symmetric padding stays in the convolution itself.
  static std::string Conv(const std::string& x, const std::string& weight, const std::string& bias,
                          const KerasLayer& layer, const std::array<int64_t, 4>& pads, int64_t groups) {
    const bool symmetric = pads[0] == pads[1] && pads[2] == pads[3];
    return absl::StrCat("torch.conv2d(", symmetric ? x : Pad(x, pads, "0.0"), ", ", weight, ", ", bias, ", ",
                        List({layer.strides[0], layer.strides[1]}), ", ",
                        symmetric ? List({pads[0], pads[2]}) : "[0, 0]", ", ",
                        List({layer.dilation[0], layer.dilation[1]}), ", ", groups, ")");
  }

  std::string Activate(const Activation& a, const std::string& x, const Shape& shape) {
    switch (a.kind) {
      case ActivationKind::kLinear:
        return x;
      case ActivationKind::kRelu: {
        if (a.threshold == 0 && a.alpha == 0) {
          return std::isinf(a.max_value) ? absl::StrCat("torch.relu(", x, ")")
                                         : absl::StrCat("torch.clamp(", x, ", 0.0, ", Float(a.max_value), ")");
        }
        if (a.threshold == 0 && std::isinf(a.max_value)) {
          return absl::StrCat("torch.leaky_relu(", x, ", ", Float(a.alpha), ")");
        }
        // Keras's relu(x, negative_slope, max_value, threshold), term by term.
        std::string positive =
            absl::StrCat("torch.where(", x, " > ", Float(a.threshold), ", ", x, ", torch.zeros_like(", x, "))");
        if (!std::isinf(a.max_value))
          positive = absl::StrCat("torch.clamp(", positive, ", 0.0, ", Float(a.max_value), ")");
        if (a.alpha == 0) return positive;
        return absl::StrCat("(", positive, " - ", Float(a.alpha), " * torch.relu(", Float(a.threshold), " - ", x, "))");
      }
      case ActivationKind::kThresholdedRelu:
        return absl::StrCat("torch.where(", x, " > ", Float(a.alpha), ", ", x, ", torch.zeros_like(", x, "))");
      case ActivationKind::kElu:
        return absl::StrCat("torch.elu(", x, ", ", Float(a.alpha), ")");
      case ActivationKind::kSelu:
        return absl::StrCat("torch.selu(", x, ")");
      case ActivationKind::kSigmoid:
        return absl::StrCat("torch.sigmoid(", x, ")");
      case ActivationKind::kHardSigmoid:
        return absl::StrCat("torch.clamp(", x, " * ", Float(a.alpha), " + 0.5, 0.0, 1.0)");
      case ActivationKind::kHardSilu:
        return absl::StrCat("(", x, " * torch.clamp(", x, " * ", Float(a.alpha), " + 0.5, 0.0, 1.0))");
      case ActivationKind::kTanh:
        return absl::StrCat("torch.tanh(", x, ")");
      case ActivationKind::kSoftmax:  // over Keras's last axis: the channels of an image
        return absl::StrCat("torch.softmax(", x, ", ", IsImage(shape) ? 1 : -1, ")");
      case ActivationKind::kSilu:
        return absl::StrCat("torch.silu(", x, ")");
      case ActivationKind::kGelu:
        return absl::StrCat("torch.gelu(", x, ")");
      case ActivationKind::kSoftplus:
        // Not torch.softplus, which turns linear above 20 (a 2e-9 relative error).
        return absl::StrCat("(torch.relu(", x, ") + torch.log1p(torch.exp(-torch.abs(", x, "))))");
      case ActivationKind::kSoftsign:
        return absl::StrCat("(", x, " / (torch.abs(", x, ") + 1.0))");
      case ActivationKind::kExponential:
        return absl::StrCat("torch.exp(", x, ")");
      case ActivationKind::kMish:
        return absl::StrCat("torch.mish(", x, ")");
    }
    return x;
  }

  std::string Expression(size_t index, const std::vector<std::string>& in) {
    const KerasLayer& layer = model_.layers[index];
    const BoundWeights& w = layer.weights;
    const Shape& in_shape = layer.inputs.empty() ? layer.output_shape : model_.Layer(layer.inputs[0]).output_shape;
    const std::string x = in.empty() ? "x" : in[0];
    auto bias = [&]() { return layer.use_bias ? Parameter(index, "bias", FromWeight(w.bias)) : std::string("None"); };
    switch (layer.kind) {
      case LayerKind::kInput: {
        // Pixels are whole numbers, exact in either precision.
        const InputTransform& t = model_.input_transform;
        if (t.IsIdentity()) return options_.float64 ? "x.double()" : "x";
        // In double, then rounded once to float32: what the model sees.
        return absl::StrCat("(x.double() * ", DoubleValues("input_scale", t.scale, layer.output_shape), " + ",
                            DoubleValues("input_offset", t.offset, layer.output_shape), ").float()",
                            options_.float64 ? ".double()" : "");
      }
      case LayerKind::kConv2D: {
        // HWIO -> OIHW.
        const std::string weight = Parameter(index, "weight", FromWeight(w.kernel).permute({3, 2, 0, 1}).contiguous());
        return Activate(layer.activation, Conv(x, weight, bias(), layer, SamePadding(layer, in_shape), layer.groups),
                        layer.output_shape);
      }
      case LayerKind::kDepthwiseConv2D:
      case LayerKind::kSeparableConv2D: {
        // [kh, kw, C, m] -> [C * m, 1, kh, kw]: output channel c * m + j, as in Keras.
        const int64_t c = in_shape[2], m = layer.depth_multiplier;
        torch::Tensor depthwise =
            FromWeight(w.kernel).permute({2, 3, 0, 1}).reshape({c * m, 1, layer.kernel_size[0], layer.kernel_size[1]});
        const std::array<int64_t, 4> pads = SamePadding(layer, in_shape);
        if (layer.kind == LayerKind::kDepthwiseConv2D) {
          const std::string weight = Parameter(index, "weight", depthwise.contiguous());
          return Activate(layer.activation, Conv(x, weight, bias(), layer, pads, c), layer.output_shape);
        }
        const std::string dw = Parameter(index, "depthwise_weight", depthwise.contiguous());
        const std::string pw =
            Parameter(index, "pointwise_weight", FromWeight(w.pointwise_kernel).permute({3, 2, 0, 1}).contiguous());
        const std::string inner = Conv(x, dw, "None", layer, pads, c);
        return Activate(layer.activation,
                        absl::StrCat("torch.conv2d(", inner, ", ", pw, ", ", bias(), ", [1, 1], [0, 0], [1, 1], 1)"),
                        layer.output_shape);
      }
      case LayerKind::kDense: {
        const std::string weight = Parameter(index, "weight", FromWeight(w.kernel).t().contiguous());
        const std::string b = bias();
        if (!IsImage(in_shape))
          return Activate(layer.activation, absl::StrCat("torch.linear(", x, ", ", weight, ", ", b, ")"),
                          layer.output_shape);
        return Activate(
            layer.activation,
            absl::StrCat("torch.linear(", x, ".permute([0, 2, 3, 1]), ", weight, ", ", b, ").permute([0, 3, 1, 2])"),
            layer.output_shape);
      }
      case LayerKind::kBatchNorm: {
        const std::string gamma = layer.scale ? Parameter(index, "weight", FromWeight(w.gamma)) : "None";
        const std::string beta = layer.center ? Parameter(index, "bias", FromWeight(w.beta)) : "None";
        const std::string mean = Buffer(index, "running_mean", FromWeight(w.moving_mean));
        const std::string var = Buffer(index, "running_var", FromWeight(w.moving_variance));
        // batch_norm normalizes dimension 1: the channels of NCHW images and of
        // vectors; a sequence [N, L, C] is transposed around it.
        const bool sequence = in_shape.size() == 2;
        const std::string input = sequence ? absl::StrCat(x, ".transpose(1, 2)") : x;
        std::string bn = absl::StrCat("torch.batch_norm(", input, ", ", gamma, ", ", beta, ", ", mean, ", ", var,
                                      ", False, 0.0, ", Float(layer.epsilon), ", False)");
        return sequence ? absl::StrCat(bn, ".transpose(1, 2)") : bn;
      }
      case LayerKind::kActivation:
        return Activate(layer.activation, x, layer.output_shape);
      case LayerKind::kPReLU: {
        // Keras's alpha has the input's shape (shared axes 1): NCHW for images.
        torch::Tensor alpha = FromWeight(w.alpha);
        if (IsImage(in_shape)) alpha = alpha.permute({2, 0, 1});
        const std::string a = Parameter(index, "alpha", alpha.unsqueeze(0).contiguous());
        return absl::StrCat("(torch.relu(", x, ") - ", a, " * torch.relu(-", x, "))");
      }
      case LayerKind::kMerge:
        return Merge(layer, in, in_shape);
      case LayerKind::kPool2D: {
        const std::array<int64_t, 4> pads = SamePadding(layer, in_shape);
        const std::string window = absl::StrCat(List({layer.kernel_size[0], layer.kernel_size[1]}), ", ",
                                                List({layer.strides[0], layer.strides[1]}), ", [0, 0]");
        if (layer.pool == PoolOp::kMax) {
          return absl::StrCat("torch.max_pool2d(", Pad(x, pads, "float('-inf')"), ", ", window, ", [1, 1], False)");
        }
        const std::string sum =
            absl::StrCat("torch.avg_pool2d(", Pad(x, pads, "0.0"), ", ", window, ", False, True, None)");
        if (pads == std::array<int64_t, 4>{0, 0, 0, 0}) return sum;
        // Keras averages over the real pixels only: divide by the share of
        // each window that is not padding.
        const std::string ones = absl::StrCat("torch.ones_like(", x, "[:1, :1])");
        return absl::StrCat("(", sum, " / torch.avg_pool2d(", Pad(ones, pads, "0.0"), ", ", window,
                            ", False, True, None))");
      }
      case LayerKind::kGlobalPool2D:
        return absl::StrCat(layer.pool == PoolOp::kMax ? "torch.amax(" : "torch.mean(", x, ", [2, 3], ",
                            layer.keepdims ? "True" : "False", ")");
      case LayerKind::kZeroPadding2D:
        return Pad(x, layer.margins, "0.0");
      case LayerKind::kCropping2D: {
        const std::array<int64_t, 4>& m = layer.margins;
        return absl::StrCat(x, "[:, :, ", m[0], ":", in_shape[0] - m[1], ", ", m[2], ":", in_shape[1] - m[3], "]");
      }
      case LayerKind::kUpSampling2D:  // nearest: every pixel repeated, rows then columns
        return absl::StrCat(x, ".repeat_interleave(", layer.upsampling[0], ", 2).repeat_interleave(",
                            layer.upsampling[1], ", 3)");
      case LayerKind::kFlatten:
        if (IsImage(in_shape)) return absl::StrCat("torch.flatten(", x, ".permute([0, 2, 3, 1]), 1)");
        return in_shape.size() == 1 ? x : absl::StrCat("torch.flatten(", x, ", 1)");
      case LayerKind::kReshape: {
        std::vector<int64_t> target = {-1};
        target.insert(target.end(), layer.output_shape.begin(), layer.output_shape.end());
        std::string result = absl::StrCat(IsImage(in_shape) ? absl::StrCat(x, ".permute([0, 2, 3, 1])") : x,
                                          ".reshape(", List(target), ")");
        return IsImage(layer.output_shape) ? absl::StrCat(result, ".permute([0, 3, 1, 2])") : result;
      }
      case LayerKind::kRescaling:
        return absl::StrCat(x, " * ", Values(index, "scale", layer.rescale_scale, in_shape), " + ",
                            Values(index, "offset", layer.rescale_offset, in_shape));
      case LayerKind::kNormalization:
        return absl::StrCat("(", x, " - ", ChannelValues(index, "mean", w.mean, in_shape),
                            ") / torch.clamp(torch.sqrt(", ChannelValues(index, "variance", w.variance, in_shape),
                            "), 1e-07)");
      case LayerKind::kIdentity:
        return x;
    }
    return x;
  }

  // A Rescaling value: a literal when single, else a per-channel buffer.
  std::string Values(size_t index, const std::string& name, const std::vector<float>& values, const Shape& shape) {
    return values.size() == 1 ? Float(values[0]) : ChannelValues(index, name, values, shape);
  }

  static std::string Merge(const KerasLayer& layer, const std::vector<std::string>& in, const Shape& shape) {
    switch (layer.merge) {
      case MergeOp::kAdd:
        return absl::StrJoin(in, " + ");
      case MergeOp::kSubtract:
        return absl::StrCat(in[0], " - ", in[1]);
      case MergeOp::kMultiply:
        return absl::StrJoin(in, " * ");
      case MergeOp::kAverage:
        return absl::StrCat("(", absl::StrJoin(in, " + "), ") / ", Float(static_cast<double>(in.size())));
      case MergeOp::kMaximum:
      case MergeOp::kMinimum: {
        std::string result = in[0];
        for (size_t k = 1; k < in.size(); ++k) {
          result = absl::StrCat(layer.merge == MergeOp::kMaximum ? "torch.maximum(" : "torch.minimum(", result, ", ",
                                in[k], ")");
        }
        return result;
      }
      case MergeOp::kConcatenate: {
        // Keras axis (no batch) -> torch dimension: images are NCHW.
        static constexpr int64_t kImageDim[3] = {2, 3, 1};
        const int64_t dim = IsImage(shape) ? kImageDim[layer.axis] : layer.axis + 1;
        return absl::StrCat("torch.cat([", absl::StrJoin(in, ", "), "], ", dim, ")");
      }
    }
    return in[0];
  }

  const KerasModel& model_;
  TorchModuleOptions options_;
  std::shared_ptr<torch::jit::CompilationUnit> compilation_unit_;
  torch::jit::Module root_;
  std::map<size_t, std::string> submodules_;
  std::set<std::string> used_names_;
};

// The graph the module computes: `model`, folded when asked and float32.
KerasModel GraphToBuild(const KerasModel& model, const TorchModuleOptions& options) {
  return options.fold_batch_norm && !options.float64 ? FoldBatchNorm(model) : model;
}

}  // namespace

std::string TorchScriptSource(const KerasModel& model, const TorchModuleOptions& options) {
  const KerasModel graph = GraphToBuild(model, options);
  return Builder(graph, options).Generate();
}

absl::StatusOr<torch::jit::Module> BuildTorchModule(const KerasModel& model, const TorchModuleOptions& options,
                                                    const std::string& source) {
  const KerasModel graph = GraphToBuild(model, options);
  std::string code;
  try {
    Builder builder(graph, options);
    code = builder.Generate();
    builder.root().define(code);
    builder.root().eval();
    if (options.float64) builder.root().to(torch::kFloat64);
    return builder.root();
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat(source, ": LibTorch refused the generated module: ", e.what(), "\ncode:\n", code));
  }
}

}  // namespace resnet8
