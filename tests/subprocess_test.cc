#include "server/keras/subprocess.h"

#include <chrono>

#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

// Runs a shell script as the program.
SubprocessCall Shell(const std::string& script, absl::Duration limit = absl::Seconds(10), size_t max_output = 100) {
  return SubprocessCall{
      .program = "/bin/sh", .arguments = {"-c", script}, .time_limit = limit, .max_output_bytes = max_output};
}

TEST(Subprocess, ReturnsWhatTheProgramWrote) {
  ASSERT_OK_AND_ASSIGN(std::string out, RunSubprocess(Shell("printf 'hello\\000x'")));
  EXPECT_EQ(out, std::string("hello\0x", 7));
}

TEST(Subprocess, GivesTheProgramItsInputAndTakesOutputLargerThanAPipeBuffer) {
  const std::string big(3 << 20, 'z');
  SubprocessCall call{
      .program = "/bin/cat", .input = big, .time_limit = absl::Seconds(30), .max_output_bytes = big.size()};
  ASSERT_OK_AND_ASSIGN(std::string out, RunSubprocess(call));
  EXPECT_EQ(out, big);
}

TEST(Subprocess, PassesArgumentsAsTheyAre) {
  SubprocessCall call = Shell("printf '%s|' \"$@\"");
  call.arguments.insert(call.arguments.end(), {"sh", "two words", "", "--flag=*"});
  ASSERT_OK_AND_ASSIGN(std::string out, RunSubprocess(call));
  EXPECT_EQ(out, "two words||--flag=*|");
}

TEST(Subprocess, OpensNoDescriptorOfTheCallerButTheStandardThree) {
  // Descriptors 0-2, and the one `ls` opens to list the folder.
  ASSERT_OK_AND_ASSIGN(std::string out, RunSubprocess(Shell("ls /proc/self/fd | wc -l")));
  EXPECT_EQ(out, "4\n");
}

TEST(Subprocess, KillsAProgramThatRunsPastTheLimit) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_STATUS(RunSubprocess(Shell("exec sleep 60", absl::Milliseconds(300))), absl::StatusCode::kDeadlineExceeded,
                "did not finish within 300ms");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(Subprocess, KillsAProgramThatClosedItsOutputButRunsOn) {
  EXPECT_STATUS(RunSubprocess(Shell("exec >&-; exec sleep 60", absl::Milliseconds(300))),
                absl::StatusCode::kDeadlineExceeded, "did not finish within 300ms");
}

TEST(Subprocess, ReportsACrash) {
  EXPECT_STATUS(RunSubprocess(Shell("kill -SEGV $$")), absl::StatusCode::kAborted, "crashed (signal 11");
}

TEST(Subprocess, ReportsANonZeroExit) {
  EXPECT_STATUS(RunSubprocess(Shell("exit 3")), absl::StatusCode::kAborted, "exited with status 3");
}

TEST(Subprocess, StopsAProgramThatProducesTooMuch) {
  EXPECT_STATUS(RunSubprocess(Shell("head -c 1048576 /dev/zero", absl::Seconds(10), 1000)),
                absl::StatusCode::kResourceExhausted, "more than the limit of 1000 bytes");
}

TEST(Subprocess, NamesAProgramItCannotStart) {
  SubprocessCall call{.program = "/nonexistent/reader", .max_output_bytes = 100};
  EXPECT_STATUS(RunSubprocess(call), absl::StatusCode::kInternal,
                "cannot start /nonexistent/reader: No such file or directory");
}

}  // namespace
}  // namespace resnet8
