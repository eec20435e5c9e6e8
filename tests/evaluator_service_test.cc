// The service over a real gRPC socket with a fake classifier: every bad
// request kind, classifier failure, readiness and health, cancellation,
// deadlines and shutdown during a stream.
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/client_unary_call.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

#include "client/evaluator_client.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "server/server.h"
#include "tests/support/fake_classifier.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

using grpc::health::v1::HealthCheckResponse;

// `count` images; image i has every byte equal to `first_byte(i)`, label i % 10.
LabeledImages MakeImages(
    int64_t count, std::function<uint8_t(int64_t)> first_byte = [](int64_t i) { return i; }) {
  LabeledImages images;
  for (int64_t i = 0; i < count; ++i) {
    images.pixels.insert(images.pixels.end(), kImageBytes, first_byte(i));
    images.labels.push_back(static_cast<uint8_t>(i % 10));
    images.indices.push_back(1000 + i);
  }
  return images;
}

class ServiceTest : public ::testing::Test {
 protected:
  void StartServer(int64_t max_batch_images = 8, absl::Duration grace = absl::Seconds(2), int64_t max_streams = 32) {
    ServerOptions options;
    options.address = "127.0.0.1:0";
    options.limits.max_batch_images = max_batch_images;
    options.limits.max_concurrent_streams = max_streams;
    options.shutdown_grace = grace;
    ASSERT_OK_AND_ASSIGN(server_, EvaluatorServer::Start(options, classifier_, FakeServedModel()));
    channel_ = EvaluatorClient::Connect(server_->address());
    client_ = std::make_unique<EvaluatorClient>(channel_);
    stub_ = v1::Evaluator::NewStub(channel_);
  }

  v1::ClassifyRequest ClassifyRequestOf(int count, size_t bytes, v1::PixelLayout layout) {
    v1::ClassifyRequest request;
    request.mutable_images()->set_layout(layout);
    request.mutable_images()->set_count(count);
    request.mutable_images()->set_pixels(std::string(bytes, '\3'));
    return request;
  }

  grpc::Status CallClassify(const v1::ClassifyRequest& request, v1::ClassifyResponse* response = nullptr) {
    grpc::ClientContext context;
    v1::ClassifyResponse ignored;
    return stub_->Classify(&context, request, response != nullptr ? response : &ignored);
  }

  // Sends one EvaluateRequest on a fresh stream and returns the stream's status.
  grpc::Status EvaluateOnce(const v1::EvaluateRequest& request) {
    grpc::ClientContext context;
    auto stream = stub_->EvaluateDataset(&context);
    stream->Write(request);
    stream->WritesDone();
    v1::EvaluateResponse response;
    while (stream->Read(&response)) {
    }
    return stream->Finish();
  }

  v1::EvaluateRequest ValidEvaluateRequest(int count) {
    v1::EvaluateRequest request;
    request.mutable_images()->set_layout(v1::PIXEL_LAYOUT_CHANNEL_PLANAR);
    request.mutable_images()->set_count(count);
    request.mutable_images()->set_pixels(std::string(count * kImageBytes, '\1'));
    for (int i = 0; i < count; ++i) request.add_labels(i % 10);
    return request;
  }

  FirstByteClassifier classifier_;
  std::unique_ptr<EvaluatorServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<EvaluatorClient> client_;
  std::unique_ptr<v1::Evaluator::Stub> stub_;
};

#define EXPECT_GRPC_STATUS(status, expected_code, substring)                                \
  do {                                                                                      \
    const grpc::Status s_ = (status);                                                       \
    EXPECT_EQ(s_.error_code(), expected_code) << s_.error_message();                        \
    EXPECT_NE(s_.error_message().find(substring), std::string::npos) << s_.error_message(); \
  } while (0)

