#include "server/keras/model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "server/keras/keras_file.h"

namespace resnet8 {
namespace {

using nlohmann::json;

std::string ShapeText(const std::vector<int64_t>& shape) { return absl::StrCat("[", absl::StrJoin(shape, ","), "]"); }

int64_t Elements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// Layers that compute nothing at inference time. The Random* augmentation
// layers return their input unchanged unless called with training=True, in
// Keras 3 and tf.keras alike (RandomCrop is not among them: it crops or
// resizes at inference, differently across versions).
const std::set<std::string>& IdentityLayers() {
  static const std::set<std::string> kLayers = {
      "Dropout",      "SpatialDropout1D",       "SpatialDropout2D", "GaussianNoise",   "GaussianDropout",
      "AlphaDropout", "ActivityRegularization", "Masking",          "RandomFlip",      "RandomRotation",
      "RandomZoom",   "RandomTranslation",      "RandomContrast",   "RandomBrightness"};
  return kLayers;
}

const char* kSupportedLayers =
    "InputLayer, Conv2D, DepthwiseConv2D, SeparableConv2D, Dense, BatchNormalization, Activation, ReLU, "
    "LeakyReLU, ELU, PReLU, ThresholdedReLU, Softmax, Add, Subtract, Multiply, Average, Maximum, Minimum, "
    "Concatenate, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, ZeroPadding2D, "
    "Cropping2D, Flatten, Reshape, Rescaling, Normalization, Dropout, SpatialDropout1D, SpatialDropout2D, "
    "GaussianNoise, GaussianDropout, AlphaDropout, ActivityRegularization, Masking, RandomFlip, RandomRotation, "
    "RandomZoom, RandomTranslation, RandomContrast, RandomBrightness";

// Reads typed fields of one layer's `config`, with messages naming the layer.
class ConfigReader {
 public:
  ConfigReader(const json& config, std::string context, int keras_major)
      : config_(config), context_(std::move(context)), keras_major_(keras_major) {}

  const std::string& context() const { return context_; }
  const json& raw() const { return config_; }

  absl::Status Invalid(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(context_, ": ", what));
  }

  bool Has(const char* key) const { return config_.contains(key) && !config_[key].is_null(); }
  const json& Get(const char* key) const {
    static const json kNull;
    return Has(key) ? config_[key] : kNull;
  }

