#include "tests/support/program_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/support/test_support.h"

namespace resnet8::testing {
namespace {

pid_t Spawn(const std::vector<std::string>& argv, const std::string& output_path) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    // The test runner may block signals; the program must see them as usual.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Polls for the exit of `pid` until `limit`; fills `result` and returns true
// when it exited.
bool PollExit(pid_t pid, absl::Duration limit, ProgramResult* result) {
  const absl::Time deadline = absl::Now() + limit;
  while (true) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      if (WIFEXITED(status)) result->exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) result->signal = WTERMSIG(status);
      return true;
    }
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

}  // namespace

std::string ProgramPath(const std::string& name) { return absl::StrCat(RESNET8_BINARY_DIR, "/", name); }

std::string ProgramResult::Describe() const {
  std::string what = timed_out     ? "timed out"
                     : signal != 0 ? absl::StrCat("signal ", signal)
                                   : absl::StrCat("exit ", exit_code);
  return absl::StrCat(what, "; output:\n", output);
}

ProgramResult RunProgram(const std::vector<std::string>& argv, absl::Duration limit) {
  std::unique_ptr<ServerProcess> process = ServerProcess::Start(argv);
  return process->Wait(limit);
}

std::unique_ptr<ServerProcess> ServerProcess::Start(const std::vector<std::string>& argv) {
  std::string output_path = MakeTempDir() + "/output.txt";
  const pid_t pid = Spawn(argv, output_path);
  return std::unique_ptr<ServerProcess>(new ServerProcess(pid, std::move(output_path)));
}

ServerProcess::~ServerProcess() {
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

absl::StatusOr<std::string> ServerProcess::WaitUntilListening(absl::Duration limit) {
  static constexpr char kMarker[] = "listening on ";
  const absl::Time deadline = absl::Now() + limit;
  while (true) {
    const std::string output = Output();
    if (size_t at = output.find(kMarker); at != std::string::npos) {
      const size_t begin = at + sizeof(kMarker) - 1;
      const size_t end = output.find('\n', begin);
      if (end != std::string::npos) return output.substr(begin, end - begin);
    }
    if (!reaped_ && PollExit(pid_, absl::ZeroDuration(), &result_)) reaped_ = true;
    if (reaped_) {
      result_.output = Output();
      return absl::FailedPreconditionError(absl::StrCat("exited before listening: ", result_.Describe()));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("not listening after ", absl::FormatDuration(limit), "; output:\n", output));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

void ServerProcess::Signal(int signal_number) const {
  if (!reaped_) kill(pid_, signal_number);
}

ProgramResult ServerProcess::Wait(absl::Duration limit) {
  if (!reaped_) {
    if (!PollExit(pid_, limit, &result_)) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      result_.timed_out = true;
    }
    reaped_ = true;
  }
  result_.output = Output();
  return result_;
}

std::string ServerProcess::Output() const { return ReadFile(output_path_); }

int64_t ServerProcess::ResidentKiB() const {
  if (reaped_) return -1;
  std::ifstream status(absl::StrCat("/proc/", pid_, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

}  // namespace resnet8::testing
