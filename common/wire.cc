#include "common/wire.h"

#include "absl/strings/str_cat.h"

namespace resnet8 {

v1::PixelLayout ToWireLayout(PixelLayout layout) {
  switch (layout) {
    case PixelLayout::kChannelPlanar:
      return v1::PIXEL_LAYOUT_CHANNEL_PLANAR;
    case PixelLayout::kInterleavedHwc:
      return v1::PIXEL_LAYOUT_INTERLEAVED_HWC;
  }
  return v1::PIXEL_LAYOUT_UNSPECIFIED;
}

absl::StatusOr<PixelLayout> FromWireLayout(v1::PixelLayout layout, const char* field) {
  switch (layout) {
    case v1::PIXEL_LAYOUT_CHANNEL_PLANAR:
      return PixelLayout::kChannelPlanar;
    case v1::PIXEL_LAYOUT_INTERLEAVED_HWC:
      return PixelLayout::kInterleavedHwc;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          field, " is ", layout, "; state PIXEL_LAYOUT_CHANNEL_PLANAR (1) or PIXEL_LAYOUT_INTERLEAVED_HWC (2)"));
  }
}

v1::EvaluationReport ToWireReport(const ClassificationMetrics& metrics, const std::vector<std::string>& class_names,
                                  const std::string& model_sha256) {
  v1::EvaluationReport report;
  report.set_images(metrics.images());
  report.set_correct(metrics.correct());
  report.set_top1(metrics.top1());
  report.set_num_classes(metrics.num_classes());
  for (int c = 0; c < metrics.num_classes(); ++c) {
    v1::ClassAccuracy* per_class = report.add_per_class();
    per_class->set_class_index(c);
    if (c < static_cast<int>(class_names.size())) per_class->set_class_name(class_names[c]);
    per_class->set_images(metrics.class_images(c));
    per_class->set_correct(metrics.class_correct(c));
    per_class->set_accuracy(metrics.class_accuracy(c));
  }
  for (int64_t count : metrics.confusion_matrix()) report.add_confusion_matrix(count);
  report.set_model_sha256(model_sha256);
  return report;
}

}  // namespace resnet8
