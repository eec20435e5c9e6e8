#include "server/inference/rest_codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "server/admission.h"
#include "server/inference/raw_tensor.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

using nlohmann::json;

absl::StatusOr<RestInferRequest> Decode(const std::string& body, const std::string* header_length = nullptr) {
  return DecodeInferRequest(body, header_length, "resnet8", "1");
}

TEST(RestCodec, DecodesNestedTypedDataAsTheGrpcMessage) {
  ASSERT_OK_AND_ASSIGN(RestInferRequest infer, Decode(R"({"id": "a", "inputs": [{"name": "input_1",
      "datatype": "FP32", "shape": [1, 2, 2, 1], "data": [[[1.5], [2]], [[3], [4.25]]]}],
      "outputs": [{"name": "dense", "parameters": {"classification": 3}}]})"));
  const inference::ModelInferRequest& request = infer.request;
  EXPECT_EQ(request.model_name(), "resnet8");
  EXPECT_EQ(request.model_version(), "1");
  EXPECT_EQ(request.id(), "a");
  ASSERT_EQ(request.inputs_size(), 1);
  EXPECT_EQ(request.inputs(0).shape_size(), 4);
  ASSERT_EQ(request.inputs(0).contents().fp32_contents_size(), 4);
  EXPECT_EQ(request.inputs(0).contents().fp32_contents(3), 4.25f);
  EXPECT_EQ(request.outputs(0).parameters().at("classification").int64_param(), 3);
  EXPECT_TRUE(infer.binary_outputs.empty());
  EXPECT_FALSE(infer.all_binary);
}

TEST(RestCodec, DecodesTheBinaryDataExtension) {
  const std::string head = R"({"inputs": [{"name": "x", "datatype": "UINT8", "shape": [1, 3],
      "parameters": {"binary_data_size": 3}}], "outputs": [{"name": "y", "parameters": {"binary_data": true}}]})";
  const std::string length = std::to_string(head.size());
  ASSERT_OK_AND_ASSIGN(RestInferRequest infer, Decode(head + "\x01\x02\xff", &length));
  ASSERT_EQ(infer.request.raw_input_contents_size(), 1);
  EXPECT_EQ(infer.request.raw_input_contents(0), "\x01\x02\xff");
  EXPECT_EQ(infer.binary_outputs, std::set<std::string>{"y"});
}

TEST(RestCodec, RefusesMalformedBodiesNamingWhatIsWrong) {
  const struct {
    std::string body;
    const char* message;
  } kCases[] = {
      {"{", "the request body is not valid JSON"},
      {"[]", "the request body is not a JSON object"},
      {R"({"inputs": 1})", "'inputs' is missing or not an array"},
      {R"({"inputs": [{"name": "x"}]})", "inputs[0] needs 'name' (string), 'datatype' (string) and 'shape'"},
      {R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1.5]}]})", "inputs[0] shape holds a non-integer"},
      {R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1]}]})", "inputs[0] has no 'data'"},
      {R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [2], "data": [1, "a"]}]})",
       "inputs[0] data element 1 is not a number"},
      {R"({"inputs": [{"name": "x", "datatype": "UINT8", "shape": [1], "data": [-1]}]})",
       "UINT8 data are whole numbers 0..255"},
      {R"({"parameters": {"priority": 1}, "inputs": []})", "request parameter 'priority' is not supported"},
      {R"({"inputs": [{"name": "x", "datatype": "UINT8", "shape": [1], "parameters": {"binary_data_size": 4}}]})",
       "inputs[0] binary_data_size 4 runs past the 0 bytes after the JSON header"},
      {R"({"inputs": [], "outputs": [{"name": "y", "parameters": {"top": 1}}]})",
       "outputs[0] parameter 'top' is not supported"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.body);
    EXPECT_STATUS(Decode(c.body), absl::StatusCode::kInvalidArgument, c.message);
  }
  const std::string too_long = "999", not_a_number = "x", short_head = "2";
  EXPECT_STATUS(Decode("{}", &too_long), absl::StatusCode::kInvalidArgument,
                "Inference-Header-Content-Length is not a length within the 2-byte body");
  EXPECT_STATUS(Decode("{}", &not_a_number), absl::StatusCode::kInvalidArgument, "is not a length");
  EXPECT_STATUS(Decode(R"({"inputs": []}xyz)", &short_head), absl::StatusCode::kInvalidArgument, "not valid JSON");
  const std::string head = R"({"inputs": []})";
  const std::string length = std::to_string(head.size());
  EXPECT_STATUS(Decode(head + "xyz", &length), absl::StatusCode::kInvalidArgument,
                "3 bytes after the JSON header belong to no input");
}

