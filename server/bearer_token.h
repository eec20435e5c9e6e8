// The bearer-token check both gRPC services share: the call must carry the
// metadata "authorization: Bearer <token>" when the server has a token.
//
//   BearerToken token(options.auth_token);   // "" means no token is required
//   if (grpc::Status denied = token.Check(*context); !denied.ok()) return denied;
#ifndef RESNET8_SERVER_BEARER_TOKEN_H_
#define RESNET8_SERVER_BEARER_TOKEN_H_

#include <grpcpp/server_context.h>

#include <string>

namespace resnet8 {

class BearerToken {
 public:
  explicit BearerToken(const std::string& token) : expected_(token.empty() ? "" : "Bearer " + token) {}

  // OK, or UNAUTHENTICATED saying what is missing or wrong. The comparison
  // takes the same time wherever the strings differ, so response times do
  // not reveal how much of a guessed token was right.
  grpc::Status Check(const grpc::ServerContext& context) const;

 private:
  const std::string expected_;
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_BEARER_TOKEN_H_
