#include "client/html_report.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/file.h"
#include "common/status_macros.h"

namespace resnet8 {
namespace {

constexpr int kThumbnailScale = 4;  // 32x32 shown as 128x128, pixels kept sharp
constexpr size_t kWrongShown = 12;

std::string Html(absl::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string Percent(double fraction) { return absl::StrFormat("%.2f%%", 100 * fraction); }

// White to dark blue as `fraction` goes from 0 to 1.
std::string HeatColor(double fraction) {
  const int r = static_cast<int>(std::lround(255 - 222 * fraction));
  const int g = static_cast<int>(std::lround(255 - 153 * fraction));
  const int b = static_cast<int>(std::lround(255 - 84 * fraction));
  return absl::StrFormat("rgb(%d,%d,%d)", r, g, b);
}

std::string ConfusionSvg(const ClassificationMetrics& metrics, const std::vector<std::string>& names) {
  const int n = metrics.num_classes(), cell = 44, left = 110, top = 100;
  std::string svg =
      absl::StrFormat("<svg role=\"img\" aria-label=\"confusion matrix\" width=\"%d\" height=\"%d\" font-size=\"12\">",
                      left + n * cell + 10, top + n * cell + 10);
  absl::StrAppend(&svg, "<text x=\"", left + n * cell / 2, "\" y=\"14\" text-anchor=\"middle\">predicted</text>");
  absl::StrAppend(&svg, "<text x=\"12\" y=\"", top + n * cell / 2,
                  "\" text-anchor=\"middle\" transform=\"rotate(-90 12 ", top + n * cell / 2, ")\">true</text>");
  for (int c = 0; c < n; ++c) {
    absl::StrAppend(&svg, "<text x=\"", left + c * cell + cell / 2, "\" y=\"", top - 8,
                    "\" text-anchor=\"start\" transform=\"rotate(-45 ", left + c * cell + cell / 2, " ", top - 8,
                    ")\">", Html(names[c]), "</text>");
    absl::StrAppend(&svg, "<text x=\"", left - 6, "\" y=\"", top + c * cell + cell / 2 + 4, "\" text-anchor=\"end\">",
                    Html(names[c]), "</text>");
  }
  for (int t = 0; t < n; ++t) {
    const int64_t row = metrics.class_images(t);
    for (int p = 0; p < n; ++p) {
      const int64_t count = metrics.confusion(t, p);
      const double fraction = row > 0 ? static_cast<double>(count) / static_cast<double>(row) : 0;
      absl::StrAppend(&svg, "<rect x=\"", left + p * cell, "\" y=\"", top + t * cell, "\" width=\"", cell,
                      "\" height=\"", cell, "\" fill=\"", HeatColor(fraction), "\" stroke=\"#ddd\"><title>true ",
                      Html(names[t]), ", predicted ", Html(names[p]), ": ", count, "</title></rect>");
      absl::StrAppend(&svg, "<text x=\"", left + p * cell + cell / 2, "\" y=\"", top + t * cell + cell / 2 + 4,
                      "\" text-anchor=\"middle\" fill=\"", fraction > 0.5 ? "#fff" : "#222", "\">", count, "</text>");
    }
  }
  return svg + "</svg>";
}

std::string PerClassSvg(const ClassificationMetrics& metrics, const std::vector<std::string>& names) {
  const int n = metrics.num_classes(), bar = 22, left = 110, width = 400;
  std::string svg = absl::StrFormat(
      "<svg role=\"img\" aria-label=\"per-class accuracy\" width=\"%d\" height=\"%d\" font-size=\"12\">",
      left + width + 150, n * bar + 10);
  for (int c = 0; c < n; ++c) {
    const double accuracy = metrics.class_accuracy(c);
    absl::StrAppend(&svg, "<text x=\"", left - 6, "\" y=\"", c * bar + 15, "\" text-anchor=\"end\">", Html(names[c]),
                    "</text>");
    absl::StrAppend(&svg, "<rect x=\"", left, "\" y=\"", c * bar + 3, "\" width=\"", width, "\" height=\"", bar - 6,
                    "\" fill=\"#eee\"/>");
    absl::StrAppend(&svg, "<rect x=\"", left, "\" y=\"", c * bar + 3, "\" width=\"",
                    absl::StrFormat("%.1f", width * accuracy), "\" height=\"", bar - 6, "\" fill=\"#2166ac\"/>");
    absl::StrAppend(&svg, "<text x=\"", left + width + 6, "\" y=\"", c * bar + 15, "\">", Percent(accuracy), " (",
                    metrics.class_correct(c), "/", metrics.class_images(c), ")</text>");
  }
  return svg + "</svg>";
}

// One-vs-rest ROC curves, one per class, with each class's AUC in the legend.
std::string RocSvg(const EvaluationResult& result, const std::vector<std::string>& names) {
  static constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                            "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  const int classes = static_cast<int>(names.size());
  const LabelsAndScores gathered = GatherLabelsAndScores(result.predictions);
  const int left = 50, top = 10, size = 320, legend = 190;
  auto x = [&](double v) { return absl::StrFormat("%.1f", left + v * size); };
  auto y = [&](double v) { return absl::StrFormat("%.1f", top + (1 - v) * size); };
  std::string svg =
      absl::StrFormat("<svg role=\"img\" aria-label=\"ROC curves\" width=\"%d\" height=\"%d\" font-size=\"12\">",
                      left + size + legend, top + size + 45);
  absl::StrAppend(&svg, "<rect x=\"", left, "\" y=\"", top, "\" width=\"", size, "\" height=\"", size,
                  "\" fill=\"none\" stroke=\"#999\"/>");
  absl::StrAppend(&svg, "<line x1=\"", x(0), "\" y1=\"", y(0), "\" x2=\"", x(1), "\" y2=\"", y(1),
                  "\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>");
  for (double v : {0.0, 0.5, 1.0}) {
    absl::StrAppend(&svg, "<text x=\"", x(v), "\" y=\"", top + size + 15, "\" text-anchor=\"middle\">",
                    absl::StrFormat("%.1f", v), "</text>");
    absl::StrAppend(&svg, "<text x=\"", left - 6, "\" y=\"", y(v), "\" text-anchor=\"end\">",
                    absl::StrFormat("%.1f", v), "</text>");
  }
  absl::StrAppend(&svg, "<text x=\"", left + size / 2, "\" y=\"", top + size + 35,
                  "\" text-anchor=\"middle\">false positive rate</text>");
  absl::StrAppend(&svg, "<text x=\"12\" y=\"", top + size / 2, "\" transform=\"rotate(-90 12 ", top + size / 2,
                  ")\" text-anchor=\"middle\">true positive rate</text>");
  for (int c = 0; c < classes; ++c) {
    const char* color = kColors[c % 10];
    std::string points;
    for (const RocPoint& point : OneVsRestRocCurve(gathered.labels, gathered.scores, classes, c)) {
      absl::StrAppend(&points, x(point.false_positive_rate), ",", y(point.true_positive_rate), " ");
    }
    if (!points.empty()) {
      absl::StrAppend(&svg, "<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"", color, "\" points=\"", points,
                      "\"/>");
    }
    const int row = top + 14 + c * 18;
    absl::StrAppend(&svg, "<rect x=\"", left + size + 12, "\" y=\"", row - 9, "\" width=\"10\" height=\"10\" fill=\"",
                    color, "\"/><text x=\"", left + size + 28, "\" y=\"", row, "\">", Html(names[c]), " ",
                    AucText(result.auc.of_class(c)), "</text>");
  }
  return svg + "</svg>";
}

std::string ReliabilitySvg(const Calibration& calibration) {
  const int size = 300, left = 50, top = 10;
  std::string svg = absl::StrFormat(
      "<svg role=\"img\" aria-label=\"reliability diagram\" width=\"%d\" height=\"%d\" font-size=\"12\">",
      left + size + 20, top + size + 45);
  auto x = [&](double v) { return left + v * size; };
  auto y = [&](double v) { return top + (1 - v) * size; };
  absl::StrAppend(&svg, "<rect x=\"", left, "\" y=\"", top, "\" width=\"", size, "\" height=\"", size,
                  "\" fill=\"none\" stroke=\"#999\"/>");
  for (const CalibrationBin& bin : calibration.bins) {
    if (bin.images == 0) continue;
    absl::StrAppend(&svg, "<rect x=\"", absl::StrFormat("%.1f", x(bin.lower)), "\" y=\"",
                    absl::StrFormat("%.1f", y(bin.accuracy)), "\" width=\"",
                    absl::StrFormat("%.1f", (bin.upper - bin.lower) * size), "\" height=\"",
                    absl::StrFormat("%.1f", bin.accuracy * size),
                    "\" fill=\"#2166ac\" fill-opacity=\"0.8\" stroke=\"#fff\"><title>confidence ",
                    absl::StrFormat("%.1f-%.1f", bin.lower, bin.upper), ": ", bin.images, " images, accuracy ",
                    Percent(bin.accuracy), ", mean confidence ", Percent(bin.mean_confidence), "</title></rect>");
  }
  absl::StrAppend(&svg, "<line x1=\"", x(0), "\" y1=\"", y(0), "\" x2=\"", x(1), "\" y2=\"", y(1),
                  "\" stroke=\"#d6604d\" stroke-dasharray=\"4 3\"/>");
  for (int tick = 0; tick <= 10; tick += 2) {
    const double v = tick / 10.0;
    absl::StrAppend(&svg, "<text x=\"", x(v), "\" y=\"", top + size + 15, "\" text-anchor=\"middle\">",
                    absl::StrFormat("%.1f", v), "</text>");
    absl::StrAppend(&svg, "<text x=\"", left - 6, "\" y=\"", y(v) + 4, "\" text-anchor=\"end\">",
                    absl::StrFormat("%.1f", v), "</text>");
  }
  absl::StrAppend(&svg, "<text x=\"", left + size / 2, "\" y=\"", top + size + 35,
                  "\" text-anchor=\"middle\">confidence (top probability)</text>");
  return svg + "</svg>";
}

}  // namespace

Calibration ComputeCalibration(const std::vector<ImagePrediction>& predictions, int bins) {
  Calibration calibration;
  calibration.bins.resize(bins);
  std::vector<double> confidence_sum(bins, 0), correct(bins, 0);
  for (int b = 0; b < bins; ++b) {
    calibration.bins[b].lower = static_cast<double>(b) / bins;
    calibration.bins[b].upper = static_cast<double>(b + 1) / bins;
  }
  for (const ImagePrediction& p : predictions) {
    const double confidence = p.probabilities[p.predicted];
    const int b = std::clamp(static_cast<int>(confidence * bins), 0, bins - 1);
    ++calibration.bins[b].images;
    confidence_sum[b] += confidence;
    correct[b] += p.predicted == p.label ? 1 : 0;
  }
  for (int b = 0; b < bins; ++b) {
    CalibrationBin& bin = calibration.bins[b];
    if (bin.images == 0) continue;
    bin.mean_confidence = confidence_sum[b] / static_cast<double>(bin.images);
    bin.accuracy = correct[b] / static_cast<double>(bin.images);
    calibration.expected_calibration_error += static_cast<double>(bin.images) /
                                              static_cast<double>(predictions.size()) *
                                              std::abs(bin.accuracy - bin.mean_confidence);
  }
  return calibration;
}

std::vector<size_t> MostConfidentlyWrong(const std::vector<ImagePrediction>& predictions, size_t count) {
  std::vector<size_t> wrong;
  for (size_t i = 0; i < predictions.size(); ++i) {
    if (predictions[i].predicted != predictions[i].label) wrong.push_back(i);
  }
  auto confidence = [&](size_t i) { return predictions[i].probabilities[predictions[i].predicted]; };
  std::stable_sort(wrong.begin(), wrong.end(), [&](size_t a, size_t b) { return confidence(a) > confidence(b); });
  if (wrong.size() > count) wrong.resize(count);
  return wrong;
}

absl::StatusOr<std::string> EncodePng(const std::vector<uint8_t>& rgb, int width, int height) {
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, rgb.data(), 0, nullptr)) {
    return absl::InternalError(absl::StrCat("PNG encoding failed: ", image.message));
  }
  std::string png(size, '\0');
  if (!png_image_write_to_memory(&image, png.data(), &size, 0, rgb.data(), 0, nullptr)) {
    return absl::InternalError(absl::StrCat("PNG encoding failed: ", image.message));
  }
  png.resize(size);
  return png;
}

