// The served classifier (torch_classifier.h, made by model_loader.h): float
// and byte inputs agree, the passes of a large batch land in place whichever
// compute thread runs them, the thread teams are sized as intended, and
// models it cannot serve are refused.
#include "server/torch/torch_classifier.h"

#include <gtest/gtest.h>

#include <thread>

#include "server/torch/model_loader.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

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

// A large lone pass runs on every core; a small lone pass, and the passes of
// a large batch, run one per compute thread, each on one core. Counted by
// LibTorch's own thread count, so this fails if the team is sized in another
// OpenMP runtime than LibTorch's.
TEST(ServedClassifier, ALargeLonePassRunsOnEveryCoreOtherPassesOnOne) {
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "one core: every pass runs on it";
  ASSERT_OK_AND_ASSIGN(LoadedModel model, LoadKerasFile(testing::SharedModelPath(), {}));
  TorchClassifierOptions whole_passes;
  whole_passes.max_forward_batch = kSplitLonePassFromImages;
  ASSERT_OK_AND_ASSIGN(ServedClassifier classifier_served, MakeServedClassifier(model, true, whole_passes));
  const std::unique_ptr<TorchClassifier>& classifier = classifier_served.classifier;
  const int64_t large = kSplitLonePassFromImages;
  std::vector<uint8_t> bytes(4 * large * kImageBytes, 128);
  std::vector<float> probabilities(4 * large * 10);
  // The startup precision measurement ran passes of its own.
  const int64_t startup_passes = classifier->forward_passes();
  const int64_t startup_on_every_core = classifier->passes_on_every_core();
  for (int64_t count : {int64_t{1}, large - 1}) {
    ASSERT_OK(classifier->Classify(
        {absl::MakeConstSpan(bytes).subspan(0, count * kImageBytes), count, PixelLayout::kInterleavedHwc},
        absl::MakeSpan(probabilities).subspan(0, count * 10)));
  }
  EXPECT_EQ(classifier->passes_on_every_core() - startup_on_every_core, 0);
  ASSERT_OK(classifier->Classify(
      {absl::MakeConstSpan(bytes).subspan(0, large * kImageBytes), large, PixelLayout::kInterleavedHwc},
      absl::MakeSpan(probabilities).subspan(0, large * 10)));
  EXPECT_EQ(classifier->passes_on_every_core() - startup_on_every_core, 1);
  // Four large passes: the first three leave work queued, so they run on one
  // core each; only the last may find the other threads idle.
  ASSERT_OK(classifier->Classify({bytes, 4 * large, PixelLayout::kInterleavedHwc}, absl::MakeSpan(probabilities)));
  EXPECT_EQ(classifier->forward_passes() - startup_passes, 3 + 4);
  EXPECT_LE(classifier->passes_on_every_core() - startup_on_every_core, 1 + 1);
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
