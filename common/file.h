// Reading a whole file into memory, with errors that name it.
//
//   ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes("test_batch.bin"));
#ifndef RESNET8_COMMON_FILE_H_
#define RESNET8_COMMON_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace resnet8 {

// The file's bytes. NOT_FOUND "PATH: cannot open (no such file?)" when it
// cannot be opened; INVALID_ARGUMENT "PATH: read error" when reading fails.
absl::StatusOr<std::string> ReadFileBytes(const std::string& path);

}  // namespace resnet8

#endif  // RESNET8_COMMON_FILE_H_
