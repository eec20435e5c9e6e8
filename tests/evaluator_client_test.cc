// The client's own checks, against a deliberately wrong server: a report or
// answers that do not match what was sent must be an error, not a result.
// Its answer to a server at its stream limit: wait for a slot once the
// evaluation was admitted, fail at once when it never was. And its answer to
// a stream that breaks with UNAVAILABLE: resend what was unanswered, and give
// up only after the reconnect budget.
#include "client/evaluator_client.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

enum class Lie { kNone, kReportCount, kWrongIndex, kArgmax };

// Answers every image with class 0 and echoes the indices, lying as told.
// Streams for which `refuse(n)` holds (n counts them from 1) are refused as a
// server at its limit refuses them. Stream n breaks with UNAVAILABLE, as a
// dying server's do, on reading its batch number `break_at(n)` (from 1;
// never if 0), which stays unanswered.
class LyingService final : public v1::Evaluator::Service {
 public:
  explicit LyingService(Lie lie, std::function<bool(int)> refuse = nullptr, std::function<int(int)> break_at = nullptr)
      : lie_(lie), refuse_(std::move(refuse)), break_at_(std::move(break_at)) {}
  grpc::Status EvaluateDataset(grpc::ServerContext*,
                               grpc::ServerReaderWriter<v1::EvaluateResponse, v1::EvaluateRequest>* stream) override {
    const int number = ++streams_;
    if (refuse_ && refuse_(number)) return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "at the limit");
    const int break_at = break_at_ ? break_at_(number) : 0;
    v1::EvaluateRequest request;
    uint64_t images = 0, correct = 0;
    std::vector<uint64_t> confusion(100);
    for (int batch = 1; stream->Read(&request); ++batch) {
      if (batch == break_at) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server went away");
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
  std::function<bool(int)> refuse_;
  std::function<int(int)> break_at_;
  std::atomic<int> streams_{0};
};

LabeledImages TwelveImages() {
  LabeledImages images;
  for (int i = 0; i < 12; ++i) {
    images.pixels.insert(images.pixels.end(), kImageBytes, 0);
    images.labels.push_back(i % 10);
    images.indices.push_back(i);
  }
  return images;
}

// A TCP proxy on 127.0.0.1 that holds each connection for `delay` before
// joining it to `target_port`: a server whose handshake is slow, as on a
// machine busy with other work.
class SlowProxy {
 public:
  SlowProxy(int target_port, absl::Duration delay) : target_port_(target_port), delay_(delay) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    bind(listener_, reinterpret_cast<sockaddr*>(&address), length);
    listen(listener_, 8);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~SlowProxy() {
    shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    close(listener_);
    for (int socket : sockets_) shutdown(socket, SHUT_RDWR);  // ends the pumps
    for (std::thread& pump : pumps_) pump.join();
    for (int socket : sockets_) close(socket);
  }
  int port() const { return port_; }

 private:
  void AcceptLoop() {
    for (int client; (client = accept(listener_, nullptr, nullptr)) >= 0;) {
      absl::SleepFor(delay_);
      const int server = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.sin_port = htons(target_port_);
      connect(server, reinterpret_cast<sockaddr*>(&address), sizeof(address));
      sockets_.insert(sockets_.end(), {client, server});
      pumps_.emplace_back(Pump, client, server);
      pumps_.emplace_back(Pump, server, client);
    }
  }
  // Copies bytes until `from` ends, then ends `to` in that direction.
  static void Pump(int from, int to) {
    char buffer[16384];
    for (ssize_t n; (n = read(from, buffer, sizeof(buffer))) > 0;) {
      if (send(to, buffer, n, MSG_NOSIGNAL) != n) break;  // no SIGPIPE once the peer is gone
    }
    shutdown(to, SHUT_WR);
  }

  int target_port_;
  absl::Duration delay_;
  int listener_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::vector<int> sockets_;
  std::vector<std::thread> pumps_;
};

absl::StatusOr<EvaluationResult> EvaluateAgainst(LyingService& service, const EvaluateOptions& options,
                                                 absl::Duration handshake_delay = absl::ZeroDuration()) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  std::unique_ptr<SlowProxy> proxy;
  if (handshake_delay > absl::ZeroDuration()) {
    proxy = std::make_unique<SlowProxy>(port, handshake_delay);
    port = proxy->port();
  }
  EvaluatorClient client(EvaluatorClient::Connect(absl::StrCat("127.0.0.1:", port)));
  absl::StatusOr<EvaluationResult> result = client.Evaluate(TwelveImages(), options);
  server->Shutdown();
  return result;
}

