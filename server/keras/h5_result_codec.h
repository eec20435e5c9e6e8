// How the HDF5 reader program hands its result to the caller: bytes on its
// standard output holding a status code and message, then the file's strings
// and weights, each length-prefixed, in the machine's byte order.
//
//   program:  WriteAll(stdout, EncodeKerasH5Result(ReadKerasH5FileHere(path)));
//   caller:   ASSIGN_OR_RETURN(KerasH5File file, DecodeKerasH5Result(bytes, path));
//
// Both ends are built from this one source tree, so the layout needs no
// versioning; the decoder still checks every length, because a program that
// died mid-write leaves a short buffer.
#ifndef RESNET8_SERVER_KERAS_H5_RESULT_CODEC_H_
#define RESNET8_SERVER_KERAS_H5_RESULT_CODEC_H_

#include <string>

#include "absl/status/statusor.h"
#include "server/keras/h5_file.h"

namespace resnet8 {

std::string EncodeKerasH5Result(const absl::StatusOr<KerasH5File>& result);

// The encoded result, its error status included. INTERNAL naming `source`
// when the bytes are not a whole encoded result.
absl::StatusOr<KerasH5File> DecodeKerasH5Result(const std::string& bytes, const std::string& source);

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_H5_RESULT_CODEC_H_
