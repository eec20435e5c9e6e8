// Runs another program with bounded time and output, so that a library call
// that may loop forever or crash on hostile input (HDF5 on a corrupt file does
// both) runs in a process of its own and cannot take the caller down with it.
//
//   SubprocessCall call{.program = "/usr/local/bin/resnet8_h5_reader",
//                    .arguments = {"--file", path},
//                    .time_limit = absl::Seconds(20),
//                    .max_output_bytes = 1 << 30};
//   absl::StatusOr<std::string> bytes = RunSubprocess(call);
//
// The program is started with posix_spawn (a new image, not a copy of the
// caller), so the caller may have any number of threads: nothing of their
// locks or state reaches the child. It gets `input` as its standard input,
// the caller's environment and standard error, and no other descriptor.
#ifndef RESNET8_SERVER_KERAS_SUBPROCESS_H_
#define RESNET8_SERVER_KERAS_SUBPROCESS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace resnet8 {

struct SubprocessCall {
  std::string program;                      // a path; PATH is not searched
  std::vector<std::string> arguments = {};  // argv[1..]
  absl::string_view input = {};             // its standard input, whole; read before RunSubprocess returns
  absl::Duration time_limit = absl::Seconds(20);
  size_t max_output_bytes = 0;
};

// Returns what the program wrote to its standard output. Errors:
//   DEADLINE_EXCEEDED  it did not finish within `time_limit`; it is killed
//                      (SIGKILL) and reaped before returning;
//   ABORTED            it died from a signal (crash) or exited non-zero;
//   RESOURCE_EXHAUSTED it wrote more than `max_output_bytes` (killed);
//   INTERNAL           it could not be started (the message names it and
//                      says why), or a pipe could not be made.
// Other messages say what happened, not to what: callers add the context.
// Thread-safe; blocks the calling thread until the program is reaped.
absl::StatusOr<std::string> RunSubprocess(const SubprocessCall& call);

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_SUBPROCESS_H_
