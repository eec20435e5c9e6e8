// The wiring of a Keras model_config: which layer feeds which, in the
// formats of Keras 2 (`inbound_nodes` as [[[name, node, tensor, {}]]]) and
// Keras 3 (calls as {"args": [...], "kwargs": {...}} holding __keras_tensor__
// references), the model's input and output endpoints, and nested models
// flattened into one graph. What each layer computes is layer_specs.h's.
#ifndef RESNET8_SERVER_KERAS_MODEL_GRAPH_H_
#define RESNET8_SERVER_KERAS_MODEL_GRAPH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "server/keras/config_reader.h"

namespace resnet8 {

// The names of the layers feeding `layer_json` (one entry of config.layers),
// in order. Refuses shared layers (called more than once), tensors passed as
// keyword arguments and inputs from other than a layer's first output.
absl::StatusOr<std::vector<std::string>> ParseInbound(const nlohmann::json& layer_json, const ConfigReader& reader);

// model_config's input_layers / output_layers ([[name, 0, 0]] in Keras 2 and
// in Keras 3 with several, [name, 0, 0] in Keras 3 with one): the one layer
// named, or an error naming `key` for several inputs or outputs.
absl::StatusOr<std::string> ParseSingleEndpoint(const nlohmann::json& config, const char* key,
                                                const std::string& source);

// Whether a config.layers list holds a Sequential or Functional model as a layer.
bool HasNestedModel(const nlohmann::json& layers);

// Appends the layers of `model` (a Sequential or Functional layer entry, or
// the root config) to `out` as one functional graph in Keras 2's inbound
// form, every name prefixed with `prefix` ("outer/" inside a nested model
// named "outer"). `input` is the layer feeding the model; empty at the top,
// where its InputLayer stays. Returns the name of the layer that gives the
// model's output. A nested model becomes its layers, then a layer named after
// it that passes its output on (config `nested_model_output`), so that the
// outer graph's references still hold.
absl::StatusOr<std::string> InlineModel(const nlohmann::json& model, const std::string& prefix,
                                        const std::string& input, const std::string& source, int keras_major,
                                        nlohmann::json& out);

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_MODEL_GRAPH_H_
