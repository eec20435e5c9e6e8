// Runs a piece of work in a forked child process, so that a library call that
// may loop forever or crash on hostile input (HDF5 on a corrupt file does
// both) cannot take the caller down with it.
//
//   absl::StatusOr<std::string> bytes = RunInChildProcess(
//       [&] { return ParseUntrustedFile(path); }, absl::Seconds(20), 1 << 30);
//
// The child gets a copy of the parent's memory (fork), runs `work`, writes the
// string it returns to a pipe and exits without running destructors or atexit
// handlers. The parent reads it under a deadline.
#ifndef RESNET8_SERVER_KERAS_CHILD_PROCESS_H_
#define RESNET8_SERVER_KERAS_CHILD_PROCESS_H_

#include <cstddef>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace resnet8 {

// Returns what `work` returned in the child. Errors:
//   DEADLINE_EXCEEDED  the child did not finish within `time_limit`; it is
//                      killed (SIGKILL) and reaped before returning;
//   ABORTED            the child died from a signal (crash) or exited early;
//   RESOURCE_EXHAUSTED it produced more than `max_output_bytes` (killed);
//   INTERNAL           fork() or pipe() failed.
// The messages say what happened, not to what: callers add the context.
// `work` runs in a child that has only the calling thread, so it must not
// wait for other threads or for locks they may hold (malloc is safe in glibc).
// Thread-safe; blocks the calling thread until the child is reaped.
absl::StatusOr<std::string> RunInChildProcess(const std::function<std::string()>& work, absl::Duration time_limit,
                                              size_t max_output_bytes);

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_CHILD_PROCESS_H_
