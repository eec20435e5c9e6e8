#include "server/keras/layer_specs.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace resnet8 {
namespace {

using nlohmann::json;
using Inputs = std::vector<const Shape*>;

std::string ShapeText(const Shape& shape) { return absl::StrCat("[", absl::StrJoin(shape, ","), "]"); }

int64_t Elements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

absl::Status ExpectImage(const Shape& x, const ConfigReader& config) {
  if (x.size() != 3) {
    return config.Invalid(absl::StrCat("expects an image input [height, width, channels], got ", ShapeText(x)));
  }
  return absl::OkStatus();
}

// ---- Options ----

absl::Status NoOptions(const ConfigReader&, KerasLayer&) { return absl::OkStatus(); }

absl::Status ChannelsLastOnly(const ConfigReader& config, KerasLayer&) { return config.RequireChannelsLast(); }

absl::Status ConvolutionOptions(const ConfigReader& config, KerasLayer& layer) {
  ASSIGN_OR_RETURN(layer.kernel_size, config.Pair("kernel_size"));
  ASSIGN_OR_RETURN(layer.strides, config.PairOr("strides", {1, 1}));
  ASSIGN_OR_RETURN(layer.dilation, config.PairOr("dilation_rate", {1, 1}));
  ASSIGN_OR_RETURN(layer.padding, config.PaddingField());
  ASSIGN_OR_RETURN(layer.activation, config.ActivationField());
  ASSIGN_OR_RETURN(layer.use_bias, config.BoolOr("use_bias", true));
  return config.RequireChannelsLast();
}

absl::Status Conv2DOptions(const ConfigReader& config, KerasLayer& layer) {
  ASSIGN_OR_RETURN(layer.filters, config.PositiveInt("filters"));
  ASSIGN_OR_RETURN(layer.groups, config.PositiveIntOr("groups", 1));
  return ConvolutionOptions(config, layer);
}

absl::Status DepthwiseOptions(const ConfigReader& config, KerasLayer& layer) {
  ASSIGN_OR_RETURN(layer.depth_multiplier, config.PositiveIntOr("depth_multiplier", 1));
  return ConvolutionOptions(config, layer);
}

absl::Status SeparableOptions(const ConfigReader& config, KerasLayer& layer) {
  ASSIGN_OR_RETURN(layer.filters, config.PositiveInt("filters"));
  return DepthwiseOptions(config, layer);
}

absl::Status DenseOptions(const ConfigReader& config, KerasLayer& layer) {
  ASSIGN_OR_RETURN(layer.filters, config.PositiveInt("units"));
  ASSIGN_OR_RETURN(layer.activation, config.ActivationField());
  ASSIGN_OR_RETURN(layer.use_bias, config.BoolOr("use_bias", true));
  return absl::OkStatus();
}

absl::Status BatchNormOptions(const ConfigReader& config, KerasLayer& layer) {
  ASSIGN_OR_RETURN(layer.epsilon, config.NumberOr("epsilon", 1e-3));
  if (layer.epsilon < 0) return config.Invalid("negative epsilon");
  ASSIGN_OR_RETURN(layer.center, config.BoolOr("center", true));
  ASSIGN_OR_RETURN(layer.scale, config.BoolOr("scale", true));
  return absl::OkStatus();  // the axis is checked with the input's rank
}

absl::Status ActivationOptions(const ConfigReader& config, KerasLayer& layer) {
  ASSIGN_OR_RETURN(layer.activation, config.ActivationField());
  return absl::OkStatus();
}

absl::Status ReluOptions(const ConfigReader& config, KerasLayer& layer) {
  Activation& a = layer.activation;
  a.kind = ActivationKind::kRelu;
  ASSIGN_OR_RETURN(a.alpha, config.NumberOr("negative_slope", 0));
  ASSIGN_OR_RETURN(a.threshold, config.NumberOr("threshold", 0));
  ASSIGN_OR_RETURN(a.max_value, config.NumberOr("max_value", a.max_value));
  if (a.max_value < 0 || a.alpha < 0) return config.Invalid("max_value and negative_slope must not be negative");
  return absl::OkStatus();
}

absl::Status LeakyReluOptions(const ConfigReader& config, KerasLayer& layer) {
  layer.activation.kind = ActivationKind::kRelu;
  // Keras 2 calls the slope alpha, Keras 3 negative_slope; both default to 0.3.
  ASSIGN_OR_RETURN(double alpha, config.NumberOr("alpha", 0.3));
  ASSIGN_OR_RETURN(layer.activation.alpha, config.NumberOr("negative_slope", alpha));
  return absl::OkStatus();
}

absl::Status EluOptions(const ConfigReader& config, KerasLayer& layer) {
  layer.activation.kind = ActivationKind::kElu;
  ASSIGN_OR_RETURN(layer.activation.alpha, config.NumberOr("alpha", 1.0));
  return absl::OkStatus();
}

absl::Status ThresholdedReluOptions(const ConfigReader& config, KerasLayer& layer) {
  layer.activation.kind = ActivationKind::kThresholdedRelu;
  ASSIGN_OR_RETURN(layer.activation.alpha, config.NumberOr("theta", 1.0));
  return absl::OkStatus();
}

absl::Status SoftmaxOptions(const ConfigReader&, KerasLayer& layer) {
  layer.activation.kind = ActivationKind::kSoftmax;
  return absl::OkStatus();  // the axis is checked with the input's rank
}

absl::Status PoolOptions(const ConfigReader& config, KerasLayer& layer) {
  ASSIGN_OR_RETURN(layer.kernel_size, config.PairOr("pool_size", {2, 2}));
  ASSIGN_OR_RETURN(layer.strides, config.PairOr("strides", layer.kernel_size));  // None means pool_size
  ASSIGN_OR_RETURN(layer.padding, config.PaddingField());
  return config.RequireChannelsLast();
}

absl::Status GlobalPoolOptions(const ConfigReader& config, KerasLayer& layer) {
  ASSIGN_OR_RETURN(layer.keepdims, config.BoolOr("keepdims", false));
  return config.RequireChannelsLast();
}

absl::Status MarginOptions(const char* key, const ConfigReader& config, KerasLayer& layer) {
  ASSIGN_OR_RETURN(layer.margins, config.Margins(key));
  return config.RequireChannelsLast();
}

absl::Status UpSamplingOptions(const ConfigReader& config, KerasLayer& layer) {
  ASSIGN_OR_RETURN(layer.upsampling, config.PairOr("size", {2, 2}));
  ASSIGN_OR_RETURN(std::string interpolation, config.StringOr("interpolation", "nearest"));
  if (interpolation != "nearest") {
    // Keras versions disagree on bilinear's sampling grid (tf.keras 1.x and
    // tfjs sample corners, Keras 2.3+ and 3 pixel centres), so a file does
    // not say which one its model was trained with.
    return config.Invalid(absl::StrCat("interpolation '", interpolation, "' is not supported (supported: nearest)"));
  }
  return config.RequireChannelsLast();
}

// Masking zeroes the positions whose features all equal mask_value and
// attaches a mask for later layers. With mask_value 0 those positions are
// zeros already; the mask itself is carried by nothing here, so a model
// whose later layers would read it (a Softmax layer) is refused by the
// model reader.
absl::Status MaskingOptions(const ConfigReader& config, KerasLayer&) {
  ASSIGN_OR_RETURN(double mask_value, config.NumberOr("mask_value", 0.0));
  if (mask_value != 0) {
    return config.Invalid(
        absl::StrCat("mask_value ", mask_value, " is not supported (only 0, which changes no value)"));
  }
  return absl::OkStatus();
}

absl::Status RescalingOptions(const ConfigReader& config, KerasLayer& layer) {
  ASSIGN_OR_RETURN(layer.rescale_scale, config.Floats("scale", 1.0f));
  ASSIGN_OR_RETURN(layer.rescale_offset, config.Floats("offset", 0.0f));
  return absl::OkStatus();
}

absl::Status NormalizationOptions(const ConfigReader& config, KerasLayer& layer) {
  ASSIGN_OR_RETURN(bool invert, config.BoolOr("invert", false));
  if (invert) return config.Invalid("Normalization with invert=True is not supported");
  if (config.Has("mean") != config.Has("variance")) {
    return config.Invalid("Normalization gives only one of 'mean' and 'variance'");
  }
  if (config.Has("mean")) {
    ASSIGN_OR_RETURN(layer.weights.mean, config.Floats("mean", 0.0f));
    ASSIGN_OR_RETURN(layer.weights.variance, config.Floats("variance", 1.0f));
  }
  return absl::OkStatus();
}

// ---- Shapes ----

absl::Status DeclaredShape(const Inputs&, const ConfigReader& config, KerasLayer& layer) {
  ASSIGN_OR_RETURN(layer.output_shape, config.DeclaredInputShape());
  return absl::OkStatus();
}

absl::Status SameShape(const Inputs& in, const ConfigReader&, KerasLayer& layer) {
  layer.output_shape = *in[0];
  return absl::OkStatus();
}

absl::Status LastAxisShape(const Inputs& in, const ConfigReader& config, KerasLayer& layer) {
  if (in[0]->empty()) return config.Invalid("has an input without channels");
  RETURN_IF_ERROR(config.RequireLastAxis("axis", in[0]->size()));
  return SameShape(in, config, layer);
}

int64_t SameOutput(int64_t in, int64_t stride) { return (in + stride - 1) / stride; }

// Convolutions and pooling: a window slid over the image.
absl::Status WindowShape(const Inputs& in, const ConfigReader& config, KerasLayer& layer) {
  const Shape& x = *in[0];
  RETURN_IF_ERROR(ExpectImage(x, config));
  const bool conv = layer.kind != LayerKind::kPool2D;
  if (conv && (layer.strides[0] > 1 || layer.strides[1] > 1) && (layer.dilation[0] > 1 || layer.dilation[1] > 1)) {
    return config.Invalid("strides above 1 together with dilation_rate above 1 are not supported (nor by Keras)");
  }
  Shape out(3);
  for (int d = 0; d < 2; ++d) {
    const int64_t window = (layer.kernel_size[d] - 1) * layer.dilation[d] + 1;
    if (layer.padding == Padding::kSame) {
      out[d] = SameOutput(x[d], layer.strides[d]);
    } else {
      if (x[d] < window)
        return config.Invalid(absl::StrCat("window ", window, " is larger than the input ", ShapeText(x)));
      out[d] = (x[d] - window) / layer.strides[d] + 1;
    }
  }
  out[2] = layer.kind == LayerKind::kPool2D            ? x[2]
           : layer.kind == LayerKind::kDepthwiseConv2D ? x[2] * layer.depth_multiplier
                                                       : layer.filters;
  if (layer.kind == LayerKind::kConv2D && (x[2] % layer.groups != 0 || layer.filters % layer.groups != 0)) {
    return config.Invalid(absl::StrCat("groups ", layer.groups, " does not divide the input channels ", x[2],
                                       " and the filters ", layer.filters));
  }
  layer.output_shape = out;
  return absl::OkStatus();
}

absl::Status DenseShape(const Inputs& in, const ConfigReader& config, KerasLayer& layer) {
  if (in[0]->empty()) return config.Invalid("expects an input with features");
  layer.output_shape = *in[0];
  layer.output_shape.back() = layer.filters;
  return absl::OkStatus();
}

absl::Status SoftmaxShape(const Inputs& in, const ConfigReader& config, KerasLayer& layer) {
  RETURN_IF_ERROR(config.RequireLastAxis("axis", in[0]->size()));
  return SameShape(in, config, layer);
}

// Element-wise merges need equal shapes; Concatenate equal ones but on its axis.
absl::Status MergeShape(const Inputs& in, const ConfigReader& config, KerasLayer& layer) {
  const Shape& x = *in[0];
  const int64_t rank = static_cast<int64_t>(x.size());
  int64_t axis = -1;
  if (layer.merge == MergeOp::kConcatenate) {
    const json& value = config.Get("axis");
    if (!value.is_null() && !value.is_number_integer()) return config.Invalid("'axis' is not an integer");
    const int64_t keras_axis = value.is_number_integer() ? value.get<int64_t>() : -1;
    axis = keras_axis < 0 ? keras_axis + rank : keras_axis - 1;
    if (axis < 0 || axis >= rank) {
      return config.Invalid(absl::StrCat("axis ", keras_axis, " is not an axis of ", ShapeText(x),
                                         " (the batch axis cannot be concatenated)"));
    }
    layer.axis = axis;
  }
  layer.output_shape = x;
  if (axis >= 0) layer.output_shape[axis] = 0;
  for (const Shape* shape : in) {
    bool compatible = shape->size() == x.size();
    for (int64_t d = 0; compatible && d < rank; ++d) compatible = d == axis || (*shape)[d] == x[d];
    if (!compatible) {
      return config.Invalid(
          absl::StrCat("merges tensors of incompatible shapes ", ShapeText(x), " and ", ShapeText(*shape)));
    }
    if (axis >= 0) layer.output_shape[axis] += (*shape)[axis];
  }
  return absl::OkStatus();
}

absl::Status GlobalPoolShape(const Inputs& in, const ConfigReader& config, KerasLayer& layer) {
  const Shape& x = *in[0];
  RETURN_IF_ERROR(ExpectImage(x, config));
  layer.output_shape = layer.keepdims ? Shape{1, 1, x[2]} : Shape{x[2]};
  return absl::OkStatus();
}

// ZeroPadding2D adds the margins, Cropping2D takes them away.
absl::Status MarginShape(int64_t sign, const Inputs& in, const ConfigReader& config, KerasLayer& layer) {
  const Shape& x = *in[0];
  RETURN_IF_ERROR(ExpectImage(x, config));
  const std::array<int64_t, 4>& m = layer.margins;
  layer.output_shape = {x[0] + sign * (m[0] + m[1]), x[1] + sign * (m[2] + m[3]), x[2]};
  if (layer.output_shape[0] <= 0 || layer.output_shape[1] <= 0) {
    return config.Invalid(absl::StrCat("crops all of the input ", ShapeText(x)));
  }
  return absl::OkStatus();
}

absl::Status UpSamplingShape(const Inputs& in, const ConfigReader& config, KerasLayer& layer) {
  const Shape& x = *in[0];
  RETURN_IF_ERROR(ExpectImage(x, config));
  layer.output_shape = {x[0] * layer.upsampling[0], x[1] * layer.upsampling[1], x[2]};
  if (Elements(layer.output_shape) > (int64_t{1} << 28)) {
    return config.Invalid(absl::StrCat("size [", layer.upsampling[0], ", ", layer.upsampling[1],
                                       "] makes an output larger than 2^28 values"));
  }
  return absl::OkStatus();
}

absl::Status FlattenShape(const Inputs& in, const ConfigReader&, KerasLayer& layer) {
  layer.output_shape = {Elements(*in[0])};
  return absl::OkStatus();
}

absl::Status ReshapeShape(const Inputs& in, const ConfigReader& config, KerasLayer& layer) {
  const Shape& x = *in[0];
  const json& target = config.Get("target_shape");
  if (!target.is_array() || target.empty() || target.size() > 3) {
    return config.Invalid("'target_shape' must be a list of 1 to 3 sizes");
  }
  Shape out;
  int unknown = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (!target[i].is_number_integer() || target[i].get<int64_t>() == 0 || target[i].get<int64_t>() < -1) {
      return config.Invalid(absl::StrCat("'target_shape' ", target.dump(), " has a size that is not positive"));
    }
    if (target[i].get<int64_t>() == -1) {
      if (unknown >= 0) return config.Invalid("'target_shape' has more than one -1");
      unknown = static_cast<int>(i);
    }
    out.push_back(target[i].get<int64_t>());
  }
  if (unknown >= 0) {
    const int64_t known = -Elements(out);  // the product of the other sizes
    if (Elements(x) % known == 0) out[unknown] = Elements(x) / known;
  }
  if (Elements(out) != Elements(x)) {
    return config.Invalid(absl::StrCat("cannot reshape ", ShapeText(x), " into ", target.dump()));
  }
  layer.output_shape = out;
  return absl::OkStatus();
}

