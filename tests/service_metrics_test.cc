// The Prometheus endpoint, scraped over real HTTP after real gRPC calls to a
// server with a fake classifier; and the text format itself.
#include "server/service_metrics.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "client/evaluator_client.h"
#include "server/server.h"
#include "tests/support/fake_classifier.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

std::string Scrape(const std::string& address, const std::string& path = "/metrics", int* status = nullptr) {
  const size_t colon = address.rfind(':');
  httplib::Client http(address.substr(0, colon), std::stoi(address.substr(colon + 1)));
  httplib::Result result = http.Get(path.c_str());
  if (!result) return "no response";
  if (status != nullptr) *status = result->status;
  return result->body;
}

TEST(ServiceMetrics, ScrapedAfterCallsCountsThemByMethodAndCode) {
  FirstByteClassifier classifier;
  ServerOptions options;
  options.address = "127.0.0.1:0";
  options.metrics_address = "127.0.0.1:0";
  ServedModel model = FakeServedModel();
  model.sha256 = "abc123";
  model.file = "model.h5";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EvaluatorServer> server, EvaluatorServer::Start(options, classifier, model));
  ASSERT_NE(server->metrics_address(), "");
  EXPECT_NE(Scrape(server->metrics_address()).find("resnet8_serving 0\n"), std::string::npos);
  server->SetServing(true);

  EvaluatorClient client(EvaluatorClient::Connect(server->address()));
  std::vector<uint8_t> pixels(3 * kImageBytes, 5);
  ASSERT_OK(client.Classify({pixels, 3, PixelLayout::kChannelPlanar}, absl::Seconds(5)));
  ASSERT_OK(client.Classify({absl::MakeConstSpan(pixels).subspan(0, kImageBytes), 1, PixelLayout::kChannelPlanar},
                            absl::Seconds(5)));
  EXPECT_FALSE(
      client.Classify({absl::MakeConstSpan(pixels).subspan(1), 1, PixelLayout::kChannelPlanar}, absl::Seconds(5)).ok());
  LabeledImages images;
  images.pixels.assign(10 * kImageBytes, 7);
  for (int i = 0; i < 10; ++i) {
    images.labels.push_back(static_cast<uint8_t>(i));
    images.indices.push_back(i);
  }
  EvaluateOptions evaluate;
  evaluate.batch_size = 4;          // batches of 4, 4 and 2
  evaluate.batches_per_stream = 0;  // one stream, so one call
  ASSERT_OK(client.Evaluate(images, evaluate));

  const std::string text = Scrape(server->metrics_address());
  for (const char* line : {
           "resnet8_requests_total{method=\"Classify\",code=\"OK\"} 2\n",
           "resnet8_requests_total{method=\"Classify\",code=\"INVALID_ARGUMENT\"} 1\n",
           "resnet8_requests_total{method=\"EvaluateDataset\",code=\"OK\"} 1\n",
           "resnet8_images_classified_total{method=\"Classify\",model=\"resnet8\"} 4\n",
           "resnet8_images_classified_total{method=\"EvaluateDataset\",model=\"resnet8\"} 10\n",
           "resnet8_batch_images_bucket{method=\"EvaluateDataset\",le=\"2\"} 1\n",
           "resnet8_batch_images_bucket{method=\"EvaluateDataset\",le=\"4\"} 3\n",
           "resnet8_batch_images_count{method=\"EvaluateDataset\"} 3\n",
           "resnet8_request_seconds_count{method=\"Classify\"} 3\n",
           "resnet8_evaluate_streams_in_flight 0\n",
           "resnet8_serving 1\n",
           "resnet8_model_info{model=\"resnet8\",version=\"1\",sha256=\"abc123\",file=\"model.h5\",keras_version=\"\","
           "runtime=\"\",outputs="
           "\"probabilities\"} 1\n",
           "# TYPE resnet8_request_seconds histogram\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "in:\n" << text;
  }
  int status = 0;
  Scrape(server->metrics_address(), "/other", &status);
  EXPECT_EQ(status, 404);
}

// The gauge's value in `text`, or -1.
int64_t HeapInUse(const std::string& text) {
  const std::string name = "\nresnet8_heap_in_use_bytes ";
  const size_t at = text.find(name);
  return at == std::string::npos ? -1 : std::stoll(text.substr(at + name.size()));
}

// ASan's allocator replaces glibc's, whose arenas mallinfo2() reports. GCC
// says so with __SANITIZE_ADDRESS__, clang with __has_feature.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kGlibcAllocator = false;
#elif defined(__has_feature)
constexpr bool kGlibcAllocator = !__has_feature(address_sanitizer);
#else
constexpr bool kGlibcAllocator = true;
#endif

TEST(ServiceMetrics, HeapInUseCountsWhatIsHeldNotWhatWasFreed) {
  if (!kGlibcAllocator) GTEST_SKIP() << "built with ASan, whose allocator replaces glibc's";
  const ServiceMetrics metrics;
  const int64_t before = HeapInUse(metrics.RenderPrometheus());
  ASSERT_GT(before, 0);
  constexpr int64_t kHeld = 64 << 20;
  auto held = std::make_unique<char[]>(kHeld);
  std::memset(held.get(), 1, kHeld);
  const int64_t holding = HeapInUse(metrics.RenderPrometheus());
  held.reset();
  const int64_t after = HeapInUse(metrics.RenderPrometheus());
  EXPECT_GE(holding - before, kHeld);
  EXPECT_LT(after - before, kHeld / 8);
}

TEST(ServiceMetrics, RefusesAnAddressWithoutAPort) {
  FirstByteClassifier classifier;
  ServerOptions options;
  options.address = "127.0.0.1:0";
  options.metrics_address = "localhost";
  EXPECT_STATUS(EvaluatorServer::Start(options, classifier, {}), absl::StatusCode::kInvalidArgument,
                "metrics address 'localhost' is not HOST:PORT");
}

TEST(Histogram, RendersCumulativeBucketsSumAndCount) {
  Histogram histogram({1, 5});
  for (double value : {0.5, 1.0, 3.0, 9.0}) histogram.Observe(value);
  std::string text;
  histogram.Render("x", "m=\"a\"", &text);
  EXPECT_EQ(text,
            "x_bucket{m=\"a\",le=\"1\"} 2\n"
            "x_bucket{m=\"a\",le=\"5\"} 3\n"
            "x_bucket{m=\"a\",le=\"+Inf\"} 4\n"
            "x_sum{m=\"a\"} 13.5\n"
            "x_count{m=\"a\"} 4\n");
}

}  // namespace
}  // namespace resnet8