  absl::StatusOr<std::string> String(const char* key) const {
    if (!Has(key) || !config_[key].is_string()) {
      return Invalid(absl::StrCat("config field '", key, "' is missing or not a string"));
    }
    return config_[key].get<std::string>();
  }
  absl::StatusOr<std::string> StringOr(const char* key, std::string fallback) const {
    if (!Has(key)) return fallback;
    return String(key);
  }
  absl::StatusOr<bool> BoolOr(const char* key, bool fallback) const {
    if (!Has(key)) return fallback;
    if (!config_[key].is_boolean()) return Invalid(absl::StrCat("config field '", key, "' is not a boolean"));
    return config_[key].get<bool>();
  }
  absl::StatusOr<double> NumberOr(const char* key, double fallback) const {
    if (!Has(key)) return fallback;
    if (!config_[key].is_number() || !std::isfinite(config_[key].get<double>())) {
      return Invalid(absl::StrCat("config field '", key, "' is not a finite number"));
    }
    return config_[key].get<double>();
  }
  absl::StatusOr<double> Number(const char* key) const {
    if (!Has(key)) return Invalid(absl::StrCat("config field '", key, "' is missing"));
    return NumberOr(key, 0);
  }
  absl::StatusOr<int64_t> PositiveInt(const char* key) const {
    if (!Has(key) || !config_[key].is_number_integer() || config_[key].get<int64_t>() <= 0 ||
        config_[key].get<int64_t>() > (int64_t{1} << 20)) {
      return Invalid(absl::StrCat("config field '", key, "' is missing or not a positive integer"));
    }
    return config_[key].get<int64_t>();
  }
  absl::StatusOr<int64_t> PositiveIntOr(const char* key, int64_t fallback) const {
    if (!Has(key)) return fallback;
    return PositiveInt(key);
  }
  // A pair such as kernel_size [3, 3]; a single integer n means [n, n] as in Keras.
  absl::StatusOr<std::array<int64_t, 2>> Pair(const char* key) const {
    const json& value = Get(key);
    auto positive = [](const json& v) {
      return v.is_number_integer() && v.get<int64_t>() > 0 && v.get<int64_t>() <= 4096;
    };
    if (positive(value)) return std::array<int64_t, 2>{value.get<int64_t>(), value.get<int64_t>()};
    if (value.is_array() && value.size() == 2 && positive(value[0]) && positive(value[1])) {
      return std::array<int64_t, 2>{value[0].get<int64_t>(), value[1].get<int64_t>()};
    }
    return Invalid(absl::StrCat("config field '", key, "' is missing or not a pair of positive integers"));
  }
  absl::StatusOr<std::array<int64_t, 2>> PairOr(const char* key, std::array<int64_t, 2> fallback) const {
    if (!Has(key)) return fallback;
    return Pair(key);
  }
  // ZeroPadding2D's and Cropping2D's n, [h, w] or [[top, bottom], [left, right]].
  absl::StatusOr<std::array<int64_t, 4>> Margins(const char* key) const {
    const json& value = Get(key);
    auto count = [](const json& v) {
      return v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= 4096;
    };
    if (count(value)) {
      const int64_t n = value.get<int64_t>();
      return std::array<int64_t, 4>{n, n, n, n};
    }
    if (value.is_array() && value.size() == 2) {
      if (count(value[0]) && count(value[1])) {
        const int64_t h = value[0].get<int64_t>(), w = value[1].get<int64_t>();
        return std::array<int64_t, 4>{h, h, w, w};
      }
      if (value[0].is_array() && value[1].is_array() && value[0].size() == 2 && value[1].size() == 2 &&
          count(value[0][0]) && count(value[0][1]) && count(value[1][0]) && count(value[1][1])) {
        return std::array<int64_t, 4>{value[0][0].get<int64_t>(), value[0][1].get<int64_t>(),
                                      value[1][0].get<int64_t>(), value[1][1].get<int64_t>()};
      }
    }
    return Invalid(absl::StrCat("config field '", key, "' is not n, [h, w] or [[top, bottom], [left, right]]"));
  }
  absl::StatusOr<Padding> PaddingField() const {
    ASSIGN_OR_RETURN(std::string padding, StringOr("padding", "valid"));
    if (padding == "same") return Padding::kSame;
    if (padding == "valid") return Padding::kValid;
    return Invalid(absl::StrCat("unsupported padding '", padding, "' (supported: same, valid)"));
  }
  absl::Status RequireChannelsLast() const {
    ASSIGN_OR_RETURN(std::string format, StringOr("data_format", "channels_last"));
    if (format != "channels_last") {
      return Invalid(absl::StrCat("unsupported data_format '", format, "' (supported: channels_last)"));
    }
    return absl::OkStatus();
  }
  // The last axis, as Keras configs give it: -1, or the rank (which counts the batch).
  absl::Status RequireLastAxis(const char* key, size_t rank) const {
    const json& axis = Get(key);
    auto last = [&](const json& v) {
      return v.is_number_integer() && (v.get<int64_t>() == -1 || v.get<int64_t>() == static_cast<int64_t>(rank));
    };
    if (!Has(key) || last(axis) || (axis.is_array() && axis.size() == 1 && last(axis[0]))) {
      return absl::OkStatus();
    }
    return Invalid(absl::StrCat("'", key, "' ", axis.dump(), " is not supported (only the last axis, -1)"));
  }
  // A float or a list of floats (Rescaling's scale and offset, Normalization's mean).
  absl::StatusOr<std::vector<float>> Floats(const char* key, float fallback) const {
    const json& value = Get(key);
    if (!Has(key)) return std::vector<float>{fallback};
    std::vector<float> values;
    for (const json& v : value.is_array() ? value : json::array({value})) {
      if (!v.is_number() || !std::isfinite(v.get<double>())) {
        return Invalid(absl::StrCat("config field '", key, "' is not a number or a list of numbers"));
      }
      values.push_back(v.get<float>());
    }
    if (values.empty()) return Invalid(absl::StrCat("config field '", key, "' is an empty list"));
    return values;
  }
  // A named activation function ("relu", ...), as in Activation layers and
  // the `activation` option of Conv2D and Dense.
  absl::StatusOr<Activation> ActivationField() const {
    const json& value = Get("activation");
    std::string name = "linear";
    if (value.is_string()) {
      name = value.get<std::string>();
    } else if (value.is_object() && value.contains("config") && value["config"].is_string()) {
      name = value["config"].get<std::string>();  // a serialized built-in function
    } else if (!value.is_null()) {
      return Invalid(absl::StrCat("activation ", value.dump().substr(0, 120), " is not a built-in activation name"));
    }
    return NamedActivation(name);
  }
  absl::StatusOr<Activation> NamedActivation(const std::string& name) const {
    Activation a;
    static const std::map<std::string, ActivationKind> kSimple = {{"linear", ActivationKind::kLinear},
                                                                  {"relu", ActivationKind::kRelu},
                                                                  {"elu", ActivationKind::kElu},
                                                                  {"selu", ActivationKind::kSelu},
                                                                  {"sigmoid", ActivationKind::kSigmoid},
                                                                  {"tanh", ActivationKind::kTanh},
                                                                  {"softmax", ActivationKind::kSoftmax},
                                                                  {"swish", ActivationKind::kSilu},
                                                                  {"silu", ActivationKind::kSilu},
                                                                  {"gelu", ActivationKind::kGelu},
                                                                  {"softplus", ActivationKind::kSoftplus},
                                                                  {"softsign", ActivationKind::kSoftsign},
                                                                  {"exponential", ActivationKind::kExponential},
                                                                  {"mish", ActivationKind::kMish},
                                                                  {"hard_sigmoid", ActivationKind::kHardSigmoid},
                                                                  {"hard_silu", ActivationKind::kHardSilu},
                                                                  {"hard_swish", ActivationKind::kHardSilu},
                                                                  {"relu6", ActivationKind::kRelu},
                                                                  {"leaky_relu", ActivationKind::kRelu}};
    auto it = kSimple.find(name);
    if (it == kSimple.end()) {
      return Invalid(
          absl::StrCat("unsupported activation '", name,
                       "' (supported: linear, relu, relu6, leaky_relu, elu, selu, sigmoid, hard_sigmoid, "
                       "hard_silu, tanh, softmax, swish, silu, gelu, softplus, softsign, exponential, mish)"));
    }
    a.kind = it->second;
    if (name == "elu") a.alpha = 1.0;
    if (name == "relu6") a.max_value = 6.0;
    if (name == "leaky_relu") a.alpha = 0.2;  // keras.activations.leaky_relu's default negative_slope
    // Keras 2 defines hard_sigmoid as clip(0.2 x + 0.5); Keras 3 as relu6(x + 3) / 6.
    if (name == "hard_sigmoid") a.alpha = keras_major_ >= 3 ? 1.0 / 6.0 : 0.2;
    if (name == "hard_silu" || name == "hard_swish") a.alpha = 1.0 / 6.0;
    return a;
  }

