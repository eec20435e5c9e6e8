#include "common/image.h"

namespace resnet8 {

void PlanarToHwc(absl::Span<const uint8_t> planar, uint8_t* hwc) {
  for (int64_t p = 0; p < kImagePlaneBytes; ++p) {
    for (int64_t c = 0; c < kImageChannels; ++c) hwc[p * kImageChannels + c] = planar[c * kImagePlaneBytes + p];
  }
}

void HwcToPlanar(absl::Span<const uint8_t> hwc, uint8_t* planar) {
  for (int64_t p = 0; p < kImagePlaneBytes; ++p) {
    for (int64_t c = 0; c < kImageChannels; ++c) planar[c * kImagePlaneBytes + p] = hwc[p * kImageChannels + c];
  }
}

}  // namespace resnet8
