// A Keras model as a typed, validated graph with its weights bound.
//
// BuildKerasModel() interprets what h5_file.h read: it parses `model_config`
// (Functional or Sequential, in the formats of Keras 2, tf.keras and Keras 3)
// with a strict JSON parser, turns every layer into a KerasLayer (only the
// layer kinds and options this project can execute exactly are accepted),
// infers each layer's output shape from the input shape, and binds each
// layer's weights in the order Keras itself loads them, checking every shape.
// What each Keras class means is its row in layer_specs.h; the wiring is
// model_graph.h's.
// The result is complete and consistent, or an error names the layer and what
// is wrong; it never holds half a model.
//
//   ASSIGN_OR_RETURN(KerasH5File file, ReadKerasFile(path));  // .h5 or .keras
//   ASSIGN_OR_RETURN(KerasModel model, BuildKerasModel(file, path));
//   const KerasLayer& stem = model.layers[1];  // Conv2D "conv2d", 16 filters
//
// Shapes leave out the batch: {height, width, channels} for images (always
// channels-last, as Keras), {features} for vectors.
//
// Nothing here depends on LibTorch: reference_executor.h executes a KerasModel
// directly, and torch/torchscript_builder.h turns it into a LibTorch module.
#ifndef RESNET8_SERVER_KERAS_MODEL_H_
#define RESNET8_SERVER_KERAS_MODEL_H_

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/keras/h5_file.h"
#include "server/keras/input_transform.h"

namespace resnet8 {

enum class LayerKind {
  kInput,            // InputLayer (or the input a Sequential model's first layer declares)
  kConv2D,           // Conv2D
  kDepthwiseConv2D,  // DepthwiseConv2D
  kSeparableConv2D,  // SeparableConv2D
  kDense,            // Dense
  kBatchNorm,        // BatchNormalization
  kActivation,       // Activation, ReLU, LeakyReLU, ELU, ThresholdedReLU, Softmax
  kPReLU,            // PReLU
  kMerge,            // Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate
  kPool2D,           // MaxPooling2D, AveragePooling2D
  kGlobalPool2D,     // GlobalAveragePooling2D, GlobalMaxPooling2D
  kZeroPadding2D,    // ZeroPadding2D
  kCropping2D,       // Cropping2D
  kUpSampling2D,     // UpSampling2D (nearest)
  kFlatten,          // Flatten
  kReshape,          // Reshape
  kRescaling,        // Rescaling
  kNormalization,    // Normalization (preprocessing)
  kIdentity,         // Dropout and the other layers that do nothing at inference
};

enum class ActivationKind {
  kLinear,
  kRelu,             // Keras's general ReLU: max_value, negative_slope and threshold (also relu6, LeakyReLU)
  kThresholdedRelu,  // x > theta ? x : 0
  kElu,
  kSelu,
  kSigmoid,
  kHardSigmoid,  // clip(slope * x + 0.5, 0, 1): slope 0.2 in Keras 2, 1/6 in Keras 3
  kHardSilu,     // x * hard_sigmoid(x) (Keras 3's hard_silu / hard_swish)
  kTanh,
  kSoftmax,  // over the last axis
  kSilu,     // swish
  kGelu,     // exact (erf) form, Keras's default
  kSoftplus,
  kSoftsign,
  kExponential,
  kMish,
};

struct Activation {
  ActivationKind kind = ActivationKind::kLinear;
  double alpha = 0;  // ELU's alpha; kRelu's negative_slope; kThresholdedRelu's theta; kHardSigmoid's slope
  double max_value = std::numeric_limits<double>::infinity();  // kRelu
  double threshold = 0;                                        // kRelu
};

enum class Padding { kValid, kSame };
enum class MergeOp { kAdd, kSubtract, kMultiply, kAverage, kMaximum, kMinimum, kConcatenate };
enum class PoolOp { kMax, kAverage };

using Shape = std::vector<int64_t>;

// A layer's weights, bound by role, in Keras layouts. Absent roles are empty.
struct BoundWeights {
  KerasWeight kernel;            // Conv2D [kh, kw, in/groups, out]; Dense [in, units];
                                 // Depthwise [kh, kw, in, multiplier]; Separable's depthwise kernel
  KerasWeight pointwise_kernel;  // SeparableConv2D [1, 1, in * multiplier, filters]
  KerasWeight bias;
  KerasWeight gamma;  // BatchNormalization; absent if !scale
  KerasWeight beta;   // absent if !center
  KerasWeight moving_mean;
  KerasWeight moving_variance;
  KerasWeight alpha;  // PReLU, shaped as the input with shared axes of size 1
  // Normalization's statistics, one per channel (from the weights or the config).
  std::vector<float> mean, variance;
};

// One layer. Which fields are meaningful depends on `kind`.
struct KerasLayer {
  LayerKind kind = LayerKind::kIdentity;
  std::string class_name;           // as in the file, e.g. "Conv2D"
  std::string name;                 // e.g. "conv2d_3"
  std::vector<std::string> inputs;  // names of the layers feeding this one, in order
  Shape output_shape;

