// Reads the small secret files that secure the service: PEM certificates and
// keys for TLS, and the bearer token for authentication. Programs read them
// once at startup (flags name the files); the libraries take the contents.
//
//   ASSIGN_OR_RETURN(std::string pem, ReadPemFile("/etc/resnet8/server.crt"));
//   ASSIGN_OR_RETURN(std::string token, ReadTokenFile("/run/secrets/resnet8_token"));
#ifndef RESNET8_COMMON_CREDENTIAL_FILES_H_
#define RESNET8_COMMON_CREDENTIAL_FILES_H_

#include <string>

#include "absl/status/statusor.h"

namespace resnet8 {

// The file's contents. NOT_FOUND if it cannot be opened; INVALID_ARGUMENT if
// it is larger than 1 MiB or holds no "-----BEGIN " block. Messages name the file.
absl::StatusOr<std::string> ReadPemFile(const std::string& path);

// The token on the file's first line, without surrounding whitespace.
// NOT_FOUND if it cannot be opened; INVALID_ARGUMENT if it is empty, longer
// than 4 KiB, or holds characters other than printable ASCII without spaces
// (they could not travel in an HTTP/2 header). Messages name the file, never
// the token.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

}  // namespace resnet8

#endif  // RESNET8_COMMON_CREDENTIAL_FILES_H_
