// Loads a PNG or JPEG file as one 32x32 RGB image for Classify.
//
// Any size is accepted. An image that is not 32x32 is resized with
// area averaging when shrinking (each output pixel is the mean of the source
// pixels it covers, so no detail is aliased away) and bilinear interpolation
// with half-pixel centres when enlarging. The aspect ratio is not kept: the
// whole picture is fitted to 32x32, as CIFAR-10's images were made. Alpha is
// dropped; grey images are expanded to RGB.
//
//   ASSIGN_OR_RETURN(std::vector<uint8_t> hwc, LoadImageFile("cat.png"));  // 3,072 bytes
#ifndef RESNET8_CLIENT_IMAGE_FILE_H_
#define RESNET8_CLIENT_IMAGE_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace resnet8 {

struct RgbImage {
  int64_t width = 0;
  int64_t height = 0;
  std::vector<uint8_t> pixels;  // interleaved RGB, row-major
};

// Returns 32x32x3 interleaved (HWC) bytes. NOT_FOUND if the file cannot be
// opened; INVALID_ARGUMENT if it is neither a readable PNG nor JPEG.
absl::StatusOr<std::vector<uint8_t>> LoadImageFile(const std::string& path);

// The resizing described above (exposed for tests).
RgbImage ResizeTo(const RgbImage& image, int64_t width, int64_t height);

}  // namespace resnet8

#endif  // RESNET8_CLIENT_IMAGE_FILE_H_
