#include "common/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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

namespace {

absl::Status WriteAll(int fd, absl::string_view bytes, const std::string& path) {
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::InternalError(absl::StrCat(path, ": write failed: ", std::strerror(errno)));
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return absl::InternalError(absl::StrCat(path, ": fsync failed: ", std::strerror(errno)));
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, absl::string_view bytes) {
  std::string temporary = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot create a file there: ", std::strerror(errno)));
  }
  absl::Status status = WriteAll(fd, bytes, path);
  if (::fchmod(fd, 0644) != 0 && status.ok()) {
    status = absl::InternalError(absl::StrCat(path, ": chmod failed: ", std::strerror(errno)));
  }
  ::close(fd);
  if (status.ok() && ::rename(temporary.c_str(), path.c_str()) != 0) {
    status = absl::InvalidArgumentError(absl::StrCat(path, ": cannot rename into place: ", std::strerror(errno)));
  }
  if (!status.ok()) ::unlink(temporary.c_str());
  return status;
}

}  // namespace resnet8
