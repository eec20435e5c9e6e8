#include "server/keras/model.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace resnet8 {
namespace {

using nlohmann::json;

std::string ShapeText(const std::vector<int64_t>& shape) { return absl::StrCat("[", absl::StrJoin(shape, ","), "]"); }

// Reads typed fields of one layer's `config`, with messages naming the layer.
class ConfigReader {
 public:
  ConfigReader(const json& config, std::string context) : config_(config), context_(std::move(context)) {}

  absl::Status Invalid(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(context_, ": ", what));
  }

  bool Has(const char* key) const { return config_.contains(key) && !config_[key].is_null(); }

  absl::StatusOr<std::string> String(const char* key) const {
    if (!config_.contains(key) || !config_[key].is_string()) {
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
    if (!config_[key].is_boolean()) {
      return Invalid(absl::StrCat("config field '", key, "' is not a boolean"));
    }
    return config_[key].get<bool>();
  }
  absl::StatusOr<double> Number(const char* key) const {
    if (!Has(key) || !config_[key].is_number()) {
      return Invalid(absl::StrCat("config field '", key, "' is missing or not a number"));
    }
    return config_[key].get<double>();
  }
  absl::StatusOr<int64_t> PositiveInt(const char* key) const {
    if (!Has(key) || !config_[key].is_number_integer() || config_[key].get<int64_t>() <= 0 ||
        config_[key].get<int64_t>() > (int64_t{1} << 20)) {
      return Invalid(absl::StrCat("config field '", key, "' is missing or not a positive integer"));
    }
    return config_[key].get<int64_t>();
  }
  // A pair such as kernel_size [3, 3]; a single integer n means [n, n] as in Keras.
  absl::StatusOr<std::array<int64_t, 2>> Pair(const char* key) const {
    const json& value = Has(key) ? config_[key] : json();
    auto positive = [](const json& v) {
      return v.is_number_integer() && v.get<int64_t>() > 0 && v.get<int64_t>() <= 4096;
    };
    if (positive(value)) return std::array<int64_t, 2>{value.get<int64_t>(), value.get<int64_t>()};
    if (value.is_array() && value.size() == 2 && positive(value[0]) && positive(value[1])) {
      return std::array<int64_t, 2>{value[0].get<int64_t>(), value[1].get<int64_t>()};
    }
    return Invalid(absl::StrCat("config field '", key, "' is missing or not a pair of positive integers"));
  }
  absl::StatusOr<Padding> PaddingField() const {
    ASSIGN_OR_RETURN(std::string padding, String("padding"));
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
  absl::StatusOr<ActivationKind> ActivationField() const {
    ASSIGN_OR_RETURN(std::string name, StringOr("activation", "linear"));
    if (name == "linear") return ActivationKind::kLinear;
    if (name == "relu") return ActivationKind::kRelu;
    if (name == "softmax") return ActivationKind::kSoftmax;
    return Invalid(absl::StrCat("unsupported activation '", name, "' (supported: linear, relu, softmax)"));
  }

 private:
  const json& config_;
  std::string context_;
};

absl::Status ParseLayerOptions(const std::string& class_name, const ConfigReader& config, KerasLayer& layer) {
  if (class_name == "InputLayer") {
    layer.kind = LayerKind::kInput;
    return absl::OkStatus();  // the shape is read by the caller, which has the raw JSON
  }
  if (class_name == "Conv2D") {
    layer.kind = LayerKind::kConv2D;
    ASSIGN_OR_RETURN(layer.filters, config.PositiveInt("filters"));
    ASSIGN_OR_RETURN(layer.kernel_size, config.Pair("kernel_size"));
    ASSIGN_OR_RETURN(layer.strides, config.Pair("strides"));
    ASSIGN_OR_RETURN(layer.padding, config.PaddingField());
    ASSIGN_OR_RETURN(layer.activation, config.ActivationField());
    ASSIGN_OR_RETURN(layer.use_bias, config.BoolOr("use_bias", true));
    RETURN_IF_ERROR(config.RequireChannelsLast());
    if (config.Has("dilation_rate")) {
      ASSIGN_OR_RETURN(auto dilation, config.Pair("dilation_rate"));
      if (dilation != std::array<int64_t, 2>{1, 1}) {
        return config.Invalid("dilated convolution is not supported");
      }
    }
    if (config.Has("groups")) {
      ASSIGN_OR_RETURN(int64_t groups, config.PositiveInt("groups"));
      if (groups != 1) return config.Invalid("grouped convolution is not supported");
    }
    return absl::OkStatus();
  }
  if (class_name == "BatchNormalization") {
    layer.kind = LayerKind::kBatchNorm;
    ASSIGN_OR_RETURN(layer.epsilon, config.Number("epsilon"));
    if (!(layer.epsilon >= 0)) return config.Invalid("negative epsilon");
    ASSIGN_OR_RETURN(layer.center, config.BoolOr("center", true));
    ASSIGN_OR_RETURN(layer.scale, config.BoolOr("scale", true));
    return absl::OkStatus();  // the axis is checked by the caller, which has the raw JSON
  }
  if (class_name == "Activation") {
    layer.kind = LayerKind::kActivation;
    ASSIGN_OR_RETURN(layer.activation, config.ActivationField());
    return absl::OkStatus();
  }
  if (class_name == "ReLU" || class_name == "Softmax") {
    layer.kind = LayerKind::kActivation;
    layer.activation = class_name == "ReLU" ? ActivationKind::kRelu : ActivationKind::kSoftmax;
    return absl::OkStatus();  // options are checked by the caller
  }
  if (class_name == "Add") {
    layer.kind = LayerKind::kAdd;
    return absl::OkStatus();
  }
  if (class_name == "AveragePooling2D") {
    layer.kind = LayerKind::kAveragePooling2D;
    ASSIGN_OR_RETURN(layer.kernel_size, config.Pair("pool_size"));
    layer.strides = layer.kernel_size;  // Keras: strides=None means pool_size
    if (config.Has("strides")) {
      ASSIGN_OR_RETURN(layer.strides, config.Pair("strides"));
    }
    ASSIGN_OR_RETURN(layer.padding, config.PaddingField());
    return config.RequireChannelsLast();
  }
  if (class_name == "Flatten") {
    layer.kind = LayerKind::kFlatten;
    return config.RequireChannelsLast();
  }
  if (class_name == "Dense") {
    layer.kind = LayerKind::kDense;
    ASSIGN_OR_RETURN(layer.filters, config.PositiveInt("units"));
    ASSIGN_OR_RETURN(layer.activation, config.ActivationField());
    ASSIGN_OR_RETURN(layer.use_bias, config.BoolOr("use_bias", true));
    return absl::OkStatus();
  }
  return config.Invalid(
      absl::StrCat("unsupported layer class '", class_name,
                   "' (supported: InputLayer, Conv2D, BatchNormalization, Activation, ReLU, Softmax, Add, "
                   "AveragePooling2D, Flatten, Dense)"));
}

// Options that ParseLayerOptions leaves to the caller because they need JSON
// values of irregular types.
absl::Status ParseIrregularOptions(const json& config, const ConfigReader& reader, KerasLayer& layer) {
  if (layer.kind == LayerKind::kInput) {
    const char* key = config.contains("batch_input_shape") ? "batch_input_shape" : "batch_shape";
    const json& shape = config.contains(key) ? config[key] : json();
    if (!shape.is_array() || shape.size() != 4 || !shape[0].is_null()) {
      return reader.Invalid("batch_input_shape must be [null, height, width, channels]");
    }
    for (int i = 1; i < 4; ++i) {
      if (!shape[i].is_number_integer() || shape[i].get<int64_t>() <= 0 || shape[i].get<int64_t>() > 4096) {
        return reader.Invalid("batch_input_shape must have fixed, positive height, width and channels");
      }
      layer.output_shape.push_back(shape[i].get<int64_t>());
    }
  } else if (layer.kind == LayerKind::kBatchNorm) {
    const json& axis = config.contains("axis") ? config["axis"] : json();
    auto last_axis = [](const json& v) {
      return v.is_number_integer() && (v.get<int64_t>() == 3 || v.get<int64_t>() == -1);
    };
    if (!(last_axis(axis) || (axis.is_array() && axis.size() == 1 && last_axis(axis[0])))) {
      return reader.Invalid("BatchNormalization is supported over the channel axis (3 or -1) only");
    }
  } else if (layer.class_name == "ReLU") {
    auto zero_or_null = [&](const char* key) {
      return !config.contains(key) || config[key].is_null() ||
             (config[key].is_number() && config[key].get<double>() == 0.0);
    };
    if (!zero_or_null("negative_slope") || !zero_or_null("threshold") ||
        !(!config.contains("max_value") || config["max_value"].is_null())) {
      return reader.Invalid("only a plain ReLU (no max_value, negative_slope or threshold) is supported");
    }
  } else if (layer.class_name == "Softmax") {
    if (config.contains("axis") && config["axis"] != json(-1)) {
      return reader.Invalid("Softmax is supported over the last axis only");
    }
  }
  return absl::OkStatus();
}

// Parses `inbound_nodes` of Keras 2.x: [[["name", node_index, tensor_index, {}], ...]].
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
  if (!nodes[0].is_array()) {
    return reader.Invalid("'inbound_nodes' is not in the Keras 2.x format [[[name, 0, 0, {}], ...]]");
  }
  for (const json& edge : nodes[0]) {
    if (!edge.is_array() || edge.size() < 3 || !edge[0].is_string() || !edge[1].is_number_integer() ||
        !edge[2].is_number_integer()) {
      return reader.Invalid("an inbound node entry is not [name, node_index, tensor_index, ...]");
    }
    if (edge[1].get<int64_t>() != 0 || edge[2].get<int64_t>() != 0) {
      return reader.Invalid("inputs from shared layers or multi-output layers are not supported");
    }
    inputs.push_back(edge[0].get<std::string>());
  }
  return inputs;
}

absl::StatusOr<std::string> ParseSingleEndpoint(const json& config, const char* key, const std::string& source) {
  const json& list = config.contains(key) ? config[key] : json();
  if (!list.is_array() || list.size() != 1 || !list[0].is_array() || list[0].empty() || !list[0][0].is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": model_config '", key, "' must name exactly one layer (single-input, single-output models only)"));
  }
  return list[0][0].get<std::string>();
}