absl::StatusOr<std::string> ThumbnailDataUri(const LabeledImages& images, int64_t i) {
  const absl::Span<const uint8_t> planar = images.image(i);
  constexpr int kSide = kImageWidth * kThumbnailScale, kPlane = kImageWidth * kImageHeight;
  std::vector<uint8_t> rgb(kSide * kSide * 3);
  for (int y = 0; y < kSide; ++y) {
    for (int x = 0; x < kSide; ++x) {
      const int source = (y / kThumbnailScale) * kImageWidth + x / kThumbnailScale;
      for (int c = 0; c < 3; ++c) rgb[(y * kSide + x) * 3 + c] = planar[c * kPlane + source];
    }
  }
  absl::StatusOr<std::string> png = EncodePng(rgb, kSide, kSide);
  if (!png.ok()) return png.status();
  return absl::StrCat("data:image/png;base64,", absl::Base64Escape(*png));
}

std::string HtmlEscape(absl::string_view text) { return Html(text); }

absl::Status WriteReportHtml(const std::string& path, const EvaluationResult& result, const ReportContext& context,
                             const LabeledImages& images) {
  const ClassificationMetrics& metrics = result.metrics;
  const std::vector<std::string>& names = context.class_names;
  if (static_cast<int>(names.size()) != metrics.num_classes() ||
      images.size() != static_cast<int64_t>(result.predictions.size())) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": the report needs one class name per class (", names.size(),
                                                   " for ", metrics.num_classes(), ") and one image per prediction (",
                                                   images.size(), " for ", result.predictions.size(), ")"));
  }
  const Calibration calibration = ComputeCalibration(result.predictions);
  const std::string top1 = absl::StrCat(Percent(metrics.top1()), " (", metrics.correct(), "/", metrics.images(), ")");
  const std::string date = absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::Now(), absl::UTCTimeZone());

  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width\">"
      "<title>ResNet8 evaluation: ",
      top1,
      "</title><style>"
      "body{font-family:sans-serif;margin:2em;color:#222;max-width:1100px}"
      "h1{font-size:1.8em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}"
      "dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{color:#666}dd{margin:0;"
      "font-family:monospace;word-break:break-all}"
      ".wrong{display:flex;flex-wrap:wrap;gap:1em}.wrong figure{margin:0;width:150px;font-size:.85em}"
      ".wrong img{width:128px;height:128px;image-rendering:pixelated;border:1px solid #999}"
      "</style></head><body>\n");
  absl::StrAppend(
      &html, "<h1 id=\"headline\">top-1 accuracy: ", top1, ", AUC ", AucText(result.auc.macro), "</h1>\n<dl>",
      "<dt>model sha256</dt><dd id=\"model-sha256\">", Html(context.model_sha256), "</dd>", "<dt>data</dt><dd>",
      Html(context.data_path), context.subset.empty() ? "" : absl::StrCat(" (subset ", Html(context.subset), ")"),
      "</dd>", "<dt>data sha256</dt><dd id=\"data-sha256\">", Html(context.data_sha256), "</dd>", "<dt>server</dt><dd>",
      Html(context.server), "</dd>", "<dt>date</dt><dd>", date, "</dd>", "<dt>throughput</dt><dd>",
      absl::StrFormat("%.2f s, %.0f images/s", result.seconds,
                      result.seconds > 0 ? metrics.images() / result.seconds : 0.0),
      "</dd></dl>\n");
  absl::StrAppend(&html,
                  "<h2>Confusion matrix</h2><p>Rows are the true class, columns the predicted one; the shade "
                  "is the share of the row.</p>\n",
                  ConfusionSvg(metrics, names), "\n");
  absl::StrAppend(&html, "<h2>Per-class accuracy</h2>\n", PerClassSvg(metrics, names), "\n");
  absl::StrAppend(
      &html, "<h2>ROC curves</h2><p>Each class against the rest. AUC (macro over ", result.auc.classes_averaged,
      " classes, as sklearn's <code>roc_auc_score</code> with "
      "<code>multi_class=\"ovr\"</code>): <strong id=\"auc\">",
      AucText(result.auc.macro), "</strong>; MLPerf Tiny scores image classification by top-1 and this AUC.</p>\n",
      RocSvg(result, names), "\n");
  absl::StrAppend(&html, "<h2>Calibration</h2><p>Expected calibration error (", calibration.bins.size(),
                  " equal-width bins): <strong id=\"ece\">",
                  absl::StrFormat("%.4f", calibration.expected_calibration_error),
                  "</strong>. Bars show the accuracy of the images whose top probability falls in each bin; "
                  "a perfectly calibrated model follows the dashed diagonal.</p>\n",
                  ReliabilitySvg(calibration), "\n");

  const std::vector<size_t> wrong = MostConfidentlyWrong(result.predictions, kWrongShown);
  absl::StrAppend(&html, "<h2>Most confidently wrong</h2><div class=\"wrong\">\n");
  for (size_t i : wrong) {
    const ImagePrediction& p = result.predictions[i];
    absl::StatusOr<std::string> uri = ThumbnailDataUri(images, static_cast<int64_t>(i));
    if (!uri.ok()) return absl::InternalError(absl::StrCat(path, ": ", uri.status().message()));
    const std::string what = p.file.empty() ? absl::StrCat("record ", p.index) : Html(p.file);
    absl::StrAppend(&html, "<figure><img alt=\"", what, "\" src=\"", *uri, "\"><figcaption>", what, "<br>true <b>",
                    Html(names[p.label]), "</b>, predicted <b>", Html(names[p.predicted]),
                    "</b> (p=", absl::StrFormat("%.4f", p.probabilities[p.predicted]), ")</figcaption></figure>\n");
  }
  if (wrong.empty()) absl::StrAppend(&html, "<p>No image was classified wrongly.</p>");
  // Marks the page as rendered once every thumbnail has decoded, so a
  // headless browser can tell a complete page from a broken one.
  absl::StrAppend(&html,
                  "</div>\n<script>window.addEventListener('load',function(){"
                  "var images=document.images,decoded=0;"
                  "for(var i=0;i<images.length;i++){if(images[i].complete&&images[i].naturalWidth>0)decoded++;}"
                  "document.body.setAttribute('data-images-decoded',decoded);"
                  "document.body.setAttribute('data-rendered',decoded===images.length?'ok':'broken');});"
                  "</script></body></html>\n");

  return WriteFileAtomically(path, html);
}

}  // namespace resnet8
