#include "server/keras/h5_file.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/keras/h5_result_codec.h"
#include "server/keras/subprocess.h"

namespace resnet8 {
namespace {

constexpr char kReaderProgram[] = "resnet8_h5_reader";

// The reader program: $RESNET8_H5_READER when set; else the one beside the
// running program (bin/ of a build tree, /usr/local/bin in the image); else
// the build tree's own, for programs that run from elsewhere in it (tests).
std::string ReaderProgramPath() {
  if (const char* chosen = std::getenv("RESNET8_H5_READER"); chosen != nullptr && *chosen != '\0') return chosen;
  char self[PATH_MAX];
  const ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (length > 0) {
    std::string beside(self, static_cast<size_t>(length));
    beside = absl::StrCat(beside.substr(0, beside.rfind('/') + 1), kReaderProgram);
    if (access(beside.c_str(), X_OK) == 0) return beside;
  }
  return RESNET8_H5_READER_BUILD_PATH;
}

// Runs the reader program on `source` and decodes what it returns. Debian's
// libhdf5 1.10 loops forever on some corrupt files (one flipped byte in the
// real model makes H5Aread spin in H5HG_read) and can crash on others. Neither
// can be caught in-process, so HDF5 only ever runs in a short-lived process
// of its own, which also keeps the library's global state (not thread-safe
// in Debian's build) out of the server. It is a new program rather than a
// fork of this one: a fork beside a server's threads can inherit a lock that
// no thread of the child will ever release.
absl::StatusOr<KerasH5File> ReadWithReaderProgram(std::vector<std::string> arguments, absl::string_view input,
                                                  const std::string& source, absl::Duration time_limit) {
  // The most a file within the size limits can produce, plus room for names.
  constexpr size_t kMaxResultBytes = kMaxTotalWeightElements * sizeof(float) + (size_t{64} << 20);
  SubprocessCall call{.program = ReaderProgramPath(),
                      .arguments = std::move(arguments),
                      .input = input,
                      .time_limit = time_limit,
                      .max_output_bytes = kMaxResultBytes};
  absl::StatusOr<std::string> bytes = RunSubprocess(call);
  if (!bytes.ok()) {
    switch (bytes.status().code()) {
      case absl::StatusCode::kDeadlineExceeded:
      case absl::StatusCode::kAborted:
        return absl::InvalidArgumentError(absl::StrCat(source, ": reading the file with HDF5 ",
                                                       bytes.status().message(),
                                                       "; the file is corrupt or not a Keras model"));
      case absl::StatusCode::kInternal:
        return absl::InternalError(absl::StrCat(source, ": reading the file with HDF5 failed: ",
                                                bytes.status().message(), " (the HDF5 reader program ", kReaderProgram,
                                                " is looked for beside this program; RESNET8_H5_READER names "
                                                "another place)"));
      default:
        return absl::Status(bytes.status().code(),
                            absl::StrCat(source, ": reading the file with HDF5 failed: ", bytes.status().message()));
    }
  }
  return DecodeKerasH5Result(*bytes, source);
}

}  // namespace

absl::StatusOr<KerasH5File> ReadKerasH5File(const std::string& path, absl::Duration time_limit) {
  return ReadWithReaderProgram({"--file", path}, "", path, time_limit);
}

absl::StatusOr<std::vector<KerasLayerWeights>> ReadKerasWeightsImage(const std::string& image,
                                                                     const std::string& source,
                                                                     absl::Duration time_limit) {
  ASSIGN_OR_RETURN(KerasH5File file, ReadWithReaderProgram({"--weights_image", source}, image, source, time_limit));
  return std::move(file.layers);
}

}  // namespace resnet8
