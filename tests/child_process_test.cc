#include "server/keras/child_process.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

TEST(ChildProcess, ReturnsWhatTheChildProduced) {
  ASSERT_OK_AND_ASSIGN(std::string out,
                       RunInChildProcess([] { return std::string("hello\0x", 7); }, absl::Seconds(10), 100));
  EXPECT_EQ(out, std::string("hello\0x", 7));
}

TEST(ChildProcess, ReturnsOutputLargerThanThePipeBuffer) {
  const std::string big(3 << 20, 'z');
  ASSERT_OK_AND_ASSIGN(std::string out, RunInChildProcess([&big] { return big; }, absl::Seconds(30), big.size()));
  EXPECT_EQ(out, big);
}

TEST(ChildProcess, ChildStateDoesNotLeakIntoTheParent) {
  int counter = 0;
  ASSERT_OK(RunInChildProcess(
      [&counter] {
        counter = 42;
        return std::string();
      },
      absl::Seconds(10), 0));
  EXPECT_EQ(counter, 0);
}

TEST(ChildProcess, KillsAChildThatRunsPastTheLimit) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_STATUS(RunInChildProcess(
                    [] {
                      while (true) pause();
                      return std::string();
                    },
                    absl::Milliseconds(300), 100),
                absl::StatusCode::kDeadlineExceeded, "did not finish within 300ms");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(ChildProcess, ReportsACrash) {
  EXPECT_STATUS(RunInChildProcess(
                    [] {
                      raise(SIGSEGV);
                      return std::string("never");
                    },
                    absl::Seconds(10), 100),
                absl::StatusCode::kAborted, "crashed (signal 11");
}

TEST(ChildProcess, ReportsAnExceptionAsAnEarlyExit) {
  EXPECT_STATUS(RunInChildProcess([]() -> std::string { throw std::runtime_error("boom"); }, absl::Seconds(10), 100),
                absl::StatusCode::kAborted, "exited with status 3");
}

TEST(ChildProcess, StopsAChildThatProducesTooMuch) {
  EXPECT_STATUS(RunInChildProcess([] { return std::string(1 << 20, 'x'); }, absl::Seconds(10), 1000),
                absl::StatusCode::kResourceExhausted, "more than the limit of 1000 bytes");
}

}  // namespace
}  // namespace resnet8
