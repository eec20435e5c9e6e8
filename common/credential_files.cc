#include "common/credential_files.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace resnet8 {
namespace {

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the ", what, " file"));
  std::string contents(max_bytes + 1, '\0');
  in.read(contents.data(), static_cast<std::streamsize>(contents.size()));
  contents.resize(static_cast<size_t>(in.gcount()));
  if (contents.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the ", what, " file is larger than the limit of ", max_bytes, " bytes"));
  }
  return contents;
}

}  // namespace

absl::StatusOr<std::string> ReadPemFile(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadSmallFile(path, 1 << 20, "PEM");
  if (pem.ok() && pem->find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a PEM file (no -----BEGIN block)"));
  }
  return pem;
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadSmallFile(path, 4096, "token");
  if (!contents.ok()) return contents.status();
  std::string token(absl::StripAsciiWhitespace(contents->substr(0, contents->find('\n'))));
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": the token file is empty"));
  for (char c : token) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": the token holds a space or a character that is not printable ASCII"));
    }
  }
  return token;
}

}  // namespace resnet8
