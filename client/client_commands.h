// The client's commands as one library call, so that each can be run and
// tested in process: evaluate (a dataset through EvaluateDataset, with the
// reports), classify (image files or one record), health and info.
#ifndef RESNET8_CLIENT_CLIENT_COMMANDS_H_
#define RESNET8_CLIENT_CLIENT_COMMANDS_H_

#include <ostream>

#include "absl/status/statusor.h"
#include "client/client_options.h"

namespace resnet8 {

// Runs options.command (after options.Validate()), writing its answer to
// `out` and progress to stderr. Returns the program's exit code: 0, or for
// health 1 when the server is not SERVING. Errors name the flag, the file or
// the server ("server HOST:PORT unreachable or not ready: ...").
absl::StatusOr<int> RunClientCommand(const ClientOptions& options, std::ostream& out);

}  // namespace resnet8

#endif  // RESNET8_CLIENT_CLIENT_COMMANDS_H_