absl::Status RescalingShape(const Inputs& in, const ConfigReader& config, KerasLayer& layer) {
  const Shape& x = *in[0];
  for (const auto& [values, what] : {std::pair{&layer.rescale_scale, "scale"}, {&layer.rescale_offset, "offset"}}) {
    if (values->size() != 1 && (x.empty() || static_cast<int64_t>(values->size()) != x.back())) {
      return config.Invalid(
          absl::StrCat(what, " has ", values->size(), " values for ", x.empty() ? 0 : x.back(), " channels"));
    }
  }
  return SameShape(in, config, layer);
}

// ---- Weights ----

std::vector<ExpectedWeight> NoWeights(KerasLayer&, const Shape&) { return {}; }

int64_t Channels(const Shape& shape) { return shape.empty() ? 0 : shape.back(); }

// A convolution's or Dense layer's bias comes after its kernels.
std::vector<ExpectedWeight> WithBias(KerasLayer& layer, std::vector<ExpectedWeight> expected) {
  if (layer.use_bias) expected.push_back({"bias", &layer.weights.bias, {Channels(layer.output_shape)}});
  return expected;
}

std::vector<ExpectedWeight> Conv2DWeights(KerasLayer& layer, const Shape& in) {
  const auto [kh, kw] = layer.kernel_size;
  return WithBias(layer, {{"kernel", &layer.weights.kernel, {kh, kw, Channels(in) / layer.groups, layer.filters}}});
}

