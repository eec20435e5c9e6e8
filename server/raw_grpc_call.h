// What the services' raw handlers share. Classify, EvaluateDataset and
// ModelInfer are registered over their generated handlers
// (MarkMethodStreamed) so that they get the call before its request is read:
// they can refuse it without reading the body, and they parse the bytes
// themselves, which tells a garbled request from a client's half-close
// (evaluator_service.h).
//
//   MarkMethodStreamed(RawMethodIndex(v1::Evaluator::service_full_name(), "Classify"),
//                      new grpc::internal::StreamedUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(...));
//   v1::ClassifyRequest request;
//   if (grpc::Status read = ReadRequest(call, request); !read.ok()) return read;
//   ...
//   return SendMessage(response, call);
#ifndef RESNET8_SERVER_RAW_GRPC_CALL_H_
#define RESNET8_SERVER_RAW_GRPC_CALL_H_

#include <google/protobuf/message.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include "absl/strings/string_view.h"
#include "common/grpc_status.h"
#include "server/request_validation.h"

namespace resnet8 {

// The position of `method` in the generated class of `service` (its full
// name, e.g. Evaluator::service_full_name()), which registers the methods in
// the order the .proto declares them. Both must exist: a wrong name is a
// programming error and aborts.
int RawMethodIndex(absl::string_view service, absl::string_view method);

// Reads a unary call's one request and parses it: OK; CANCELLED when the
// client is gone; INVALID_ARGUMENT naming "the request" when it does not
// parse.
template <typename Reader>
grpc::Status ReadRequest(Reader* reader, google::protobuf::MessageLite& request) {
  grpc::ByteBuffer raw;
  if (!reader->Read(&raw)) return ClientGoneStatus();
  grpc::ProtoBufferReader input(&raw);
  return ToGrpcStatus(ParseRequest(input, request, "the request"));
}

// Serializes `message` onto the call: OK, or CANCELLED when the client is gone.
template <typename Writer>
grpc::Status SendMessage(const google::protobuf::Message& message, Writer* writer) {
  grpc::ByteBuffer buffer;
  bool own_buffer = false;
  grpc::Status serialized =
      grpc::SerializationTraits<google::protobuf::Message>::Serialize(message, &buffer, &own_buffer);
  if (!serialized.ok()) return serialized;
  return writer->Write(buffer) ? grpc::Status::OK : ClientGoneStatus();
}

}  // namespace resnet8

#endif  // RESNET8_SERVER_RAW_GRPC_CALL_H_