int64_t SameOutput(int64_t in, int64_t stride) { return (in + stride - 1) / stride; }

absl::Status InferShape(KerasModel& model, KerasLayer& layer, const std::string& source) {
  const std::string context = absl::StrCat(source, ": layer '", layer.name, "' (", layer.class_name, ")");
  auto invalid = [&](absl::string_view what) { return absl::InvalidArgumentError(absl::StrCat(context, ": ", what)); };
  std::vector<const Shape*> in;
  for (const std::string& input : layer.inputs) {
    in.push_back(&model.layers[model.Find(input)].output_shape);
  }
  const size_t expected_inputs = layer.kind == LayerKind::kInput ? 0 : layer.kind == LayerKind::kAdd ? 2 : 1;
  if (layer.kind == LayerKind::kAdd ? in.size() < expected_inputs : in.size() != expected_inputs) {
    return invalid(absl::StrCat("has ", in.size(), " inputs, expected ",
                                layer.kind == LayerKind::kAdd ? "at least 2" : absl::StrCat(expected_inputs)));
  }
  switch (layer.kind) {
    case LayerKind::kInput:
      return absl::OkStatus();
    case LayerKind::kConv2D:
    case LayerKind::kAveragePooling2D: {
      const Shape& x = *in[0];
      if (x.size() != 3) return invalid(absl::StrCat("expects an image input, got shape ", ShapeText(x)));
      Shape out(3);
      for (int d = 0; d < 2; ++d) {
        if (layer.padding == Padding::kSame) {
          out[d] = SameOutput(x[d], layer.strides[d]);
        } else {
          if (x[d] < layer.kernel_size[d]) {
            return invalid(absl::StrCat("window ", layer.kernel_size[d], " is larger than the input ", ShapeText(x)));
          }
          out[d] = (x[d] - layer.kernel_size[d]) / layer.strides[d] + 1;
        }
      }
      out[2] = layer.kind == LayerKind::kConv2D ? layer.filters : x[2];
      layer.output_shape = out;
      return absl::OkStatus();
    }
    case LayerKind::kBatchNorm:
      if (in[0]->empty()) return invalid("has an input without channels");
      layer.output_shape = *in[0];
      return absl::OkStatus();
    case LayerKind::kActivation:
      layer.output_shape = *in[0];
      return absl::OkStatus();
    case LayerKind::kAdd:
      for (const Shape* shape : in) {
        if (*shape != *in[0]) {
          return invalid(
              absl::StrCat("adds tensors of different shapes ", ShapeText(*in[0]), " and ", ShapeText(*shape)));
        }
      }
      layer.output_shape = *in[0];
      return absl::OkStatus();
    case LayerKind::kFlatten: {
      int64_t size = 1;
      for (int64_t d : *in[0]) size *= d;
      layer.output_shape = {size};
      return absl::OkStatus();
    }
    case LayerKind::kDense:
      if (in[0]->size() != 1) {
        return invalid(absl::StrCat("expects a flat input, got shape ", ShapeText(*in[0])));
      }
      layer.output_shape = {layer.filters};
      return absl::OkStatus();
  }
  return invalid("unknown layer kind");
}

