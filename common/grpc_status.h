// The one mapping between absl::Status and grpc::Status, used by the service
// (to answer) and the client (to report). Codes map one to one; messages are
// carried unchanged.
//
//   return ToGrpcStatus(core.Classify(request, &response));
#ifndef RESNET8_COMMON_GRPC_STATUS_H_
#define RESNET8_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace resnet8 {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// What a handler answers when its client is gone: the call was cancelled or
// its deadline passed before the handler could read or write.
grpc::Status ClientGoneStatus();

}  // namespace resnet8

#endif  // RESNET8_COMMON_GRPC_STATUS_H_
