#include "server/bearer_token.h"

namespace resnet8 {
namespace {

bool ConstantTimeEquals(grpc::string_ref a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (size_t i = 0; i < a.size(); ++i) difference |= static_cast<unsigned char>(a.data()[i] ^ b[i]);
  return difference == 0;
}

}  // namespace

grpc::Status BearerToken::Check(const grpc::ServerContext& context) const {
  if (expected_.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto found = metadata.find("authorization");
  if (found == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "this server requires a token: send metadata 'authorization: Bearer <token>'");
  }
  if (!ConstantTimeEquals(found->second, expected_)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "the bearer token is not valid for this server");
  }
  return grpc::Status::OK;
}

}  // namespace resnet8
