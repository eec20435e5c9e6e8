// The one place where this project's own types meet the wire types of
// resnet8/v1/evaluator.proto, in both directions, so that the server and the
// client cannot disagree on a mapping (statuses: grpc_status.h).
//
//   request.mutable_images()->set_layout(ToWireLayout(PixelLayout::kInterleavedHwc));
//   ASSIGN_OR_RETURN(PixelLayout layout, FromWireLayout(batch.layout()));
//   *response.mutable_report() = ToWireReport(metrics, class_names, sha256);
#ifndef RESNET8_COMMON_WIRE_H_
#define RESNET8_COMMON_WIRE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/classification_metrics.h"
#include "common/image.h"
#include "resnet8/v1/evaluator.pb.h"

namespace resnet8 {

v1::PixelLayout ToWireLayout(PixelLayout layout);
// INVALID_ARGUMENT naming `field` and the value for anything but the two
// layouts (PIXEL_LAYOUT_UNSPECIFIED included: a sender must say).
absl::StatusOr<PixelLayout> FromWireLayout(v1::PixelLayout layout, const char* field = "images.layout");

// The report of `metrics`: totals, top-1, per-class counts (named from
// `class_names` where it has a name) and the confusion matrix.
v1::EvaluationReport ToWireReport(const ClassificationMetrics& metrics, const std::vector<std::string>& class_names,
                                  const std::string& model_sha256);

}  // namespace resnet8

#endif  // RESNET8_COMMON_WIRE_H_
