// The JSON (and binary-data) forms of the Open Inference Protocol's REST
// binding, as pure functions: a request body becomes the gRPC binding's
// ModelInferRequest, and answers become bodies. inference_http.cc routes
// HTTP to these; unit tests and the request fuzzer call them directly.
//
//   ASSIGN_OR_RETURN(RestInferRequest infer,
//                    DecodeInferRequest(body, header_length, "resnet8", ""));
//   core.Infer(infer.request, &answer);
//   RestBody out = EncodeInferResponse(answer, infer);  // JSON, then any binary outputs
//
// The binary-data extension (Triton's): a request's JSON header is followed
// by the inputs' bytes, its length in the Inference-Header-Content-Length
// header; an input says how many bytes are its own with the parameter
// binary_data_size. An output asked for with "binary_data": true (or every
// output, with the request parameter binary_data_output) comes back the same
// way.
#ifndef RESNET8_SERVER_INFERENCE_REST_CODEC_H_
#define RESNET8_SERVER_INFERENCE_REST_CODEC_H_

#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "inference/grpc_service.pb.h"

namespace resnet8 {

inline constexpr char kInferenceHeaderLength[] = "Inference-Header-Content-Length";

struct RestInferRequest {
  inference::ModelInferRequest request;
  std::set<std::string> binary_outputs;  // outputs to answer as binary data, by name
  bool all_binary = false;               // every output as binary data
};

// `body` is the whole HTTP body; `header_length` the Inference-Header-
// Content-Length header's value, or nullptr without one (then the body is
// all JSON). INVALID_ARGUMENT naming the field for anything malformed: bad
// JSON, a header length outside the body, a missing or mistyped field, a
// binary_data_size past the body, bytes that belong to no input, an unknown
// parameter. What the JSON holds is then checked by InferenceCore::Infer.
absl::StatusOr<RestInferRequest> DecodeInferRequest(absl::string_view body, const std::string* header_length,
                                                    const std::string& model, const std::string& version);

struct RestBody {
  std::string bytes;
  // The JSON's length: bytes.size() unless binary outputs follow it (then
  // sent as Inference-Header-Content-Length, with application/octet-stream).
  size_t json_length = 0;
};

// The answer to `asked`: outputs as JSON "data", or as binary data where asked.
RestBody EncodeInferResponse(const inference::ModelInferResponse& answer, const RestInferRequest& asked);

std::string ServerMetadataJson(const inference::ServerMetadataResponse& metadata);
std::string ModelMetadataJson(const inference::ModelMetadataResponse& metadata);
// A protobuf answer (config, statistics) as JSON with the .proto's field names.
std::string ProtoJson(const google::protobuf::Message& message);

// The repository extension's bodies (Triton's REST form). An index request
// is empty or {"ready": <bool>}; the answer is a JSON array of
// {"name", "version", "state", "reason"}. A load or unload request is empty
// or an object whose "parameters", if any, are empty (none is supported).
// INVALID_ARGUMENT naming the field otherwise; `what` names the request.
absl::StatusOr<bool> DecodeRepositoryIndexRequest(absl::string_view body);
std::string RepositoryIndexJson(const inference::RepositoryIndexResponse& index);
absl::Status CheckRepositoryRequestBody(absl::string_view body, absl::string_view what);

// {"error": "<message>"}, and the HTTP status of a status: 400, 401, 404,
// 413 (RESOURCE_EXHAUSTED: over a size limit), 429 (RESOURCE_EXHAUSTED:
// the admission gate's overload, admission.h), 503, else 500.
std::string ErrorJson(const absl::Status& status);
int HttpStatusOf(const absl::Status& status);

}  // namespace resnet8

#endif  // RESNET8_SERVER_INFERENCE_REST_CODEC_H_