inference::ModelInferResponse Answer() {
  inference::ModelInferResponse answer;
  answer.set_model_name("resnet8");
  answer.set_model_version("1");
  auto* probabilities = answer.add_outputs();
  probabilities->set_name("dense");
  probabilities->set_datatype("FP32");
  probabilities->add_shape(1);
  probabilities->add_shape(2);
  probabilities->mutable_contents()->add_fp32_contents(0.25f);
  probabilities->mutable_contents()->add_fp32_contents(0.75f);
  auto* top = answer.add_outputs();
  top->set_name("top");
  top->set_datatype("BYTES");
  top->add_shape(1);
  top->mutable_contents()->add_bytes_contents("0.75:1:automobile");
  return answer;
}

TEST(RestCodec, EncodesOutputsAsJsonData) {
  const RestBody body = EncodeInferResponse(Answer(), {});
  EXPECT_EQ(body.json_length, body.bytes.size());
  const json parsed = json::parse(body.bytes);
  EXPECT_EQ(parsed["outputs"][0]["data"], json({0.25, 0.75}));
  EXPECT_EQ(parsed["outputs"][1]["data"], json({"0.75:1:automobile"}));
}

TEST(RestCodec, EncodesAskedOutputsAsBinaryDataAfterTheJson) {
  RestInferRequest asked;
  asked.all_binary = true;
  const RestBody body = EncodeInferResponse(Answer(), asked);
  const json head = json::parse(body.bytes.substr(0, body.json_length));
  EXPECT_EQ(head["outputs"][0]["parameters"]["binary_data_size"], 8);
  EXPECT_FALSE(head["outputs"][0].contains("data"));
  const std::string binary = body.bytes.substr(body.json_length);
  ASSERT_EQ(binary.size(), 8u + 4u + 17u);
  EXPECT_EQ(Fp32ElementsOfRaw(binary.substr(0, 8)), (std::vector<float>{0.25f, 0.75f}));
  EXPECT_EQ(BytesElementsOfRaw(binary.substr(8)), std::vector<std::string>{"0.75:1:automobile"});
}

TEST(RawTensor, BytesElementsRoundTripAndStopAtATruncatedOne) {
  std::string raw;
  AppendRawBytesElement("cat", &raw);
  AppendRawBytesElement("", &raw);
  EXPECT_EQ(raw.size(), 4u + 3u + 4u);
  EXPECT_EQ(BytesElementsOfRaw(raw), (std::vector<std::string>{"cat", ""}));
  EXPECT_EQ(BytesElementsOfRaw(std::string("\xff\xff\xff\x7f"
                                           "ab",
                                           6)),
            std::vector<std::string>{});
}

TEST(RestCodec, MapsStatusCodesToHttp) {
  EXPECT_EQ(HttpStatusOf(absl::InvalidArgumentError("x")), 400);
  EXPECT_EQ(HttpStatusOf(absl::UnauthenticatedError("x")), 401);
  EXPECT_EQ(HttpStatusOf(absl::NotFoundError("x")), 404);
  EXPECT_EQ(HttpStatusOf(absl::ResourceExhaustedError("above max_batch_images")), 413);
  EXPECT_EQ(HttpStatusOf(absl::UnavailableError("x")), 503);
  EXPECT_EQ(HttpStatusOf(absl::InternalError("x")), 500);
  // The admission gate's refusal is overload: 429, not "too large".
  AdmissionGate gate(1);
  ASSERT_OK_AND_ASSIGN(AdmissionGate::Ticket held, gate.Admit(1));
  const absl::Status busy = gate.Admit(1).status();
  EXPECT_TRUE(IsOverload(busy)) << busy;
  EXPECT_EQ(HttpStatusOf(busy), 429);
  EXPECT_EQ(json::parse(ErrorJson(absl::NotFoundError("no model 'x'")))["error"], "no model 'x'");
}

}  // namespace
}  // namespace resnet8
