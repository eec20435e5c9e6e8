// Reads what a Keras 2.x HDF5 model file (`model.save("m.h5")`) holds: the root
// attribute `model_config` (the JSON of the functional graph), the Keras version,
// and every layer's weights, in the order of the layer's `weight_names`
// attribute (group `model_weights/<layer>/<layer>/<var>:0`). The optimizer
// state is ignored. No interpretation happens here: see model.h.
//
//   ASSIGN_OR_RETURN(KerasH5File file, ReadKerasH5File("pretrainedResnet.h5"));
//   file.layers[0].name;             // "conv2d"
//   file.layers[0].weights[0].shape  // {3, 3, 3, 16}, as Keras stores it (HWIO)
//
// The file is read completely or not at all: any error returns a Status and no
// partial result. HDF5's own error printing is silenced; its messages become
// the Status text instead.
#ifndef RESNET8_SERVER_KERAS_H5_FILE_H_
#define RESNET8_SERVER_KERAS_H5_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace resnet8 {

// One stored variable, e.g. "conv2d/kernel:0" in a .h5 or "layers/conv2d/vars/0"
// in a .keras archive, as float32 in row-major order.
struct KerasWeight {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// The weights of one layer in `weight_names` order (empty for layers such as
// Add that have none). From a .keras weights file: one `vars` group, named
// by its path ("layers/conv2d"), its variables in index order.
struct KerasLayerWeights {
  std::string name;
  std::vector<KerasWeight> weights;
  // .keras only: the layer name Keras 3.6 and later record on the `vars`
  // group (attribute `name`); empty when absent.
  std::string recorded_name = "";
};

enum class KerasFileFormat {
  kH5,     // model.save("m.h5"): HDF5 with model_config and model_weights
  kKeras,  // model.save("m.keras"): a zip of config.json, metadata.json, model.weights.h5
};

// A Keras model file as stored, in either format (keras_archive.h reads the
// .keras form into this same shape).
struct KerasH5File {
  KerasFileFormat format = KerasFileFormat::kH5;
  std::string model_config_json;
  std::string keras_version;              // root attribute `keras_version`; "" if absent
  std::string backend;                    // root attribute `backend`; "" if absent
  std::vector<KerasLayerWeights> layers;  // in `model_weights/layer_names` order
};

// Limits that bound what a hostile or corrupt file can make the reader allocate.
inline constexpr int64_t kMaxWeightElements = int64_t{1} << 26;  // per variable
inline constexpr int64_t kMaxTotalWeightElements = int64_t{1} << 28;

// How long reading one file may take. A valid file of the largest size the
// limits allow reads in a few seconds; a corrupt one can make HDF5 loop forever.
inline constexpr absl::Duration kDefaultH5ReadTimeLimit = absl::Seconds(20);

// Reads `path`. HDF5 runs in a process of its own, the program
// resnet8_h5_reader (h5_reader_main.cc, started as subprocess.h says), so
// a file that makes the library crash or loop cannot take the caller with it.
// Errors: NOT_FOUND when the file does not exist; INVALID_ARGUMENT when it is
// empty, not HDF5, truncated, lacks `model_config` or `model_weights`, holds a
// weight that is not floating point, is too large, or has a NaN or infinite
// value, or when HDF5 crashes on it or does not finish within `time_limit`;
// INTERNAL when the reader program cannot be started (it is looked for
// beside the running program, then in the build tree; the environment
// variable RESNET8_H5_READER names another place). Every message names the
// file, and the layer and variable where there is one. Thread-safe.
absl::StatusOr<KerasH5File> ReadKerasH5File(const std::string& path,
                                            absl::Duration time_limit = kDefaultH5ReadTimeLimit);

// Reads the variables of a Keras 3 weights file held in memory (the
// `model.weights.h5` member of a .keras archive): every group called `vars`
// below the root groups `layers` and `_layer_checkpoint_dependencies` (the
// name tf.keras 2.12-2.14 used), nested models' included, as one
// KerasLayerWeights each, named by the group's path without "/vars". The
// variables of a group are its datasets "0", "1", ... in numeric order; any
// other name is an error. Groups elsewhere (optimizer, metrics) are not read.
// Runs in the reader program like ReadKerasH5File, with the same limits and
// errors; `source` names the member in messages ("m.keras: model.weights.h5").
absl::StatusOr<std::vector<KerasLayerWeights>> ReadKerasWeightsImage(
    const std::string& image, const std::string& source, absl::Duration time_limit = kDefaultH5ReadTimeLimit);

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_H5_FILE_H_
