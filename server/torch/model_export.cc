#include "server/torch/model_export.h"

#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/file.h"

namespace resnet8 {
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
  return WriteFileAtomically(path, absl::string_view(bytes.data(), bytes.size()));
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
  return WriteFileAtomically(path, absl::string_view(bytes.data(), bytes.size()));
}

}  // namespace resnet8