TEST_F(ServiceTest, HealthIsNotServingUntilReadyThenServing) {
  StartServer();
  ASSERT_OK_AND_ASSIGN(auto before, client_->CheckHealth("", absl::Seconds(5)));
  EXPECT_EQ(before, HealthCheckResponse::NOT_SERVING);
  server_->SetServing(true);
  ASSERT_OK_AND_ASSIGN(auto whole, client_->CheckHealth("", absl::Seconds(5)));
  EXPECT_EQ(whole, HealthCheckResponse::SERVING);
  ASSERT_OK_AND_ASSIGN(auto service, client_->CheckHealth("resnet8.v1.Evaluator", absl::Seconds(5)));
  EXPECT_EQ(service, HealthCheckResponse::SERVING);
  server_->SetServing(false);
  ASSERT_OK_AND_ASSIGN(auto after, client_->CheckHealth("", absl::Seconds(5)));
  EXPECT_EQ(after, HealthCheckResponse::NOT_SERVING);
}

TEST_F(ServiceTest, ModelInfoDescribesTheServedModelItsLimitsAndTheSelfCheck) {
  StartServer(/*max_batch_images=*/8);
  server_->SetServing(true);
  ASSERT_OK_AND_ASSIGN(v1::ModelInfo before, client_->GetModelInfo(absl::Seconds(5)));
  EXPECT_EQ(before.model_name(), "resnet8");
  EXPECT_EQ(before.model_version(), 1u);
  EXPECT_EQ(before.model_sha256(), "fake");
  EXPECT_EQ(before.model_file(), "fake.h5");
  ASSERT_EQ(before.class_names_size(), 10);
  EXPECT_EQ(before.class_names(9), "class9");
  EXPECT_EQ(before.limits().max_batch_images(), 8u);
  EXPECT_EQ(before.limits().max_message_bytes(), static_cast<uint64_t>(MaxRequestBytes({.max_batch_images = 8})));
  EXPECT_EQ(before.input().height(), 32u);
  EXPECT_EQ(before.input().layouts_size(), 2);
  // A classifier handed to the server directly was checked by its owner.
  EXPECT_TRUE(before.self_check().passed());
  EXPECT_EQ(before.self_check().detail(), "not run: a classifier given to the server directly");
}

TEST_F(ServiceTest, RejectsCallsWhileNotReady) {
  StartServer();
  EXPECT_GRPC_STATUS(CallClassify(ClassifyRequestOf(1, kImageBytes, v1::PIXEL_LAYOUT_CHANNEL_PLANAR)),
                     grpc::StatusCode::UNAVAILABLE, "not ready");
  EXPECT_EQ(classifier_.calls(), 0);
}

TEST_F(ServiceTest, ClassifyAnswersEachImageInOrder) {
  StartServer();
  server_->SetServing(true);
  LabeledImages images = MakeImages(3, [](int64_t i) { return static_cast<uint8_t>(i + 4); });
  ASSERT_OK_AND_ASSIGN(v1::ClassifyResponse response,
                       client_->Classify({images.pixels, 3, PixelLayout::kChannelPlanar}, absl::Seconds(5)));
  ASSERT_EQ(response.predictions_size(), 3);
  EXPECT_EQ(response.predictions(2).index(), 2u);
  EXPECT_EQ(response.predictions(2).predicted_class(), 6u);
  EXPECT_EQ(response.predictions(2).predicted_class_name(), "class6");
  EXPECT_EQ(response.predictions(2).probabilities_size(), 10);
}

TEST_F(ServiceTest, RejectsEmptyBatch) {
  StartServer();
  server_->SetServing(true);
  EXPECT_GRPC_STATUS(CallClassify(ClassifyRequestOf(0, 0, v1::PIXEL_LAYOUT_CHANNEL_PLANAR)),
                     grpc::StatusCode::INVALID_ARGUMENT, "images.count is 0");
}

TEST_F(ServiceTest, RejectsWrongByteCount) {
  StartServer();
  server_->SetServing(true);
  EXPECT_GRPC_STATUS(CallClassify(ClassifyRequestOf(2, kImageBytes + 5, v1::PIXEL_LAYOUT_CHANNEL_PLANAR)),
                     grpc::StatusCode::INVALID_ARGUMENT,
                     "images.pixels has 3077 bytes; images.count 2 needs exactly 6144");
}

