// Faithfulness against the original Keras models' own outputs: the ResNet8's
// 200 golden rows in ../shared/golden and its full test set's 8719/10000; and
// the Keras 3 CNN's logits for the first 500 images at --input_scale=1/255.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/cifar10.h"
#include "common/classification_metrics.h"
#include "server/keras/reference_executor.h"
#include "server/torch/model_loader.h"
#include "server/torch/torch_classifier.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

struct GoldenRow {
  int64_t index;
  int label;
  std::vector<double> probabilities;
};

std::vector<GoldenRow> ReadGolden(const std::string& path = testing::SharedGoldenPath()) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  std::vector<GoldenRow> rows;
  while (std::getline(in, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ',');
    GoldenRow row;
    EXPECT_EQ(fields.size(), 12u);
    EXPECT_TRUE(absl::SimpleAtoi(fields[0], &row.index));
    EXPECT_TRUE(absl::SimpleAtoi(fields[1], &row.label));
    for (size_t i = 2; i < fields.size(); ++i) {
      double p;
      EXPECT_TRUE(absl::SimpleAtod(fields[i], &p));
      row.probabilities.push_back(p);
    }
    rows.push_back(row);
  }
  return rows;
}

// Both the module exactly as converted and the optimized path the server
// runs must reproduce Keras.
class GoldenTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(model_, LoadKerasFile(testing::SharedModelPath(), {}));
    ASSERT_OK_AND_ASSIGN(ServedClassifier served, MakeServedClassifier(model_, /*optimized=*/GetParam()));
    classifier_ = std::move(served.classifier);
    ASSERT_OK_AND_ASSIGN(data_, ReadCifar10(testing::SharedDataDir()));
  }

  std::vector<float> Classify(const LabeledImages& images) {
    std::vector<float> probabilities(images.size() * 10);
    EXPECT_OK(classifier_->Classify({images.pixels, images.size(), PixelLayout::kChannelPlanar},
                                    absl::MakeSpan(probabilities)));
    return probabilities;
  }

  LoadedModel model_;
  std::unique_ptr<TorchClassifier> classifier_;
  CifarDataset data_;
};

TEST_P(GoldenTest, ReproducesEveryKerasProbabilityOfThePerf200Subset) {
  const std::vector<GoldenRow> golden = ReadGolden();
  ASSERT_EQ(golden.size(), 200u);
  std::vector<int64_t> indices;
  for (const GoldenRow& row : golden) indices.push_back(row.index);
  ASSERT_OK_AND_ASSIGN(LabeledImages images, SelectRecords(data_.images, indices));
  const std::vector<float> probabilities = Classify(images);

  double max_difference = 0;
  int same_argmax = 0, correct = 0;
  for (size_t i = 0; i < golden.size(); ++i) {
    EXPECT_EQ(images.labels[i], golden[i].label) << "row " << i;
    absl::Span<const float> ours = absl::MakeConstSpan(probabilities).subspan(i * 10, 10);
    int golden_argmax = 0;
    for (int c = 0; c < 10; ++c) {
      max_difference = std::max(max_difference, std::abs(ours[c] - golden[i].probabilities[c]));
      if (golden[i].probabilities[c] > golden[i].probabilities[golden_argmax]) golden_argmax = c;
    }
    same_argmax += Argmax(ours) == golden_argmax;
    correct += Argmax(ours) == golden[i].label;
  }
  std::cout << (GetParam() ? "optimized" : "as converted") << " golden: max |p - p_keras| = " << max_difference
            << " over 2000 probabilities; same argmax " << same_argmax << "/200; top-1 " << correct << "/200\n";
  EXPECT_LE(max_difference, 1e-5);
  EXPECT_EQ(same_argmax, 200);
  EXPECT_EQ(correct, 174);
}

