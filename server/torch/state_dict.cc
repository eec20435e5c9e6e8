#include "server/torch/state_dict.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace resnet8 {
namespace {

absl::Status WriteAll(int fd, const std::vector<char>& bytes, const std::string& path) {
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::InternalError(absl::StrCat(path, ": write failed: ", std::strerror(errno)));
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return absl::InternalError(absl::StrCat(path, ": fsync failed: ", std::strerror(errno)));
  return absl::OkStatus();
}

}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> StateDictEntries(ResNet8Impl& module) {
  std::vector<std::pair<std::string, torch::Tensor>> entries;
  for (const auto& item : module.named_parameters()) entries.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers()) {
    if (absl::EndsWith(item.key(), ".num_batches_tracked")) continue;
    entries.emplace_back(item.key(), item.value());
  }
  return entries;
}

absl::Status WriteStateDict(ResNet8Impl& module, const std::string& path) {
  std::vector<char> bytes;
  try {
    c10::Dict<std::string, at::Tensor> dict;
    for (auto& [key, tensor] : StateDictEntries(module)) dict.insert(key, tensor.detach().contiguous());
    bytes = torch::pickle_save(c10::IValue(dict));
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(path, ": LibTorch could not serialize: ", e.what_without_backtrace()));
  }
  std::string temporary = path + ".tmp-XXXXXX";
  int fd = ::mkstemp(temporary.data());
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