TEST_F(ServiceTest, RejectsUnspecifiedAndUnknownLayouts) {
  StartServer();
  server_->SetServing(true);
  EXPECT_GRPC_STATUS(CallClassify(ClassifyRequestOf(1, kImageBytes, v1::PIXEL_LAYOUT_UNSPECIFIED)),
                     grpc::StatusCode::INVALID_ARGUMENT, "images.layout is 0");
  EXPECT_GRPC_STATUS(CallClassify(ClassifyRequestOf(1, kImageBytes, static_cast<v1::PixelLayout>(7))),
                     grpc::StatusCode::INVALID_ARGUMENT, "images.layout is 7");
}

TEST_F(ServiceTest, RejectsMoreImagesThanAllowed) {
  StartServer(/*max_batch_images=*/8);
  server_->SetServing(true);
  EXPECT_GRPC_STATUS(CallClassify(ClassifyRequestOf(9, 9 * kImageBytes, v1::PIXEL_LAYOUT_CHANNEL_PLANAR)),
                     grpc::StatusCode::RESOURCE_EXHAUSTED, "above this server's max_batch_images of 8");
  EXPECT_EQ(classifier_.calls(), 0);
}

TEST_F(ServiceTest, RejectsOversizedMessageAtTheTransport) {
  StartServer(/*max_batch_images=*/8);
  server_->SetServing(true);
  EXPECT_EQ(CallClassify(ClassifyRequestOf(100, 100 * kImageBytes, v1::PIXEL_LAYOUT_CHANNEL_PLANAR)).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(ServiceTest, ClassifierFailureIsInternalAndTheServerKeepsServing) {
  StartServer();
  server_->SetServing(true);
  LabeledImages bad = MakeImages(1, [](int64_t) { return 255; });
  v1::ClassifyRequest request;
  request.mutable_images()->set_layout(v1::PIXEL_LAYOUT_CHANNEL_PLANAR);
  request.mutable_images()->set_count(1);
  request.mutable_images()->set_pixels(std::string(bad.pixels.begin(), bad.pixels.end()));
  EXPECT_GRPC_STATUS(CallClassify(request), grpc::StatusCode::INTERNAL, "fake classifier failure");
  EXPECT_TRUE(CallClassify(ClassifyRequestOf(1, kImageBytes, v1::PIXEL_LAYOUT_CHANNEL_PLANAR)).ok());
}

TEST_F(ServiceTest, EvaluateRejectsLabelCountMismatch) {
  StartServer();
  server_->SetServing(true);
  v1::EvaluateRequest request = ValidEvaluateRequest(3);
  request.mutable_labels()->RemoveLast();
  EXPECT_GRPC_STATUS(EvaluateOnce(request), grpc::StatusCode::INVALID_ARGUMENT, "labels has 2 entries for 3 images");
}

TEST_F(ServiceTest, EvaluateRejectsLabelOutOfRange) {
  StartServer();
  server_->SetServing(true);
  v1::EvaluateRequest request = ValidEvaluateRequest(3);
  request.set_labels(1, 10);
  EXPECT_GRPC_STATUS(EvaluateOnce(request), grpc::StatusCode::INVALID_ARGUMENT, "labels[1] is 10, outside 0..9");
}

TEST_F(ServiceTest, EvaluateRejectsIndicesCountMismatch) {
  StartServer();
  server_->SetServing(true);
  v1::EvaluateRequest request = ValidEvaluateRequest(3);
  request.add_indices(5);
  EXPECT_GRPC_STATUS(EvaluateOnce(request), grpc::StatusCode::INVALID_ARGUMENT, "indices has 1 entries for 3 images");
}

TEST_F(ServiceTest, EvaluateNumbersImagesWhenNoIndicesAreSent) {
  StartServer();
  server_->SetServing(true);
  grpc::ClientContext context;
  auto stream = stub_->EvaluateDataset(&context);
  ASSERT_TRUE(stream->Write(ValidEvaluateRequest(2)));
  ASSERT_TRUE(stream->Write(ValidEvaluateRequest(3)));
  stream->WritesDone();
  std::vector<uint64_t> indices;
  v1::EvaluateResponse response;
  while (stream->Read(&response)) {
    for (const auto& p : response.predictions()) indices.push_back(p.index());
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(indices, (std::vector<uint64_t>{0, 1, 2, 3, 4}));
}

TEST_F(ServiceTest, EvaluateReportAgreesWithTheClientsOwnCount) {
  StartServer();
  server_->SetServing(true);
  // Image i has first byte 3i, so the fake predicts class 3i % 10; label is i % 10.
  LabeledImages images = MakeImages(25, [](int64_t i) { return static_cast<uint8_t>(i * 3); });
  EvaluateOptions options;
  options.batch_size = 4;
  ASSERT_OK_AND_ASSIGN(EvaluationResult result, client_->Evaluate(images, options));
  int expected_correct = 0;
  for (int i = 0; i < 25; ++i) expected_correct += (i * 3) % 10 == i % 10;
  EXPECT_EQ(result.metrics.images(), 25);
  EXPECT_EQ(result.metrics.correct(), expected_correct);
  EXPECT_EQ(result.server_report.correct(), static_cast<uint64_t>(expected_correct));
  EXPECT_EQ(result.server_report.model_sha256(), "fake");
  EXPECT_EQ(result.predictions[7].index, 1007);
  EXPECT_EQ(result.predictions[7].predicted, 1);
}

TEST_F(ServiceTest, CancelledStreamStopsTheWork) {
  StartServer();
  server_->SetServing(true);
  classifier_.set_delay(absl::Milliseconds(20));
  int at_cancel = 0;
  {
    grpc::ClientContext context;
    auto stream = stub_->EvaluateDataset(&context);
    // The server's 16 KiB lookahead (server.cc) lets about five of these
    // wait in the transport beyond the one being read; the writes block
    // until the server has taken the rest.
    for (int i = 0; i < 50; ++i) stream->Write(ValidEvaluateRequest(1));
    v1::EvaluateResponse response;
    ASSERT_TRUE(stream->Read(&response));
    at_cancel = classifier_.calls();
    context.TryCancel();
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  absl::SleepFor(absl::Milliseconds(200));
  const int calls = classifier_.calls();
  // At most the pass that was running and one read before the cancel
  // arrived; a server that ignored it would classify the five or so waiting.
  EXPECT_LE(calls - at_cancel, 2) << "the server went on classifying for a cancelled stream";
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(classifier_.calls(), calls);
  classifier_.set_delay(absl::ZeroDuration());
  EXPECT_TRUE(CallClassify(ClassifyRequestOf(1, kImageBytes, v1::PIXEL_LAYOUT_CHANNEL_PLANAR)).ok());
}

TEST_F(ServiceTest, DeadlineEndsTheStreamAndItsWork) {
  StartServer();
  server_->SetServing(true);
  classifier_.set_delay(absl::Milliseconds(50));
  EvaluateOptions options;
  options.batch_size = 1;
  options.timeout = absl::Milliseconds(300);
  EXPECT_STATUS(client_->Evaluate(MakeImages(100), options), absl::StatusCode::kDeadlineExceeded, "");
  absl::SleepFor(absl::Milliseconds(200));
  const int calls = classifier_.calls();
  EXPECT_LT(calls, 20);
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(classifier_.calls(), calls);
}

TEST_F(ServiceTest, ShutdownDuringAStreamLetsItFinishWithinTheGrace) {
  StartServer(/*max_batch_images=*/8, /*grace=*/absl::Seconds(5));
  server_->SetServing(true);
  classifier_.set_delay(absl::Milliseconds(10));
  absl::StatusOr<EvaluationResult> result;
  std::thread client([&] {
    EvaluateOptions options;
    options.batch_size = 2;
    options.batches_per_stream = 0;  // the one stream in flight carries all of it
    result = client_->Evaluate(MakeImages(40), options);
  });
  while (classifier_.calls() < 2) absl::SleepFor(absl::Milliseconds(1));
  server_->Shutdown();  // returns once the stream is done
  client.join();
  ASSERT_OK(result);
  EXPECT_EQ(result->metrics.images(), 40);
}

TEST_F(ServiceTest, ShutdownPastTheGraceCancelsTheStream) {
  StartServer(/*max_batch_images=*/8, /*grace=*/absl::Milliseconds(200));
  server_->SetServing(true);
  classifier_.set_delay(absl::Milliseconds(50));
  absl::StatusOr<EvaluationResult> result;
  std::thread client([&] {
    EvaluateOptions options;
    options.batch_size = 1;
    options.reconnect_budget = absl::ZeroDuration();       // see the shutdown, do not wait for a restart
    result = client_->Evaluate(MakeImages(200), options);  // 10 s of work
  });
  while (classifier_.calls() < 2) absl::SleepFor(absl::Milliseconds(1));
  const absl::Time start = absl::Now();
  server_->Shutdown();
  client.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.status().code() == absl::StatusCode::kCancelled ||
              result.status().code() == absl::StatusCode::kUnavailable)
      << result.status();
}

TEST_F(ServiceTest, RefusesStreamsBeyondTheLimitAndServesThemAfter) {
  StartServer(/*max_batch_images=*/8, /*grace=*/absl::Seconds(2), /*max_streams=*/1);
  server_->SetServing(true);
  grpc::ClientContext first_context;
  auto first = stub_->EvaluateDataset(&first_context);
  ASSERT_TRUE(first->Write(ValidEvaluateRequest(2)));
  v1::EvaluateResponse response;
  ASSERT_TRUE(first->Read(&response));  // the first stream is open on the server now
  EXPECT_GRPC_STATUS(EvaluateOnce(ValidEvaluateRequest(2)), grpc::StatusCode::RESOURCE_EXHAUSTED,
                     "limit of 1 concurrent EvaluateDataset streams");
  first->WritesDone();
  while (first->Read(&response)) {
  }
  EXPECT_TRUE(first->Finish().ok());
  // The slot is free again once the first handler has returned.
  grpc::Status again;
  for (int attempt = 0; attempt < 100; ++attempt) {
    again = EvaluateOnce(ValidEvaluateRequest(2));
    if (again.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(again.ok()) << again.error_message();
}

TEST_F(ServiceTest, ReflectionListsAndDescribesTheServices) {
  StartServer();
  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(channel_);
  grpc::ClientContext context;
  auto stream = reflection->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest list;
  list.set_list_services("");
  ASSERT_TRUE(stream->Write(list));
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::vector<std::string> services;
  for (const auto& service : response.list_services_response().service()) services.push_back(service.name());
  EXPECT_NE(std::find(services.begin(), services.end(), "resnet8.v1.Evaluator"), services.end());
  EXPECT_NE(std::find(services.begin(), services.end(), "grpc.health.v1.Health"), services.end());

  grpc::reflection::v1alpha::ServerReflectionRequest describe;
  describe.set_file_containing_symbol("resnet8.v1.Evaluator");
  ASSERT_TRUE(stream->Write(describe));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_GE(response.file_descriptor_response().file_descriptor_proto_size(), 1);
  google::protobuf::FileDescriptorProto file;
  ASSERT_TRUE(file.ParseFromString(response.file_descriptor_response().file_descriptor_proto(0)));
  EXPECT_EQ(file.package(), "resnet8.v1");
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

// Bytes on the wire as a client with a broken or hostile encoder sends them:
// the generic call API with grpc::ByteBuffer, bypassing the generated stubs.
grpc::ByteBuffer WireBytes(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

grpc::Status ClassifyRawBytes(grpc::Channel& channel, const std::string& bytes) {
  grpc::ClientContext context;
  grpc::ByteBuffer response;
  return grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      &channel, grpc::internal::RpcMethod("/resnet8.v1.Evaluator/Classify", grpc::internal::RpcMethod::NORMAL_RPC),
      &context, WireBytes(bytes), &response);
}

struct RawStreamOutcome {
  grpc::Status status;
  int answers = 0;          // responses with predictions
  bool got_report = false;  // a final report arrived
};

// Sends each of `messages` as one message of an EvaluateDataset stream, then
// half-closes and reads everything the server sends.
RawStreamOutcome EvaluateRawBytes(grpc::Channel& channel, const std::vector<std::string>& messages) {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          &channel,
          grpc::internal::RpcMethod("/resnet8.v1.Evaluator/EvaluateDataset", grpc::internal::RpcMethod::BIDI_STREAMING),
          &context));
  for (const std::string& message : messages) {
    if (!stream->Write(WireBytes(message))) break;  // the server has ended the call
  }
  stream->WritesDone();
  RawStreamOutcome outcome;
  grpc::ByteBuffer raw;
  while (stream->Read(&raw)) {
    v1::EvaluateResponse response;
    EXPECT_TRUE(grpc::SerializationTraits<v1::EvaluateResponse>::Deserialize(&raw, &response).ok());
    if (response.has_report()) outcome.got_report = true;
    if (response.predictions_size() > 0) ++outcome.answers;
  }
  outcome.status = stream->Finish();
  return outcome;
}

std::string RandomBytes(uint32_t seed, size_t size) {
  std::mt19937 generator(seed);
  std::string bytes(size, '\0');
  for (char& byte : bytes) byte = static_cast<char>(generator() & 0xff);
  return bytes;
}

TEST_F(ServiceTest, ClassifyRejectsBytesThatAreNotARequest) {
  StartServer();
  server_->SetServing(true);
  const std::string valid = ClassifyRequestOf(2, 2 * kImageBytes, v1::PIXEL_LAYOUT_CHANNEL_PLANAR).SerializeAsString();
  const std::vector<std::string> garbled = {
      valid.substr(0, valid.size() / 2),  // truncated
      valid + "\xff\xff\xff\xff",         // a valid message followed by garbage
      RandomBytes(1, 97),
      RandomBytes(2, 4000),
  };
  for (const std::string& bytes : garbled) {
    EXPECT_GRPC_STATUS(ClassifyRawBytes(*channel_, bytes), grpc::StatusCode::INVALID_ARGUMENT,
                       "the request is not a valid resnet8.v1.ClassifyRequest");
  }
  v1::ClassifyResponse response;
  ASSERT_TRUE(CallClassify(ClassifyRequestOf(2, 2 * kImageBytes, v1::PIXEL_LAYOUT_CHANNEL_PLANAR), &response).ok());
  EXPECT_EQ(response.predictions_size(), 2);
}

TEST_F(ServiceTest, EvaluateEndsWithAnErrorNamingTheMessageThatDoesNotParse) {
  StartServer();
  server_->SetServing(true);
  const std::string valid = ValidEvaluateRequest(3).SerializeAsString();
  struct Case {
    std::vector<std::string> messages;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{valid, valid.substr(0, valid.size() - 7)}, "message 2 of the stream is not a valid resnet8.v1.EvaluateRequest"},
      {{valid, valid, valid + "\xff\xff\xff\xff"}, "message 3 of the stream"},
      {{RandomBytes(3, 300)}, "message 1 of the stream"},
  };
  for (const Case& c : cases) {
    RawStreamOutcome outcome = EvaluateRawBytes(*channel_, c.messages);
    EXPECT_GRPC_STATUS(outcome.status, grpc::StatusCode::INVALID_ARGUMENT, c.expected);
    EXPECT_FALSE(outcome.got_report) << "a report after a message that did not parse";
    EXPECT_EQ(outcome.answers, static_cast<int>(c.messages.size()) - 1);
  }
  // The same bytes, unbroken, are a complete evaluation.
  RawStreamOutcome clean = EvaluateRawBytes(*channel_, {valid, valid});
  EXPECT_TRUE(clean.status.ok()) << clean.status.error_message();
  EXPECT_TRUE(clean.got_report);
  EXPECT_EQ(clean.answers, 2);
}

// Whatever the bytes, a stream never ends OK without every message answered.
TEST_F(ServiceTest, RandomStreamsNeverEndOkWithFewerImagesThanSent) {
  StartServer();
  server_->SetServing(true);
  for (uint32_t seed = 10; seed < 60; ++seed) {
    std::vector<std::string> messages = {ValidEvaluateRequest(2).SerializeAsString(), RandomBytes(seed, 1 + seed * 7)};
    RawStreamOutcome outcome = EvaluateRawBytes(*channel_, messages);
    EXPECT_FALSE(outcome.status.ok()) << "seed " << seed << " ended OK";
    EXPECT_FALSE(outcome.got_report) << "seed " << seed;
  }
  EvaluateOptions options;
  options.batch_size = 5;
  ASSERT_OK_AND_ASSIGN(EvaluationResult result, client_->Evaluate(MakeImages(25), options));
  EXPECT_EQ(result.metrics.images(), 25);
  EXPECT_EQ(result.metrics.correct(), 25);  // the fake predicts (i % 10) for image i, its label
}

}  // namespace
}  // namespace resnet8