std::vector<ExpectedWeight> DepthwiseWeights(KerasLayer& layer, const Shape& in) {
  const auto [kh, kw] = layer.kernel_size;
  return WithBias(layer, {{"depthwise_kernel", &layer.weights.kernel, {kh, kw, Channels(in), layer.depth_multiplier}}});
}

std::vector<ExpectedWeight> SeparableWeights(KerasLayer& layer, const Shape& in) {
  const auto [kh, kw] = layer.kernel_size;
  const int64_t mid = Channels(in) * layer.depth_multiplier;
  return WithBias(layer, {{"depthwise_kernel", &layer.weights.kernel, {kh, kw, Channels(in), layer.depth_multiplier}},
                          {"pointwise_kernel", &layer.weights.pointwise_kernel, {1, 1, mid, layer.filters}}});
}

std::vector<ExpectedWeight> DenseWeights(KerasLayer& layer, const Shape& in) {
  return WithBias(layer, {{"kernel", &layer.weights.kernel, {Channels(in), layer.filters}}});
}

std::vector<ExpectedWeight> BatchNormWeights(KerasLayer& layer, const Shape&) {
  const int64_t channels = Channels(layer.output_shape);
  BoundWeights& w = layer.weights;
  std::vector<ExpectedWeight> expected;
  if (layer.scale) expected.push_back({"gamma", &w.gamma, {channels}});
  if (layer.center) expected.push_back({"beta", &w.beta, {channels}});
  expected.push_back({"moving_mean", &w.moving_mean, {channels}});
  expected.push_back({"moving_variance", &w.moving_variance, {channels}});
  return expected;
}

