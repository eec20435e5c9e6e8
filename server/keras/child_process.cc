#include "server/keras/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace resnet8 {
namespace {

// Writes all of `data`; gives up silently if the parent stopped reading.
void WriteAll(int fd, const std::string& data) {
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    written += static_cast<size_t>(n);
  }
}

[[noreturn]] void RunChild(int write_fd, const std::function<std::string()>& work) {
  // Default dispositions, so that a parent that stops reading ends the child.
  signal(SIGPIPE, SIG_DFL);
  int exit_code = 0;
  try {
    WriteAll(write_fd, work());
  } catch (...) {
    exit_code = 3;
  }
  close(write_fd);
  // No destructors or atexit handlers: they belong to the parent's state.
  _exit(exit_code);
}

int WaitForExit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  WaitForExit(pid);
}

}  // namespace

absl::StatusOr<std::string> RunInChildProcess(const std::function<std::string()>& work, absl::Duration time_limit,
                                              size_t max_output_bytes) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe() failed: ", std::strerror(errno)));
  }
  const pid_t pid = fork();
  if (pid < 0) {
    const int error = errno;
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError(absl::StrCat("fork() failed: ", std::strerror(error)));
  }
  if (pid == 0) {
    close(fds[0]);
    RunChild(fds[1], work);
  }
  close(fds[1]);

  const absl::Time deadline = absl::Now() + time_limit;
  std::string output;
  char chunk[1 << 16];
  absl::Status failure;
  while (true) {
    const int64_t wait_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (wait_ms <= 0) {
      failure = absl::DeadlineExceededError(absl::StrCat("did not finish within ", absl::FormatDuration(time_limit)));
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
    if (output.size() + static_cast<size_t>(n) > max_output_bytes) {
      failure =
          absl::ResourceExhaustedError(absl::StrCat("produced more than the limit of ", max_output_bytes, " bytes"));
      break;
    }
    output.append(chunk, static_cast<size_t>(n));
  }
  close(fds[0]);
  if (!failure.ok()) {
    KillAndReap(pid);
    return failure;
  }
  const int status = WaitForExit(pid);
  if (WIFSIGNALED(status)) {
    const int signal_number = WTERMSIG(status);
    return absl::AbortedError(absl::StrCat("crashed (signal ", signal_number, ", ", strsignal(signal_number), ")"));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::AbortedError(absl::StrCat("exited with status ", WEXITSTATUS(status)));
  }
  return output;
}

}  // namespace resnet8
