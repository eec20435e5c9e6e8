// Several models in one server, and a model replaced while it serves
// (server/repository/model_repository.h): the reference ResNet8 and the
// shared Keras 3 CNN in one repository folder, in process, over real gRPC and
// HTTP sockets. The folder holds links to ../shared's files, never copies.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/client_commands.h"
#include "client/evaluator_client.h"
#include "common/cifar10.h"
#include "common/file.h"
#include "server/model_server.h"
#include "tests/support/keras_fixture.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

using grpc::health::v1::HealthCheckResponse;

// A golden CSV: record index -> the ten values after index and label.
std::map<int64_t, std::vector<double>> ReadGolden(const std::string& path) {
  std::map<int64_t, std::vector<double>> rows;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ',');
    int64_t index = 0;
    EXPECT_TRUE(absl::SimpleAtoi(fields[0], &index)) << line;
    std::vector<double>& values = rows[index];
    for (size_t i = 2; i < fields.size(); ++i) values.push_back(std::stod(fields[i]));
  }
  return rows;
}

std::vector<double> Softmax(const std::vector<double>& logits) {
  double top = logits[0], sum = 0;
  for (double v : logits) top = std::max(top, v);
  std::vector<double> out;
  for (double v : logits) sum += std::exp(v - top);
  for (double v : logits) out.push_back(std::exp(v - top) / sum);
  return out;
}

void Link(const std::string& target, const std::string& path) { ASSERT_EQ(symlink(target.c_str(), path.c_str()), 0); }

// Replaces `path` at once (rename), so that a poll never sees half a change.
void ReplaceWithLink(const std::string& target, const std::string& path) {
  const std::string hidden = path.substr(0, path.rfind('/') + 1) + ".incoming";
  Link(target, hidden);
  ASSERT_EQ(std::rename(hidden.c_str(), path.c_str()), 0);
}

class ModelRepositoryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<CifarDataset> data = ReadCifar10(testing::SharedDataDir());
    ASSERT_TRUE(data.ok()) << data.status();
    data_ = new CifarDataset(*std::move(data));
  }

  // A repository: resnet8/ (the reference model) and cnn/ (the Keras 3 CNN,
  // trained on x/255: its settings.txt says so).
  void SetUp() override {
    folder_ = testing::MakeTempDir();
    for (const char* name : {"/resnet8", "/cnn"}) ASSERT_EQ(mkdir((folder_ + name).c_str(), 0755), 0);
    Link(testing::SharedModelPath(), folder_ + "/resnet8/model.h5");
    Link(testing::SharedDir() + "/models/keras3_cifar10_cnn.h5", folder_ + "/cnn/model.h5");
    ASSERT_OK(WriteFileAtomically(folder_ + "/cnn/settings.txt", "# trained on x/255\ninput_scale = 1/255\n"));
  }

  void StartServer() {
    ModelServerOptions options;
    options.repository.folder = folder_;
    options.repository.default_model = "resnet8";
    options.poll_period = absl::Milliseconds(200);
    options.server.address = "127.0.0.1:0";
    options.server.http_address = "127.0.0.1:0";
    options.server.shutdown_grace = absl::Seconds(1);
    absl::StatusOr<std::unique_ptr<ModelServer>> server = ModelServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  absl::StatusOr<EvaluationResult> Evaluate(const std::string& model, const LabeledImages& images) const {
    const EvaluatorClient client(EvaluatorClient::Connect(server_->address()));
    EvaluateOptions options;
    options.model_name = model;
    // Pinned to the version serving now, as the client CLI does.
    absl::StatusOr<v1::ModelInfo> info = client.GetModelInfo(absl::Seconds(10), model);
    if (!info.ok()) return info.status();
    options.model_version = info->model_version();
    options.batch_size = 250;
    return client.Evaluate(images, options);
  }

  // The repository index over REST, as any HTTP client sees it.
  nlohmann::json RestIndex() const {
    httplib::Client http("http://" + server_->http_address());
    httplib::Result result = http.Post("/v2/repository/index", "", "application/json");
    EXPECT_TRUE(result && result->status == 200);
    return result ? nlohmann::json::parse(result->body) : nlohmann::json();
  }

  // Waits (up to 60 s) until the REST index shows `name` in `state` with
  // `version` (any when 0) and a reason holding `reason`.
  bool WaitForIndex(const std::string& name, int version, const std::string& state,
                    const std::string& reason = "") const {
    for (const absl::Time deadline = absl::Now() + absl::Seconds(60); absl::Now() < deadline;
         absl::SleepFor(absl::Milliseconds(100))) {
      for (const nlohmann::json& row : RestIndex()) {
        if (row["name"] == name && row["state"] == state &&
            (version == 0 || row.value("version", "") == std::to_string(version)) &&
            row.value("reason", "").find(reason) != std::string::npos) {
          return true;
        }
      }
    }
    return false;
  }

  static CifarDataset* data_;
  std::string folder_;
  std::unique_ptr<ModelServer> server_;
};

