// The precision rule (server/torch/precision.h): float32 where its rounding is
// within budget, float64 where it is not; and the checks' tolerance, derived
// from the measured rounding, still fails every planted conversion error by
// orders of magnitude.
#include "server/torch/precision.h"

#include <gtest/gtest.h>

#include <functional>
#include <iostream>
#include <limits>

#include "common/cifar10.h"
#include "server/keras/reference_executor.h"
#include "server/keras/self_check.h"
#include "server/torch/model_loader.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

LoadedModel Shared(const std::string& file = "pretrainedResnet.h5", InputTransform transform = {}) {
  absl::StatusOr<LoadedModel> model = LoadKerasFile(testing::SharedDir() + "/models/" + file, transform);
  EXPECT_TRUE(model.ok()) << model.status();
  return *model;
}

// The reference ResNet8 with its AveragePooling2D(8) head made MaxPooling2D:
// logits in the hundreds, where float32 can move a probability by 2.7e-5.
LoadedModel MaxPoolingHead() {
  LoadedModel model = Shared();
  for (KerasLayer& layer : model.keras.layers) {
    if (layer.kind == LayerKind::kPool2D) layer.pool = PoolOp::kMax;
  }
  return model;
}

TEST(Precision, APathThatOverflowedEarnsNoTolerance) {
  PrecisionChoice overflowed;
  overflowed.rounding_noise = std::numeric_limits<double>::infinity();
  EXPECT_EQ(CheckTolerance(overflowed), 0);
  PrecisionChoice rounded;
  rounded.rounding_noise = 1e-7;
  EXPECT_DOUBLE_EQ(CheckTolerance(rounded), 2e-7 + std::numeric_limits<float>::epsilon() / 2);
}

TEST(Precision, ServesTheReferenceModelInFloat32) {
  ASSERT_OK_AND_ASSIGN(ServedClassifier served, MakeServedClassifier(Shared(), /*optimized=*/true));
  std::cout << served.precision.detail << "\n";
  EXPECT_EQ(served.precision.precision, Precision::kFloat32);
  EXPECT_LE(served.precision.logit_noise / 4, kFloat32NoiseBudget);
}

TEST(Precision, ServesAModelWithLargeLogitsInFloat64CloseToTheExactResult) {
  const LoadedModel model = MaxPoolingHead();
  ASSERT_OK_AND_ASSIGN(ServedClassifier auto_served, MakeServedClassifier(model, true));
  ASSERT_OK_AND_ASSIGN(ServedClassifier float32, MakeServedClassifier(model, true, {}, PrecisionPolicy::kFloat32));
  std::cout << auto_served.precision.detail << "\n";
  EXPECT_EQ(auto_served.precision.precision, Precision::kFloat64);
  // Real test images, against the exact (double) reference executor.
  ASSERT_OK_AND_ASSIGN(CifarDataset data, ReadCifar10(testing::SharedDataDir()));
  constexpr int64_t kImages = 200;
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < kImages; ++i) indices.push_back(i);
  ASSERT_OK_AND_ASSIGN(LabeledImages images, SelectRecords(data.images, indices));
  std::vector<uint8_t> hwc(images.pixels.size());
  for (int64_t i = 0; i < kImages; ++i) {
    PlanarToHwc(absl::MakeConstSpan(images.pixels).subspan(i * kImageBytes, kImageBytes), &hwc[i * kImageBytes]);
  }
  ASSERT_OK_AND_ASSIGN(ReferenceOutput exact,
                       RunKerasReference(model.keras, std::vector<float>(hwc.begin(), hwc.end()), kImages));
  auto distance = [&](const TorchClassifier& classifier) {
    std::vector<float> probabilities(kImages * 10);
    EXPECT_OK(
        classifier.Classify({images.pixels, kImages, PixelLayout::kChannelPlanar}, absl::MakeSpan(probabilities)));
    double worst = 0;
    for (size_t i = 0; i < probabilities.size(); ++i) {
      worst = std::max(worst, std::abs(probabilities[i] - exact.probabilities[i]));
    }
    return worst;
  };
  const double float32_distance = distance(*float32.classifier);
  const double float64_distance = distance(*auto_served.classifier);
  std::cout << "max |p - exact| on " << kImages << " test images: float32 " << float32_distance << ", float64 "
            << float64_distance << "\n";
  EXPECT_GT(float32_distance, kFaithfulnessBar);  // why float64 is chosen
  // float64 is the exact computation: only its float32 output is rounded.
  EXPECT_LE(float64_distance, std::numeric_limits<float>::epsilon());
}

