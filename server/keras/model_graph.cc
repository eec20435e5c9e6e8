#include "server/keras/model_graph.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace resnet8 {
namespace {

using nlohmann::json;

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
    if (StringField(value, "class_name") == "__keras_tensor__") {
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

bool IsNestedModel(const json& layer) { return layer.is_object() && IsModelClass(StringField(layer, "class_name")); }

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

}  // namespace

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

bool HasNestedModel(const json& layers) {
  return std::any_of(layers.begin(), layers.end(), [](const json& layer) { return IsNestedModel(layer); });
}

absl::StatusOr<std::string> InlineModel(const json& model, const std::string& prefix, const std::string& input,
                                        const std::string& source, int keras_major, json& out) {
  const bool sequential = StringField(model, "class_name") == "Sequential";
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
                                                                                 : StringField(layer["config"], "name");
    const std::string flat_name = prefix + name;
    std::vector<std::string> inputs;
    if (sequential) {
      if (previous.empty() && StringField(layer, "class_name") != "InputLayer" && !IsNestedModel(layer)) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": a Sequential model with nested models must start with an InputLayer"));
      }
      if (!previous.empty()) inputs = {previous};
    } else if (StringField(layer, "class_name") != "InputLayer") {
      ConfigReader reader(layer["config"], absl::StrCat(source, ": layer '", flat_name, "'"), keras_major);
      ASSIGN_OR_RETURN(std::vector<std::string> names, ParseInbound(layer, reader));
      for (const std::string& from : names) {
        auto it = renamed.find(from);
        if (it == renamed.end())
          return reader.Invalid(absl::StrCat("input '", from, "' is not a layer defined before it"));
        inputs.push_back(it->second);
      }
    }
    if (StringField(layer, "class_name") == "InputLayer") {
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

}  // namespace resnet8