// "conv2d_3/kernel:0" -> "kernel".
std::string WeightRole(const std::string& name) {
  std::string role = name.substr(name.rfind('/') + 1);
  size_t colon = role.rfind(':');
  return colon == std::string::npos ? role : role.substr(0, colon);
}

absl::Status BindWeights(KerasLayer& layer, int64_t input_channels, const std::vector<KerasWeight>& stored,
                         const std::string& source) {
  const std::string context = absl::StrCat(source, ": layer '", layer.name, "' (", layer.class_name, ")");
  struct Expected {
    const char* role;
    KerasWeight* slot;
    Shape shape;
  };
  std::vector<Expected> expected;
  const int64_t channels = layer.output_shape.empty() ? 0 : layer.output_shape.back();
  switch (layer.kind) {
    case LayerKind::kConv2D:
      expected.push_back({"kernel",
                          &layer.weights.kernel,
                          {layer.kernel_size[0], layer.kernel_size[1], input_channels, layer.filters}});
      if (layer.use_bias) expected.push_back({"bias", &layer.weights.bias, {layer.filters}});
      break;
    case LayerKind::kDense:
      expected.push_back({"kernel", &layer.weights.kernel, {input_channels, layer.filters}});
      if (layer.use_bias) expected.push_back({"bias", &layer.weights.bias, {layer.filters}});
      break;
    case LayerKind::kBatchNorm:
      if (layer.scale) expected.push_back({"gamma", &layer.weights.gamma, {channels}});
      if (layer.center) expected.push_back({"beta", &layer.weights.beta, {channels}});
      expected.push_back({"moving_mean", &layer.weights.moving_mean, {channels}});
      expected.push_back({"moving_variance", &layer.weights.moving_variance, {channels}});
      break;
    default:
      break;
  }
  std::set<std::string> seen;
  for (const KerasWeight& weight : stored) {
    const std::string role = WeightRole(weight.name);
    auto it = std::find_if(expected.begin(), expected.end(), [&](const Expected& e) { return role == e.role; });
    if (it == expected.end()) {
      return absl::InvalidArgumentError(absl::StrCat(context, ": unexpected weight '", weight.name, "'"));
    }
    if (!seen.insert(role).second) {
      return absl::InvalidArgumentError(absl::StrCat(context, ": weight '", role, "' is stored twice"));
    }
    if (weight.shape != it->shape) {
      return absl::InvalidArgumentError(absl::StrCat(context, ": weight '", weight.name, "' has shape ",
                                                     ShapeText(weight.shape), ", expected ", ShapeText(it->shape)));
    }
    *it->slot = weight;
  }
  for (const Expected& e : expected) {
    if (seen.count(e.role) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": missing weight '", e.role, "' of shape ", ShapeText(e.shape)));
    }
  }
  if (layer.kind == LayerKind::kBatchNorm) {
    for (float v : layer.weights.moving_variance.values) {
      if (v < 0) {
        return absl::InvalidArgumentError(absl::StrCat(context, ": negative moving_variance ", v));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

int KerasModel::Find(const std::string& name) const {
  for (size_t i = 0; i < layers.size(); ++i) {
    if (layers[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::vector<int> KerasModel::Consumers(const std::string& name) const {
  std::vector<int> result;
  for (size_t i = 0; i < layers.size(); ++i) {
    for (const std::string& input : layers[i].inputs) {
      if (input == name) {
        result.push_back(static_cast<int>(i));
        break;
      }
    }
  }
  return result;
}

int64_t KerasModel::ParameterCount() const {
  int64_t count = 0;
  for (const KerasLayer& layer : layers) {
    const BoundWeights& w = layer.weights;
    for (const KerasWeight* weight : {&w.kernel, &w.bias, &w.gamma, &w.beta, &w.moving_mean, &w.moving_variance}) {
      count += static_cast<int64_t>(weight->values.size());
    }
  }
  return count;
}

absl::StatusOr<KerasModel> BuildKerasModel(const KerasH5File& file, const std::string& source) {
  json root;
  try {
    root = json::parse(file.model_config_json);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": model_config is not valid JSON: ", e.what()));
  }
  if (!root.is_object() || !root.contains("config") || !root["config"].is_object() ||
      !root["config"].contains("layers") || !root["config"]["layers"].is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": model_config has no config.layers list (is it a Keras functional model?)"));
  }
  const std::string model_class = root.value("class_name", "");
  if (model_class != "Functional" && model_class != "Model") {
    return absl::InvalidArgumentError(absl::StrCat(source, ": model_config class '", model_class,
                                                   "' is not supported (supported: Functional, Model)"));
  }
  const json& config = root["config"];

  KerasModel model;
  model.keras_version = file.keras_version;
  for (const json& layer_json : config["layers"]) {
    KerasLayer layer;
    if (!layer_json.is_object() || !layer_json.contains("class_name") || !layer_json["class_name"].is_string() ||
        !layer_json.contains("config") || !layer_json["config"].is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": model_config layer #", model.layers.size(), " has no class_name or config"));
    }
    layer.class_name = layer_json["class_name"].get<std::string>();
    layer.name = layer_json.contains("name") && layer_json["name"].is_string() ? layer_json["name"].get<std::string>()
                                                                               : layer_json["config"].value("name", "");
    const std::string context = absl::StrCat(source, ": layer '", layer.name, "' (", layer.class_name, ")");
    ConfigReader reader(layer_json["config"], context);
    if (layer.name.empty()) return reader.Invalid("has no name");
    if (model.Find(layer.name) >= 0) return reader.Invalid("the name is used by two layers");
    RETURN_IF_ERROR(ParseLayerOptions(layer.class_name, reader, layer));
    RETURN_IF_ERROR(ParseIrregularOptions(layer_json["config"], reader, layer));
    ASSIGN_OR_RETURN(layer.inputs, ParseInbound(layer_json, reader));
    for (const std::string& input : layer.inputs) {
      if (model.Find(input) < 0) {
        return reader.Invalid(absl::StrCat("input '", input, "' is not a layer defined before it"));
      }
    }
    model.layers.push_back(std::move(layer));
    RETURN_IF_ERROR(InferShape(model, model.layers.back(), source));
  }
  ASSIGN_OR_RETURN(model.input_layer, ParseSingleEndpoint(config, "input_layers", source));
  ASSIGN_OR_RETURN(model.output_layer, ParseSingleEndpoint(config, "output_layers", source));
  const int input = model.Find(model.input_layer);
  if (input < 0 || model.layers[input].kind != LayerKind::kInput) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": input layer '", model.input_layer, "' is not an InputLayer of the model"));
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
      if (weights.weights.empty()) continue;  // harmless leftover entry
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": weights stored for layer '", weights.name, "', which model_config does not have"));
    }
    stored[weights.name] = &weights;
  }
  for (KerasLayer& layer : model.layers) {
    const bool has_weights =
        layer.kind == LayerKind::kConv2D || layer.kind == LayerKind::kDense || layer.kind == LayerKind::kBatchNorm;
    auto it = stored.find(layer.name);
    if (has_weights && it == stored.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": layer '", layer.name, "' (", layer.class_name, ") has no stored weights"));
    }
    const int64_t input_channels =
        layer.inputs.empty() ? 0 : model.layers[model.Find(layer.inputs[0])].output_shape.back();
    static const std::vector<KerasWeight> kNone;
    RETURN_IF_ERROR(BindWeights(layer, input_channels, it == stored.end() ? kNone : it->second->weights, source));
  }
  return model;
}

absl::StatusOr<KerasModel> LoadKerasModel(const std::string& path) {
  ASSIGN_OR_RETURN(KerasH5File file, ReadKerasH5File(path));
  return BuildKerasModel(file, path);
}

}  // namespace resnet8
