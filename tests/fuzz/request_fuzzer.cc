// libFuzzer target: arbitrary bytes as the requests a client can send,
// parsed as the service parses them and run through the service core (validation, pixel
// views, metrics, reports) with a deterministic fake classifier. Any crash,
// sanitizer report, or a call that succeeds with answers that do not fit the
// request is a bug.
//
// Input: the first byte picks the call. 0xF0 and above: a REST infer body
// (the second byte's low bit says whether an Inference-Header-Content-Length
// header comes, the next two bytes are its value, little-endian; the rest is
// the body), decoded by rest_codec.h, classified and encoded back. Below
// 0xF0, modulo 3: Classify, a stream of EvaluateDataset batches, or the Open
// Inference Protocol's ModelInfer, the rest split at 0xFF 0xFE 0xFD into
// serialized request messages.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/stubs/logging.h"
#include "server/evaluator/evaluator_core.h"
#include "server/inference/inference_core.h"
#include "server/inference/rest_codec.h"
#include "server/request_validation.h"
#include "tests/support/fake_classifier.h"

namespace resnet8 {
namespace {

std::vector<std::string> SplitMessages(const uint8_t* data, size_t size) {
  static constexpr char kSeparator[] = "\xff\xfe\xfd";
  std::vector<std::string> parts;
  std::string all(reinterpret_cast<const char*>(data), size);
  size_t begin = 0;
  while (true) {
    size_t at = all.find(kSeparator, begin, 3);
    parts.push_back(all.substr(begin, at == std::string::npos ? std::string::npos : at - begin));
    if (at == std::string::npos) return parts;
    begin = at + 3;
  }
}

void Check(bool condition) {
  if (!condition) std::abort();
}

const EvaluatorCore& Core() {
  static const FirstByteClassifier* classifier = new FirstByteClassifier;
  static const EvaluatorCore* core = [] {
    ServiceLimits limits;
    limits.max_batch_images = 64;  // small, so the fuzzer reaches the limit
    return new EvaluatorCore(*classifier, FakeServedModel().class_names, "sha", limits);
  }();
  return *core;
}

const InferenceCore& Inference() {
  static const FirstByteClassifier* classifier = new FirstByteClassifier;
  static const InferenceCore* core = [] {
    ServiceLimits limits;
    limits.max_batch_images = 64;
    return new InferenceCore(*classifier, FakeServedModel(), "resnet8", "1", limits);
  }();
  return *core;
}

// Parses as the service does; a failure must be INVALID_ARGUMENT.
bool Parsed(const std::string& bytes, google::protobuf::MessageLite& request) {
  google::protobuf::io::ArrayInputStream input(bytes.data(), static_cast<int>(bytes.size()));
  const absl::Status status = ParseRequest(input, request, "message 1 of the stream");
  Check(status.ok() || status.code() == absl::StatusCode::kInvalidArgument);
  return status.ok();
}

// A REST infer body: refused with INVALID_ARGUMENT, or decoded; what the
// core accepts is answered with every image, and binary outputs fill
// exactly the bytes after the JSON.
void RestInfer(const uint8_t* data, size_t size) {
  if (size < 3) return;
  const std::string header = std::to_string(data[1] | (data[2] << 8));
  const std::string body(reinterpret_cast<const char*>(data + 3), size - 3);
  absl::StatusOr<RestInferRequest> infer = DecodeInferRequest(body, (data[0] & 1) ? &header : nullptr, "resnet8", "");
  if (!infer.ok()) {
    Check(infer.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  inference::ModelInferResponse response;
  int64_t images = 0;
  if (!Inference().Infer(infer->request, &response, &images).ok()) return;
  const RestBody out = EncodeInferResponse(response, *infer);
  Check(out.json_length <= out.bytes.size());
  for (const auto& output : response.outputs()) Check(output.shape(0) == images);
}

}  // namespace
}  // namespace resnet8

// Protobuf logs every string field that is not UTF-8; random bytes make
// thousands of such lines a second, which would slow the fuzzer.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace resnet8;
  if (size == 0) return 0;
  if (data[0] >= 0xF0) {
    RestInfer(data + 1, size - 1);
    return 0;
  }
  const int call = data[0] % 3;
  const std::vector<std::string> messages = SplitMessages(data + 1, size - 1);
  if (call == 2) {
    for (const std::string& bytes : messages) {
      inference::ModelInferRequest request;
      if (!request.ParseFromString(bytes)) continue;  // gRPC's generated handler refuses these
      inference::ModelInferResponse response;
      int64_t images = 0;
      const absl::Status status = Inference().Infer(request, &response, &images);
      if (!status.ok()) continue;
      // An answer holds every image asked for: shape [N, ...] on every output.
      Check(request.inputs_size() == 1 && images == request.inputs(0).shape(0));
      for (const auto& output : response.outputs()) Check(output.shape(0) == images);
    }
    return 0;
  }
  if (call == 0) {
    for (const std::string& bytes : messages) {
      v1::ClassifyRequest request;
      if (!Parsed(bytes, request)) continue;
      v1::ClassifyResponse response;
      if (Core().Classify(request, &response).ok()) {
        Check(response.predictions_size() == static_cast<int>(request.images().count()));
      }
    }
    return 0;
  }
  EvaluatorCore::Evaluation evaluation = Core().StartEvaluation();
  uint64_t accepted_images = 0;
  for (const std::string& bytes : messages) {
    v1::EvaluateRequest request;
    // As in the service: a message that does not parse ends the stream with
    // an error and no report.
    if (!Parsed(bytes, request)) return 0;
    v1::EvaluateResponse response;
    if (!evaluation.AddBatch(request, &response).ok()) continue;
    accepted_images += request.images().count();
    Check(response.predictions_size() == static_cast<int>(request.images().count()));
    for (int i = 0; i < request.indices_size(); ++i) Check(response.predictions(i).index() == request.indices(i));
  }
  v1::EvaluateResponse final_response;
  evaluation.Finish(&final_response);
  Check(final_response.report().images() == accepted_images);
  Check(final_response.report().correct() <= accepted_images);
  return 0;
}