std::vector<ExpectedWeight> PReluWeights(KerasLayer& layer, const Shape& in) {
  return {{"alpha", &layer.weights.alpha, in, /*broadcasts_to_input=*/true}};
}

// Normalization: adapted statistics are weights (mean, variance, count);
// statistics given in the config are not.
absl::Status BindNormalization(const std::vector<KerasWeight>& stored, const Shape& in, const ConfigReader& config,
                               KerasLayer& layer) {
  if (layer.weights.mean.empty()) {
    if (stored.size() != 3) {
      return config.Invalid(
          absl::StrCat("stores ", stored.size(), " weights, expected the adapted mean, variance and count"));
    }
    layer.weights.mean = stored[0].values;
    layer.weights.variance = stored[1].values;
  }
  for (const std::vector<float>* v : {&layer.weights.mean, &layer.weights.variance}) {
    if (v->size() != 1 && static_cast<int64_t>(v->size()) != Channels(in)) {
      return config.Invalid(absl::StrCat("has ", v->size(), " statistics for ", Channels(in), " channels"));
    }
  }
  return absl::OkStatus();
}

// ---- The table ----

LayerSpec Row(std::string class_name, LayerKind kind, decltype(LayerSpec::parse) parse,
              decltype(LayerSpec::infer_shape) infer_shape, decltype(LayerSpec::weights) weights = NoWeights) {
  LayerSpec spec;
  spec.class_name = std::move(class_name);
  spec.kind = kind;
  spec.parse = std::move(parse);
  spec.infer_shape = std::move(infer_shape);
  spec.weights = std::move(weights);
  return spec;
}

