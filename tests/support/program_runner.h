// Runs the project's programs (build/bin) as real processes from tests: a
// one-shot run with a time limit, and a server kept running in the
// background until the test stops or kills it.
//
//   ProgramResult r = RunProgram({ProgramPath("resnet8_convert"), "--model=x.h5"}, absl::Seconds(60));
//   auto server = ServerProcess::Start({ProgramPath("resnet8_server"), "--model=...",
//                                       "--address=127.0.0.1:0"});
//   ASSERT_OK_AND_ASSIGN(std::string address, server->WaitUntilListening(absl::Seconds(60)));
#ifndef RESNET8_TESTS_SUPPORT_PROGRAM_RUNNER_H_
#define RESNET8_TESTS_SUPPORT_PROGRAM_RUNNER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace resnet8::testing {

// build/bin/<name>.
std::string ProgramPath(const std::string& name);

struct ProgramResult {
  bool timed_out = false;  // killed at the limit
  int exit_code = -1;      // when it exited normally
  int signal = 0;          // when a signal ended it
  std::string output;      // stderr and stdout, interleaved
  bool ExitedWith(int code) const { return !timed_out && signal == 0 && exit_code == code; }
  std::string Describe() const;  // "exit 1", "signal 11", "timed out", plus the output
};

// Runs argv[0] with the rest as arguments; kills it at `limit`.
ProgramResult RunProgram(const std::vector<std::string>& argv, absl::Duration limit);

// A program running in the background whose output goes to a file.
// The destructor kills (SIGKILL) and reaps it if it is still running.
class ServerProcess {
 public:
  static std::unique_ptr<ServerProcess> Start(const std::vector<std::string>& argv);
  ~ServerProcess();

  // Waits for the log line "listening on HOST:PORT" and returns HOST:PORT.
  // Errors: FAILED_PRECONDITION if the program exited first (with its
  // output), DEADLINE_EXCEEDED at `limit`.
  absl::StatusOr<std::string> WaitUntilListening(absl::Duration limit);
  void Signal(int signal_number) const;
  // Waits for the exit; timed_out if still running at `limit` (then killed).
  ProgramResult Wait(absl::Duration limit);
  std::string Output() const;
  pid_t pid() const { return pid_; }
  // Resident memory (VmRSS) in KiB, or -1 once the process is gone.
  int64_t ResidentKiB() const;

 private:
  ServerProcess(pid_t pid, std::string output_path) : pid_(pid), output_path_(std::move(output_path)) {}
  pid_t pid_;
  std::string output_path_;
  bool reaped_ = false;
  ProgramResult result_;
};

}  // namespace resnet8::testing

#endif  // RESNET8_TESTS_SUPPORT_PROGRAM_RUNNER_H_
