#include "server/raw_grpc_call.h"

#include <google/protobuf/descriptor.h>

#include <cstdlib>
#include <iostream>
#include <string>

namespace resnet8 {

int RawMethodIndex(absl::string_view service, absl::string_view method) {
  const google::protobuf::ServiceDescriptor* found =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(std::string(service));
  const google::protobuf::MethodDescriptor* call =
      found == nullptr ? nullptr : found->FindMethodByName(std::string(method));
  if (call == nullptr) {
    std::cerr << "no method " << method << " in the generated service " << service << "\n";
    std::abort();
  }
  return call->index();
}

}  // namespace resnet8
