// The MLPerf Tiny image-classification performance subset: 200 record numbers
// of the CIFAR-10 test batch, 20 per class, in the order of mlcommons/tiny
// benchmark/training/image_classification/perf_samples_idxs.npy. Carried as
// data so that the project needs no NumPy file; the order was checked against
// upstream's benchmark/evaluation/datasets/ic01/y_labels.csv (same 200 labels
// in the same order).
#include "common/cifar10.h"

namespace resnet8 {

absl::Span<const int64_t> Perf200Indices() {
  static constexpr int64_t kIndices[] = {
      7657, 8959, 3596, 327,  2783, 6567, 7295, 1945, 8799, 4605, 4558, 4593, 20,   7769, 4619, 7036, 7360, 4552, 5507,
      6617, 8926, 4755, 5971, 8325, 2890, 517,  6395, 8899, 3832, 5445, 2216, 1821, 3122, 3455, 4255, 9964, 9515, 4912,
      5288, 5346, 1044, 289,  8913, 9045, 4940, 5984, 2390, 2209, 9688, 7432, 4649, 1004, 9614, 2285, 3150, 2915, 2940,
      2096, 634,  8301, 4238, 7257, 9244, 2101, 1107, 3492, 5864, 4354, 7302, 1722, 6832, 127,  2398, 6639, 3639, 9010,
      1274, 7358, 1003, 7850, 5433, 673,  7820, 7797, 4764, 6137, 4758, 6705, 1437, 8328, 2642, 1597, 9661, 8331, 1273,
      8242, 7617, 6925, 3830, 613,  2973, 3865, 4021, 4355, 9068, 3701, 5023, 62,   5255, 3770, 6059, 4952, 232,  3382,
      7129, 4446, 8881, 4636, 4880, 647,  6628, 5339, 2448, 5055, 1387, 1757, 8171, 1835, 6136, 447,  103,  4564, 5315,
      2470, 6961, 660,  585,  6431, 4374, 1932, 6658, 4812, 5273, 4701, 4441, 4819, 1933, 5195, 5826, 4976, 5562, 7672,
      8188, 6591, 8813, 6077, 1887, 8116, 5591, 8975, 8892, 7041, 3661, 9993, 7722, 64,   888,  9762, 1263, 7660, 9226,
      3736, 2506, 3190, 4913, 6754, 8442, 1382, 5800, 7061, 7216, 4995, 2331, 3900, 2653, 3224, 1629, 7195, 3961, 3675,
      393,  3464, 8669, 2636, 6751, 6425, 8390, 5619, 3996, 451,
  };
  static_assert(sizeof(kIndices) / sizeof(kIndices[0]) == 200);
  return kIndices;
}

}  // namespace resnet8
