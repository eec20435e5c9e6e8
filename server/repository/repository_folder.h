// A model repository folder, as --model_repository names it: one model per
// subfolder, named after it, holding one Keras file (.h5, .hdf5 or .keras)
// and optionally a `settings.txt` (keras_model_loader.h reads it):
//
//   models/
//     resnet8/pretrainedResnet.h5
//     cifar_cnn/model.keras
//     cifar_cnn/settings.txt     input_scale = 1/255
//
// Hidden entries (a leading '.') are skipped, so a file can be written there
// and moved into place at once. Model names are letters, digits, '_', '-'
// and '.', so that they fit a URL path unescaped.
//
//   ASSIGN_OR_RETURN(std::vector<ScannedModel> models, ScanRepositoryFolder("models"));
#ifndef RESNET8_SERVER_REPOSITORY_REPOSITORY_FOLDER_H_
#define RESNET8_SERVER_REPOSITORY_REPOSITORY_FOLDER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace resnet8 {

// Where one model's files are.
struct ModelSource {
  std::string name;
  std::string model_path;     // the Keras file
  std::string settings_path;  // "" when there is none
  // Sizes and modification times of both files: a different signature means
  // the model changed and is loaded again.
  std::string signature;
};

// One subfolder: its source, or why it holds no loadable model (no Keras
// file, two of them, a name that is not allowed).
struct ScannedModel {
  ModelSource source;
  absl::Status problem;
};

// The folder's models, sorted by name. Errors: NOT_FOUND or
// PERMISSION_DENIED naming the folder when it cannot be read.
absl::StatusOr<std::vector<ScannedModel>> ScanRepositoryFolder(const std::string& folder);

// The source of a single file (the --model shorthand): `name`, the file, no
// settings.
absl::StatusOr<ModelSource> SingleFileSource(const std::string& name, const std::string& path);

// INVALID_ARGUMENT unless `name` is a usable model name.
absl::Status CheckModelName(absl::string_view name);

}  // namespace resnet8

#endif  // RESNET8_SERVER_REPOSITORY_REPOSITORY_FOLDER_H_
