#include "client/report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file.h"
#include "nlohmann/json.hpp"

namespace resnet8 {
namespace {

std::string ClassName(const ReportContext& context, int c) {
  return c < static_cast<int>(context.class_names.size()) ? context.class_names[c] : absl::StrCat(c);
}

double ImagesPerSecond(const EvaluationResult& result) {
  return result.seconds > 0 ? static_cast<double>(result.metrics.images()) / result.seconds : 0.0;
}

// A class without positives or negatives has no AUC: null, not a made-up 0.
nlohmann::ordered_json JsonOrNull(const std::optional<double>& value) {
  return value.has_value() ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
}

}  // namespace

std::string Top1Line(const ClassificationMetrics& metrics) {
  return absl::StrFormat("%.2f%% (%d/%d)", 100.0 * metrics.top1(), metrics.correct(), metrics.images());
}

std::string AucText(const std::optional<double>& auc) {
  return auc.has_value() ? absl::StrFormat("%.5f", *auc) : "n/a";
}

std::string ScoreLine(const EvaluationResult& result) {
  return absl::StrCat("top-1 accuracy: ", Top1Line(result.metrics), ", AUC ", AucText(result.auc.macro));
}

std::string FormatReport(const EvaluationResult& result, const ReportContext& context) {
  const ClassificationMetrics& m = result.metrics;
  std::string out;
  absl::StrAppend(&out, "model sha256: ", context.model_sha256, "\n");
  if (context.outputs_are_logits) {
    absl::StrAppend(
        &out, "model outputs logits: the probabilities, the AUC and the HTML report's ECE are of their softmax\n");
  }
  absl::StrAppend(&out, "data:         ", context.data_path,
                  context.subset.empty() ? "" : " (subset " + context.subset + ")", "\n");
  absl::StrAppend(&out, ScoreLine(result), "\n");
  absl::StrAppend(&out, "  (AUC: sklearn's roc_auc_score, one-vs-rest, macro over ", result.auc.classes_averaged,
                  " classes with positives and negatives; MLPerf Tiny scores top-1 and this AUC)\n\n");
  absl::StrAppend(&out, absl::StrFormat("%-12s %7s %8s %9s %8s\n", "class", "images", "correct", "accuracy", "AUC"));
  for (int c = 0; c < m.num_classes(); ++c) {
    absl::StrAppend(&out,
                    absl::StrFormat("%-12s %7d %8d %8.2f%% %8s\n", ClassName(context, c), m.class_images(c),
                                    m.class_correct(c), 100.0 * m.class_accuracy(c), AucText(result.auc.of_class(c))));
  }
  absl::StrAppend(&out, "\nconfusion matrix (rows: label, columns: predicted)\n", absl::StrFormat("%-12s", ""));
  for (int c = 0; c < m.num_classes(); ++c) absl::StrAppend(&out, absl::StrFormat("%6.5s", ClassName(context, c)));
  absl::StrAppend(&out, "\n");
  for (int label = 0; label < m.num_classes(); ++label) {
    absl::StrAppend(&out, absl::StrFormat("%-12s", ClassName(context, label)));
    for (int p = 0; p < m.num_classes(); ++p) absl::StrAppend(&out, absl::StrFormat("%6d", m.confusion(label, p)));
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, absl::StrFormat("\n%d images in %.2f s: %.0f images/s\n", m.images(), result.seconds,
                                        ImagesPerSecond(result)));
  return out;
}

absl::Status WriteReportJson(const std::string& path, const EvaluationResult& result, const ReportContext& context) {
  const ClassificationMetrics& m = result.metrics;
  nlohmann::ordered_json json;
  json["images"] = m.images();
  json["correct"] = m.correct();
  json["top1"] = m.top1();
  json["auc"] = JsonOrNull(result.auc.macro);
  json["auc_definition"] = "sklearn roc_auc_score(labels, probabilities, multi_class='ovr', average='macro')";
  json["auc_classes_averaged"] = result.auc.classes_averaged;
  json["per_class"] = nlohmann::ordered_json::array();
  for (int c = 0; c < m.num_classes(); ++c) {
    json["per_class"].push_back({{"class_index", c},
                                 {"class_name", ClassName(context, c)},
                                 {"images", m.class_images(c)},
                                 {"correct", m.class_correct(c)},
                                 {"accuracy", m.class_accuracy(c)},
                                 {"auc", JsonOrNull(result.auc.of_class(c))}});
  }
  json["confusion_matrix"] = nlohmann::ordered_json::array();
  for (int label = 0; label < m.num_classes(); ++label) {
    std::vector<int64_t> row;
    for (int p = 0; p < m.num_classes(); ++p) row.push_back(m.confusion(label, p));
    json["confusion_matrix"].push_back(row);
  }
  json["model_sha256"] = context.model_sha256;
  json["model_outputs"] = context.outputs_are_logits ? "logits" : "probabilities";
  json["data"] = context.data_path;
  json["data_sha256"] = context.data_sha256;
  json["subset"] = context.subset;
  json["server"] = context.server;
  json["seconds"] = result.seconds;
  json["images_per_second"] = ImagesPerSecond(result);
  return WriteFileAtomically(path, json.dump(2) + "\n");
}

absl::Status WritePredictionsCsv(const std::string& path, const EvaluationResult& result) {
  // An MLPerf Tiny folder names its images: the file goes first, as in its y_labels.csv.
  const bool named = !result.predictions.empty() && !result.predictions.front().file.empty();
  std::string text = named ? "file,index,label,predicted" : "index,label,predicted";
  for (int c = 0; c < kCifarClasses; ++c) absl::StrAppend(&text, ",prob_", c);
  text += "\n";
  for (const ImagePrediction& p : result.predictions) {
    if (named) absl::StrAppend(&text, p.file, ",");
    absl::StrAppend(&text, p.index, ",", p.label, ",", p.predicted);
    for (float probability : p.probabilities) absl::StrAppend(&text, absl::StrFormat(",%.9g", probability));
    text += "\n";
  }
  return WriteFileAtomically(path, text);
}

}  // namespace resnet8