  // Convolutions and pooling
  std::array<int64_t, 2> kernel_size{0, 0};  // pool_size for pooling
  std::array<int64_t, 2> strides{1, 1};
  std::array<int64_t, 2> dilation{1, 1};
  Padding padding = Padding::kValid;
  int64_t groups = 1;
  int64_t depth_multiplier = 1;
  // Conv2D and SeparableConv2D filters, Dense units
  int64_t filters = 0;
  bool use_bias = true;
  // The activation of Activation-like layers, or the one fused into a
  // convolution or Dense layer.
  Activation activation;
  // BatchNormalization
  double epsilon = 1e-3;
  bool center = true;
  bool scale = true;
  // Merges; pooling
  MergeOp merge = MergeOp::kAdd;
  int64_t axis = -1;  // Concatenate's axis in the output shape (no batch), 0-based
  PoolOp pool = PoolOp::kMax;
  bool keepdims = false;  // global pooling
  // ZeroPadding2D and Cropping2D: {top, bottom, left, right}
  std::array<int64_t, 4> margins{0, 0, 0, 0};
  // UpSampling2D: each pixel repeated this many times {down, across}
  std::array<int64_t, 2> upsampling{1, 1};
  // Rescaling: x * scale + offset, each one value or one per channel
  std::vector<float> rescale_scale, rescale_offset;

  BoundWeights weights;
};

// What the model's outputs are. The server needs probabilities; a model whose
// last layer is not a softmax outputs scores (logits), which it turns into
// probabilities with a softmax (see docs/decisions.md).
enum class OutputKind { kProbabilities, kLogits };

struct KerasModel {
  std::string keras_version;
  // In topological order: every input precedes its user.
  std::vector<KerasLayer> layers;
  std::string input_layer;
  std::string output_layer;
  InputTransform input_transform;  // the preprocessing the model was trained with

  // Index of the layer called `name` in `layers`, or -1.
  int Find(const std::string& name) const;
  const KerasLayer& Layer(const std::string& name) const { return layers[Find(name)]; }
  // Indices of the layers that take `name` as an input, in `layers` order.
  std::vector<int> Consumers(const std::string& name) const;
  // The number of stored weight values (78,666 for the MLPerf Tiny ResNet8).
  int64_t ParameterCount() const;
  const Shape& InputShape() const { return Layer(input_layer).output_shape; }
  const Shape& OutputShape() const { return Layer(output_layer).output_shape; }
  OutputKind Outputs() const;
  // Index of the layer that computes the outputs: the output layer, or the
  // last layer before the pass-on layers that may end a model (a Dropout, a
  // nested model's end). Its activation is the model's output activation.
  int OutputComputingLayer() const;
  // One line, e.g. "30 layers: 9 Conv2D, 7 BatchNormalization, 3 Add, ...".
  std::string Summary() const;
};

// Whether a Keras class is a model (which a model can also hold as a layer):
// Sequential, Functional, or Keras 2's Model.
bool IsModelClass(const std::string& class_name);

// Builds the model from a file read by ReadKerasFile(). `source` names the
// file in messages. Errors are INVALID_ARGUMENT and name the layer: malformed
// JSON, an unsupported layer kind or option, a dangling or cyclic input, a
// shape mismatch, missing, extra or wrongly shaped weights.
absl::StatusOr<KerasModel> BuildKerasModel(const KerasH5File& file, const std::string& source);

// Convenience: ReadKerasFile() (a .keras or a .h5, by content) then BuildKerasModel().
absl::StatusOr<KerasModel> LoadKerasModel(const std::string& path);

// Sets the model's input transform after checking each value's count against
// the input channels (1 or one per channel) and that every value is finite.
absl::Status SetInputTransform(KerasModel& model, std::vector<double> scale, std::vector<double> offset);

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_MODEL_H_
