// The real model behind a real server on 127.0.0.1:0, through the real
// client: the full test set over the wire, layouts, concurrent clients.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "client/evaluator_client.h"
#include "server/server.h"
#include "server/torch/model_loader.h"
#include "server/torch/torch_classifier.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

class ServiceE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto model = LoadKerasFile(testing::SharedModelPath(), {});
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = new LoadedModel(std::move(*model));
    auto made = MakeServedClassifier(*model_, /*optimized=*/true);
    ASSERT_TRUE(made.ok());
    classifier_ = made->classifier.release();
    auto data = ReadCifar10(testing::SharedDataDir());
    ASSERT_TRUE(data.ok()) << data.status();
    data_ = new CifarDataset(std::move(*data));
    ServerOptions options;
    options.address = "127.0.0.1:0";
    ServedModel served;
    served.sha256 = model_->sha256;
    served.class_names = data_->class_names;
    auto server = EvaluatorServer::Start(options, *classifier_, served);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
    server_->SetServing(true);
  }
  static void TearDownTestSuite() {
    delete server_;
    delete classifier_;
    delete data_;
    delete model_;
  }

  EvaluatorClient Client() { return EvaluatorClient(EvaluatorClient::Connect(server_->address())); }

  static LoadedModel* model_;
  static TorchClassifier* classifier_;
  static CifarDataset* data_;
  static EvaluatorServer* server_;
};

LoadedModel* ServiceE2eTest::model_ = nullptr;
TorchClassifier* ServiceE2eTest::classifier_ = nullptr;
CifarDataset* ServiceE2eTest::data_ = nullptr;
EvaluatorServer* ServiceE2eTest::server_ = nullptr;

TEST_F(ServiceE2eTest, FullTestSetOverTheWireGives8719AndTheInProcessProbabilities) {
  EvaluateOptions options;
  options.batch_size = 500;
  ASSERT_OK_AND_ASSIGN(EvaluationResult result, Client().Evaluate(data_->images, options));
  EXPECT_EQ(result.metrics.images(), 10000);
  EXPECT_EQ(result.metrics.correct(), 8719);
  EXPECT_EQ(result.server_report.correct(), 8719u);
  EXPECT_EQ(result.server_report.model_sha256(), model_->sha256);

  // The same batches in process.
  double max_difference = 0;
  std::vector<float> probabilities(500 * 10);
  for (int64_t begin = 0; begin < 10000; begin += 500) {
    ASSERT_OK(classifier_->Classify(
        {absl::MakeConstSpan(data_->images.pixels).subspan(begin * kImageBytes, 500 * kImageBytes), 500,
         PixelLayout::kChannelPlanar},
        absl::MakeSpan(probabilities)));
    for (int64_t i = 0; i < 500; ++i) {
      ASSERT_EQ(result.predictions[begin + i].index, begin + i);
      for (int c = 0; c < 10; ++c) {
        max_difference = std::max(
            max_difference,
            static_cast<double>(std::abs(result.predictions[begin + i].probabilities[c] - probabilities[i * 10 + c])));
      }
    }
  }
  std::cout << "over the wire vs in process: max |difference| = " << max_difference << "\n";
  EXPECT_EQ(max_difference, 0.0) << "the wire must carry the probabilities exactly";
}

TEST_F(ServiceE2eTest, InterleavedLayoutGivesTheSameAnswers) {
  ASSERT_OK_AND_ASSIGN(LabeledImages subset, SelectRecords(data_->images, Perf200Indices()));
  EvaluateOptions planar, hwc;
  planar.batch_size = hwc.batch_size = 50;
  hwc.layout = PixelLayout::kInterleavedHwc;
  ASSERT_OK_AND_ASSIGN(EvaluationResult a, Client().Evaluate(subset, planar));
  ASSERT_OK_AND_ASSIGN(EvaluationResult b, Client().Evaluate(subset, hwc));
  EXPECT_EQ(a.metrics.correct(), 174);
  EXPECT_EQ(a.metrics, b.metrics);
  for (size_t i = 0; i < a.predictions.size(); ++i) {
    EXPECT_EQ(a.predictions[i].probabilities, b.predictions[i].probabilities) << "record " << a.predictions[i].index;
  }
}

TEST_F(ServiceE2eTest, ConcurrentClientsGetTheLoneClientsResults) {
  std::vector<int64_t> first(1000);
  for (int64_t i = 0; i < 1000; ++i) first[i] = i;
  ASSERT_OK_AND_ASSIGN(LabeledImages images, SelectRecords(data_->images, first));
  EvaluateOptions options;
  options.batch_size = 100;
  ASSERT_OK_AND_ASSIGN(EvaluationResult alone, Client().Evaluate(images, options));
  constexpr int kClients = 4;
  std::vector<absl::StatusOr<EvaluationResult>> results(kClients);
  std::vector<std::thread> threads;
  for (int k = 0; k < kClients; ++k) {
    threads.emplace_back([&, k] { results[k] = Client().Evaluate(images, options); });
  }
  for (std::thread& t : threads) t.join();
  for (int k = 0; k < kClients; ++k) {
    ASSERT_OK(results[k]);
    EXPECT_EQ(results[k]->metrics, alone.metrics) << "client " << k;
    for (size_t i = 0; i < alone.predictions.size(); ++i) {
      ASSERT_EQ(results[k]->predictions[i].probabilities, alone.predictions[i].probabilities)
          << "client " << k << " record " << i;
    }
  }
}

TEST_F(ServiceE2eTest, ConcurrentSingleImagesAreBatchedAndAnsweredAsAlone) {
  // Passes sized to the 8 callers: a pass starts as soon as all 8 wait, or
  // after a generous 50 ms, so merging does not depend on tight timing.
  TorchClassifierOptions options;
  options.max_forward_batch = 8;
  options.batching_delay = absl::Milliseconds(50);
  ASSERT_OK_AND_ASSIGN(ServedClassifier batching_served, MakeServedClassifier(*model_, /*optimized=*/true, options));
  const std::unique_ptr<TorchClassifier>& batching = batching_served.classifier;
  constexpr int kThreads = 8, kCalls = 16;
  std::vector<std::vector<float>> alone(kThreads * kCalls, std::vector<float>(10));
  for (int i = 0; i < kThreads * kCalls; ++i) {
    ASSERT_OK(
        classifier_->Classify({data_->images.image(i), 1, PixelLayout::kChannelPlanar}, absl::MakeSpan(alone[i])));
  }
  std::vector<std::vector<float>> merged(kThreads * kCalls, std::vector<float>(10));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kCalls; ++k) {
        const int i = t * kCalls + k;
        if (!batching->Classify({data_->images.image(i), 1, PixelLayout::kChannelPlanar}, absl::MakeSpan(merged[i]))
                 .ok()) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LT(batching->forward_passes(), kThreads * kCalls / 2) << "requests were not merged";
  double worst = 0;
  for (int i = 0; i < kThreads * kCalls; ++i) {
    EXPECT_EQ(Argmax(merged[i]), Argmax(alone[i])) << "record " << i;
    for (int c = 0; c < 10; ++c) worst = std::max(worst, static_cast<double>(std::abs(merged[i][c] - alone[i][c])));
  }
  std::cout << batching->forward_passes() << " forward passes for " << kThreads * kCalls
            << " requests; max |merged - alone| = " << worst << "\n";
  EXPECT_LE(worst, 1e-6);
}

}  // namespace
}  // namespace resnet8
