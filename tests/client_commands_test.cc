// The client's commands in process (client_commands.h), against a real gRPC
// server with the fake classifier: what each prints and returns, and that
// every bad option or input is refused with a message naming it.
#include "client/client_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "client/client_options.h"
#include "common/file.h"
#include "common/image.h"
#include "server/server.h"
#include "tests/support/fake_classifier.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

ClientOptions Options(ClientCommand command) {
  ClientOptions options;
  options.command = command;
  return options;
}

TEST(ClientOptionsTest, EveryOutOfRangeOptionIsRefusedByItsFlag) {
  struct Case {
    const char* name;
    std::function<void(ClientOptions&)> change;
    const char* message;
  };
  const Case cases[] = {
      {"no data", [](ClientOptions&) {}, "evaluate needs --data"},
      {"subset", [](ClientOptions& o) { o.subset = "perf300"; }, "--subset='perf300' is unknown"},
      {"limit", [](ClientOptions& o) { o.limit = -1; }, "--limit must not be negative"},
      {"batch", [](ClientOptions& o) { o.batch_size = 0; }, "--batch_size=0 is below 1"},
      {"streams", [](ClientOptions& o) { o.streams = -2; }, "--streams=-2 is negative"},
      {"turnover", [](ClientOptions& o) { o.batches_per_stream = -1; }, "--batches_per_stream=-1"},
      {"reconnect", [](ClientOptions& o) { o.reconnect_budget = absl::Seconds(-1); }, "--reconnect_seconds"},
      {"timeout", [](ClientOptions& o) { o.timeout = absl::Seconds(-1); }, "--timeout_seconds"},
      {"server", [](ClientOptions& o) { o.server = ""; }, "--server is empty"},
      {"tls name", [](ClientOptions& o) { o.tls_server_name = "localhost"; }, "--tls_server_name needs --tls_ca_file"},
      {"arguments", [](ClientOptions& o) { o.arguments = {"x.png"}; }, "takes no arguments, got 'x.png'"},
  };
  for (const Case& c : cases) {
    ClientOptions options = Options(ClientCommand::kEvaluate);
    if (std::string(c.name) != "no data") options.data = "data.bin";
    c.change(options);
    SCOPED_TRACE(c.name);
    EXPECT_STATUS(options.Validate(), absl::StatusCode::kInvalidArgument, c.message);
  }
  ClientOptions valid = Options(ClientCommand::kEvaluate);
  valid.data = "data.bin";
  EXPECT_OK(valid.Validate());
}

TEST(ClientOptionsTest, ClassifyTakesFilesOrOneRecordButNotBoth) {
  ClientOptions options = Options(ClientCommand::kClassify);
  EXPECT_STATUS(options.Validate(), absl::StatusCode::kInvalidArgument, "classify needs IMAGE");
  options.arguments = {"cat.png"};
  EXPECT_OK(options.Validate());
  options.data = "test_batch.bin";
  options.index = 3;
  EXPECT_STATUS(options.Validate(), absl::StatusCode::kInvalidArgument, "not both");
  options.arguments.clear();
  EXPECT_OK(options.Validate());
}

TEST(ClientOptionsTest, CommandAndLayoutNames) {
  EXPECT_EQ(*ParseClientCommand("evaluate"), ClientCommand::kEvaluate);
  EXPECT_EQ(*ParseClientCommand("health"), ClientCommand::kHealth);
  EXPECT_STATUS(ParseClientCommand("evaluat"), absl::StatusCode::kInvalidArgument, "'evaluat'");
  EXPECT_EQ(*ParsePixelLayout("hwc"), PixelLayout::kInterleavedHwc);
  EXPECT_STATUS(ParsePixelLayout("nchw"), absl::StatusCode::kInvalidArgument, "--layout='nchw'");
}

class ClientCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.address = "127.0.0.1:0";
    ASSERT_OK_AND_ASSIGN(server_, EvaluatorServer::Start(options, classifier_, FakeServedModel()));
    server_->SetServing(true);
    dir_ = testing::MakeTempDir();
  }

  // A CIFAR-10 batch file of `count` records; record i has label i % 10 and
  // every pixel byte equal to `pixel(i)`, which the fake classifier answers
  // with class pixel(i) % 10.
  std::string WriteCifarFile(int count, std::function<uint8_t(int)> pixel) {
    const std::string path = dir_ + "/test_batch.bin";
    std::ofstream file(path, std::ios::binary);
    for (int i = 0; i < count; ++i) {
      file.put(static_cast<char>(i % 10));
      file << std::string(kImageBytes, static_cast<char>(pixel(i)));
    }
    return path;
  }

  ClientOptions ToServer(ClientCommand command) {
    ClientOptions options = Options(command);
    options.server = server_->address();
    return options;
  }

  FirstByteClassifier classifier_;
  std::unique_ptr<EvaluatorServer> server_;
  std::string dir_;
};