 private:
  const json& config_;
  std::string context_;
  int keras_major_;
};

absl::Status ParseConvolution(const ConfigReader& config, KerasLayer& layer) {
  ASSIGN_OR_RETURN(layer.kernel_size, config.Pair("kernel_size"));
  ASSIGN_OR_RETURN(layer.strides, config.PairOr("strides", {1, 1}));
  ASSIGN_OR_RETURN(layer.dilation, config.PairOr("dilation_rate", {1, 1}));
  ASSIGN_OR_RETURN(layer.padding, config.PaddingField());
  ASSIGN_OR_RETURN(layer.activation, config.ActivationField());
  ASSIGN_OR_RETURN(layer.use_bias, config.BoolOr("use_bias", true));
  return config.RequireChannelsLast();
}

absl::Status ParseLayerOptions(const ConfigReader& config, KerasLayer& layer) {
  const std::string& name = layer.class_name;
  if (name == "InputLayer") {
    layer.kind = LayerKind::kInput;
    return absl::OkStatus();  // the shape is read by the caller
  }
  if (name == "Conv2D" || name == "Convolution2D") {
    layer.kind = LayerKind::kConv2D;
    ASSIGN_OR_RETURN(layer.filters, config.PositiveInt("filters"));
    ASSIGN_OR_RETURN(layer.groups, config.PositiveIntOr("groups", 1));
    return ParseConvolution(config, layer);
  }
  if (name == "DepthwiseConv2D") {
    layer.kind = LayerKind::kDepthwiseConv2D;
    ASSIGN_OR_RETURN(layer.depth_multiplier, config.PositiveIntOr("depth_multiplier", 1));
    return ParseConvolution(config, layer);
  }
  if (name == "SeparableConv2D" || name == "SeparableConvolution2D") {
    layer.kind = LayerKind::kSeparableConv2D;
    ASSIGN_OR_RETURN(layer.filters, config.PositiveInt("filters"));
    ASSIGN_OR_RETURN(layer.depth_multiplier, config.PositiveIntOr("depth_multiplier", 1));
    return ParseConvolution(config, layer);
  }
  if (name == "Dense") {
    layer.kind = LayerKind::kDense;
    ASSIGN_OR_RETURN(layer.filters, config.PositiveInt("units"));
    ASSIGN_OR_RETURN(layer.activation, config.ActivationField());
    ASSIGN_OR_RETURN(layer.use_bias, config.BoolOr("use_bias", true));
    return absl::OkStatus();
  }
  if (name == "BatchNormalization") {
    layer.kind = LayerKind::kBatchNorm;
    ASSIGN_OR_RETURN(layer.epsilon, config.NumberOr("epsilon", 1e-3));
    if (layer.epsilon < 0) return config.Invalid("negative epsilon");
    ASSIGN_OR_RETURN(layer.center, config.BoolOr("center", true));
    ASSIGN_OR_RETURN(layer.scale, config.BoolOr("scale", true));
    return absl::OkStatus();  // the axis is checked with the input's rank
  }
  if (name == "Activation") {
    layer.kind = LayerKind::kActivation;
    ASSIGN_OR_RETURN(layer.activation, config.ActivationField());
    return absl::OkStatus();
  }
  if (name == "ReLU") {
    layer.kind = LayerKind::kActivation;
    layer.activation.kind = ActivationKind::kRelu;
    ASSIGN_OR_RETURN(layer.activation.alpha, config.NumberOr("negative_slope", 0));
    ASSIGN_OR_RETURN(layer.activation.threshold, config.NumberOr("threshold", 0));
    ASSIGN_OR_RETURN(layer.activation.max_value, config.NumberOr("max_value", layer.activation.max_value));
    if (layer.activation.max_value < 0 || layer.activation.alpha < 0) {
      return config.Invalid("max_value and negative_slope must not be negative");
    }
    return absl::OkStatus();
  }
  if (name == "LeakyReLU") {
    layer.kind = LayerKind::kActivation;
    layer.activation.kind = ActivationKind::kRelu;
    // Keras 2 calls the slope alpha, Keras 3 negative_slope; both default to 0.3.
    ASSIGN_OR_RETURN(double alpha, config.NumberOr("alpha", 0.3));
    ASSIGN_OR_RETURN(layer.activation.alpha, config.NumberOr("negative_slope", alpha));
    return absl::OkStatus();
  }
  if (name == "ELU") {
    layer.kind = LayerKind::kActivation;
    layer.activation.kind = ActivationKind::kElu;
    ASSIGN_OR_RETURN(layer.activation.alpha, config.NumberOr("alpha", 1.0));
    return absl::OkStatus();
  }
  if (name == "ThresholdedReLU") {
    layer.kind = LayerKind::kActivation;
    layer.activation.kind = ActivationKind::kThresholdedRelu;
    ASSIGN_OR_RETURN(layer.activation.alpha, config.NumberOr("theta", 1.0));
    return absl::OkStatus();
  }
  if (name == "Softmax") {
    layer.kind = LayerKind::kActivation;
    layer.activation.kind = ActivationKind::kSoftmax;
    return absl::OkStatus();  // the axis is checked with the input's rank
  }
  if (name == "PReLU") {
    layer.kind = LayerKind::kPReLU;
    return absl::OkStatus();
  }
  static const std::map<std::string, MergeOp> kMerges = {{"Add", MergeOp::kAdd},
                                                         {"Subtract", MergeOp::kSubtract},
                                                         {"Multiply", MergeOp::kMultiply},
                                                         {"Average", MergeOp::kAverage},
                                                         {"Maximum", MergeOp::kMaximum},
                                                         {"Minimum", MergeOp::kMinimum},
                                                         {"Concatenate", MergeOp::kConcatenate}};
  if (auto merge = kMerges.find(name); merge != kMerges.end()) {
    layer.kind = LayerKind::kMerge;
    layer.merge = merge->second;
    return absl::OkStatus();  // Concatenate's axis is read with the input's rank
  }
  if (name == "MaxPooling2D" || name == "AveragePooling2D" || name == "MaxPool2D" || name == "AvgPool2D") {
    layer.kind = LayerKind::kPool2D;
    layer.pool = name[0] == 'M' ? PoolOp::kMax : PoolOp::kAverage;
    ASSIGN_OR_RETURN(layer.kernel_size, config.PairOr("pool_size", {2, 2}));
    ASSIGN_OR_RETURN(layer.strides, config.PairOr("strides", layer.kernel_size));  // None means pool_size
    ASSIGN_OR_RETURN(layer.padding, config.PaddingField());
    return config.RequireChannelsLast();
  }
  if (name == "GlobalAveragePooling2D" || name == "GlobalMaxPooling2D" || name == "GlobalAvgPool2D" ||
      name == "GlobalMaxPool2D") {
    layer.kind = LayerKind::kGlobalPool2D;
    layer.pool = name.rfind("GlobalMax", 0) == 0 ? PoolOp::kMax : PoolOp::kAverage;
    ASSIGN_OR_RETURN(layer.keepdims, config.BoolOr("keepdims", false));
    return config.RequireChannelsLast();
  }
  if (name == "ZeroPadding2D" || name == "Cropping2D") {
    layer.kind = name == "ZeroPadding2D" ? LayerKind::kZeroPadding2D : LayerKind::kCropping2D;
    ASSIGN_OR_RETURN(layer.margins, config.Margins(name == "ZeroPadding2D" ? "padding" : "cropping"));
    return config.RequireChannelsLast();
  }
  if (name == "Flatten") {
    layer.kind = LayerKind::kFlatten;
    return config.RequireChannelsLast();
  }
  if (name == "Reshape") {
    layer.kind = LayerKind::kReshape;
    return absl::OkStatus();  // the target shape is resolved with the input's size
  }
  if (name == "Rescaling") {
    layer.kind = LayerKind::kRescaling;
    ASSIGN_OR_RETURN(layer.rescale_scale, config.Floats("scale", 1.0f));
    ASSIGN_OR_RETURN(layer.rescale_offset, config.Floats("offset", 0.0f));
    return absl::OkStatus();
  }
  if (name == "Normalization") {
    layer.kind = LayerKind::kNormalization;
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
  if (IdentityLayers().count(name) > 0) {
    layer.kind = LayerKind::kIdentity;
    return absl::OkStatus();
  }
  if (IsModelClass(name)) {
    // What a nested model of a .keras file becomes after its layers: its output, passed on.
    if (config.Has("nested_model_output")) {
      layer.kind = LayerKind::kIdentity;
      return absl::OkStatus();
    }
    return config.Invalid(
        "nested models are supported in .keras files only (a .h5 does not say which weights are whose); "
        "save as .keras, or with the layers flattened");
  }
  return config.Invalid(absl::StrCat("unsupported layer class '", name, "' (supported: ", kSupportedLayers, ")"));
}

// One inbound tensor of a layer: the layer that produced it and which call
// (node) and output of that layer it is.
struct Edge {
  std::string layer;
  int64_t node = 0;
  int64_t tensor = 0;
};

// Keras 3 writes a layer call as {"args": [...], "kwargs": {...}} in which each
// input tensor is {"class_name": "__keras_tensor__", "config": {"keras_history":
// [layer, node, tensor]}}, possibly inside lists (a merge takes [[a, b]]).
void CollectKerasTensors(const json& value, std::vector<const json*>& found) {
  if (value.is_object()) {
    if (value.value("class_name", "") == "__keras_tensor__") {
      found.push_back(&value);
      return;
    }
    for (const auto& item : value.items()) CollectKerasTensors(item.value(), found);
  } else if (value.is_array()) {
    for (const json& item : value) CollectKerasTensors(item, found);
  }
}

absl::StatusOr<Edge> ParseEdge(const json& entry, const ConfigReader& reader) {
  if (!entry.is_array() || entry.size() < 3 || !entry[0].is_string() || !entry[1].is_number_integer() ||
      !entry[2].is_number_integer()) {
    return reader.Invalid(
        absl::StrCat("inbound tensor ", entry.dump().substr(0, 120), " is not [layer_name, node_index, tensor_index]"));
  }
  return Edge{entry[0].get<std::string>(), entry[1].get<int64_t>(), entry[2].get<int64_t>()};
}

// Parses `inbound_nodes` in either format: Keras 2's [[[name, node, tensor,
// {kwargs}], ...]] or Keras 3's [{"args": ..., "kwargs": ...}].
absl::StatusOr<std::vector<std::string>> ParseInbound(const json& layer_json, const ConfigReader& reader) {
  std::vector<std::string> inputs;
  if (!layer_json.contains("inbound_nodes") || !layer_json["inbound_nodes"].is_array()) {
    return reader.Invalid("'inbound_nodes' is missing");
  }
  const json& nodes = layer_json["inbound_nodes"];
  if (nodes.empty()) return inputs;
  if (nodes.size() != 1) {
    return reader.Invalid("the layer is called more than once (shared layers are not supported)");
  }
  std::vector<Edge> edges;
  if (nodes[0].is_object()) {  // Keras 3
    // Pointers into the config: the values must be the config's own, not copies.
    static const json kNone;
    std::vector<const json*> tensors;
    CollectKerasTensors(nodes[0].contains("args") ? nodes[0]["args"] : kNone, tensors);
    std::vector<const json*> keyword_tensors;
    CollectKerasTensors(nodes[0].contains("kwargs") ? nodes[0]["kwargs"] : kNone, keyword_tensors);
    if (!keyword_tensors.empty()) {
      return reader.Invalid("tensors passed as keyword arguments (such as masks) are not supported");
    }
    for (const json* tensor : tensors) {
      const json& config = tensor->contains("config") ? (*tensor)["config"] : kNone;
      const json& history = config.is_object() && config.contains("keras_history") ? config["keras_history"] : kNone;
      ASSIGN_OR_RETURN(Edge edge, ParseEdge(history, reader));
      edges.push_back(edge);
    }
  } else if (nodes[0].is_array()) {  // Keras 2
    for (const json& entry : nodes[0]) {
      ASSIGN_OR_RETURN(Edge edge, ParseEdge(entry, reader));
      edges.push_back(edge);
    }
  } else {
    return reader.Invalid("'inbound_nodes' is in neither the Keras 2 nor the Keras 3 format");
  }
  for (const Edge& edge : edges) {
    if (edge.node != 0 || edge.tensor != 0) {
      return reader.Invalid(absl::StrCat("input from call ", edge.node, ", output ", edge.tensor, " of layer '",
                                         edge.layer, "': shared and multi-output layers are not supported"));
    }
    inputs.push_back(edge.layer);
  }
  return inputs;
}

// model_config's input_layers / output_layers: [[name, 0, 0]] (Keras 2, and
// Keras 3 with several), or [name, 0, 0] (Keras 3 with one).
absl::StatusOr<std::string> ParseSingleEndpoint(const json& config, const char* key, const std::string& source) {
  const json& list = config.contains(key) ? config[key] : json();
  const json* entry = nullptr;
  if (list.is_array() && !list.empty() && list[0].is_string()) {
    entry = &list;
  } else if (list.is_array() && list.size() == 1 && list[0].is_array()) {
    entry = &list[0];
  }
  if (entry == nullptr || entry->empty() || !(*entry)[0].is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": model_config '", key, "' must name exactly one layer (single-input, single-output models only)"));
  }
  if (entry->size() >= 3 && (!(*entry)[1].is_number_integer() || (*entry)[1].get<int64_t>() != 0 ||
                             !(*entry)[2].is_number_integer() || (*entry)[2].get<int64_t>() != 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": model_config '", key, "' refers to a shared or multi-output layer"));
  }
  return (*entry)[0].get<std::string>();
}

