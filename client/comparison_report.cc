#include "client/comparison_report.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/html_report.h"
#include "client/report.h"
#include "common/file.h"

namespace resnet8 {
namespace {

// Drawn thumbnails at most: a page of 500 stays a few MiB.
constexpr size_t kDrawnDisagreements = 500;

std::string Name(const std::vector<std::string>& names, int c) {
  return c >= 0 && c < static_cast<int>(names.size()) ? names[c] : absl::StrCat("class ", c);
}

std::string ScoreLine(const ComparedModel& model) {
  return absl::StrCat(model.name, " (version ", model.version, ", sha256 ",
                      model.result.server_report.model_sha256().substr(0, 12), "): top-1 ",
                      Top1Line(model.result.metrics), ", AUC ", AucText(model.result.auc.macro));
}

}  // namespace

absl::StatusOr<ModelComparison> CompareEvaluations(ComparedModel a, ComparedModel b) {
  const std::vector<ImagePrediction>& pa = a.result.predictions;
  const std::vector<ImagePrediction>& pb = b.result.predictions;
  if (pa.size() != pb.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the evaluations answered ", pa.size(), " and ", pb.size(), " images; they must be the same"));
  }
  ModelComparison comparison;
  for (size_t i = 0; i < pa.size(); ++i) {
    if (pa[i].index != pb[i].index) {
      return absl::InvalidArgumentError(absl::StrCat("image ", i, " is record ", pa[i].index, " in one evaluation and ",
                                                     pb[i].index, " in the other"));
    }
    if (pa[i].predicted == pb[i].predicted) continue;
    Disagreement d;
    d.position = i;
    d.index = pa[i].index;
    d.label = pa[i].label;
    d.predicted_a = pa[i].predicted;
    d.predicted_b = pb[i].predicted;
    d.confidence_a = pa[i].probabilities[pa[i].predicted];
    d.confidence_b = pb[i].probabilities[pb[i].predicted];
    if (d.predicted_a == d.label) {
      ++comparison.only_a_right;
    } else if (d.predicted_b == d.label) {
      ++comparison.only_b_right;
    } else {
      ++comparison.both_wrong;
    }
    comparison.disagreements.push_back(d);
  }
  comparison.a = std::move(a);
  comparison.b = std::move(b);
  return comparison;
}

std::string FormatComparison(const ModelComparison& comparison, const std::vector<std::string>& class_names,
                             size_t listed) {
  const size_t images = comparison.a.result.predictions.size();
  std::string out = absl::StrCat("A: ", ScoreLine(comparison.a), "\nB: ", ScoreLine(comparison.b), "\n");
  absl::StrAppend(&out, "they disagree on ", comparison.disagreements.size(), " of ", images, " images: only A right ",
                  comparison.only_a_right, ", only B right ", comparison.only_b_right, ", both wrong ",
                  comparison.both_wrong, "\n");
  if (comparison.disagreements.empty()) return out;
  absl::StrAppend(&out, absl::StrFormat("%-8s %-12s %-20s %-20s\n", "record", "label", "A", "B"));
  for (size_t i = 0; i < std::min(listed, comparison.disagreements.size()); ++i) {
    const Disagreement& d = comparison.disagreements[i];
    absl::StrAppend(&out,
                    absl::StrFormat("%-8d %-12s %-20s %-20s\n", d.index, Name(class_names, d.label),
                                    absl::StrFormat("%s (%.3f)", Name(class_names, d.predicted_a), d.confidence_a),
                                    absl::StrFormat("%s (%.3f)", Name(class_names, d.predicted_b), d.confidence_b)));
  }
  if (comparison.disagreements.size() > listed) {
    absl::StrAppend(&out, "... ", comparison.disagreements.size() - listed, " more (--report_html lists them all)\n");
  }
  return out;
}

absl::Status WriteComparisonHtml(const std::string& path, const ModelComparison& comparison,
                                 const std::vector<std::string>& class_names, const LabeledImages& images) {
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Model comparison</title><style>"
      "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:4px 8px;"
      "border-bottom:1px solid #ddd;text-align:left}img{image-rendering:pixelated;width:64px}"
      ".right{color:#1a7f37}.wrong{color:#cf222e}</style></head><body>\n<h1>Model comparison</h1>\n";
  absl::StrAppend(&html, "<p id=\"model-a\">A: ", HtmlEscape(ScoreLine(comparison.a)),
                  "</p>\n<p id=\"model-b\">B: ", HtmlEscape(ScoreLine(comparison.b)), "</p>\n");
  absl::StrAppend(&html, "<h2>Disagreements</h2>\n<p id=\"disagreements\">", comparison.disagreements.size(), " of ",
                  comparison.a.result.predictions.size(), " images: only A right ", comparison.only_a_right,
                  ", only B right ", comparison.only_b_right, ", both wrong ", comparison.both_wrong, "</p>\n");
  absl::StrAppend(&html, "<table><tr><th>image</th><th>record</th><th>label</th><th>A (", HtmlEscape(comparison.a.name),
                  ")</th><th>B (", HtmlEscape(comparison.b.name), ")</th></tr>\n");
  auto cell = [&](int predicted, float confidence, int label) {
    return absl::StrCat("<td class=\"", predicted == label ? "right" : "wrong", "\">",
                        HtmlEscape(Name(class_names, predicted)), absl::StrFormat(" (%.3f)", confidence), "</td>");
  };
  for (size_t i = 0; i < comparison.disagreements.size(); ++i) {
    const Disagreement& d = comparison.disagreements[i];
    std::string image = "<td></td>";
    if (i < kDrawnDisagreements) {
      absl::StatusOr<std::string> uri = ThumbnailDataUri(images, static_cast<int64_t>(d.position));
      if (!uri.ok()) return absl::InternalError(absl::StrCat(path, ": ", uri.status().message()));
      image = absl::StrCat("<td><img alt=\"record ", d.index, "\" src=\"", *uri, "\"></td>");
    }
    absl::StrAppend(&html, "<tr>", image, "<td>", d.index, "</td><td>", HtmlEscape(Name(class_names, d.label)), "</td>",
                    cell(d.predicted_a, d.confidence_a, d.label), cell(d.predicted_b, d.confidence_b, d.label),
                    "</tr>\n");
  }
  absl::StrAppend(&html, "</table>\n</body></html>\n");
  return WriteFileAtomically(path, html);
}

}  // namespace resnet8
