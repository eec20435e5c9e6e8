// The HTML report's numbers (calibration, the confidently wrong images), its
// PNG thumbnails, and that the file is self-contained. The page is rendered
// in a real browser by tests/support/check_html_report.sh.
#include "client/html_report.h"

#include <png.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

ImagePrediction Prediction(int64_t index, int label, int predicted, float confidence) {
  ImagePrediction p;
  p.index = index;
  p.label = label;
  p.predicted = predicted;
  p.probabilities.assign(10, (1 - confidence) / 9);
  p.probabilities[predicted] = confidence;
  return p;
}

TEST(HtmlReport, CalibrationBinsAndExpectedCalibrationError) {
  // Bin 0.9-1.0: two right, one wrong, mean confidence 0.95 -> gap |0.667-0.95|.
  // Bin 0.5-0.6: one right at 0.55 -> gap 0.45. Bin 1.0 belongs to the last bin.
  const std::vector<ImagePrediction> predictions = {Prediction(0, 1, 1, 0.92f), Prediction(1, 2, 2, 1.0f),
                                                    Prediction(2, 3, 4, 0.93f), Prediction(3, 5, 5, 0.55f)};
  const Calibration calibration = ComputeCalibration(predictions, 10);
  ASSERT_EQ(calibration.bins.size(), 10u);
  EXPECT_EQ(calibration.bins[9].images, 3);
  EXPECT_NEAR(calibration.bins[9].accuracy, 2.0 / 3, 1e-9);
  EXPECT_NEAR(calibration.bins[9].mean_confidence, (0.92 + 1.0 + 0.93) / 3, 1e-6);
  EXPECT_EQ(calibration.bins[5].images, 1);
  const double expected = 0.75 * std::abs(2.0 / 3 - 0.95) + 0.25 * std::abs(1 - 0.55);
  EXPECT_NEAR(calibration.expected_calibration_error, expected, 1e-6);
}

TEST(HtmlReport, MostConfidentlyWrongComeFirstAndRightAnswersNever) {
  const std::vector<ImagePrediction> predictions = {Prediction(0, 1, 2, 0.6f), Prediction(1, 1, 1, 0.99f),
                                                    Prediction(2, 3, 4, 0.9f), Prediction(3, 5, 6, 0.7f)};
  EXPECT_EQ(MostConfidentlyWrong(predictions, 2), (std::vector<size_t>{2, 3}));
  EXPECT_EQ(MostConfidentlyWrong(predictions, 10), (std::vector<size_t>{2, 3, 0}));
}

TEST(HtmlReport, EncodesPngsThatDecodeToTheSamePixels) {
  std::vector<uint8_t> rgb(8 * 4 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 7);
  ASSERT_OK_AND_ASSIGN(std::string png, EncodePng(rgb, 8, 4));
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  ASSERT_TRUE(png_image_begin_read_from_memory(&image, png.data(), png.size()));
  EXPECT_EQ(image.width, 8u);
  EXPECT_EQ(image.height, 4u);
  image.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> decoded(PNG_IMAGE_SIZE(image));
  ASSERT_TRUE(png_image_finish_read(&image, nullptr, decoded.data(), 0, nullptr));
  EXPECT_EQ(decoded, rgb);
}

TEST(HtmlReport, WritesASelfContainedPageWithHeadlineChartsAndThumbnails) {
  EvaluationResult result;
  LabeledImages images;
  for (int i = 0; i < 20; ++i) {
    const int label = i % 10, predicted = i < 15 ? label : (label + 1) % 10;  // 5 wrong
    result.predictions.push_back(Prediction(100 + i, label, predicted, 0.8f));
    ASSERT_OK(result.metrics.Add(label, predicted));
    images.pixels.insert(images.pixels.end(), kImageBytes, static_cast<uint8_t>(i * 10));
    images.labels.push_back(static_cast<uint8_t>(label));
    images.indices.push_back(100 + i);
  }
  result.seconds = 1;
  result.auc.macro = 0.987654321;
  result.auc.classes_averaged = 10;
  ReportContext context;
  context.server = "127.0.0.1:1";
  context.model_sha256 = "5f938a8e";
  context.data_sha256 = "0e2eb146";
  context.data_path = "test_batch.bin";
  context.class_names = StandardCifar10ClassNames();
  const std::string path = testing::MakeTempDir() + "/report.html";
  ASSERT_OK(WriteReportHtml(path, result, context, images));
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  const std::string html = text.str();
  EXPECT_NE(html.find("<h1 id=\"headline\">top-1 accuracy: 75.00% (15/20), AUC 0.98765</h1>"), std::string::npos);
  EXPECT_NE(html.find("aria-label=\"ROC curves\""), std::string::npos);
  EXPECT_NE(html.find("5f938a8e"), std::string::npos);
  EXPECT_NE(html.find("0e2eb146"), std::string::npos);
  EXPECT_NE(html.find("aria-label=\"confusion matrix\""), std::string::npos);
  EXPECT_NE(html.find("aria-label=\"per-class accuracy\""), std::string::npos);
  EXPECT_NE(html.find("aria-label=\"reliability diagram\""), std::string::npos);
  size_t thumbnails = 0;
  for (size_t at = html.find("data:image/png;base64,"); at != std::string::npos;
       at = html.find("data:image/png;base64,", at + 1)) {
    ++thumbnails;
  }
  EXPECT_EQ(thumbnails, 5u);
  // Self-contained: nothing to fetch.
  EXPECT_EQ(html.find("http:"), std::string::npos);
  EXPECT_EQ(html.find("https:"), std::string::npos);
  EXPECT_EQ(html.find("src=\"/"), std::string::npos);
}

TEST(HtmlReport, NamesThePathItCannotWrite) {
  EvaluationResult result;
  ReportContext context;
  context.class_names = StandardCifar10ClassNames();
  EXPECT_STATUS(WriteReportHtml("/nonexistent/dir/report.html", result, context, {}),
                absl::StatusCode::kInvalidArgument, "/nonexistent/dir/report.html: cannot create a file there");
}

TEST(HtmlReport, RefusesInputsThatDoNotFitTogether) {
  EvaluationResult result;
  result.predictions.push_back(Prediction(0, 1, 1, 0.9f));
  ReportContext context;
  context.class_names = StandardCifar10ClassNames();
  EXPECT_STATUS(WriteReportHtml(testing::MakeTempDir() + "/r.html", result, context, {}),
                absl::StatusCode::kInvalidArgument, "one image per prediction (0 for 1)");
}

}  // namespace
}  // namespace resnet8