// The input shape an InputLayer, or the first layer of a Sequential model,
// declares: batch_input_shape (Keras 2), batch_shape (Keras 3) or input_shape.
absl::StatusOr<Shape> DeclaredInputShape(const ConfigReader& config) {
  const json* shape = nullptr;
  bool with_batch = true;
  for (const char* key : {"batch_input_shape", "batch_shape"}) {
    if (config.Has(key)) shape = &config.Get(key);
  }
  if (shape == nullptr && config.Has("input_shape")) {
    shape = &config.Get("input_shape");
    with_batch = false;
  }
  if (shape == nullptr) return config.Invalid("declares no input shape (batch_input_shape or batch_shape)");
  if (!shape->is_array() || shape->size() < (with_batch ? 2u : 1u) || shape->size() > (with_batch ? 4u : 3u) ||
      (with_batch && !(*shape)[0].is_null() && !(*shape)[0].is_number_integer())) {
    return config.Invalid(absl::StrCat("input shape ", shape->dump(), " is not [batch, height, width, channels]"));
  }
  Shape result;
  for (size_t i = with_batch ? 1 : 0; i < shape->size(); ++i) {
    const json& d = (*shape)[i];
    if (!d.is_number_integer() || d.get<int64_t>() <= 0 || d.get<int64_t>() > 4096) {
      return config.Invalid(absl::StrCat("input shape ", shape->dump(), " must have fixed, positive sizes"));
    }
    result.push_back(d.get<int64_t>());
  }
  return result;
}