CifarDataset* ModelRepositoryTest::data_ = nullptr;

void ExpectSameAnswers(const EvaluationResult& a, const EvaluationResult& b) {
  ASSERT_EQ(a.predictions.size(), b.predictions.size());
  for (size_t i = 0; i < a.predictions.size(); ++i) {
    ASSERT_EQ(a.predictions[i].probabilities, b.predictions[i].probabilities) << "image " << i;
  }
}

TEST_F(ModelRepositoryTest, TwoModelsEvaluateSideBySideExactlyAsAlone) {
  StartServer();
  ASSERT_OK_AND_ASSIGN(LabeledImages first500, SelectRecords(data_->images, [] {
                         std::vector<int64_t> indices(500);
                         for (int64_t i = 0; i < 500; ++i) indices[i] = i;
                         return indices;
                       }()));
  // Alone, one after the other.
  ASSERT_OK_AND_ASSIGN(EvaluationResult resnet_alone, Evaluate("resnet8", data_->images));
  ASSERT_OK_AND_ASSIGN(EvaluationResult cnn_alone, Evaluate("cnn", first500));
  EXPECT_EQ(resnet_alone.metrics.correct(), 8719);
  // The CNN against its Keras golden outputs (logits; the server answers their softmax).
  const std::map<int64_t, std::vector<double>> cnn_golden =
      ReadGolden(testing::SharedDir() + "/golden/keras3_cnn_scaled_first500.csv");
  ASSERT_EQ(cnn_golden.size(), 500u);
  double worst = 0;
  for (const ImagePrediction& prediction : cnn_alone.predictions) {
    const std::vector<double> expected = Softmax(cnn_golden.at(prediction.index));
    for (int c = 0; c < 10; ++c) worst = std::max(worst, std::abs(prediction.probabilities[c] - expected[c]));
  }
  EXPECT_LE(worst, 1e-5);
  EXPECT_EQ(cnn_alone.metrics.correct(), 334);  // 66.8%, the golden file's figure
  // The reference model against its golden perf200 outputs.
  const std::map<int64_t, std::vector<double>> resnet_golden = ReadGolden(testing::SharedGoldenPath());
  double resnet_worst = 0;
  for (const auto& [index, expected] : resnet_golden) {
    for (int c = 0; c < 10; ++c) {
      resnet_worst = std::max(resnet_worst, std::abs(resnet_alone.predictions[index].probabilities[c] - expected[c]));
    }
  }
  EXPECT_LE(resnet_worst, 1e-5);

  // Side by side: two streams at once, one per model, and the default model
  // (an empty name) in a third.
  absl::StatusOr<EvaluationResult> resnet_beside, cnn_beside, default_beside;
  std::thread resnet([&] { resnet_beside = Evaluate("resnet8", data_->images); });
  std::thread cnn([&] { cnn_beside = Evaluate("cnn", first500); });
  std::thread by_default([&] { default_beside = Evaluate("", first500); });
  resnet.join();
  cnn.join();
  by_default.join();
  ASSERT_TRUE(resnet_beside.ok()) << resnet_beside.status();
  ASSERT_TRUE(cnn_beside.ok()) << cnn_beside.status();
  ASSERT_TRUE(default_beside.ok()) << default_beside.status();
  ExpectSameAnswers(*resnet_beside, resnet_alone);
  ExpectSameAnswers(*cnn_beside, cnn_alone);
  for (int64_t i = 0; i < 500; ++i) {
    ASSERT_EQ(default_beside->predictions[i].probabilities, resnet_alone.predictions[i].probabilities);
  }
  EXPECT_NE(resnet_beside->server_report.model_sha256(), cnn_beside->server_report.model_sha256());

  // The client's compare: both scores and the images where they disagree,
  // the same as the lone runs give.
  int64_t disagree = 0, only_resnet = 0;
  for (int64_t i = 0; i < 500; ++i) {
    const int r = resnet_alone.predictions[i].predicted, c = cnn_alone.predictions[i].predicted;
    disagree += r != c;
    only_resnet += r != c && r == first500.labels[i];
  }
  ClientOptions compare;
  compare.command = ClientCommand::kCompare;
  compare.server = server_->address();
  compare.compare_models = {"resnet8", "cnn"};
  compare.data = testing::SharedDataDir();
  compare.limit = 500;
  compare.report_html = testing::MakeTempDir() + "/compare.html";
  std::ostringstream out;
  ASSERT_OK_AND_ASSIGN(int exit_code, RunClientCommand(compare, out));
  EXPECT_EQ(exit_code, 0);
  EXPECT_NE(out.str().find("A: resnet8 (version 1"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find(absl::StrCat("they disagree on ", disagree, " of 500 images: only A right ", only_resnet)),
            std::string::npos)
      << out.str();
  ASSERT_OK_AND_ASSIGN(std::string html, ReadFileBytes(compare.report_html));
  EXPECT_NE(html.find(absl::StrCat("<p id=\"disagreements\">", disagree, " of 500 images")), std::string::npos);
  EXPECT_GT(disagree, 0);

  // A name the server does not have: NOT_FOUND, naming the models it has.
  absl::StatusOr<EvaluationResult> unknown = Evaluate("resnet9", first500);
  EXPECT_STATUS(unknown, absl::StatusCode::kNotFound, "no model named 'resnet9'; this server has cnn, resnet8");
}

TEST_F(ModelRepositoryTest, AModelReplacedUnderLoadFinishesOldWorkAndServesTheNewWithoutAFailure) {
  StartServer();
  ASSERT_OK_AND_ASSIGN(EvaluationResult before, Evaluate("resnet8", data_->images));
  const std::string old_sha = before.server_report.model_sha256();
  // The replacement: a different ResNet (fixture weights), written beside the
  // repository.
  const std::string replacement = testing::MakeTempDir() + "/resnet_fixture.h5";
  ASSERT_OK(testing::WriteKerasH5File(testing::MakeResNetFixture({.widths = {8, 16, 32}}), replacement));

  // Probes and small calls all through the swap: every one must succeed.
  std::atomic<bool> done{false};
  std::atomic<int> health_not_serving{0}, classify_failures{0}, classify_calls{0};
  std::thread watcher([&] {
    const EvaluatorClient client(EvaluatorClient::Connect(server_->address()));
    const std::vector<uint8_t> image(data_->images.image(0).begin(), data_->images.image(0).end());
    while (!done.load()) {
      absl::StatusOr<HealthCheckResponse::ServingStatus> health = client.CheckHealth("", absl::Seconds(5));
      if (!health.ok() || *health != HealthCheckResponse::SERVING) health_not_serving.fetch_add(1);
      absl::StatusOr<v1::ClassifyResponse> answer =
          client.Classify({image, 1, PixelLayout::kChannelPlanar}, absl::Seconds(10), "resnet8");
      classify_calls.fetch_add(1);
      if (!answer.ok()) classify_failures.fetch_add(1);
      absl::SleepFor(absl::Milliseconds(20));
    }
  });

  // A full evaluation starts on version 1; the file is replaced while it runs.
  absl::StatusOr<EvaluationResult> during;
  std::thread evaluation([&] { during = Evaluate("resnet8", data_->images); });
  absl::SleepFor(absl::Milliseconds(300));
  ReplaceWithLink(replacement, folder_ + "/resnet8/model.h5");
  evaluation.join();
  ASSERT_TRUE(WaitForIndex("resnet8", 2, "READY"));
  ASSERT_OK_AND_ASSIGN(EvaluationResult after, Evaluate("resnet8", data_->images));
  done.store(true);
  watcher.join();

  // The evaluation that was running finished on the old model, exactly.
  ASSERT_TRUE(during.ok()) << during.status();
  ExpectSameAnswers(*during, before);
  EXPECT_EQ(during->server_report.model_sha256(), old_sha);
  // The next one runs on the new file.
  EXPECT_NE(after.server_report.model_sha256(), old_sha);
  EXPECT_NE(after.metrics.correct(), 8719);
  EXPECT_EQ(health_not_serving.load(), 0);
  EXPECT_EQ(classify_failures.load(), 0) << "of " << classify_calls.load();
  EXPECT_GT(classify_calls.load(), 0);
}

TEST_F(ModelRepositoryTest, ACorruptModelStaysUnloadedWithItsReasonAndTheRestServe) {
  StartServer();
  ASSERT_EQ(mkdir((folder_ + "/broken").c_str(), 0755), 0);
  ASSERT_OK(WriteFileAtomically(folder_ + "/broken/.model.h5", "this is not an HDF5 file"));
  ASSERT_EQ(std::rename((folder_ + "/broken/.model.h5").c_str(), (folder_ + "/broken/model.h5").c_str()), 0);
  // The poll tries it and records why it failed, naming the file.
  EXPECT_TRUE(WaitForIndex("broken", 0, "UNAVAILABLE", folder_ + "/broken/model.h5")) << RestIndex().dump();

  // Asking for it: UNAVAILABLE with the reason; the others still serve.
  ASSERT_OK_AND_ASSIGN(LabeledImages one, SelectRecords(data_->images, {0}));
  EXPECT_STATUS(Evaluate("broken", one), absl::StatusCode::kUnavailable, "model 'broken' is not loaded");
  ASSERT_OK_AND_ASSIGN(EvaluationResult resnet, Evaluate("resnet8", one));
  ASSERT_OK_AND_ASSIGN(EvaluationResult cnn, Evaluate("cnn", one));
  const EvaluatorClient client(EvaluatorClient::Connect(server_->address()));
  ASSERT_OK_AND_ASSIGN(HealthCheckResponse::ServingStatus health, client.CheckHealth("", absl::Seconds(5)));
  EXPECT_EQ(health, HealthCheckResponse::SERVING);

  // Unload over REST: the model leaves the index's READY set; requests for
  // it are UNAVAILABLE; a load brings it back as version 2.
  httplib::Client http("http://" + server_->http_address());
  httplib::Result unloaded = http.Post("/v2/repository/models/cnn/unload", "", "application/json");
  ASSERT_TRUE(unloaded);
  EXPECT_EQ(unloaded->status, 200) << unloaded->body;
  EXPECT_STATUS(Evaluate("cnn", one), absl::StatusCode::kUnavailable, "model 'cnn' is not loaded: unloaded");
  httplib::Result ready = http.Get("/v2/models/cnn/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  httplib::Result loaded = http.Post("/v2/repository/models/cnn/load", "", "application/json");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->status, 200) << loaded->body;
  ASSERT_OK_AND_ASSIGN(EvaluationResult cnn_again, Evaluate("cnn", one));
  EXPECT_EQ(cnn_again.predictions[0].probabilities, cnn.predictions[0].probabilities);
  EXPECT_TRUE(WaitForIndex("cnn", 2, "READY"));
}

}  // namespace
}  // namespace resnet8
