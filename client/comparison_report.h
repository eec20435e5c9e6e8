// Two models' evaluations of the same images side by side (`compare`): both
// scores, and the images where their top-1 answers differ, as text for a
// terminal and as one self-contained HTML file with thumbnails.
//
//   ModelComparison comparison = CompareEvaluations({"a", "1", a}, {"b", "1", b});
//   out << FormatComparison(comparison, class_names, 20);
#ifndef RESNET8_CLIENT_COMPARISON_REPORT_H_
#define RESNET8_CLIENT_COMPARISON_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/evaluator_client.h"
#include "common/cifar10.h"

namespace resnet8 {

struct ComparedModel {
  std::string name;
  std::string version;
  EvaluationResult result;
};

struct Disagreement {
  size_t position = 0;  // in both results' predictions (data order)
  int64_t index = 0;    // record number
  int label = 0;
  int predicted_a = 0, predicted_b = 0;
  float confidence_a = 0, confidence_b = 0;  // each one's top probability
};

struct ModelComparison {
  ComparedModel a, b;
  std::vector<Disagreement> disagreements;  // in data order
  int64_t only_a_right = 0, only_b_right = 0, both_wrong = 0;
};

// INVALID_ARGUMENT unless both results answer the same records in the same
// order.
absl::StatusOr<ModelComparison> CompareEvaluations(ComparedModel a, ComparedModel b);

// Both top-1 lines and AUCs, the disagreement counts, and the first
// `listed` disagreements.
std::string FormatComparison(const ModelComparison& comparison, const std::vector<std::string>& class_names,
                             size_t listed);

// Scores, counts and every disagreement with its thumbnail (at most the
// first 500 drawn). `images` are the evaluated records in data order.
absl::Status WriteComparisonHtml(const std::string& path, const ModelComparison& comparison,
                                 const std::vector<std::string>& class_names, const LabeledImages& images);

}  // namespace resnet8

#endif  // RESNET8_CLIENT_COMPARISON_REPORT_H_
