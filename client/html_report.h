// The evaluation report as one self-contained HTML file: the headline (top-1
// with its count and the AUC, the model's and the data's sha256, date,
// server), a confusion-matrix heatmap, per-class accuracy bars, one-vs-rest
// ROC curves with each class's AUC, and a reliability diagram
// with the expected calibration error (inline SVG), and the most confidently
// wrong images as enlarged thumbnails (inline PNG, encoded with libpng). It
// fetches nothing: no scripts, fonts or images from the network.
//
//   RETURN_IF_ERROR(WriteReportHtml("report.html", result, context, images));
#ifndef RESNET8_CLIENT_HTML_REPORT_H_
#define RESNET8_CLIENT_HTML_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/evaluator_client.h"
#include "client/report.h"
#include "common/cifar10.h"

namespace resnet8 {

// Predictions grouped by their top probability into equal-width bins over
// [0, 1] (the last bin includes 1).
struct CalibrationBin {
  double lower = 0, upper = 0;
  int64_t images = 0;
  double mean_confidence = 0;  // of the images in the bin; 0 when empty
  double accuracy = 0;         // fraction predicted right; 0 when empty
};
struct Calibration {
  std::vector<CalibrationBin> bins;
  // Sum over bins of (images / total) * |accuracy - mean_confidence|.
  double expected_calibration_error = 0;
};
Calibration ComputeCalibration(const std::vector<ImagePrediction>& predictions, int bins = 10);

// Positions in `predictions` of wrong answers, highest top probability first,
// at most `count`.
std::vector<size_t> MostConfidentlyWrong(const std::vector<ImagePrediction>& predictions, size_t count);

// A PNG of an interleaved RGB image. INTERNAL if libpng fails.
absl::StatusOr<std::string> EncodePng(const std::vector<uint8_t>& rgb, int width, int height);

// Record `i` of `images` enlarged 4x (pixels kept sharp), as a data: URI
// for an <img> of a self-contained page. INTERNAL if libpng fails.
absl::StatusOr<std::string> ThumbnailDataUri(const LabeledImages& images, int64_t i);

// `text` with &, <, > and " escaped for HTML text and attributes.
std::string HtmlEscape(absl::string_view text);

// Writes the report. `images` are the evaluated records, in the order of
// result.predictions (for the thumbnails). Errors name `path`.
absl::Status WriteReportHtml(const std::string& path, const EvaluationResult& result, const ReportContext& context,
                             const LabeledImages& images);

}  // namespace resnet8

#endif  // RESNET8_CLIENT_HTML_REPORT_H_
