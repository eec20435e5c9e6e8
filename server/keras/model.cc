#include "server/keras/model.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "server/keras/config_reader.h"
#include "server/keras/keras_file.h"
#include "server/keras/layer_specs.h"
#include "server/keras/model_graph.h"

namespace resnet8 {
namespace {

using nlohmann::json;

std::string ShapeText(const std::vector<int64_t>& shape) { return absl::StrCat("[", absl::StrJoin(shape, ","), "]"); }

// The row that says how to read a layer of class `class_name`.
absl::StatusOr<const LayerSpec*> SpecOf(const std::string& class_name, const ConfigReader& config) {
  if (const LayerSpec* spec = FindLayerSpec(class_name); spec != nullptr) return spec;
  if (IsModelClass(class_name)) {
    // What a nested model of a .keras file becomes after its layers (model_graph.h).
    if (config.Has("nested_model_output")) return &NestedModelOutputSpec();
    return config.Invalid(
        "nested models are supported in .keras files only (a .h5 does not say which weights are whose); "
        "save as .keras, or with the layers flattened");
  }
  return config.Invalid(
      absl::StrCat("unsupported layer class '", class_name, "' (supported: ", SupportedLayerNames(), ")"));
}

absl::Status CheckInputCount(const LayerSpec& spec, size_t count, const ConfigReader& config) {
  if (count < spec.min_inputs || count > spec.max_inputs) {
    return config.Invalid(absl::StrCat("has ", count, " inputs, expected ",
                                       spec.min_inputs == spec.max_inputs
                                           ? absl::StrCat(spec.min_inputs)
                                           : absl::StrCat("at least ", spec.min_inputs)));
  }
  return absl::OkStatus();
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

// Binds the stored variables to the roles the layer's spec expects, in
// order, checking their count and shapes.
absl::Status BindWeights(const LayerSpec& spec, KerasLayer& layer, const Shape& in,
                         const std::vector<KerasWeight>& stored, const ConfigReader& config) {
  if (spec.bind) return spec.bind(stored, in, config, layer);
  const std::vector<ExpectedWeight> expected = spec.weights(layer, in);
  if (stored.size() != expected.size()) {
    return config.Invalid(
        absl::StrCat("stores ", stored.size(), " weights, expected ", expected.size(), " (", Roles(expected), ")"));
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    const KerasWeight& weight = stored[i];
    const bool fits = expected[i].broadcasts_to_input ? BroadcastsTo(weight.shape, expected[i].shape)
                                                      : weight.shape == expected[i].shape;
    if (!fits) {
      return config.Invalid(absl::StrCat("weight '", weight.name, "' has shape ", ShapeText(weight.shape),
                                         ", expected ", expected[i].role, " ", ShapeText(expected[i].shape)));
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

}  // namespace

bool IsModelClass(const std::string& class_name) {
  return class_name == "Sequential" || class_name == "Functional" || class_name == "Model";
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

int KerasModel::OutputComputingLayer() const {
  // A Dropout or a nested model's pass-on layer at the end computes nothing:
  // what the model outputs is decided before it.
  int computing = Find(output_layer);
  while (layers[computing].kind == LayerKind::kIdentity && layers[computing].inputs.size() == 1) {
    computing = Find(layers[computing].inputs[0]);
  }
  return computing;
}

OutputKind KerasModel::Outputs() const {
  // Only layers that apply an activation have one other than linear.
  return layers[OutputComputingLayer()].activation.kind == ActivationKind::kSoftmax ? OutputKind::kProbabilities
                                                                                    : OutputKind::kLogits;
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
  const std::string model_class = root.is_object() ? StringField(root, "class_name") : "";
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
  // Configs and specs are kept for the weight binding below.
  std::vector<ConfigReader> readers;
  readers.reserve(layers_to_build.size() + 1);
  std::vector<const LayerSpec*> specs;
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
                                                                               : StringField(layer_config, "name");
    readers.emplace_back(layer_config, absl::StrCat(source, ": layer '", layer.name, "' (", layer.class_name, ")"),
                         keras_major);
    const ConfigReader& reader = readers.back();
    if (layer.name.empty()) return reader.Invalid("has no name");
    if (model.Find(layer.name) >= 0) return reader.Invalid("the name is used by two layers");
    ASSIGN_OR_RETURN(const LayerSpec* spec, SpecOf(layer.class_name, reader));
    specs.push_back(spec);
    layer.kind = spec->kind;
    RETURN_IF_ERROR(spec->parse(reader, layer));

    if (layer.kind == LayerKind::kInput) {
      // Its shape is its declared one (the spec's infer_shape).
    } else if (sequential && !inline_nested) {
      if (model.layers.empty()) {
        // Older Sequential models have no InputLayer: the first layer declares the input.
        KerasLayer input;
        input.kind = LayerKind::kInput;
        input.class_name = "InputLayer";
        input.name = "input";
        while (input.name == layer.name) input.name += "_";
        ASSIGN_OR_RETURN(input.output_shape, reader.DeclaredInputShape());
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
    RETURN_IF_ERROR(CheckInputCount(*spec, input_shapes.size(), reader));
    RETURN_IF_ERROR(spec->infer_shape(input_shapes, reader, layer));
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

  // Keras's Softmax layer reads the mask a Masking layer attaches; no layer here carries masks.
  const bool masked = std::any_of(model.layers.begin(), model.layers.end(),
                                  [](const KerasLayer& layer) { return layer.class_name == "Masking"; });
  for (const KerasLayer& layer : model.layers) {
    if (masked && layer.class_name == "Softmax") {
      return absl::InvalidArgumentError(absl::StrCat(source, ": layer '", layer.name,
                                                     "' (Softmax): a Softmax layer in a model with a Masking layer "
                                                     "is not supported (Keras applies the mask there)"));
    }
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
    RETURN_IF_ERROR(BindWeights(*specs[i - offset], layer, in, it == stored.end() ? kNone : it->second->weights,
                                readers[i - offset]));
  }
  return model;
}

absl::StatusOr<KerasModel> LoadKerasModel(const std::string& path) {
  ASSIGN_OR_RETURN(KerasH5File file, ReadKerasFile(path));
  return BuildKerasModel(file, path);
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
