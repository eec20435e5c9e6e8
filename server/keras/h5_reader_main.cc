// resnet8_h5_reader: reads one Keras HDF5 file with libhdf5 and writes what
// it holds to standard output, encoded (h5_result_codec.h). h5_file.cc runs
// it for every read, so that HDF5 looping or crashing on a corrupt file ends
// this short-lived process only:
//
//   resnet8_h5_reader --file PATH              a Keras .h5 model file
//   resnet8_h5_reader --weights_image SOURCE   the bytes of a .keras archive's
//                                              model.weights.h5 on stdin; SOURCE
//                                              names them in messages
//
// A read that fails still exits 0 with its Status encoded; exit 2 means the
// program was called wrongly or could not write its output.
#include <hdf5.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "server/keras/h5_direct_reader.h"
#include "server/keras/h5_result_codec.h"

namespace resnet8 {
namespace {

bool ReadAll(int fd, std::string* out) {
  char chunk[1 << 16];
  while (true) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(chunk, static_cast<size_t>(n));
  }
}

bool WriteAll(int fd, const std::string& data) {
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written += static_cast<size_t>(n);
  }
  return true;
}

int Main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s --file PATH | --weights_image SOURCE < bytes\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const std::string name = argv[2];
  // HDF5 prints its error stack to stderr by default; its errors travel in
  // the encoded Status instead.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  std::string encoded;
  if (mode == "--file") {
    encoded = EncodeKerasH5Result(ReadKerasH5FileHere(name));
  } else if (mode == "--weights_image") {
    std::string image;
    if (!ReadAll(STDIN_FILENO, &image)) {
      std::fprintf(stderr, "%s: reading the image from stdin: %s\n", argv[0], std::strerror(errno));
      return 2;
    }
    KerasH5File file;
    absl::StatusOr<std::vector<KerasLayerWeights>> layers = ReadKerasWeightsImageHere(image, name);
    if (layers.ok()) {
      file.layers = std::move(*layers);
      encoded = EncodeKerasH5Result(std::move(file));
    } else {
      encoded = EncodeKerasH5Result(layers.status());
    }
  } else {
    std::fprintf(stderr, "%s: unknown mode '%s' (--file or --weights_image)\n", argv[0], mode.c_str());
    return 2;
  }
  return WriteAll(STDOUT_FILENO, encoded) ? 0 : 2;
}

}  // namespace
}  // namespace resnet8

int main(int argc, char** argv) { return resnet8::Main(argc, argv); }
