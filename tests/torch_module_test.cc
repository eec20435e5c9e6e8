// The TorchScript module built from a Keras graph agrees with the reference
// executor, on the shared model and on generated ResNet fixtures of other
// widths and names; and the checks fail when the conversion is wrong.
#include <gtest/gtest.h>

#include <thread>

#include "server/keras/fold_batch_norm.h"
#include "server/keras/self_check.h"
#include "server/torch/model_export.h"
#include "server/torch/model_loader.h"
#include "server/torch/module_check.h"
#include "server/torch/torch_classifier.h"
#include "server/torch/torchscript_builder.h"
#include "tests/keras_fixture.h"
#include "tests/test_support.h"

namespace resnet8 {
namespace {

using testing::MakeResNetFixture;

KerasModel SharedModel() {
  absl::StatusOr<KerasModel> model = LoadKerasModel(testing::SharedModelPath());
  EXPECT_TRUE(model.ok()) << model.status();
  return *model;
}

// The tolerance the converter and the server derive for a float32 module
// built from `built`: from that module's own measured rounding noise.
double Float32Tolerance(const KerasModel& built, TorchModuleOptions options = {}) {
  absl::StatusOr<PrecisionChoice> choice = ChoosePrecision(built, options, PrecisionPolicy::kFloat32, "test");
  EXPECT_TRUE(choice.ok()) << choice.status();
  return choice.ok() ? CheckTolerance(*choice) : 0;
}

TEST(TorchModule, SharedModelAgreesWithTheReferenceExecutor) {
  const KerasModel keras = SharedModel();
  ASSERT_OK_AND_ASSIGN(torch::jit::Module module, BuildTorchModule(keras, {}, "shared"));
  ASSERT_OK_AND_ASSIGN(CheckResult check, CheckModuleAgainstReference(keras, module, Float32Tolerance(keras)));
  EXPECT_TRUE(check.passed) << check.detail;
}

TEST(TorchModule, FoldedBatchNormGivesTheSameOutputs) {
  const KerasModel keras = SharedModel();
  const KerasModel folded = FoldBatchNorm(keras);
  int identities = 0;
  for (const KerasLayer& layer : folded.layers) identities += layer.kind == LayerKind::kIdentity;
  EXPECT_EQ(identities, 7);  // every BatchNormalization follows a convolution
  const TorchModuleOptions fold{.fold_batch_norm = true};
  ASSERT_OK_AND_ASSIGN(torch::jit::Module module, BuildTorchModule(keras, fold, "shared"));
  ASSERT_OK_AND_ASSIGN(CheckResult check, CheckModuleAgainstReference(keras, module, Float32Tolerance(keras, fold)));
  EXPECT_TRUE(check.passed) << check.detail;
}

TEST(TorchModule, ConvertsWidth26ModelWithRenamedLayers) {
  KerasH5File file = MakeResNetFixture({.widths = {26, 52, 104}, .name_offset = 9, .seed = 7});
  ASSERT_OK_AND_ASSIGN(KerasModel keras, BuildKerasModel(file, "resnet26.h5"));
  ASSERT_OK_AND_ASSIGN(torch::jit::Module module, BuildTorchModule(keras, {}, "resnet26.h5"));
  ASSERT_OK_AND_ASSIGN(CheckResult check, CheckModuleAgainstReference(keras, module, Float32Tolerance(keras)));
  EXPECT_TRUE(check.passed) << check.detail;
  bool found = false;
  for (const auto& [name, tensor] : StateDictEntries(module)) {
    if (name == "conv2d_9.weight") {
      found = true;
      EXPECT_EQ(tensor.sizes(), (c10::IntArrayRef{26, 3, 3, 3}));
    }
  }
  EXPECT_TRUE(found);
}

TEST(TorchModule, HonoursBatchNormEpsilonFromTheFile) {
  KerasH5File file = MakeResNetFixture({.widths = {8, 16}, .epsilon = 0.1});
  ASSERT_OK_AND_ASSIGN(KerasModel keras, BuildKerasModel(file, "eps.h5"));
  ASSERT_OK_AND_ASSIGN(torch::jit::Module module, BuildTorchModule(keras, {}, "eps.h5"));
  EXPECT_NE(TorchScriptSource(keras, {}).find("0.10000000000000001"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(CheckResult check, CheckModuleAgainstReference(keras, module, Float32Tolerance(keras)));
  EXPECT_TRUE(check.passed) << check.detail;
}

// The checks must fail when the conversion is wrong: here PyTorch's default
// BatchNorm epsilon replaces the file's, a classic silent port error.
TEST(SelfCheck, FailsWhenBatchNormEpsilonIsWrong) {
  const KerasModel keras = SharedModel();
  KerasModel wrong = keras;
  for (KerasLayer& layer : wrong.layers) layer.epsilon = 1e-5;
  ASSERT_OK_AND_ASSIGN(torch::jit::Module module, BuildTorchModule(wrong, {}, "shared"));
  ASSERT_OK_AND_ASSIGN(CheckResult module_check, CheckModuleAgainstReference(keras, module, Float32Tolerance(wrong)));
  EXPECT_FALSE(module_check.passed) << module_check.detail;
  ASSERT_OK_AND_ASSIGN(auto classifier, TorchClassifier::Create(module, keras.InputShape(), 10, {}));
  ASSERT_OK_AND_ASSIGN(CheckResult check, RunSelfCheck(keras, *classifier, Float32Tolerance(wrong)));
  EXPECT_FALSE(check.passed) << check.detail;
}

// What a naive port does: PyTorch's symmetric padding=1 on the stride-2 3x3
// convolutions, where TF's 'same' pads only the bottom and right.
TEST(SelfCheck, FailsWhenPaddingIsSymmetric) {
  const KerasModel keras = SharedModel();
  std::string code = TorchScriptSource(keras, {});
  const std::string asymmetric = "torch.constant_pad_nd(v";
  ASSERT_NE(code.find(asymmetric), std::string::npos) << code;
  // Rewrite every explicit asymmetric pad + stride-2 conv as padding=1.
  std::string naive;
  for (size_t start = 0; start < code.size();) {
    size_t end = code.find('\n', start);
    std::string line = code.substr(start, end - start);
    const size_t pad = line.find("torch.constant_pad_nd(");
    if (pad != std::string::npos) {
      const size_t arg = pad + std::string("torch.constant_pad_nd(").size();
      const size_t comma = line.find(',', arg);
      const size_t close = line.find("0.0)", comma);
      line = line.substr(0, pad) + line.substr(arg, comma - arg) + line.substr(close + 4);
      line.replace(line.find("[2, 2], [0, 0]"), 14, "[2, 2], [1, 1]");
    }
    naive += line + "\n";
    start = end == std::string::npos ? code.size() : end + 1;
  }
  // The same tensors, with the naive code beside the right one.
  ASSERT_OK_AND_ASSIGN(torch::jit::Module module, BuildTorchModule(keras, {}, "shared"));
  module.define(naive.replace(naive.find("def forward"), 11, "def naive_forward"));
  torch::manual_seed(1);
  torch::Tensor input = torch::rand({3, 3, 32, 32}) * 255;
  torch::Tensor right = module.forward({input}).toTensor();
  torch::Tensor wrong = module.run_method("naive_forward", input).toTensor();
  EXPECT_GT((right - wrong).abs().max().item<double>(), 1e-3) << "symmetric padding went unnoticed";
}

TEST(SelfCheck, PassesForTheSharedModelOnBothServedPaths) {
  ASSERT_OK_AND_ASSIGN(LoadedModel model, LoadKerasFile(testing::SharedModelPath(), {}));
  for (bool optimized : {false, true}) {
    ASSERT_OK_AND_ASSIGN(ServedClassifier served, MakeServedClassifier(model, optimized));
    // The reference model is served in float32, well within the budget.
    EXPECT_EQ(served.precision.precision, Precision::kFloat32) << served.precision.detail;
    ASSERT_OK_AND_ASSIGN(CheckResult check,
                         RunSelfCheck(model.keras, *served.classifier, CheckTolerance(served.precision)));
    EXPECT_TRUE(check.passed) << check.detail;
    EXPECT_LE(check.max_abs_difference, kFaithfulnessBar);
  }
}

// Float pixel values (the inference protocol's FP32 input) that are whole
// numbers give exactly what the same bytes give, alone and when a float and a
// byte request share one forward pass.
TEST(ServedClassifier, FloatPixelValuesGiveWhatTheSameBytesGive) {
  ASSERT_OK_AND_ASSIGN(LoadedModel model, LoadKerasFile(testing::SharedModelPath(), {}));
  TorchClassifierOptions options;
  options.batching_delay = absl::Milliseconds(500);  // the two calls below share a pass
  ASSERT_OK_AND_ASSIGN(ServedClassifier classifier_served, MakeServedClassifier(model, true, options));
  const std::unique_ptr<TorchClassifier>& classifier = classifier_served.classifier;
  std::vector<uint8_t> bytes(3 * kImageBytes);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>((i * 7919) % 256);
  const std::vector<float> values(bytes.begin(), bytes.end());
  std::vector<float> from_bytes(30), alone(30), merged_bytes(30), merged_values(30);
  const ImageBatchView byte_batch{bytes, 3, PixelLayout::kInterleavedHwc};
  ImageBatchView value_batch{{}, 3, PixelLayout::kInterleavedHwc};
  value_batch.values = values;
  ASSERT_OK(classifier->Classify(byte_batch, absl::MakeSpan(from_bytes)));
  ASSERT_OK(classifier->Classify(value_batch, absl::MakeSpan(alone)));
  EXPECT_EQ(alone, from_bytes);
  const int64_t passes = classifier->forward_passes();
  std::thread other([&] { ASSERT_OK(classifier->Classify(byte_batch, absl::MakeSpan(merged_bytes))); });
  ASSERT_OK(classifier->Classify(value_batch, absl::MakeSpan(merged_values)));
  other.join();
  EXPECT_EQ(merged_values, from_bytes);
  EXPECT_EQ(merged_bytes, from_bytes);
  EXPECT_EQ(classifier->forward_passes(), passes + 1) << "the float and byte requests did not share a pass";
  EXPECT_STATUS(classifier->Classify({bytes, 3, PixelLayout::kInterleavedHwc, values}, absl::MakeSpan(alone)),
                absl::StatusCode::kInvalidArgument, "pixel values");
}

// The passes of one large batch, taken by whichever compute thread is free,
// land in their own places: the answer equals one thread's, pass by pass, and
// two large calls at once both come back whole.
TEST(ServedClassifier, PassesSharedAmongComputeThreadsLandInPlace) {
  ASSERT_OK_AND_ASSIGN(LoadedModel model, LoadKerasFile(testing::SharedModelPath(), {}));
  TorchClassifierOptions one_thread, three_threads;
  one_thread.compute_threads = 1;
  one_thread.threads = 1;
  one_thread.max_forward_batch = three_threads.max_forward_batch = 8;
  three_threads.compute_threads = 3;
  three_threads.threads = 1;
  ASSERT_OK_AND_ASSIGN(ServedClassifier serial_served, MakeServedClassifier(model, true, one_thread));
  const std::unique_ptr<TorchClassifier>& serial = serial_served.classifier;
  ASSERT_OK_AND_ASSIGN(ServedClassifier shared_served, MakeServedClassifier(model, true, three_threads));
  const std::unique_ptr<TorchClassifier>& shared = shared_served.classifier;
  constexpr int64_t kImages = 101;  // 12 full passes and one of 5
  std::vector<uint8_t> bytes(kImages * kImageBytes);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>((i * 7919 + i / 977) % 256);
  const ImageBatchView batch{bytes, kImages, PixelLayout::kInterleavedHwc};
  std::vector<float> expected(kImages * 10), first(kImages * 10), second(kImages * 10);
  const int64_t startup_passes = shared->forward_passes();  // the precision measurement's
  ASSERT_OK(serial->Classify(batch, absl::MakeSpan(expected)));
  std::thread other([&] { ASSERT_OK(shared->Classify(batch, absl::MakeSpan(first))); });
  ASSERT_OK(shared->Classify(batch, absl::MakeSpan(second)));
  other.join();
  EXPECT_EQ(first, expected);
  EXPECT_EQ(second, expected);
  EXPECT_EQ(shared->forward_passes() - startup_passes, 2 * 13);
}

// A lone request runs on every core; the passes of a large batch run one per
// compute thread, each on one core. Counted by LibTorch's own thread count, so
// this fails if the team is sized in another OpenMP runtime than LibTorch's.
TEST(ServedClassifier, ALonePassRunsOnEveryCoreAndSharedPassesOnOne) {
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "one core: every pass runs on it";
  ASSERT_OK_AND_ASSIGN(LoadedModel model, LoadKerasFile(testing::SharedModelPath(), {}));
  ASSERT_OK_AND_ASSIGN(ServedClassifier classifier_served, MakeServedClassifier(model, true, {}));
  const std::unique_ptr<TorchClassifier>& classifier = classifier_served.classifier;
  std::vector<uint8_t> bytes(64 * kImageBytes, 128);
  std::vector<float> probabilities(64 * 10);
  // The startup precision measurement ran passes of its own.
  const int64_t startup_passes = classifier->forward_passes();
  const int64_t startup_on_every_core = classifier->passes_on_every_core();
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(
        classifier->Classify({absl::MakeConstSpan(bytes).subspan(0, kImageBytes), 1, PixelLayout::kInterleavedHwc},
                             absl::MakeSpan(probabilities).subspan(0, 10)));
  }
  EXPECT_EQ(classifier->passes_on_every_core() - startup_on_every_core, 5);
  // 64 images are 4 passes of 16: the first three leave work queued, so they
  // run on one core each; only the last may find the other threads idle.
  ASSERT_OK(classifier->Classify({bytes, 64, PixelLayout::kInterleavedHwc}, absl::MakeSpan(probabilities)));
  EXPECT_EQ(classifier->forward_passes() - startup_passes, 5 + 4);
  EXPECT_LE(classifier->passes_on_every_core() - startup_on_every_core, 5 + 1);
}

TEST(ServedClassifier, RefusesModelsItCannotServe) {
  ASSERT_OK_AND_ASSIGN(LoadedModel model, LoadKerasFile(testing::SharedModelPath(), {}));
  ASSERT_OK_AND_ASSIGN(ConvertedModule converted, BuildConvertedModule(model));
  const torch::jit::Module& module = converted.module;
  EXPECT_STATUS(TorchClassifier::Create(module, {64, 64, 3}, 10, {}), absl::StatusCode::kInvalidArgument,
                "models of 32x32x3 images");
  EXPECT_STATUS(LoadKerasFile(testing::SharedModelPath(), {{1.0f, 2.0f}, {0.0f}}), absl::StatusCode::kInvalidArgument,
                "--input_scale has 2 values; the model's input has 3 channels");
}

}  // namespace
}  // namespace resnet8
