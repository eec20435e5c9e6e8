// SHA-256 of a file or a byte string, as lowercase hex: how the service
// identifies exactly which model and which data it evaluated.
//
//   ASSIGN_OR_RETURN(std::string digest, Sha256OfFile("model.h5"));  // "5f938a8e..."
#ifndef RESNET8_COMMON_SHA256_H_
#define RESNET8_COMMON_SHA256_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace resnet8 {

// NOT_FOUND if the file cannot be opened; INTERNAL if reading fails.
absl::StatusOr<std::string> Sha256OfFile(const std::string& path);
std::string Sha256OfBytes(absl::string_view bytes);

}  // namespace resnet8

#endif  // RESNET8_COMMON_SHA256_H_
