// The server's startup as a library call (server/model_server.h), in
// process: a real model over real loopback sockets, and each way startup
// refuses to serve.
#include "server/model_server.h"

#include <gtest/gtest.h>

#include <cmath>

#include "client/evaluator_client.h"
#include "common/cifar10.h"
#include "common/file.h"
#include "tests/support/keras_fixture.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

ModelServerOptions Options(const std::string& model = testing::SharedModelPath()) {
  ModelServerOptions options;
  options.model_path = model;
  options.server.address = "127.0.0.1:0";
  options.server.shutdown_grace = absl::Seconds(1);
  return options;
}

TEST(ModelServer, StartsAfterItsSelfCheckServesAndShutsDown) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ModelServer> server, ModelServer::Start(Options()));
  std::shared_ptr<const ModelVersion> model = server->default_model();
  ASSERT_NE(model, nullptr);
  EXPECT_TRUE(model->self_check().passed) << model->self_check().detail;
  EXPECT_EQ(model->description().precision, "float32");
  EXPECT_GT(server->port(), 0);
  const EvaluatorClient client(EvaluatorClient::Connect(server->address()));
  ASSERT_OK_AND_ASSIGN(ServingStatus health, client.CheckHealth("", absl::Seconds(5)));
  EXPECT_EQ(health, grpc::health::v1::HealthCheckResponse::SERVING);

  ASSERT_OK_AND_ASSIGN(CifarDataset data, ReadCifar10(testing::SharedDataDir()));
  ASSERT_OK_AND_ASSIGN(v1::ClassifyResponse answer,
                       client.Classify({data.images.image(0), 1, PixelLayout::kChannelPlanar}, absl::Seconds(10)));
  ASSERT_EQ(answer.predictions_size(), 1);
  double sum = 0;
  for (float p : answer.predictions(0).probabilities()) sum += p;
  EXPECT_NEAR(sum, 1.0, 1e-5);

  server->Shutdown();
  absl::StatusOr<ServingStatus> after = client.CheckHealth("", absl::Seconds(2));
  EXPECT_TRUE(!after.ok() || *after != grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST(ModelServer, RefusesOptionsOutOfRangeNamingTheFlag) {
  ModelServerOptions no_model = Options("");
  EXPECT_STATUS(ModelServer::Start(no_model), absl::StatusCode::kInvalidArgument,
                "--model or --model_repository is required");
  ModelServerOptions threads = Options();
  threads.inference.threads = -1;
  EXPECT_STATUS(ModelServer::Start(threads), absl::StatusCode::kInvalidArgument, "--threads=-1 is outside 0..1024");
  ModelServerOptions delay = Options();
  delay.inference.batching_delay = absl::Seconds(2);
  EXPECT_STATUS(ModelServer::Start(delay), absl::StatusCode::kInvalidArgument,
                "--batching_delay_us=2000000 is outside 0..1000000");
  ModelServerOptions batch = Options();
  batch.server.limits.max_batch_images = 0;
  EXPECT_STATUS(ModelServer::Start(batch), absl::StatusCode::kInvalidArgument, "max_batch_images 0 is outside");
}

TEST(ModelServer, RefusesAFileItCannotReadNamingIt) {
  EXPECT_STATUS(ModelServer::Start(Options("/nonexistent/model.h5")), absl::StatusCode::kNotFound,
                "/nonexistent/model.h5");
  const std::string text = testing::MakeTempDir() + "/notes.h5";
  ASSERT_OK(WriteFileAtomically(text, "not a model"));
  absl::StatusOr<std::unique_ptr<ModelServer>> started = ModelServer::Start(Options(text));
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.status().message().find(text), std::string::npos) << started.status();
}

TEST(ModelServer, RefusesAnAddressInUse) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ModelServer> first, ModelServer::Start(Options()));
  ModelServerOptions same = Options();
  same.server.address = first->address();
  EXPECT_STATUS(ModelServer::Start(same), absl::StatusCode::kUnavailable, first->address());
}

// A model whose first convolution overflows float32 (kernel values of 1e37,
// undone by a BatchNorm gamma of 1e-37): forced to float32 and run as
// converted, the served path gives NaN where the exact arithmetic gives
// numbers, and startup refuses.
TEST(ModelServer, RefusesToServeWhenTheSelfCheckFails) {
  KerasH5File file = testing::MakeResNetFixture({.widths = {4, 8, 16}});
  for (float& w : testing::FindWeight(file, "conv2d/kernel:0")->values) w = w < 0 ? -1e37f : 1e37f;
  for (float& g : testing::FindWeight(file, "batch_normalization/gamma:0")->values) g = 1e-37f;
  const std::string path = testing::MakeTempDir() + "/overflowing.h5";
  ASSERT_OK(testing::WriteKerasH5File(file, path));
  ModelServerOptions options = Options(path);
  options.precision = PrecisionPolicy::kFloat32;
  options.optimize = false;
  EXPECT_STATUS(ModelServer::Start(options), absl::StatusCode::kInternal, "FAILED");
  // Left to choose, the server measures the overflow and serves float64.
  options.precision = PrecisionPolicy::kAuto;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ModelServer> server, ModelServer::Start(options));
  std::shared_ptr<const ModelVersion> model = server->default_model();
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->description().precision, "float64");
  EXPECT_TRUE(model->self_check().passed) << model->self_check().detail;
}

}  // namespace
}  // namespace resnet8
