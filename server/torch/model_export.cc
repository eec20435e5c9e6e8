#include "server/torch/model_export.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

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

absl::Status WriteAtomically(const std::vector<char>& bytes, const std::string& path) {
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

}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> StateDictEntries(const torch::jit::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> entries;
  for (const auto& item : module.named_parameters()) entries.emplace_back(item.name, item.value);
  for (const auto& item : module.named_buffers()) {
    if (item.name.find('.') == std::string::npos) continue;  // the root's input transform
    entries.emplace_back(item.name, item.value);
  }
  return entries;
}

absl::Status WriteStateDict(const torch::jit::Module& module, const std::string& path) {
  std::vector<char> bytes;
  try {
    c10::Dict<std::string, at::Tensor> dict;
    for (auto& [key, tensor] : StateDictEntries(module)) dict.insert(key, tensor.detach().contiguous());
    bytes = torch::jit::pickle_save(c10::IValue(dict));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(path, ": LibTorch could not serialize: ", e.what()));
  }
  return WriteAtomically(bytes, path);
}

absl::Status WriteTorchScript(const torch::jit::Module& module, const std::string& path) {
  std::vector<char> bytes;
  try {
    std::ostringstream out;
    module.save(out);
    const std::string text = out.str();
    bytes.assign(text.begin(), text.end());
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(path, ": LibTorch could not save the module: ", e.what()));
  }
  return WriteAtomically(bytes, path);
}

}  // namespace resnet8
