#include "server/keras/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

extern char** environ;

namespace resnet8 {
namespace {

absl::Status ErrnoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, " failed: ", std::strerror(errno)));
}

// The input as a descriptor the program reads as its standard input: an
// anonymous in-memory file, so that the caller never blocks writing into a
// pipe the program has not started reading.
absl::StatusOr<int> InputFile(absl::string_view input) {
  const int fd = memfd_create("program input", MFD_CLOEXEC);
  if (fd < 0) return ErrnoError("memfd_create()");
  size_t written = 0;
  while (written < input.size()) {
    ssize_t n = write(fd, input.data() + written, input.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status error = ErrnoError("writing the program's input");
      close(fd);
      return error;
    }
    written += static_cast<size_t>(n);
  }
  if (lseek(fd, 0, SEEK_SET) != 0) {
    absl::Status error = ErrnoError("lseek()");
    close(fd);
    return error;
  }
  return fd;
}

// Starts the program with `input_fd` as its stdin and `output_fd` as its
// stdout; every other descriptor but stderr is closed in it.
absl::StatusOr<pid_t> Spawn(const SubprocessCall& call, int input_fd, int output_fd) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(call.program.c_str()));
  for (const std::string& argument : call.arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  absl::Cleanup destroy = [&actions] { posix_spawn_file_actions_destroy(&actions); };
  posix_spawn_file_actions_adddup2(&actions, input_fd, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, output_fd, STDOUT_FILENO);
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  pid_t pid;
  const int error = posix_spawn(&pid, call.program.c_str(), &actions, nullptr, argv.data(), environ);
  if (error != 0) {
    return absl::InternalError(absl::StrCat("cannot start ", call.program, ": ", std::strerror(error)));
  }
  return pid;
}

absl::Status TooSlow(const SubprocessCall& call) {
  return absl::DeadlineExceededError(absl::StrCat("did not finish within ", absl::FormatDuration(call.time_limit)));
}

// The program's wait status once it exits, or nullopt at the deadline.
std::optional<int> WaitForExitUntil(pid_t pid, absl::Time deadline) {
  while (true) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0 && errno != EINTR) return std::nullopt;
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(1));
  }
}

void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

absl::StatusOr<std::string> RunSubprocess(const SubprocessCall& call) {
  ASSIGN_OR_RETURN(const int input_fd, InputFile(call.input));
  absl::Cleanup close_input = [input_fd] { close(input_fd); };
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("pipe()");
  absl::StatusOr<pid_t> spawned = Spawn(call, input_fd, fds[1]);
  close(fds[1]);
  if (!spawned.ok()) {
    close(fds[0]);
    return spawned.status();
  }
  const pid_t pid = *spawned;

  const absl::Time deadline = absl::Now() + call.time_limit;
  std::string output;
  char chunk[1 << 16];
  absl::Status failure;
  while (true) {
    const int64_t wait_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (wait_ms <= 0) {
      failure = TooSlow(call);
      break;
    }
    pollfd poll_fd{fds[0], POLLIN, 0};
    int ready = poll(&poll_fd, 1, static_cast<int>(std::min<int64_t>(wait_ms, 1000)));
    if (ready < 0 && errno != EINTR) {
      failure = absl::InternalError(absl::StrCat("poll() failed: ", std::strerror(errno)));
      break;
    }
    if (ready <= 0) continue;
    ssize_t n = read(fds[0], chunk, sizeof(chunk));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;  // end of output (or a read error, judged by the exit status)
    if (output.size() + static_cast<size_t>(n) > call.max_output_bytes) {
      failure = absl::ResourceExhaustedError(
          absl::StrCat("produced more than the limit of ", call.max_output_bytes, " bytes"));
      break;
    }
    output.append(chunk, static_cast<size_t>(n));
  }
  close(fds[0]);
  std::optional<int> status;
  if (failure.ok()) {
    // A program that closed its output may still be running.
    status = WaitForExitUntil(pid, deadline);
    if (!status.has_value()) failure = TooSlow(call);
  }
  if (!failure.ok()) {
    KillAndReap(pid);
    return failure;
  }
  if (WIFSIGNALED(*status)) {
    const int signal_number = WTERMSIG(*status);
    return absl::AbortedError(absl::StrCat("crashed (signal ", signal_number, ", ", strsignal(signal_number), ")"));
  }
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return absl::AbortedError(absl::StrCat("exited with status ", WEXITSTATUS(*status)));
  }
  return output;
}

}  // namespace resnet8
