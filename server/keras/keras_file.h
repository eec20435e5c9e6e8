// Reads a Keras model file in whichever format it is, recognized by its
// content rather than its name: a zip archive is a `.keras` file
// (keras_archive.h), anything else is read as a legacy HDF5 `.h5` (h5_file.h).
//
//   ASSIGN_OR_RETURN(KerasH5File file, ReadKerasFile(path));
//   ASSIGN_OR_RETURN(KerasModel model, BuildKerasModel(file, path));
#ifndef RESNET8_SERVER_KERAS_KERAS_FILE_H_
#define RESNET8_SERVER_KERAS_KERAS_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "server/keras/h5_file.h"

namespace resnet8 {

// Errors: NOT_FOUND when `path` does not exist; otherwise those of
// ReadKerasArchive or ReadKerasH5File. Thread-safe.
absl::StatusOr<KerasH5File> ReadKerasFile(const std::string& path);

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_KERAS_FILE_H_
