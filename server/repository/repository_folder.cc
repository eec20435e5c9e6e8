#include "server/repository/repository_folder.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace resnet8 {
namespace {

namespace fs = std::filesystem;

constexpr char kSettingsFile[] = "settings.txt";

bool IsKerasFile(const std::string& file) {
  return absl::EndsWith(file, ".h5") || absl::EndsWith(file, ".hdf5") || absl::EndsWith(file, ".keras");
}

// Size and modification time (ns), or "absent".
std::string FileSignature(const std::string& path) {
  struct stat info;
  if (path.empty() || stat(path.c_str(), &info) != 0) return "absent";
  return absl::StrCat(info.st_size, "@", info.st_mtim.tv_sec, ".", info.st_mtim.tv_nsec);
}

absl::Status FolderError(const std::string& folder, const std::error_code& error) {
  const std::string message = absl::StrCat("model repository '", folder, "': ", error.message());
  if (error == std::errc::no_such_file_or_directory || error == std::errc::not_a_directory) {
    return absl::NotFoundError(message);
  }
  if (error == std::errc::permission_denied) return absl::PermissionDeniedError(message);
  return absl::UnavailableError(message);
}

}  // namespace

absl::Status CheckModelName(absl::string_view name) {
  const bool allowed = !name.empty() && name.size() <= 128 && name != "." && name != ".." &&
                       std::all_of(name.begin(), name.end(), [](char c) {
                         return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
                       });
  if (allowed) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "model name '", name, "' is not allowed: use 1 to 128 letters, digits, '_', '-' or '.' (it goes in URLs)"));
}

absl::StatusOr<std::vector<ScannedModel>> ScanRepositoryFolder(const std::string& folder) {
  std::error_code error;
  fs::directory_iterator entries(folder, error);
  if (error) return FolderError(folder, error);
  std::vector<ScannedModel> models;
  // Every call takes an error_code: a folder changing under the scan must
  // not throw.
  for (; !error && entries != fs::directory_iterator(); entries.increment(error)) {
    const fs::directory_entry& entry = *entries;
    const std::string name = entry.path().filename().string();
    std::error_code type_error;
    if (name.empty() || name[0] == '.' || !entry.is_directory(type_error)) continue;
    ScannedModel model;
    model.source.name = name;
    model.problem = CheckModelName(name);
    std::vector<std::string> keras_files;
    std::error_code model_error;
    fs::directory_iterator files(entry.path(), model_error);
    for (; !model_error && files != fs::directory_iterator(); files.increment(model_error)) {
      const std::string file = files->path().filename().string();
      if (file.empty() || file[0] == '.') continue;
      if (file == kSettingsFile) model.source.settings_path = files->path().string();
      if (IsKerasFile(file)) keras_files.push_back(files->path().string());
    }
    std::sort(keras_files.begin(), keras_files.end());
    if (model_error && model.problem.ok()) model.problem = FolderError(entry.path().string(), model_error);
    if (model.problem.ok() && keras_files.size() != 1) {
      model.problem = absl::FailedPreconditionError(
          keras_files.empty()
              ? absl::StrCat("model folder '", entry.path().string(), "' holds no .h5, .hdf5 or .keras file")
              : absl::StrCat("model folder '", entry.path().string(), "' holds ", keras_files.size(), " Keras files (",
                             absl::StrJoin(keras_files, ", "), "); keep exactly one"));
    }
    if (keras_files.size() == 1) model.source.model_path = keras_files[0];
    model.source.signature =
        absl::StrCat(FileSignature(model.source.model_path), "|", FileSignature(model.source.settings_path));
    models.push_back(std::move(model));
  }
  if (error) return FolderError(folder, error);
  std::sort(models.begin(), models.end(),
            [](const ScannedModel& a, const ScannedModel& b) { return a.source.name < b.source.name; });
  return models;
}

absl::StatusOr<ModelSource> SingleFileSource(const std::string& name, const std::string& path) {
  if (absl::Status bad = CheckModelName(name); !bad.ok()) return bad;
  ModelSource source;
  source.name = name;
  source.model_path = path;
  source.signature = FileSignature(path);
  return source;
}

}  // namespace resnet8
