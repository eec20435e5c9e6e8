#include "common/mlperf_tiny_folder.h"

#include <sys/stat.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file.h"

namespace resnet8 {
namespace {

bool Exists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0;
}

// The file's bytes; a file that cannot be opened is named with `what` it is.
absl::StatusOr<std::string> ReadFile(const std::string& path, const std::string& what) {
  absl::StatusOr<std::string> bytes = ReadFileBytes(path);
  if (absl::IsNotFound(bytes.status())) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open ", what, " (no such file?)"));
  }
  return bytes;
}

}  // namespace

bool IsMlperfTinyFolder(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode) && Exists(path + "/y_labels.csv");
}

absl::StatusOr<CifarDataset> ReadMlperfTinyFolder(const std::string& folder) {
  CifarDataset dataset;
  dataset.path = folder + "/y_labels.csv";
  dataset.class_names = StandardCifar10ClassNames();
  absl::StatusOr<std::string> csv = ReadFile(dataset.path, "the ground truth of an MLPerf Tiny dataset folder");
  if (!csv.ok()) return csv.status();
  LabeledImages& images = dataset.images;
  absl::flat_hash_map<std::string, int> line_of_file;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(*csv, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);  // also a Windows line end
    if (line.empty()) continue;
    const std::string where = absl::StrCat(dataset.path, " line ", line_number);
    std::vector<std::string> fields = absl::StrSplit(line, ',');
    for (std::string& field : fields) absl::StripAsciiWhitespace(&field);
    int classes = 0, label = 0;
    if (fields.size() != 3 || fields[0].empty() || !absl::SimpleAtoi(fields[1], &classes) ||
        !absl::SimpleAtoi(fields[2], &label)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": '", line, "' is not 'input file name, total number of classes, class'"));
    }
    if (classes != kCifarClasses) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", classes, " classes; a CIFAR-10 (ic01) folder has ", kCifarClasses));
    }
    if (label < 0 || label >= kCifarClasses) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": class ", label, " is outside 0..", kCifarClasses - 1));
    }
    const std::string& file = fields[0];
    if (file.find('/') != std::string::npos || file == "." || file == "..") {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": '", file, "' is not a file name in the folder (the runner reads files beside the CSV)"));
    }
    auto [previous, inserted] = line_of_file.emplace(file, line_number);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": '", file, "' is listed again (first on line ", previous->second, ")"));
    }
    const std::string path = absl::StrCat(folder, "/", file);
    absl::StatusOr<std::string> hwc = ReadFile(path, absl::StrCat("the image listed on ", where));
    if (!hwc.ok()) return hwc.status();
    if (static_cast<int64_t>(hwc->size()) != kImageBytes) {
      return absl::InvalidArgumentError(absl::StrCat(path, " (", where, "): ", hwc->size(), " bytes; an ic01 image is ",
                                                     kImageBytes, " (32x32x3 uint8, interleaved HWC)"));
    }
    const int64_t index = images.size();
    images.pixels.resize((index + 1) * kImageBytes);
    HwcToPlanar(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(hwc->data()), hwc->size()),
                images.pixels.data() + index * kImageBytes);
    images.labels.push_back(static_cast<uint8_t>(label));
    images.indices.push_back(index);
    images.files.push_back(file);
  }
  if (images.size() == 0) return absl::InvalidArgumentError(absl::StrCat(dataset.path, ": no rows"));
  return dataset;
}

}  // namespace resnet8