TEST_F(ClientCommandsTest, EvaluatePrintsTheScoreAndWritesTheReports) {
  ClientOptions options = ToServer(ClientCommand::kEvaluate);
  // Records 0..39 are right, except those whose index is a multiple of 4:
  // 30 of 40 correct.
  options.data = WriteCifarFile(40, [](int i) { return i % 4 == 0 ? i % 10 + 1 : i % 10; });
  options.batch_size = 7;
  options.report_json = dir_ + "/report.json";
  options.predictions_csv = dir_ + "/predictions.csv";
  std::ostringstream out;
  EXPECT_EQ(RunClientCommand(options, out).value_or(-1), 0);
  EXPECT_THAT(out.str(), ::testing::HasSubstr("top-1 accuracy: 75.00% (30/40)"));
  ASSERT_OK_AND_ASSIGN(std::string json, ReadFileBytes(options.report_json));
  EXPECT_THAT(json, ::testing::HasSubstr("\"correct\": 30,\n  \"top1\": 0.75"));
  ASSERT_OK_AND_ASSIGN(std::string csv, ReadFileBytes(options.predictions_csv));
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 41);  // a header and one row per image

  options.limit = 8;  // records 0..7: 0 and 4 wrong
  out.str("");
  EXPECT_EQ(RunClientCommand(options, out).value_or(-1), 0);
  EXPECT_THAT(out.str(), ::testing::HasSubstr("75.00% (6/8)"));
}

TEST_F(ClientCommandsTest, HealthExitCodeFollowsTheServingState) {
  std::ostringstream out;
  EXPECT_EQ(RunClientCommand(ToServer(ClientCommand::kHealth), out).value_or(-1), 0);
  EXPECT_EQ(out.str(), "SERVING\n");
  server_->SetServing(false);
  out.str("");
  EXPECT_EQ(RunClientCommand(ToServer(ClientCommand::kHealth), out).value_or(-1), 1);
  EXPECT_EQ(out.str(), "NOT_SERVING\n");
}

TEST_F(ClientCommandsTest, ClassifyOneRecordNamesItAndItsLabel) {
  ClientOptions options = ToServer(ClientCommand::kClassify);
  options.data = WriteCifarFile(5, [](int i) { return i; });
  options.index = 3;
  std::ostringstream out;
  EXPECT_EQ(RunClientCommand(options, out).value_or(-1), 0);
  // The label's name is the data's; the prediction's is the (fake) model's.
  EXPECT_THAT(out.str(), ::testing::HasSubstr("record 3 (label 3 cat): 3 class3 (p=0.9100)"));
}

TEST_F(ClientCommandsTest, FailuresNameTheServerTheFileOrTheLimit) {
  std::ostringstream out;
  ClientOptions unreachable = Options(ClientCommand::kInfo);
  unreachable.server = "127.0.0.1:1";
  unreachable.timeout = absl::Seconds(2);
  EXPECT_STATUS(RunClientCommand(unreachable, out), absl::StatusCode::kUnavailable,
                "server 127.0.0.1:1 unreachable or not ready");

  ClientOptions missing = ToServer(ClientCommand::kEvaluate);
  missing.data = dir_ + "/absent.bin";
  EXPECT_STATUS(RunClientCommand(missing, out), absl::StatusCode::kNotFound, "absent.bin");

  ClientOptions too_big = ToServer(ClientCommand::kEvaluate);
  too_big.data = WriteCifarFile(4, [](int i) { return i; });
  too_big.batch_size = 5000;
  EXPECT_STATUS(RunClientCommand(too_big, out), absl::StatusCode::kInvalidArgument, "--batch_size=5000 exceeds");

  ClientOptions token = ToServer(ClientCommand::kInfo);
  token.auth_token_file = dir_ + "/no-token";
  EXPECT_STATUS(RunClientCommand(token, out), absl::StatusCode::kNotFound, "no-token");
  EXPECT_EQ(out.str(), "");  // nothing printed by a failed command
}

}  // namespace
}  // namespace resnet8
