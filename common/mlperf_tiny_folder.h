// Reader for the dataset folder of the MLPerf Tiny image-classification
// benchmark (ic01), as its runner reads it: one file per image, 3,072 raw
// bytes in interleaved HWC order (R, G, B per pixel, row-major), and a ground
// truth file `y_labels.csv` beside them whose rows are
//
//   input file name, total number of classes, class
//
// e.g. `emu_s_002009.bin, 10, 2`. The images come out in the CSV's order,
// channel-planar like CIFAR-10's records, each named by its file
// (LabeledImages::files) and numbered by its row (0-based, blank lines not
// counted).
//
//   if (IsMlperfTinyFolder(path)) ASSIGN_OR_RETURN(CifarDataset data, ReadMlperfTinyFolder(path));
#ifndef RESNET8_COMMON_MLPERF_TINY_FOLDER_H_
#define RESNET8_COMMON_MLPERF_TINY_FOLDER_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/cifar10.h"

namespace resnet8 {

// True when `path` is a directory holding a y_labels.csv.
bool IsMlperfTinyFolder(const std::string& path);

// Reads the folder. CifarDataset::path is its y_labels.csv; the class names
// are CIFAR-10's. Errors name the CSV line and the file:
// NOT_FOUND for a missing y_labels.csv or image file; INVALID_ARGUMENT for a
// malformed row, a class count other than 10, a class outside 0..9, a file
// name that leaves the folder, a name listed twice, an image file that is not
// 3,072 bytes, or a CSV with no rows.
absl::StatusOr<CifarDataset> ReadMlperfTinyFolder(const std::string& folder);

}  // namespace resnet8

#endif  // RESNET8_COMMON_MLPERF_TINY_FOLDER_H_
