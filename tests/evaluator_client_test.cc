// The client's own checks, against a deliberately wrong server: a report or
// answers that do not match what was sent must be an error, not a result.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "client/evaluator_client.h"
#include "tests/test_support.h"

namespace resnet8 {
namespace {

enum class Lie { kNone, kReportCount, kWrongIndex, kArgmax };

// Answers every image with class 0 and echoes the indices, lying as told.
class LyingService final : public v1::Evaluator::Service {
 public:
  explicit LyingService(Lie lie) : lie_(lie) {}
  grpc::Status EvaluateDataset(grpc::ServerContext*,
                               grpc::ServerReaderWriter<v1::EvaluateResponse, v1::EvaluateRequest>* stream) override {
    v1::EvaluateRequest request;
    uint64_t images = 0, correct = 0;
    std::vector<uint64_t> confusion(100);
    while (stream->Read(&request)) {
      v1::EvaluateResponse response;
      for (int i = 0; i < request.labels_size(); ++i) {
        v1::Prediction* p = response.add_predictions();
        p->set_index(request.indices(i) + (lie_ == Lie::kWrongIndex ? 1 : 0));
        p->set_label(request.labels(i));
        for (int c = 0; c < 10; ++c) p->add_probabilities(c == 0 ? 0.9f : 0.01f);
        p->set_predicted_class(lie_ == Lie::kArgmax ? 1 : 0);
        ++images;
        correct += request.labels(i) == 0;
        ++confusion[request.labels(i) * 10];
      }
      response.mutable_totals()->set_images(images);
      response.mutable_totals()->set_correct(correct);
      stream->Write(response);
    }
    v1::EvaluateResponse last;
    last.mutable_report()->set_images(images);
    last.mutable_report()->set_correct(correct + (lie_ == Lie::kReportCount ? 1 : 0));
    for (uint64_t count : confusion) last.mutable_report()->add_confusion_matrix(count);
    stream->Write(last);
    return grpc::Status::OK;
  }

 private:
  Lie lie_;
};

absl::StatusOr<EvaluationResult> EvaluateAgainst(Lie lie) {
  LyingService service(lie);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  EvaluatorClient client(EvaluatorClient::Connect(absl::StrCat("127.0.0.1:", port)));
  LabeledImages images;
  for (int i = 0; i < 12; ++i) {
    images.pixels.insert(images.pixels.end(), kImageBytes, 0);
    images.labels.push_back(i % 10);
    images.indices.push_back(i);
  }
  EvaluateOptions options;
  options.batch_size = 5;
  options.batches_per_stream = 0;  // one stream: the lie is in its one report
  absl::StatusOr<EvaluationResult> result = client.Evaluate(images, options);
  server->Shutdown();
  return result;
}

TEST(EvaluatorClient, AcceptsAnHonestServer) {
  ASSERT_OK_AND_ASSIGN(EvaluationResult result, EvaluateAgainst(Lie::kNone));
  EXPECT_EQ(result.metrics.correct(), 2);  // labels 0 at records 0 and 10
}

TEST(EvaluatorClient, RejectsAReportThatDisagreesWithItsOwnCount) {
  EXPECT_STATUS(EvaluateAgainst(Lie::kReportCount), absl::StatusCode::kDataLoss, "server reports 3/12");
}

TEST(EvaluatorClient, RejectsAnswersForOtherRecords) {
  EXPECT_STATUS(EvaluateAgainst(Lie::kWrongIndex), absl::StatusCode::kDataLoss, "came back as record 1");
}

TEST(EvaluatorClient, RejectsAPredictedClassThatIsNotTheArgmax) {
  EXPECT_STATUS(EvaluateAgainst(Lie::kArgmax), absl::StatusCode::kDataLoss, "is not the argmax");
}

}  // namespace
}  // namespace resnet8
