// The Keras layer classes this project converts: one LayerSpec row per class,
// holding everything the model reader needs to know about it. Adding a layer
// kind is one row here, one kernel in reference_executor.cc, one expression
// in torch/torchscript_builder.cc (both switch over LayerKind without a
// default, and -Werror=switch makes a forgotten one a compile error) and one
// fixture in tests/fixtures/write_layer_fixtures.py. docs/conversion.md lists
// exactly these classes (tests/keras_model_test.cc checks it).
//
//   const LayerSpec* spec = FindLayerSpec("Conv2D");
//   RETURN_IF_ERROR(spec->parse(config, layer));             // filters, kernel_size, ...
//   RETURN_IF_ERROR(spec->infer_shape({&in}, config, layer));  // layer.output_shape
//   for (const ExpectedWeight& w : spec->weights(layer, in)) ...  // kernel [3,3,16,32], bias [32]
#ifndef RESNET8_SERVER_KERAS_LAYER_SPECS_H_
#define RESNET8_SERVER_KERAS_LAYER_SPECS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/keras/config_reader.h"
#include "server/keras/model.h"

namespace resnet8 {

// One variable a layer stores, by role, and where it is bound.
struct ExpectedWeight {
  const char* role;   // "kernel", "bias", "gamma", ...
  KerasWeight* slot;  // in the layer's BoundWeights
  Shape shape;
  // PReLU's alpha: the input's shape with its shared axes reduced to 1, so
  // any shape that broadcasts to the input; `shape` is then the input's.
  bool broadcasts_to_input = false;
};

struct LayerSpec {
  std::string class_name;            // as Keras writes it, e.g. "Conv2D"
  std::vector<std::string> aliases;  // other spellings Keras accepts, e.g. "Convolution2D"
  LayerKind kind;
  // How many inputs the layer takes.
  size_t min_inputs = 1;
  size_t max_inputs = 1;
  // Reads the options that do not depend on the input from the config into
  // `layer`, whose kind and class_name are already set.
  std::function<absl::Status(const ConfigReader& config, KerasLayer& layer)> parse;
  // Checks the inputs' shapes (their count is checked before) and sets
  // layer.output_shape and any option whose meaning depends on the rank.
  std::function<absl::Status(const std::vector<const Shape*>& in, const ConfigReader& config, KerasLayer& layer)>
      infer_shape;
  // The variables the layer stores, in the order Keras creates them, which
  // is the order of its `weight_names` and of Keras's own loader. `in` is
  // the first input's shape.
  std::function<std::vector<ExpectedWeight>(KerasLayer& layer, const Shape& in)> weights;
  // Set only for a layer whose stored variables are not a fixed list of
  // roles (Normalization: adapted statistics, or none when its config gives
  // them); replaces the binding of `weights`.
  std::function<absl::Status(const std::vector<KerasWeight>& stored, const Shape& in, const ConfigReader& config,
                             KerasLayer& layer)>
      bind;
};

// Every row, in the order of docs/conversion.md.
const std::vector<LayerSpec>& LayerSpecs();

// The row for a class name or alias; nullptr if it is not supported.
const LayerSpec* FindLayerSpec(absl::string_view class_name);

// The layer a nested model becomes after its inlined layers (model_graph.h):
// its output, passed on.
const LayerSpec& NestedModelOutputSpec();

// "InputLayer, Conv2D, ..." (class names, not aliases), for messages.
std::string SupportedLayerNames();

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_LAYER_SPECS_H_