TEST_P(GoldenTest, FullTestSetGives8719Of10000) {
  ClassificationMetrics metrics(10);
  const int64_t batch = 500;
  for (int64_t start = 0; start < data_.images.size(); start += batch) {
    std::vector<int64_t> indices;
    for (int64_t i = start; i < std::min(start + batch, data_.images.size()); ++i) indices.push_back(i);
    ASSERT_OK_AND_ASSIGN(LabeledImages images, SelectRecords(data_.images, indices));
    const std::vector<float> probabilities = Classify(images);
    for (int64_t i = 0; i < images.size(); ++i) {
      ASSERT_OK(metrics.Add(images.labels[i], Argmax(absl::MakeConstSpan(probabilities).subspan(i * 10, 10))));
    }
  }
  std::cout << (GetParam() ? "optimized" : "as converted") << " full set: " << metrics.correct() << "/"
            << metrics.images() << "\n";
  EXPECT_EQ(metrics.images(), 10000);
  EXPECT_EQ(metrics.correct(), 8719);
}

// A model someone else trained and saved with Keras 3.4.1: Sequential, Keras 3
// config and weight names, MaxPooling2D, a Flatten of 4x4x64, logits out.
TEST(Keras3Golden, TorchScriptModuleAndServedClassifierReproduceKeras) {
  const std::vector<GoldenRow> golden = ReadGolden(testing::SharedDir() + "/golden/keras3_cnn_scaled_first500.csv");
  ASSERT_EQ(golden.size(), 500u);
  InputTransform scaled;
  scaled.scale = {1.0 / 255};
  ASSERT_OK_AND_ASSIGN(LoadedModel model,
                       LoadKerasFile(testing::SharedDir() + "/models/keras3_cifar10_cnn.h5", scaled));
  ASSERT_OK_AND_ASSIGN(CifarDataset data, ReadCifar10(testing::SharedDataDir()));
  std::vector<int64_t> indices;
  for (const GoldenRow& row : golden) indices.push_back(row.index);
  ASSERT_OK_AND_ASSIGN(LabeledImages images, SelectRecords(data.images, indices));

  // The module as written by --format=torchscript: raw pixels in, logits out.
  torch::Tensor pixels =
      torch::from_blob(const_cast<uint8_t*>(images.pixels.data()), {500, 3, 32, 32}, torch::kUInt8).to(torch::kFloat32);
  ASSERT_OK_AND_ASSIGN(ConvertedModule converted, BuildConvertedModule(model));
  torch::jit::Module& module = converted.module;
  torch::Tensor logits = module.forward({pixels}).toTensor().to(torch::kFloat64).contiguous();
  double max_error = 0;
  int correct = 0;
  std::vector<double> golden_logits;
  for (size_t i = 0; i < golden.size(); ++i) {
    int argmax = 0;
    for (int c = 0; c < 10; ++c) {
      const double expected = golden[i].probabilities[c];  // logits, for this model
      golden_logits.push_back(expected);
      max_error =
          std::max(max_error, std::abs(logits[i][c].item<double>() - expected) / std::max(1.0, std::abs(expected)));
      if (logits[i][c].item<double>() > logits[i][argmax].item<double>()) argmax = c;
    }
    correct += argmax == golden[i].label;
  }
  std::cout << "keras3 cnn: max |logit - keras| / max(1, |keras|) = " << max_error << "; top-1 " << correct << "/500\n";
  EXPECT_LE(max_error, 1e-5);
  EXPECT_EQ(correct, 334);  // 66.8%, as Keras gives it

  // The served classifier gives the softmax of those logits.
  const std::vector<double> expected = SoftmaxRows(golden_logits, 10);
  ASSERT_OK_AND_ASSIGN(ServedClassifier classifier_served, MakeServedClassifier(model, /*optimized=*/true));
  const std::unique_ptr<TorchClassifier>& classifier = classifier_served.classifier;
  std::vector<float> probabilities(500 * 10);
  ASSERT_OK(classifier->Classify({images.pixels, 500, PixelLayout::kChannelPlanar}, absl::MakeSpan(probabilities)));
  double max_difference = 0;
  for (size_t i = 0; i < probabilities.size(); ++i) {
    max_difference = std::max(max_difference, std::abs(probabilities[i] - expected[i]));
  }
  EXPECT_LE(max_difference, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Paths, GoldenTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Optimized" : "AsConverted";
                         });

}  // namespace
}  // namespace resnet8
