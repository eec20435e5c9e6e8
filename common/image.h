// The images this project moves around: 32x32 RGB, one byte per channel, in
// one of two byte orders, and the conversions between them. Everything that
// needs the size of an image or reorders its bytes uses this header.
//
//   std::vector<uint8_t> hwc(kImageBytes);
//   PlanarToHwc(cifar_record_pixels, hwc.data());   // CIFAR-10 -> PNG order
//   HwcToPlanar(hwc, planar.data());                // and back
#ifndef RESNET8_COMMON_IMAGE_H_
#define RESNET8_COMMON_IMAGE_H_

#include <cstdint>

#include "absl/types/span.h"

namespace resnet8 {

inline constexpr int64_t kImageHeight = 32;
inline constexpr int64_t kImageWidth = 32;
inline constexpr int64_t kImageChannels = 3;
inline constexpr int64_t kImagePlaneBytes = kImageHeight * kImageWidth;
inline constexpr int64_t kImageBytes = kImagePlaneBytes * kImageChannels;  // 3,072

enum class PixelLayout {
  kChannelPlanar,   // CIFAR's layout: all red bytes (row-major), then green, then blue
  kInterleavedHwc,  // row-major pixels of R, G, B bytes (PNG, NumPy HWC arrays, MLPerf Tiny's .bin files)
};

// `count` images of kImageBytes each, in `layout`. Does not own the pixels.
// The pixels are bytes, or, when `values` is not empty, floats (then `pixels`
// is empty): the same values a byte would give, 0..255, but not only whole
// numbers, as the Open Inference Protocol's FP32 input sends them.
struct ImageBatchView {
  absl::Span<const uint8_t> pixels;
  int64_t count = 0;
  PixelLayout layout = PixelLayout::kChannelPlanar;
  absl::Span<const float> values = {};
};

// Reorders one image. `from` holds kImageBytes; `to` has room for kImageBytes.
void PlanarToHwc(absl::Span<const uint8_t> planar, uint8_t* hwc);
void HwcToPlanar(absl::Span<const uint8_t> hwc, uint8_t* planar);

}  // namespace resnet8

#endif  // RESNET8_COMMON_IMAGE_H_
