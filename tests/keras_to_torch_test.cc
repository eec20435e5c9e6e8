#include "server/torch/keras_to_torch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "nlohmann/json.hpp"
#include "server/keras/reference_executor.h"
#include "server/keras/self_check.h"
#include "server/torch/torch_classifier.h"
#include "tests/keras_fixture.h"
#include "tests/test_support.h"

namespace resnet8 {
namespace {

using nlohmann::json;
using testing::MakeResNetFixture;

// Deterministic images with raw 0..255 values, channels-last (the Keras layout).
std::vector<float> TestImagesHwc(int64_t count) {
  std::vector<float> pixels(count * 32 * 32 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>((i * 37 + (i / 97) * 11) % 256);
  return pixels;
}

torch::Tensor HwcToNchw(const std::vector<float>& pixels, int64_t count) {
  return torch::from_blob(const_cast<float*>(pixels.data()), {count, 32, 32, 3}, torch::kFloat32)
      .permute({0, 3, 1, 2})
      .contiguous();
}

// Largest |a - b| / max(1, |b|) over the logits.
double MaxRelativeLogitError(ResNet8& module, const KerasModel& keras, int64_t count) {
  const std::vector<float> pixels = TestImagesHwc(count);
  absl::StatusOr<ReferenceOutput> reference = RunKerasReference(keras, pixels, count);
  EXPECT_TRUE(reference.ok()) << reference.status();
  torch::InferenceMode inference;
  torch::Tensor logits = module->Logits(HwcToNchw(pixels, count)).contiguous();
  double worst = 0;
  for (int64_t i = 0; i < logits.numel(); ++i) {
    const double expected = reference->logits[i];
    worst = std::max(worst, std::abs(logits.data_ptr<float>()[i] - expected) / std::max(1.0, std::abs(expected)));
  }
  return worst;
}

TEST(KerasToTorch, MatchesTheSharedModel) {
  ASSERT_OK_AND_ASSIGN(KerasModel keras, LoadKerasModel(testing::SharedModelPath()));
  ASSERT_OK_AND_ASSIGN(ResNetSpec spec, MatchResNet(keras, "shared"));
  EXPECT_EQ(spec.Widths(), (std::vector<int64_t>{16, 16, 32, 64}));
  ASSERT_EQ(spec.blocks.size(), 3u);
  EXPECT_FALSE(spec.blocks[0].shortcut_conv.has_value());
  ASSERT_TRUE(spec.blocks[1].shortcut_conv.has_value());
  EXPECT_EQ(spec.blocks[1].shortcut_conv->name, "conv2d_5");
  EXPECT_FALSE(spec.blocks[1].shortcut_bn.has_value());
  // TF 'same' with stride 2 on 32x32: one extra row and column, bottom/right.
  EXPECT_EQ(spec.blocks[1].conv1.padding, (std::array<int64_t, 4>{0, 1, 0, 1}));
  EXPECT_EQ(spec.blocks[0].conv1.padding, (std::array<int64_t, 4>{1, 1, 1, 1}));
  EXPECT_EQ(spec.blocks[1].shortcut_conv->padding, (std::array<int64_t, 4>{0, 0, 0, 0}));
  EXPECT_EQ(spec.stem_bn.epsilon, 0.001);
  EXPECT_EQ(spec.dense.in_features, 64);
}

TEST(KerasToTorch, SharedModelAgreesWithTheReferenceExecutor) {
  ASSERT_OK_AND_ASSIGN(KerasModel keras, LoadKerasModel(testing::SharedModelPath()));
  ASSERT_OK_AND_ASSIGN(ResNet8 module, ConvertToTorch(keras, "shared"));
  EXPECT_LT(MaxRelativeLogitError(module, keras, 3), 1e-4);
}

TEST(KerasToTorch, ConvertsWidth26ModelWithRenamedLayers) {
  KerasH5File file = MakeResNetFixture({.widths = {26, 52, 104}, .name_offset = 9, .seed = 7});
  const std::string path = testing::MakeTempDir() + "/resnet26.h5";
  ASSERT_OK(testing::WriteKerasH5File(file, path));
  ASSERT_OK_AND_ASSIGN(KerasModel keras, LoadKerasModel(path));
  ASSERT_OK_AND_ASSIGN(ResNet8 module, ConvertToTorch(keras, path));
  EXPECT_EQ(module->spec().Widths(), (std::vector<int64_t>{26, 26, 52, 104}));
  EXPECT_EQ(module->spec().stem_conv.name, "conv2d_9");
  EXPECT_EQ(module->spec().dense.name, "dense_9");
  EXPECT_LT(MaxRelativeLogitError(module, keras, 2), 1e-4);
}

TEST(KerasToTorch, HonoursBatchNormEpsilonFromTheFile) {
  KerasH5File file = MakeResNetFixture({.widths = {8, 16}, .epsilon = 0.1});
  ASSERT_OK_AND_ASSIGN(KerasModel keras, BuildKerasModel(file, "eps.h5"));
  ASSERT_OK_AND_ASSIGN(ResNet8 module, ConvertToTorch(keras, "eps.h5"));
  EXPECT_DOUBLE_EQ(module->batch_norm("batch_normalization")->options.eps(), 0.1);
  EXPECT_LT(MaxRelativeLogitError(module, keras, 2), 1e-4);
}

TEST(KerasToTorch, RejectsGraphWithoutShortcut) {
  KerasH5File file = MakeResNetFixture({.widths = {4}});
  json config = json::parse(file.model_config_json);
  for (json& layer : config["config"]["layers"]) {
    // The Add of block 1 now adds the main path to itself: no shortcut.
    if (layer["name"] == "add") layer["inbound_nodes"][0][0][0] = "batch_normalization_2";
  }
  file.model_config_json = config.dump();
  ASSERT_OK_AND_ASSIGN(KerasModel keras, BuildKerasModel(file, "m.h5"));
  EXPECT_STATUS(MatchResNet(keras, "m.h5"), absl::StatusCode::kInvalidArgument, "not the MLPerf Tiny ResNet-v1 family");
}

TEST(KerasToTorch, RejectsConvWithFusedActivation) {
  KerasH5File file = MakeResNetFixture({.widths = {4}});
  json config = json::parse(file.model_config_json);
  for (json& layer : config["config"]["layers"]) {
    if (layer["name"] == "conv2d_2") layer["config"]["activation"] = "relu";
  }
  file.model_config_json = config.dump();
  ASSERT_OK_AND_ASSIGN(KerasModel keras, BuildKerasModel(file, "m.h5"));
  EXPECT_STATUS(MatchResNet(keras, "m.h5"), absl::StatusCode::kInvalidArgument,
                "at layer 'conv2d_2' (Conv2D): expected a linear activation");
}

TEST(KerasToTorch, RejectsPoolThatDoesNotCoverTheFeatureMap) {
  KerasH5File file = MakeResNetFixture({.widths = {4, 8}});
  json config = json::parse(file.model_config_json);
  for (json& layer : config["config"]["layers"]) {
    if (layer["class_name"] == "AveragePooling2D") layer["config"]["pool_size"] = {4, 4};
  }
  file.model_config_json = config.dump();
  ASSERT_OK_AND_ASSIGN(KerasModel keras, BuildKerasModel(file, "m.h5"));
  EXPECT_STATUS(MatchResNet(keras, "m.h5"), absl::StatusCode::kInvalidArgument,
                "expected a pool over the whole 16x16 feature map");
}

// The self-check must fail when the conversion is wrong: here PyTorch's
// default BatchNorm epsilon replaces the file's, a classic silent port error.
TEST(SelfCheck, FailsWhenBatchNormEpsilonIsWrong) {
  ASSERT_OK_AND_ASSIGN(KerasModel keras, LoadKerasModel(testing::SharedModelPath()));
  ASSERT_OK_AND_ASSIGN(ResNet8 module, ConvertToTorch(keras, "shared"));
  for (auto& child : module->named_children()) {
    if (auto* bn = child.value()->as<torch::nn::BatchNorm2dImpl>()) bn->options.eps(1e-5);
  }
  ASSERT_OK_AND_ASSIGN(auto classifier, TorchClassifier::Create(module, {}));
  ASSERT_OK_AND_ASSIGN(SelfCheckResult check, RunSelfCheck(keras, *classifier));
  EXPECT_FALSE(check.passed) << check.detail;
}

TEST(SelfCheck, FailsWhenPaddingIsSymmetric) {
  ASSERT_OK_AND_ASSIGN(KerasModel keras, LoadKerasModel(testing::SharedModelPath()));
  ASSERT_OK_AND_ASSIGN(ResNetSpec spec, MatchResNet(keras, "shared"));
  // What a naive port does: PyTorch's padding=1 on the stride-2 3x3 convs.
  for (ResidualBlockSpec& block : spec.blocks) {
    if (block.conv1.stride[0] == 2) block.conv1.padding = {1, 1, 1, 1};
  }
  ASSERT_OK_AND_ASSIGN(ResNet8 converted, ConvertToTorch(keras, "shared"));
  ResNet8 naive(spec);
  {
    torch::NoGradGuard no_grad;
    auto source = converted->named_parameters();
    for (auto& item : naive->named_parameters()) item.value().copy_(source[item.key()]);
    auto buffers = converted->named_buffers();
    for (auto& item : naive->named_buffers()) item.value().copy_(buffers[item.key()]);
  }
  naive->eval();
  ASSERT_OK_AND_ASSIGN(auto classifier, TorchClassifier::Create(naive, {}));
  ASSERT_OK_AND_ASSIGN(SelfCheckResult check, RunSelfCheck(keras, *classifier));
  EXPECT_FALSE(check.passed) << check.detail;
}

TEST(SelfCheck, PassesForTheSharedModel) {
  ASSERT_OK_AND_ASSIGN(KerasModel keras, LoadKerasModel(testing::SharedModelPath()));
  ASSERT_OK_AND_ASSIGN(ResNet8 module, ConvertToTorch(keras, "shared"));
  ASSERT_OK_AND_ASSIGN(auto classifier, TorchClassifier::Create(module, {}));
  ASSERT_OK_AND_ASSIGN(SelfCheckResult check, RunSelfCheck(keras, *classifier));
  EXPECT_TRUE(check.passed) << check.detail;
  EXPECT_LE(check.max_abs_difference, kSelfCheckTolerance);
}

}  // namespace
}  // namespace resnet8
