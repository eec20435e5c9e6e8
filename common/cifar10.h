// Reader for the CIFAR-10 binary format (cifar-10-binary.tar.gz): records of
// 3,073 bytes, one label byte (0..9) then 1,024 red, 1,024 green and 1,024
// blue bytes, each plane row-major 32x32. No header, no separators.
//
//   ASSIGN_OR_RETURN(CifarDataset test, ReadCifar10("cifar-10-batches-bin"));
//   test.images.size();         // 10000
//   test.class_names[3];        // "cat"
//
// A directory means its `test_batch.bin` (the evaluation split); a file is read
// as it is (e.g. `data_batch_1.bin`). Class names come from `batches.meta.txt`
// beside the file when it exists (blank lines skipped), else the standard ten.
#ifndef RESNET8_COMMON_CIFAR10_H_
#define RESNET8_COMMON_CIFAR10_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/image.h"

namespace resnet8 {

inline constexpr int64_t kCifarRecordBytes = 1 + kImageBytes;  // a label byte, then the image
inline constexpr int kCifarClasses = 10;

// Images with their labels, channel-planar as CIFAR stores them.
struct LabeledImages {
  std::vector<uint8_t> pixels;   // size() * kImageBytes
  std::vector<uint8_t> labels;   // 0..9
  std::vector<int64_t> indices;  // record number of each image in its source file
  // The file each image came from, when the data names its images (an MLPerf
  // Tiny folder); empty otherwise.
  std::vector<std::string> files;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  absl::Span<const uint8_t> image(int64_t i) const {
    return absl::MakeConstSpan(pixels).subspan(i * kImageBytes, kImageBytes);
  }
};

struct CifarDataset {
  std::string path;  // the file that was read
  LabeledImages images;
  std::vector<std::string> class_names;  // kCifarClasses names
};

// Reads a CIFAR-10 batch file or directory. Errors: NOT_FOUND (no such file,
// or a directory without test_batch.bin); INVALID_ARGUMENT with the file and
// the offending record for an empty file, a size that is not a whole number
// of records (truncated), a label outside 0..9, or a malformed batches.meta.txt.
absl::StatusOr<CifarDataset> ReadCifar10(const std::string& path);

// The images at the given record `indices` of `all`, in that order. Returns
// OUT_OF_RANGE naming the first index that `all` does not have.
absl::StatusOr<LabeledImages> SelectRecords(const LabeledImages& all, absl::Span<const int64_t> indices);

// airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck.
const std::vector<std::string>& StandardCifar10ClassNames();

// The 200 test-set record numbers of the MLPerf Tiny performance subset
// (mlcommons/tiny perf_samples_idxs.npy, 20 images per class), in its order.
absl::Span<const int64_t> Perf200Indices();

}  // namespace resnet8

#endif  // RESNET8_COMMON_CIFAR10_H_
