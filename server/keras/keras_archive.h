// Reads a Keras 3 `.keras` file (`model.save("m.keras")`) into the same
// KerasH5File a legacy .h5 gives, so that model.h builds, checks and converts
// both the same way.
//
//   ASSIGN_OR_RETURN(KerasH5File file, ReadKerasArchive("cnn.keras"));
//   file.layers[1].name;               // "conv2d", as named in config.json
//   file.layers[1].weights[0].name;    // "layers/conv2d/vars/0"
//
// The archive (zip_archive.h) holds `config.json` (the model as
// serialize_keras_object writes it), `metadata.json` (the Keras version) and
// `model.weights.h5`. Keras's saving_lib stores a layer's variables not under
// the layer's name but under its place: `layers/<class in snake_case>[_<n>]/vars/<i>`,
// counting each class in the order of the model's layers, and <i> in the
// order the layer created them (trainable first). This reader walks
// config.json's layers the same way to give each `vars` group its layer. Where
// Keras 3.6+ recorded the layer's name on the group, the two must agree.
// docs/conversion.md describes the layout and the versions it covers.
//
// Every member read is bounded (zip_archive.h); HDF5 runs in the reader
// program (h5_file.h) on the weights, handed over in memory, so nothing is
// written to disk.
#ifndef RESNET8_SERVER_KERAS_KERAS_ARCHIVE_H_
#define RESNET8_SERVER_KERAS_KERAS_ARCHIVE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/keras/h5_file.h"

namespace resnet8 {

// The largest config.json and metadata.json read (a model_config is a few
// hundred KiB even for large models).
inline constexpr uint64_t kMaxKerasConfigBytes = uint64_t{64} << 20;

// Reads `path`. The result's layers are named as config.json names them and
// hold their variables in Keras's order; a `vars` group below `layers/` that no
// layer of config.json owns (a nested model's, say) keeps its path as its name,
// so that BuildKerasModel refuses it by name. Errors: NOT_FOUND when the file
// does not exist; INVALID_ARGUMENT, naming the member and, where there is one,
// the layer and variable, for an archive that is not a zip or is corrupt, a
// missing member, a config.json or metadata.json that is not JSON, weights
// stored as .npz, a zip bomb, a `vars` group whose recorded name is another
// layer's, and everything ReadKerasWeightsImage refuses. Thread-safe.
absl::StatusOr<KerasH5File> ReadKerasArchive(const std::string& path,
                                             absl::Duration time_limit = kDefaultH5ReadTimeLimit);

// Keras's naming.to_snake_case(): "BatchNormalization" -> "batch_normalization",
// "Conv2D" -> "conv2d", "PReLU" -> "p_re_lu". Exposed for tests.
std::string KerasSnakeCase(absl::string_view class_name);

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_KERAS_ARCHIVE_H_