LayerSpec Also(LayerSpec spec, std::vector<std::string> aliases) {
  spec.aliases = std::move(aliases);
  return spec;
}

LayerSpec Merge(std::string class_name, MergeOp op) {
  LayerSpec spec = Row(
      std::move(class_name), LayerKind::kMerge,
      [op](const ConfigReader&, KerasLayer& layer) {
        layer.merge = op;
        return absl::OkStatus();  // Concatenate's axis is read with the input's rank
      },
      MergeShape);
  spec.min_inputs = 2;
  spec.max_inputs = op == MergeOp::kSubtract ? 2 : 64;
  return spec;
}

LayerSpec Pool(std::string class_name, PoolOp op, LayerKind kind) {
  const bool global = kind == LayerKind::kGlobalPool2D;
  return Row(
      std::move(class_name), kind,
      [op, global](const ConfigReader& config, KerasLayer& layer) {
        layer.pool = op;
        return global ? GlobalPoolOptions(config, layer) : PoolOptions(config, layer);
      },
      global ? GlobalPoolShape : WindowShape);
}

// Layers that compute nothing at inference time.
LayerSpec Identity(std::string class_name) {
  return Row(std::move(class_name), LayerKind::kIdentity, NoOptions, SameShape);
}

std::vector<LayerSpec> MakeTable() {
  using namespace std::placeholders;
  LayerSpec input = Row("InputLayer", LayerKind::kInput, NoOptions, DeclaredShape);
  input.min_inputs = input.max_inputs = 0;
  LayerSpec normalization = Row("Normalization", LayerKind::kNormalization, NormalizationOptions, LastAxisShape);
  normalization.bind = BindNormalization;
  std::vector<LayerSpec> table = {
      input,
      // Convolution
      Also(Row("Conv2D", LayerKind::kConv2D, Conv2DOptions, WindowShape, Conv2DWeights), {"Convolution2D"}),
      Row("DepthwiseConv2D", LayerKind::kDepthwiseConv2D, DepthwiseOptions, WindowShape, DepthwiseWeights),
      Also(Row("SeparableConv2D", LayerKind::kSeparableConv2D, SeparableOptions, WindowShape, SeparableWeights),
           {"SeparableConvolution2D"}),
      // Normalization
      Row("BatchNormalization", LayerKind::kBatchNorm, BatchNormOptions, LastAxisShape, BatchNormWeights),
      normalization,
      Row("Rescaling", LayerKind::kRescaling, RescalingOptions, RescalingShape),
      // Activation
      Row("Activation", LayerKind::kActivation, ActivationOptions, SameShape),
      Row("ReLU", LayerKind::kActivation, ReluOptions, SameShape),
      Row("LeakyReLU", LayerKind::kActivation, LeakyReluOptions, SameShape),
      Row("ELU", LayerKind::kActivation, EluOptions, SameShape),
      Row("PReLU", LayerKind::kPReLU, NoOptions, SameShape, PReluWeights),
      Row("ThresholdedReLU", LayerKind::kActivation, ThresholdedReluOptions, SameShape),
      Row("Softmax", LayerKind::kActivation, SoftmaxOptions, SoftmaxShape),
      // Merge
      Merge("Add", MergeOp::kAdd),
      Merge("Subtract", MergeOp::kSubtract),
      Merge("Multiply", MergeOp::kMultiply),
      Merge("Average", MergeOp::kAverage),
      Merge("Maximum", MergeOp::kMaximum),
      Merge("Minimum", MergeOp::kMinimum),
      Merge("Concatenate", MergeOp::kConcatenate),
      // Pooling
      Also(Pool("MaxPooling2D", PoolOp::kMax, LayerKind::kPool2D), {"MaxPool2D"}),
      Also(Pool("AveragePooling2D", PoolOp::kAverage, LayerKind::kPool2D), {"AvgPool2D"}),
      Also(Pool("GlobalAveragePooling2D", PoolOp::kAverage, LayerKind::kGlobalPool2D), {"GlobalAvgPool2D"}),
      Also(Pool("GlobalMaxPooling2D", PoolOp::kMax, LayerKind::kGlobalPool2D), {"GlobalMaxPool2D"}),
      // Shape and head
      Row("ZeroPadding2D", LayerKind::kZeroPadding2D, std::bind(MarginOptions, "padding", _1, _2),
          std::bind(MarginShape, 1, _1, _2, _3)),
      Row("Cropping2D", LayerKind::kCropping2D, std::bind(MarginOptions, "cropping", _1, _2),
          std::bind(MarginShape, -1, _1, _2, _3)),
      Row("UpSampling2D", LayerKind::kUpSampling2D, UpSamplingOptions, UpSamplingShape),
      Row("Flatten", LayerKind::kFlatten, ChannelsLastOnly, FlattenShape),
      Row("Reshape", LayerKind::kReshape, NoOptions, ReshapeShape),
      Row("Dense", LayerKind::kDense, DenseOptions, DenseShape, DenseWeights),
  };
  // No-ops at inference. The Random* augmentation layers return their input
  // unchanged unless called with training=True, in Keras 3 and tf.keras alike
  // (RandomCrop is not among them: it crops or resizes at inference,
  // differently across versions).
  for (const char* name : {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
                           "AlphaDropout", "ActivityRegularization", "RandomFlip", "RandomRotation", "RandomZoom",
                           "RandomTranslation", "RandomContrast", "RandomBrightness"}) {
    table.push_back(Identity(name));
  }
  table.push_back(Row("Masking", LayerKind::kIdentity, MaskingOptions, SameShape));
  return table;
}

}  // namespace

const std::vector<LayerSpec>& LayerSpecs() {
  static const std::vector<LayerSpec> kTable = MakeTable();
  return kTable;
}

const LayerSpec* FindLayerSpec(absl::string_view class_name) {
  static const std::map<std::string, const LayerSpec*, std::less<>> kByName = [] {
    std::map<std::string, const LayerSpec*, std::less<>> by_name;
    for (const LayerSpec& spec : LayerSpecs()) {
      by_name[spec.class_name] = &spec;
      for (const std::string& alias : spec.aliases) by_name[alias] = &spec;
    }
    return by_name;
  }();
  auto it = kByName.find(class_name);
  return it == kByName.end() ? nullptr : it->second;
}

const LayerSpec& NestedModelOutputSpec() {
  static const LayerSpec kSpec = Identity("nested model output");
  return kSpec;
}

std::string SupportedLayerNames() {
  std::vector<std::string> names;
  for (const LayerSpec& spec : LayerSpecs()) names.push_back(spec.class_name);
  return absl::StrJoin(names, ", ");
}

}  // namespace resnet8
