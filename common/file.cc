#include "common/file.h"

#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"

namespace resnet8 {

absl::StatusOr<std::string> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open (no such file?)"));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat(path, ": read error"));
  return bytes;
}

}  // namespace resnet8