int64_t SameOutput(int64_t in, int64_t stride) { return (in + stride - 1) / stride; }

// Checks and computes what depends on the inputs' shapes: the output shape,
// and the options whose meaning depends on the rank.
absl::Status InferShape(const std::vector<const Shape*>& in, const ConfigReader& config, KerasLayer& layer) {
  auto expect_inputs = [&](size_t minimum, size_t maximum) -> absl::Status {
    if (in.size() < minimum || in.size() > maximum) {
      return config.Invalid(
          absl::StrCat("has ", in.size(), " inputs, expected ",
                       minimum == maximum ? absl::StrCat(minimum) : absl::StrCat("at least ", minimum)));
    }
    return absl::OkStatus();
  };
  auto expect_image = [&]() -> absl::Status {
    if (in[0]->size() != 3) {
      return config.Invalid(absl::StrCat("expects an image input [height, width, channels], got ", ShapeText(*in[0])));
    }
    return absl::OkStatus();
  };
  if (layer.kind == LayerKind::kInput) return expect_inputs(0, 0);
  if (layer.kind == LayerKind::kMerge) {
    RETURN_IF_ERROR(expect_inputs(2, layer.merge == MergeOp::kSubtract ? 2 : 64));
  } else {
    RETURN_IF_ERROR(expect_inputs(1, 1));
  }
  const Shape& x = *in[0];
  const int64_t rank = static_cast<int64_t>(x.size());
  switch (layer.kind) {
    case LayerKind::kInput:
      return absl::OkStatus();
    case LayerKind::kConv2D:
    case LayerKind::kDepthwiseConv2D:
    case LayerKind::kSeparableConv2D:
    case LayerKind::kPool2D: {
      RETURN_IF_ERROR(expect_image());
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
          if (x[d] < window) {
            return config.Invalid(absl::StrCat("window ", window, " is larger than the input ", ShapeText(x)));
          }
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
    case LayerKind::kDense:
      if (rank < 1) return config.Invalid("expects an input with features");
      layer.output_shape = x;
      layer.output_shape.back() = layer.filters;
      return absl::OkStatus();
    case LayerKind::kBatchNorm:
      if (rank < 1) return config.Invalid("has an input without channels");
      RETURN_IF_ERROR(config.RequireLastAxis("axis", rank));
      layer.output_shape = x;
      return absl::OkStatus();
    case LayerKind::kActivation:
      if (layer.class_name == "Softmax") RETURN_IF_ERROR(config.RequireLastAxis("axis", rank));
      layer.output_shape = x;
      return absl::OkStatus();
    case LayerKind::kPReLU:
    case LayerKind::kIdentity:
      layer.output_shape = x;
      return absl::OkStatus();
    case LayerKind::kMerge: {
      int64_t axis = -1;
      if (layer.merge == MergeOp::kConcatenate) {
        const json& value = config.Get("axis");
        const int64_t keras_axis = value.is_number_integer() ? value.get<int64_t>() : -1;
        axis = keras_axis < 0 ? keras_axis + rank : keras_axis - 1;
        if (value.is_null() == false && !value.is_number_integer()) return config.Invalid("'axis' is not an integer");
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
    case LayerKind::kGlobalPool2D:
      RETURN_IF_ERROR(expect_image());
      layer.output_shape = layer.keepdims ? Shape{1, 1, x[2]} : Shape{x[2]};
      return absl::OkStatus();
    case LayerKind::kZeroPadding2D:
    case LayerKind::kCropping2D: {
      RETURN_IF_ERROR(expect_image());
      const int64_t sign = layer.kind == LayerKind::kZeroPadding2D ? 1 : -1;
      const std::array<int64_t, 4>& m = layer.margins;
      layer.output_shape = {x[0] + sign * (m[0] + m[1]), x[1] + sign * (m[2] + m[3]), x[2]};
      if (layer.output_shape[0] <= 0 || layer.output_shape[1] <= 0) {
        return config.Invalid(absl::StrCat("crops all of the input ", ShapeText(x)));
      }
      return absl::OkStatus();
    }
    case LayerKind::kFlatten:
      layer.output_shape = {Elements(x)};
      return absl::OkStatus();
    case LayerKind::kReshape: {
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
    case LayerKind::kRescaling:
    case LayerKind::kNormalization: {
      layer.output_shape = x;
      auto per_channel = [&](const std::vector<float>& values, const char* what) -> absl::Status {
        if (values.size() != 1 && static_cast<int64_t>(values.size()) != x.back()) {
          return config.Invalid(absl::StrCat(what, " has ", values.size(), " values for ", x.back(), " channels"));
        }
        return absl::OkStatus();
      };
      if (layer.kind == LayerKind::kNormalization) return config.RequireLastAxis("axis", rank);
      RETURN_IF_ERROR(per_channel(layer.rescale_scale, "scale"));
      return per_channel(layer.rescale_offset, "offset");
    }
  }
  return config.Invalid("unknown layer kind");
}

struct ExpectedWeight {
  const char* role;
  KerasWeight* slot;
  Shape shape;
};

// The weights a layer stores, in the order Keras creates them, which is the
// order of its `weight_names` and the order Keras's own loader assigns them in.
std::vector<ExpectedWeight> ExpectedWeights(KerasLayer& layer, const Shape& in) {
  std::vector<ExpectedWeight> expected;
  const int64_t in_channels = in.empty() ? 0 : in.back();
  const int64_t channels = layer.output_shape.empty() ? 0 : layer.output_shape.back();
  const int64_t kh = layer.kernel_size[0], kw = layer.kernel_size[1];
  BoundWeights& w = layer.weights;
  switch (layer.kind) {
    case LayerKind::kConv2D:
      expected.push_back({"kernel", &w.kernel, {kh, kw, in_channels / layer.groups, layer.filters}});
      break;
    case LayerKind::kDepthwiseConv2D:
      expected.push_back({"depthwise_kernel", &w.kernel, {kh, kw, in_channels, layer.depth_multiplier}});
      break;
    case LayerKind::kSeparableConv2D:
      expected.push_back({"depthwise_kernel", &w.kernel, {kh, kw, in_channels, layer.depth_multiplier}});
      expected.push_back(
          {"pointwise_kernel", &w.pointwise_kernel, {1, 1, in_channels * layer.depth_multiplier, layer.filters}});
      break;
    case LayerKind::kDense:
      expected.push_back({"kernel", &w.kernel, {in_channels, layer.filters}});
      break;
    case LayerKind::kBatchNorm:
      if (layer.scale) expected.push_back({"gamma", &w.gamma, {channels}});
      if (layer.center) expected.push_back({"beta", &w.beta, {channels}});
      expected.push_back({"moving_mean", &w.moving_mean, {channels}});
      expected.push_back({"moving_variance", &w.moving_variance, {channels}});
      break;
    case LayerKind::kPReLU:
      expected.push_back({"alpha", &w.alpha, {}});  // shape checked by the caller
      break;
    default:
      break;
  }
  const bool has_bias = layer.kind == LayerKind::kConv2D || layer.kind == LayerKind::kDepthwiseConv2D ||
                        layer.kind == LayerKind::kSeparableConv2D || layer.kind == LayerKind::kDense;
  if (has_bias && layer.use_bias) expected.push_back({"bias", &w.bias, {channels}});
  return expected;
}

std::string Roles(const std::vector<ExpectedWeight>& expected) {
  std::vector<std::string> roles;
  for (const ExpectedWeight& e : expected) roles.push_back(absl::StrCat(e.role, " ", ShapeText(e.shape)));
  return roles.empty() ? "none" : absl::StrJoin(roles, ", ");
}

// PReLU's alpha has the input's shape, with the shared axes reduced to 1.
bool BroadcastsTo(const Shape& alpha, const Shape& input) {
  if (alpha.size() != input.size()) return false;
  for (size_t d = 0; d < alpha.size(); ++d) {
    if (alpha[d] != 1 && alpha[d] != input[d]) return false;
  }
  return true;
}

absl::Status BindWeights(KerasLayer& layer, const Shape& in, const std::vector<KerasWeight>& stored,
                         const ConfigReader& config) {
  if (layer.kind == LayerKind::kNormalization) {
    // Adapted statistics are weights (mean, variance, count); given ones are config.
    if (layer.weights.mean.empty()) {
      if (stored.size() != 3) {
        return config.Invalid(
            absl::StrCat("stores ", stored.size(), " weights, expected the adapted mean, variance and count"));
      }
      layer.weights.mean = stored[0].values;
      layer.weights.variance = stored[1].values;
    }
    const int64_t channels = in.back();
    for (const std::vector<float>* v : {&layer.weights.mean, &layer.weights.variance}) {
      if (v->size() != 1 && static_cast<int64_t>(v->size()) != channels) {
        return config.Invalid(absl::StrCat("has ", v->size(), " statistics for ", channels, " channels"));
      }
    }
    return absl::OkStatus();
  }
  std::vector<ExpectedWeight> expected = ExpectedWeights(layer, in);
  if (stored.size() != expected.size()) {
    return config.Invalid(
        absl::StrCat("stores ", stored.size(), " weights, expected ", expected.size(), " (", Roles(expected), ")"));
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    const KerasWeight& weight = stored[i];
    const bool fits =
        layer.kind == LayerKind::kPReLU ? BroadcastsTo(weight.shape, in) : weight.shape == expected[i].shape;
    if (!fits) {
      return config.Invalid(absl::StrCat(
          "weight '", weight.name, "' has shape ", ShapeText(weight.shape), ", expected ", expected[i].role, " ",
          layer.kind == LayerKind::kPReLU ? ShapeText(in) : ShapeText(expected[i].shape)));
    }
    *expected[i].slot = weight;
  }
  for (float v : layer.weights.moving_variance.values) {
    if (v < 0) return config.Invalid(absl::StrCat("negative moving_variance ", v));
  }
  return absl::OkStatus();
}

// Files that do not say: .h5 files before Keras 2.1 are Keras 2 (or 1); a
// .keras file without metadata.json can only be Keras 3's.
int KerasMajorVersion(const KerasH5File& file) {
  const int unknown = file.format == KerasFileFormat::kKeras ? 3 : 2;
  int major = unknown;
  const std::string& version = file.keras_version;
  if (!version.empty() && !absl::SimpleAtoi(version.substr(0, version.find('.')), &major)) major = unknown;
  return major;
}

bool IsNestedModel(const json& layer) { return layer.is_object() && IsModelClass(layer.value("class_name", "")); }

bool HasNestedModel(const json& layers) {
  return std::any_of(layers.begin(), layers.end(), [](const json& layer) { return IsNestedModel(layer); });
}

// A layer of the flattened graph: `layer` renamed `name`, fed by `inputs`
// (Keras 2's inbound form).
json Rewired(json layer, const std::string& name, const std::vector<std::string>& inputs) {
  layer["name"] = name;
  if (layer.contains("config") && layer["config"].is_object()) layer["config"]["name"] = name;
  json node = json::array();
  for (const std::string& input : inputs) node.push_back(json::array({input, 0, 0, json::object()}));
  layer["inbound_nodes"] = inputs.empty() ? json::array() : json::array({node});
  return layer;
}

// Appends the layers of `model` (a Sequential or Functional layer entry, or
// the root config) to `out` as one functional graph, every name prefixed with
// `prefix` ("outer/" inside a nested model named "outer"). `input` is the
// layer feeding the model; empty at the top, where its InputLayer stays.
// Returns the name of the layer that gives the model's output. A nested
// model becomes its layers, then a layer named after it that passes its
// output on (kIdentity), so that the outer graph's references still hold.
absl::StatusOr<std::string> InlineModel(const json& model, const std::string& prefix, const std::string& input,
                                        const std::string& source, int keras_major, json& out) {
  const bool sequential = model.value("class_name", "") == "Sequential";
  const json& config = model.contains("config") ? model["config"] : json();
  const json& layers = config.is_object() && config.contains("layers") ? config["layers"] : json();
  const std::string where = prefix.empty() ? "the model" : absl::StrCat("nested model '", prefix, "'");
  if (!layers.is_array() || layers.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", where, " has no config.layers list"));
  }
  std::map<std::string, std::string> renamed;  // a name in `model` -> its name in `out`
  std::string previous = input;                // what feeds a Sequential model's next layer
  for (const json& layer : layers) {
    if (!layer.is_object() || !layer.contains("config") || !layer["config"].is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": ", where, " has a layer without a config"));
    }
    const std::string name = layer.contains("name") && layer["name"].is_string() ? layer["name"].get<std::string>()
                                                                                 : layer["config"].value("name", "");
    const std::string flat_name = prefix + name;
    std::vector<std::string> inputs;
    if (sequential) {
      if (previous.empty() && layer.value("class_name", "") != "InputLayer" && !IsNestedModel(layer)) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": a Sequential model with nested models must start with an InputLayer"));
      }
      if (!previous.empty()) inputs = {previous};
    } else if (layer.value("class_name", "") != "InputLayer") {
      ConfigReader reader(layer["config"], absl::StrCat(source, ": layer '", flat_name, "'"), keras_major);
      ASSIGN_OR_RETURN(std::vector<std::string> names, ParseInbound(layer, reader));
      for (const std::string& from : names) {
        auto it = renamed.find(from);
        if (it == renamed.end())
          return reader.Invalid(absl::StrCat("input '", from, "' is not a layer defined before it"));
        inputs.push_back(it->second);
      }
    }
    if (layer.value("class_name", "") == "InputLayer") {
      if (input.empty() && (sequential ? previous.empty() : true)) {
        out.push_back(Rewired(layer, flat_name, {}));
        renamed[name] = previous = flat_name;
      } else {
        renamed[name] = previous = input;  // the outer layer feeding this model stands in for its input
      }
      continue;
    }
    if (IsNestedModel(layer)) {
      if (inputs.size() != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": nested model '", flat_name, "' must take exactly one input"));
      }
      ASSIGN_OR_RETURN(std::string output, InlineModel(layer, flat_name + "/", inputs[0], source, keras_major, out));
      json pass_on = {{"class_name", layer["class_name"]},
                      {"config", {{"name", flat_name}, {"nested_model_output", true}}}};
      out.push_back(Rewired(pass_on, flat_name, {output}));
    } else {
      out.push_back(Rewired(layer, flat_name, inputs));
    }
    renamed[name] = previous = flat_name;
  }
  if (sequential) return previous;
  ASSIGN_OR_RETURN(std::string output, ParseSingleEndpoint(config, "output_layers", source));
  auto it = renamed.find(output);
  if (it == renamed.end()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", where, "'s output '", output, "' is not its layer"));
  }
  return it->second;
}

}  // namespace