// The float32 noise is measured on the logits even when the softmax that
// makes them probabilities is not the last layer: a Dropout (or a nested
// model's pass-on layer) after it must not hide the noise behind the softmax.
TEST(Precision, MeasuresTheLogitsBehindASoftmaxThatPassOnLayersFollow) {
  const LoadedModel model = MaxPoolingHead();
  LoadedModel trailing = model;
  KerasLayer dropout;
  dropout.kind = LayerKind::kIdentity;
  dropout.class_name = "Dropout";
  dropout.name = "trailing_dropout";
  dropout.inputs = {model.keras.output_layer};
  dropout.output_shape = model.keras.OutputShape();
  trailing.keras.layers.push_back(dropout);
  trailing.keras.output_layer = dropout.name;
  ASSERT_EQ(trailing.keras.Outputs(), OutputKind::kProbabilities);
  ASSERT_OK_AND_ASSIGN(ServedClassifier plain, MakeServedClassifier(model, true));
  ASSERT_OK_AND_ASSIGN(ServedClassifier followed, MakeServedClassifier(trailing, true));
  std::cout << followed.precision.detail << "\n";
  EXPECT_EQ(followed.precision.precision, Precision::kFloat64);
  EXPECT_EQ(followed.precision.logit_noise, plain.precision.logit_noise);
}

// A correct conversion passes its check; each classic port error, planted in
// the served module, misses the same tolerance by a wide margin.
TEST(Precision, PlantedConversionErrorsMissTheDerivedToleranceByOrdersOfMagnitude) {
  struct Planted {
    const char* what;
    std::function<void(KerasModel&)> plant;
  };
  const Planted kPlanted[] = {
      {"PyTorch's BatchNorm epsilon 1e-5 for the file's 1e-3",
       [](KerasModel& m) {
         for (KerasLayer& layer : m.layers) layer.epsilon = 1e-5;
       }},
      {"kernels read as WHIO instead of HWIO",
       [](KerasModel& m) {
         for (KerasLayer& layer : m.layers) {
           KerasWeight& k = layer.weights.kernel;
           if (layer.kind != LayerKind::kConv2D || k.shape[0] != k.shape[1]) continue;
           const int64_t n = k.shape[0], rest = k.shape[2] * k.shape[3];
           std::vector<float> swapped(k.values.size());
           for (int64_t y = 0; y < n; ++y)
             for (int64_t x = 0; x < n; ++x)
               for (int64_t r = 0; r < rest; ++r) swapped[(x * n + y) * rest + r] = k.values[(y * n + x) * rest + r];
           k.values = swapped;
         }
       }},
      {"the Dense kernel 0.1% too large",
       [](KerasModel& m) {
         for (KerasLayer& layer : m.layers) {
           if (layer.kind == LayerKind::kDense) {
             for (float& v : layer.weights.kernel.values) v *= 1.001f;
           }
         }
       }},
  };
  const LoadedModel model = Shared();
  for (const Planted& planted : kPlanted) {
    LoadedModel wrong = model;
    planted.plant(wrong.keras);
    ASSERT_OK_AND_ASSIGN(ServedClassifier served, MakeServedClassifier(wrong, true));
    ASSERT_OK_AND_ASSIGN(CheckResult check,
                         RunSelfCheck(model.keras, *served.classifier, CheckTolerance(served.precision)));
    const double margin = check.max_abs_difference / check.tolerance;
    std::cout << planted.what << ": " << check.detail << "; " << margin << " times the tolerance\n";
    EXPECT_FALSE(check.passed);
    EXPECT_GT(margin, 100) << planted.what;
  }
  // The flatten order, on the model with a real Flatten (4x4x64 into Dense):
  // Keras flattens channels-last; a port that flattens NCHW reads the Dense
  // kernel's rows in the other order.
  InputTransform scaled;
  scaled.scale = {1.0 / 255};
  const LoadedModel cnn = Shared("keras3_cifar10_cnn.h5", scaled);
  LoadedModel wrong = cnn;
  for (KerasLayer& layer : wrong.keras.layers) {
    if (layer.kind != LayerKind::kDense || layer.weights.kernel.shape[0] != 4 * 4 * 64) continue;
    std::vector<float>& k = layer.weights.kernel.values;
    const int64_t units = layer.weights.kernel.shape[1];
    std::vector<float> chw(k.size());
    for (int64_t c = 0; c < 64; ++c)
      for (int64_t p = 0; p < 16; ++p)
        for (int64_t u = 0; u < units; ++u) chw[(c * 16 + p) * units + u] = k[(p * 64 + c) * units + u];
    k = chw;
  }
  ASSERT_OK_AND_ASSIGN(ServedClassifier right_served, MakeServedClassifier(cnn, true));
  ASSERT_OK_AND_ASSIGN(CheckResult right,
                       RunSelfCheck(cnn.keras, *right_served.classifier, CheckTolerance(right_served.precision)));
  EXPECT_TRUE(right.passed) << right.detail;
  ASSERT_OK_AND_ASSIGN(ServedClassifier served, MakeServedClassifier(wrong, true));
  ASSERT_OK_AND_ASSIGN(CheckResult check,
                       RunSelfCheck(cnn.keras, *served.classifier, CheckTolerance(served.precision)));
  std::cout << "flatten order NCHW: " << check.detail << "; " << check.max_abs_difference / check.tolerance
            << " times the tolerance\n";
  EXPECT_FALSE(check.passed);
  EXPECT_GT(check.max_abs_difference / check.tolerance, 100);
}

}  // namespace
}  // namespace resnet8
