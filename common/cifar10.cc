#include "common/cifar10.h"

#include <sys/stat.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/file.h"
#include "common/status_macros.h"

namespace resnet8 {
namespace {

bool IsDirectory(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

std::string Directory(const std::string& file) {
  size_t slash = file.rfind('/');
  return slash == std::string::npos ? "." : file.substr(0, slash);
}

absl::StatusOr<std::vector<std::string>> ReadClassNames(const std::string& directory) {
  const std::string meta = directory + "/batches.meta.txt";
  struct stat info;
  if (stat(meta.c_str(), &info) != 0) return StandardCifar10ClassNames();
  ASSIGN_OR_RETURN(std::string text, ReadFileBytes(meta));
  std::vector<std::string> names;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::string name(absl::StripAsciiWhitespace(line));
    if (!name.empty()) names.push_back(name);
  }
  if (names.size() != kCifarClasses) {
    return absl::InvalidArgumentError(
        absl::StrCat(meta, ": expected ", kCifarClasses, " class names (one per line), found ", names.size()));
  }
  return names;
}

}  // namespace

const std::vector<std::string>& StandardCifar10ClassNames() {
  static const auto* names = new std::vector<std::string>{"airplane", "automobile", "bird",  "cat",  "deer",
                                                          "dog",      "frog",       "horse", "ship", "truck"};
  return *names;
}

absl::StatusOr<CifarDataset> ReadCifar10(const std::string& path) {
  CifarDataset dataset;
  dataset.path = path;
  if (IsDirectory(path)) {
    dataset.path = path + "/test_batch.bin";
    struct stat info;
    if (stat(dataset.path.c_str(), &info) != 0) {
      return absl::NotFoundError(
          absl::StrCat(path, ": directory has no test_batch.bin (give a batch file to read another)"));
    }
  }
  ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(dataset.path));
  const std::string& file = dataset.path;
  if (bytes.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": empty file, expected CIFAR-10 records of ", kCifarRecordBytes, " bytes"));
  }
  if (bytes.size() % kCifarRecordBytes != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        file, ": ", bytes.size(), " bytes is not a whole number of ", kCifarRecordBytes,
        "-byte CIFAR-10 records (truncated? the last record has ", bytes.size() % kCifarRecordBytes, " bytes)"));
  }
  const int64_t count = static_cast<int64_t>(bytes.size()) / kCifarRecordBytes;
  LabeledImages& images = dataset.images;
  images.pixels.resize(count * kImageBytes);
  images.labels.resize(count);
  images.indices.resize(count);
  for (int64_t i = 0; i < count; ++i) {
    const char* record = bytes.data() + i * kCifarRecordBytes;
    const uint8_t label = static_cast<uint8_t>(record[0]);
    if (label >= kCifarClasses) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": record ", i, " has label ", label, ", outside 0..",
                                                     kCifarClasses - 1, " (not a CIFAR-10 file, or CIFAR-100?)"));
    }
    images.labels[i] = label;
    images.indices[i] = i;
    std::copy(record + 1, record + kCifarRecordBytes, images.pixels.begin() + i * kImageBytes);
  }
  ASSIGN_OR_RETURN(dataset.class_names, ReadClassNames(Directory(file)));
  return dataset;
}

absl::StatusOr<LabeledImages> SelectRecords(const LabeledImages& all, absl::Span<const int64_t> indices) {
  LabeledImages subset;
  for (int64_t index : indices) {
    if (index < 0 || index >= all.size()) {
      return absl::OutOfRangeError(
          absl::StrCat("record ", index, " requested, but the data has ", all.size(), " records"));
    }
    absl::Span<const uint8_t> image = all.image(index);
    subset.pixels.insert(subset.pixels.end(), image.begin(), image.end());
    subset.labels.push_back(all.labels[index]);
    subset.indices.push_back(all.indices[index]);
    if (!all.files.empty()) subset.files.push_back(all.files[index]);
  }
  return subset;
}

}  // namespace resnet8