bool IsModelClass(const std::string& class_name) {
  return class_name == "Sequential" || class_name == "Functional" || class_name == "Model";
}

bool InputTransform::IsIdentity() const {
  return std::all_of(scale.begin(), scale.end(), [](double s) { return s == 1.0; }) &&
         std::all_of(offset.begin(), offset.end(), [](double o) { return o == 0.0; });
}

std::string InputTransform::ToString() const {
  auto text = [](const std::vector<double>& values) {
    return values.size() == 1 ? absl::StrCat(values[0]) : absl::StrCat("[", absl::StrJoin(values, ", "), "]");
  };
  return absl::StrCat("pixel * ", text(scale), " + ", text(offset));
}

int KerasModel::Find(const std::string& name) const {
  for (size_t i = 0; i < layers.size(); ++i) {
    if (layers[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::vector<int> KerasModel::Consumers(const std::string& name) const {
  std::vector<int> result;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (std::find(layers[i].inputs.begin(), layers[i].inputs.end(), name) != layers[i].inputs.end()) {
      result.push_back(static_cast<int>(i));
    }
  }
  return result;
}

int64_t KerasModel::ParameterCount() const {
  int64_t count = 0;
  for (const KerasLayer& layer : layers) {
    const BoundWeights& w = layer.weights;
    for (const KerasWeight* weight :
         {&w.kernel, &w.pointwise_kernel, &w.bias, &w.gamma, &w.beta, &w.moving_mean, &w.moving_variance, &w.alpha}) {
      count += static_cast<int64_t>(weight->values.size());
    }
    if (layer.kind == LayerKind::kNormalization) count += static_cast<int64_t>(w.mean.size() + w.variance.size());
  }
  return count;
}

OutputKind KerasModel::Outputs() const {
  // A Dropout or a nested model's pass-on layer at the end computes nothing:
  // what the model outputs is decided before it.
  const KerasLayer* computing = &Layer(output_layer);
  while (computing->kind == LayerKind::kIdentity && computing->inputs.size() == 1) {
    computing = &Layer(computing->inputs[0]);
  }
  const KerasLayer& last = *computing;
  const bool softmax =
      last.activation.kind == ActivationKind::kSoftmax &&
      (last.kind == LayerKind::kActivation || last.kind == LayerKind::kDense || last.kind == LayerKind::kConv2D ||
       last.kind == LayerKind::kDepthwiseConv2D || last.kind == LayerKind::kSeparableConv2D);
  return softmax ? OutputKind::kProbabilities : OutputKind::kLogits;
}

std::string KerasModel::Summary() const {
  std::vector<std::pair<std::string, int>> counts;
  for (const KerasLayer& layer : layers) {
    auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == layer.class_name; });
    if (it == counts.end()) {
      counts.emplace_back(layer.class_name, 1);
    } else {
      ++it->second;
    }
  }
  std::vector<std::string> parts;
  for (const auto& [name, count] : counts) parts.push_back(absl::StrCat(count, " ", name));
  return absl::StrCat(layers.size(), " layers: ", absl::StrJoin(parts, ", "));
}

absl::StatusOr<KerasModel> BuildKerasModel(const KerasH5File& file, const std::string& source) {
  json root;
  try {
    root = json::parse(file.model_config_json);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": model_config is not valid JSON: ", e.what()));
  }
  const std::string model_class = root.is_object() ? root.value("class_name", "") : "";
  const bool sequential = model_class == "Sequential";
  if (!IsModelClass(model_class)) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": model_config class '", model_class,
                                                   "' is not supported (supported: Functional, Model, Sequential)"));
  }
  // Keras before 2.2.3 wrote a Sequential model's config as the bare layer list.
  const json& config = root.contains("config") ? root["config"] : json();
  const json& layer_list = config.is_array()                                 ? config
                           : config.is_object() && config.contains("layers") ? config["layers"]
                                                                             : json();
  if (!layer_list.is_array() || layer_list.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": model_config has no config.layers list"));
  }
  // A .keras file says where a nested model's weights are (keras_archive.h);
  // a .h5 does not reliably, so there a nested model is refused by name below.
  json inlined = json::array();
  std::string inlined_output;
  const bool inline_nested = file.format == KerasFileFormat::kKeras && HasNestedModel(layer_list);
  if (inline_nested) {
    ASSIGN_OR_RETURN(inlined_output, InlineModel(root, "", "", source, KerasMajorVersion(file), inlined));
  }
  const json& layers_to_build = inline_nested ? inlined : layer_list;

  KerasModel model;
  model.keras_version = file.keras_version;
  const int keras_major = KerasMajorVersion(file);
  // Configs are kept for the weight binding below, which needs their readers.
  std::vector<ConfigReader> readers;
  readers.reserve(layers_to_build.size() + 1);
  for (const json& layer_json : layers_to_build) {
    KerasLayer layer;
    if (!layer_json.is_object() || !layer_json.contains("class_name") || !layer_json["class_name"].is_string() ||
        !layer_json.contains("config") || !layer_json["config"].is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": model_config layer #", model.layers.size(), " has no class_name or config"));
    }
    layer.class_name = layer_json["class_name"].get<std::string>();
    const json& layer_config = layer_json["config"];
    layer.name = layer_json.contains("name") && layer_json["name"].is_string() ? layer_json["name"].get<std::string>()
                                                                               : layer_config.value("name", "");
    readers.emplace_back(layer_config, absl::StrCat(source, ": layer '", layer.name, "' (", layer.class_name, ")"),
                         keras_major);
    const ConfigReader& reader = readers.back();
    if (layer.name.empty()) return reader.Invalid("has no name");
    if (model.Find(layer.name) >= 0) return reader.Invalid("the name is used by two layers");
    RETURN_IF_ERROR(ParseLayerOptions(reader, layer));

    if (layer.kind == LayerKind::kInput) {
      ASSIGN_OR_RETURN(layer.output_shape, DeclaredInputShape(reader));
    } else if (sequential && !inline_nested) {
      if (model.layers.empty()) {
        // Older Sequential models have no InputLayer: the first layer declares the input.
        KerasLayer input;
        input.kind = LayerKind::kInput;
        input.class_name = "InputLayer";
        input.name = "input";
        while (input.name == layer.name) input.name += "_";
        ASSIGN_OR_RETURN(input.output_shape, DeclaredInputShape(reader));
        model.layers.push_back(std::move(input));
      }
      layer.inputs = {model.layers.back().name};
    } else {
      ASSIGN_OR_RETURN(layer.inputs, ParseInbound(layer_json, reader));
    }
    if (sequential && !inline_nested && layer.kind == LayerKind::kInput && !model.layers.empty()) {
      return reader.Invalid("an InputLayer in the middle of a Sequential model");
    }
    std::vector<const Shape*> input_shapes;
    for (const std::string& input : layer.inputs) {
      const int index = model.Find(input);
      if (index < 0) return reader.Invalid(absl::StrCat("input '", input, "' is not a layer defined before it"));
      input_shapes.push_back(&model.layers[index].output_shape);
    }
    RETURN_IF_ERROR(InferShape(input_shapes, reader, layer));
    model.layers.push_back(std::move(layer));
  }
  if (inline_nested) {
    model.input_layer = model.layers.front().name;
    model.output_layer = inlined_output;
  } else if (sequential) {
    model.input_layer = model.layers.front().name;
    model.output_layer = model.layers.back().name;
  } else {
    ASSIGN_OR_RETURN(model.input_layer, ParseSingleEndpoint(config, "input_layers", source));
    ASSIGN_OR_RETURN(model.output_layer, ParseSingleEndpoint(config, "output_layers", source));
  }
  const int input = model.Find(model.input_layer);
  if (input < 0 || model.layers[input].kind != LayerKind::kInput) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": input layer '", model.input_layer, "' is not an InputLayer of the model"));
  }
  for (const KerasLayer& layer : model.layers) {
    if (layer.kind == LayerKind::kInput && layer.name != model.input_layer) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": the model has a second input '", layer.name, "' (single-input models only)"));
    }
  }
  if (model.Find(model.output_layer) < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": output layer '", model.output_layer, "' is not a layer of the model"));
  }

  // Bind weights: every stored layer must exist in the graph, and every graph
  // layer that needs weights must have them stored.
  std::map<std::string, const KerasLayerWeights*> stored;
  for (const KerasLayerWeights& weights : file.layers) {
    if (model.Find(weights.name) < 0) {
      if (weights.weights.empty()) continue;  // e.g. Keras 3's empty top_level_model_weights
      return absl::InvalidArgumentError(absl::StrCat(source, ": weights stored for layer '", weights.name,
                                                     "', which the model's config does not have"));
    }
    stored[weights.name] = &weights;
  }
  static const std::vector<KerasWeight> kNone;
  // A Sequential model without an InputLayer has one layer more than readers.
  const size_t offset = model.layers.size() - readers.size();
  for (size_t i = offset; i < model.layers.size(); ++i) {
    KerasLayer& layer = model.layers[i];
    auto it = stored.find(layer.name);
    const Shape& in = layer.inputs.empty() ? layer.output_shape : model.Layer(layer.inputs[0]).output_shape;
    RETURN_IF_ERROR(BindWeights(layer, in, it == stored.end() ? kNone : it->second->weights, readers[i - offset]));
  }
  return model;
}

