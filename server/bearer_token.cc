#include "server/bearer_token.h"

#include "absl/strings/str_cat.h"

namespace resnet8 {
namespace {

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (size_t i = 0; i < a.size(); ++i) difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  return difference == 0;
}

}  // namespace

absl::Status BearerToken::CheckValue(const absl::string_view* value, absl::string_view how) const {
  if (expected_.empty()) return absl::OkStatus();
  if (value == nullptr) {
    return absl::UnauthenticatedError(absl::StrCat("this server requires a token: send ", how));
  }
  if (!ConstantTimeEquals(*value, expected_)) {
    return absl::UnauthenticatedError("the bearer token is not valid for this server");
  }
  return absl::OkStatus();
}

grpc::Status BearerToken::Check(const grpc::ServerContext& context) const {
  const auto& metadata = context.client_metadata();
  auto found = metadata.find("authorization");
  absl::string_view value;
  if (found != metadata.end()) value = absl::string_view(found->second.data(), found->second.size());
  const absl::Status status =
      CheckValue(found == metadata.end() ? nullptr : &value, "metadata 'authorization: Bearer <token>'");
  return status.ok() ? grpc::Status::OK
                     : grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(status.message()));
}

}  // namespace resnet8