absl::StatusOr<EvaluationResult> EvaluateAgainst(Lie lie) {
  LyingService service(lie);
  EvaluateOptions options;
  options.batch_size = 5;
  options.batches_per_stream = 0;  // one stream: the lie is in its one report
  return EvaluateAgainst(service, options);
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

// A connection that takes half a second to be answered is waited for, not
// failed with UNAVAILABLE: under load (sanitizers beside a Docker build) a
// loopback handshake took longer than the 100 ms once allowed.
TEST(EvaluatorClient, WaitsForASlowConnectionHandshake) {
  LyingService service(Lie::kNone);
  EvaluateOptions options;
  options.batch_size = 5;
  options.reconnect_budget = absl::ZeroDuration();  // no second chance: the first connection must do
  ASSERT_OK_AND_ASSIGN(EvaluationResult result, EvaluateAgainst(service, options, absl::Milliseconds(500)));
  EXPECT_EQ(result.metrics.images(), 12);
}

// Stream 2 of 3 (one batch each) is refused: another client took the slot
// between this evaluation's streams. The evaluation waits and goes on.
TEST(EvaluatorClient, AnAdmittedEvaluationWaitsForASlot) {
  LyingService service(Lie::kNone, [](int stream) { return stream == 2; });
  EvaluateOptions options;
  options.batch_size = 5;
  options.batches_per_stream = 1;
  ASSERT_OK_AND_ASSIGN(EvaluationResult result, EvaluateAgainst(service, options));
  EXPECT_EQ(result.metrics.images(), 12);
  EXPECT_EQ(result.reconnects, 1);
}

// Refused before any answer, by a server that stays full: an error at once,
// not a wait of the whole reconnect budget. Also with several streams, each
// refused in turn.
TEST(EvaluatorClient, ANeverAdmittedEvaluationFailsAtOnce) {
  for (int streams : {1, 3}) {
    LyingService service(Lie::kNone, [](int) { return true; });
    EvaluateOptions options;
    options.batch_size = 5;
    options.streams = streams;
    options.reconnect_budget = absl::Seconds(60);
    const absl::Time start = absl::Now();
    EXPECT_STATUS(EvaluateAgainst(service, options), absl::StatusCode::kResourceExhausted, "at the limit");
    EXPECT_LT(absl::Now() - start, absl::Seconds(30)) << streams << " stream(s): waited as if admitted";
  }
}

// Stream 1 answers two batches and breaks on the third. The client reopens,
// resends the unanswered batch first, and ends with the uninterrupted result.
TEST(EvaluatorClient, AStreamThatBreaksIsReopenedAndItsUnansweredBatchResent) {
  LyingService service(Lie::kNone, nullptr, [](int stream) { return stream == 1 ? 3 : 0; });
  EvaluateOptions options;
  options.batch_size = 2;
  options.window = 1;  // exactly one batch in flight when the stream breaks
  options.batches_per_stream = 0;
  ASSERT_OK_AND_ASSIGN(EvaluationResult result, EvaluateAgainst(service, options));
  EXPECT_EQ(result.reconnects, 1);
  EXPECT_EQ(result.resent_batches, 1);
  EXPECT_EQ(result.metrics.images(), 12);
  EXPECT_EQ(result.metrics.correct(), 2);
  EXPECT_EQ(result.server_report.images(), 12u);  // 4 counted before the break, 8 after
  for (int i = 0; i < 12; ++i) EXPECT_EQ(result.predictions[i].index, i);
}

// Every stream breaks before answering anything: the client keeps trying for
// the reconnect budget, then fails with UNAVAILABLE and says why.
TEST(EvaluatorClient, GivesUpAfterTheReconnectBudgetWithoutProgress) {
  LyingService service(Lie::kNone, nullptr, [](int) { return 1; });
  EvaluateOptions options;
  options.batch_size = 5;
  options.reconnect_budget = absl::Milliseconds(500);
  const absl::Time start = absl::Now();
  EXPECT_STATUS(EvaluateAgainst(service, options), absl::StatusCode::kUnavailable,
                "of reopening streams without progress: the server went away");
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(500));
}

// A zero budget: the first UNAVAILABLE ends the evaluation.
TEST(EvaluatorClient, AZeroBudgetFailsAtTheFirstBreak) {
  LyingService service(Lie::kNone, nullptr, [](int stream) { return stream == 1 ? 2 : 0; });
  EvaluateOptions options;
  options.batch_size = 5;
  options.batches_per_stream = 0;  // one stream, which breaks on its second batch
  options.reconnect_budget = absl::ZeroDuration();
  EXPECT_STATUS(EvaluateAgainst(service, options), absl::StatusCode::kUnavailable, "the server went away");
}

}  // namespace
}  // namespace resnet8
