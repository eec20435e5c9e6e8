// What the client shows and writes about an evaluation: the printed report
// (top-1, per-class table, confusion matrix, throughput), the JSON report, and
// the per-image predictions CSV.
//
//   std::cout << FormatReport(result, context);
//   RETURN_IF_ERROR(WriteReportJson("report.json", result, context));
//   RETURN_IF_ERROR(WritePredictionsCsv("predictions.csv", result));
#ifndef RESNET8_CLIENT_REPORT_H_
#define RESNET8_CLIENT_REPORT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/evaluator_client.h"

namespace resnet8 {

// Where the numbers came from, for the reader of a report.
struct ReportContext {
  std::string server;
  std::string model_sha256;
  // The model's last layer is not a softmax: the server's probabilities are the
  // softmax of its logits (GetModelInfo's outputs_are_logits).
  bool outputs_are_logits = false;
  std::string data_path;
  std::string data_sha256;
  std::string subset;  // "" for all records
  std::vector<std::string> class_names;
};

// "top-1 accuracy: 87.19% (8719/10000)" and the rest, for a terminal.
std::string FormatReport(const EvaluationResult& result, const ReportContext& context);
// "87.19% (8719/10000)".
std::string Top1Line(const ClassificationMetrics& metrics);
// Five decimals ("0.12345"), or "n/a" when there is no AUC.
std::string AucText(const std::optional<double>& auc);
// Both MLPerf Tiny scores on one line:
// "top-1 accuracy: <Top1Line>, AUC <AucText>".
std::string ScoreLine(const EvaluationResult& result);

// JSON with top-level keys images, correct, top1, auc (null when undefined),
// auc_definition, auc_classes_averaged, per_class (each with its auc), confusion_matrix,
// model_sha256, data_sha256, data, server, seconds, images_per_second.
// Errors name `path`.
absl::Status WriteReportJson(const std::string& path, const EvaluationResult& result, const ReportContext& context);

// One row per image: index,label,predicted,prob_0..prob_9 (9 significant digits);
// a `file` column first when the data names its images (an MLPerf Tiny folder).
absl::Status WritePredictionsCsv(const std::string& path, const EvaluationResult& result);

}  // namespace resnet8

#endif  // RESNET8_CLIENT_REPORT_H_