absl::StatusOr<KerasModel> LoadKerasModel(const std::string& path) {
  ASSIGN_OR_RETURN(KerasH5File file, ReadKerasFile(path));
  return BuildKerasModel(file, path);
}

absl::StatusOr<std::vector<double>> ParseInputTransformValue(const std::string& text) {
  std::vector<double> values;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    part = absl::StripAsciiWhitespace(part);
    double value = 0;
    const std::vector<absl::string_view> fraction = absl::StrSplit(part, '/');
    double numerator = 0, denominator = 1;
    const bool parsed = fraction.size() == 1   ? absl::SimpleAtod(part, &value)
                        : fraction.size() == 2 ? absl::SimpleAtod(fraction[0], &numerator) &&
                                                     absl::SimpleAtod(fraction[1], &denominator) && denominator != 0
                                               : false;
    if (fraction.size() == 2) value = numerator / denominator;
    if (!parsed || !std::isfinite(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' is not a number, a fraction such as 1/255, or a comma-separated list of them"));
    }
    values.push_back(value);
  }
  return values;
}

absl::StatusOr<InputTransform> ParseInputTransformFlags(const std::string& scale, const std::string& offset) {
  InputTransform transform;
  absl::StatusOr<std::vector<double>> values = ParseInputTransformValue(scale);
  if (!values.ok()) return absl::InvalidArgumentError(absl::StrCat("--input_scale: ", values.status().message()));
  transform.scale = *std::move(values);
  values = ParseInputTransformValue(offset);
  if (!values.ok()) return absl::InvalidArgumentError(absl::StrCat("--input_offset: ", values.status().message()));
  transform.offset = *std::move(values);
  return transform;
}

absl::Status SetInputTransform(KerasModel& model, std::vector<double> scale, std::vector<double> offset) {
  const int64_t channels = model.InputShape().back();
  for (const auto& [name, values] : {std::pair{"input_scale", &scale}, std::pair{"input_offset", &offset}}) {
    if (values->size() != 1 && static_cast<int64_t>(values->size()) != channels) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " has ", values->size(),
                                                     " values; the model's input has ", channels,
                                                     " channels (give one value, or one per channel)"));
    }
    for (float v : *values) {
      if (!std::isfinite(v)) return absl::InvalidArgumentError(absl::StrCat("--", name, " is not finite"));
    }
  }
  model.input_transform = {std::move(scale), std::move(offset)};
  return absl::OkStatus();
}

}  // namespace resnet8
