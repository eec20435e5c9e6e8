// A Keras functional model as a typed, validated graph with its weights bound.
//
// BuildKerasModel() interprets what h5_file.h read: it parses `model_config`
// with a strict JSON parser, turns every layer into a KerasLayer (only the
// layer kinds and options this project can execute exactly are accepted),
// infers each layer's output shape from the input shape, and binds each
// layer's weights by role ("kernel", "bias", "gamma", ...) after checking their
// shapes against the layer. The result is complete and consistent, or an error
// names the layer and what is wrong; it never holds half a model.
//
//   ASSIGN_OR_RETURN(KerasH5File file, ReadKerasH5File(path));
//   ASSIGN_OR_RETURN(KerasModel model, BuildKerasModel(file, path));
//   const KerasLayer& stem = model.layers[1];  // Conv2D "conv2d", 16 filters
//
// Nothing here depends on LibTorch: reference_executor.h executes a KerasModel
// directly, and keras_to_torch.h maps it onto a LibTorch module.
#ifndef RESNET8_SERVER_KERAS_MODEL_H_
#define RESNET8_SERVER_KERAS_MODEL_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/keras/h5_file.h"

namespace resnet8 {

enum class LayerKind {
  kInput,             // InputLayer
  kConv2D,            // Conv2D
  kBatchNorm,         // BatchNormalization
  kActivation,        // Activation, ReLU, Softmax
  kAdd,               // Add
  kAveragePooling2D,  // AveragePooling2D
  kFlatten,           // Flatten
  kDense,             // Dense
};

enum class ActivationKind { kLinear, kRelu, kSoftmax };
enum class Padding { kValid, kSame };

// Output shape of a layer without the batch dimension: {height, width,
// channels} for images (channels-last, as Keras), {features} after Flatten.
using Shape = std::vector<int64_t>;

// A layer's weights, bound by role, in Keras layouts. Absent roles are empty.
struct BoundWeights {
  KerasWeight kernel;           // Conv2D: [kh, kw, in, out] (HWIO); Dense: [in, units]
  KerasWeight bias;             // [out] or [units]
  KerasWeight gamma;            // BatchNormalization, [channels]; absent if !scale
  KerasWeight beta;             // absent if !center
  KerasWeight moving_mean;      // [channels]
  KerasWeight moving_variance;  // [channels]
};

// One layer. Which fields are meaningful depends on `kind`.
struct KerasLayer {
  LayerKind kind;
  std::string class_name;           // as in the file, e.g. "Conv2D"
  std::string name;                 // e.g. "conv2d_3"
  std::vector<std::string> inputs;  // names of the layers feeding this one, in order
  Shape output_shape;

  // Conv2D, AveragePooling2D
  std::array<int64_t, 2> kernel_size{0, 0};  // pool_size for pooling
  std::array<int64_t, 2> strides{1, 1};
  Padding padding = Padding::kValid;
  // Conv2D, Dense
  int64_t filters = 0;  // Conv2D filters or Dense units
  bool use_bias = true;
  // Conv2D, Dense, Activation
  ActivationKind activation = ActivationKind::kLinear;
  // BatchNormalization
  double epsilon = 1e-3;
  bool center = true;
  bool scale = true;

  BoundWeights weights;
};

struct KerasModel {
  std::string keras_version;
  // In topological order (the file's order; every input precedes its user).
  std::vector<KerasLayer> layers;
  std::string input_layer;
  std::string output_layer;

  // Index of the layer called `name` in `layers`, or -1.
  int Find(const std::string& name) const;
  // Indices of the layers that take `name` as an input, in `layers` order.
  std::vector<int> Consumers(const std::string& name) const;
  // The number of stored weight values (78,666 for the MLPerf Tiny ResNet8).
  int64_t ParameterCount() const;
};

// Builds the model from a file read by ReadKerasH5File(). `source` names the
// file in messages. Errors are INVALID_ARGUMENT and name the layer: malformed
// JSON, an unsupported layer kind or option, a dangling or cyclic input, a
// shape mismatch, missing, extra or wrongly shaped weights.
absl::StatusOr<KerasModel> BuildKerasModel(const KerasH5File& file, const std::string& source);

// Convenience: ReadKerasH5File() then BuildKerasModel().
absl::StatusOr<KerasModel> LoadKerasModel(const std::string& path);

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_MODEL_H_
