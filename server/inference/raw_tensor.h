// The Open Inference Protocol's raw tensor form, one home for both bindings:
// gRPC's raw_input_contents / raw_output_contents and REST's binary-data
// extension carry the same bytes. FP32 is little-endian floats back to back;
// BYTES is, per element, a 4-byte little-endian length, then the bytes.
//
//   std::string raw;
//   AppendRawBytesElement("0.97:3:cat", &raw);    // "\x0a\0\0\0" "0.97:3:cat"
//   BytesElementsOfRaw(raw);                       // {"0.97:3:cat"}
#ifndef RESNET8_SERVER_INFERENCE_RAW_TENSOR_H_
#define RESNET8_SERVER_INFERENCE_RAW_TENSOR_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "inference/grpc_service.pb.h"

namespace resnet8 {

void AppendRawBytesElement(absl::string_view element, std::string* raw);

// An output's elements in the raw form, from its typed contents (FP32 or BYTES).
std::string RawOfTypedOutput(const inference::ModelInferResponse::InferOutputTensor& output);

// The elements of a raw FP32 or BYTES tensor; a trailing partial element
// (which this server never writes) is left out.
std::vector<float> Fp32ElementsOfRaw(absl::string_view raw);
std::vector<std::string> BytesElementsOfRaw(absl::string_view raw);

}  // namespace resnet8

#endif  // RESNET8_SERVER_INFERENCE_RAW_TENSOR_H_
