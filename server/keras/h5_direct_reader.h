// Reads a Keras HDF5 file with libhdf5 in the calling process. Only the
// reader program (h5_reader_main.cc) calls these: HDF5 can loop forever or
// crash on a corrupt file, and Debian's build is not thread-safe, so
// everything else reads through h5_file.h, which runs that program.
#ifndef RESNET8_SERVER_KERAS_H5_DIRECT_READER_H_
#define RESNET8_SERVER_KERAS_H5_DIRECT_READER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/keras/h5_file.h"

namespace resnet8 {

// ReadKerasH5File() without the separate process or the time limit.
absl::StatusOr<KerasH5File> ReadKerasH5FileHere(const std::string& path);

// ReadKerasWeightsImage() without the separate process or the time limit.
absl::StatusOr<std::vector<KerasLayerWeights>> ReadKerasWeightsImageHere(const std::string& image,
                                                                         const std::string& source);

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_H5_DIRECT_READER_H_
