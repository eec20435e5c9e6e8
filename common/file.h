// Reading and writing whole files, with errors that name them.
//
//   ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes("test_batch.bin"));
//   RETURN_IF_ERROR(WriteFileAtomically("report.json", text));
#ifndef RESNET8_COMMON_FILE_H_
#define RESNET8_COMMON_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace resnet8 {

// The file's bytes. NOT_FOUND "PATH: cannot open (no such file?)" when it
// cannot be opened; INVALID_ARGUMENT "PATH: read error" when reading fails.
absl::StatusOr<std::string> ReadFileBytes(const std::string& path);

// Writes `bytes` to `path` so that readers see the old file or the whole new
// one, never a part, even across a crash: a temporary file beside it
// (mkstemp, so two writers never share one), written, fsync'ed, mode 0644,
// then renamed into place; removed on any failure. INVALID_ARGUMENT
// "PATH: cannot ..." when the folder cannot take it, INTERNAL when a write
// fails midway.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view bytes);

}  // namespace resnet8

#endif  // RESNET8_COMMON_FILE_H_
