#include "server/keras/keras_file.h"

#include <fstream>

#include "server/keras/keras_archive.h"

namespace resnet8 {

absl::StatusOr<KerasH5File> ReadKerasFile(const std::string& path) {
  // Every zip archive starts with a local header ("PK\3\4"), or, empty, with
  // the end record ("PK\5\6"); an HDF5 file never does.
  char magic[4] = {};
  std::ifstream(path, std::ios::binary).read(magic, sizeof(magic));
  if (magic[0] == 'P' && magic[1] == 'K' && ((magic[2] == 3 && magic[3] == 4) || (magic[2] == 5 && magic[3] == 6))) {
    return ReadKerasArchive(path);
  }
  return ReadKerasH5File(path);
}

}  // namespace resnet8
