// The bearer-token check every service shares: the call must carry the
// metadata "authorization: Bearer <token>" when the server has a token.
//
//   BearerToken token(options.auth_token);   // "" means no token is required
//   if (grpc::Status denied = token.Check(*context); !denied.ok()) return denied;
//
// The REST binding checks its "Authorization" header with CheckValue().
#ifndef RESNET8_SERVER_BEARER_TOKEN_H_
#define RESNET8_SERVER_BEARER_TOKEN_H_

#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace resnet8 {

class BearerToken {
 public:
  explicit BearerToken(const std::string& token) : expected_(token.empty() ? "" : "Bearer " + token) {}

  // OK, or UNAUTHENTICATED saying what is missing or wrong, for a gRPC call
  // (metadata "authorization").
  grpc::Status Check(const grpc::ServerContext& context) const;
  // The same for any transport: `value` is the authorization header's value
  // (null when absent); `how` tells the caller how to send it. The comparison
  // takes the same time wherever the strings differ, so response times do
  // not reveal how much of a guessed token was right.
  absl::Status CheckValue(const absl::string_view* value, absl::string_view how) const;

 private:
  const std::string expected_;
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_BEARER_TOKEN_H_
