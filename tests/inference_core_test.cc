// The Open Inference Protocol's core with the fake classifier: metadata and
// configuration, ModelInfer's answer for each input form, the classification
// extension, every refusal with its code and the field it names, and the
// statistics. The bindings' end-to-end test is inference_protocol_test.sh.
#include "server/inference/inference_core.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "tests/support/fake_classifier.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

using Request = inference::ModelInferRequest;

class InferenceCoreTest : public ::testing::Test {
 protected:
  InferenceCoreTest() : core_(classifier_, FakeServedModel(), "resnet8", "1", {.max_batch_images = 4}) {}

  // `count` images whose bytes all equal image index + 3 (fake class 3, 4, ...).
  static Request RawRequest(int64_t count, const std::string& datatype = "UINT8") {
    Request request;
    request.set_model_name("resnet8");
    auto* input = request.add_inputs();
    input->set_name("input");
    input->set_datatype(datatype);
    for (int64_t d : {count, int64_t{32}, int64_t{32}, int64_t{3}}) input->add_shape(d);
    std::string bytes;
    for (int64_t i = 0; i < count; ++i) bytes.append(kImageBytes, static_cast<char>(i + 3));
    request.add_raw_input_contents(bytes);
    return request;
  }

  FirstByteClassifier classifier_;
  InferenceCore core_;
};

TEST_F(InferenceCoreTest, MetadataAndConfigDescribeTheModelAsKerasDeclaresIt) {
  const inference::ModelMetadataResponse metadata = core_.Metadata();
  EXPECT_EQ(metadata.name(), "resnet8");
  ASSERT_EQ(metadata.inputs_size(), 1);
  EXPECT_EQ(metadata.inputs(0).datatype(), "UINT8");
  EXPECT_EQ(std::vector<int64_t>(metadata.inputs(0).shape().begin(), metadata.inputs(0).shape().end()),
            (std::vector<int64_t>{-1, 32, 32, 3}));
  EXPECT_EQ(metadata.outputs(0).datatype(), "FP32");
  const inference::ModelConfig config = core_.Config().config();
  EXPECT_EQ(config.max_batch_size(), 4);
  EXPECT_EQ(config.input(0).format(), inference::ModelInput::FORMAT_NHWC);
  EXPECT_EQ(config.output(0).dims(0), 10);
}

TEST_F(InferenceCoreTest, RawTypedAndFloatInputsGiveTheSameValues) {
  inference::ModelInferResponse raw;
  int64_t images = 0;
  ASSERT_OK(core_.Infer(RawRequest(2), &raw, &images));
  EXPECT_EQ(images, 2);
  ASSERT_EQ(raw.raw_output_contents_size(), 1);
  std::vector<float> values(20);
  ASSERT_EQ(raw.raw_output_contents(0).size(), values.size() * sizeof(float));
  std::memcpy(values.data(), raw.raw_output_contents(0).data(), raw.raw_output_contents(0).size());
  EXPECT_EQ(values[3], FirstByteClassifier::kHot);  // image 0: class 3
  EXPECT_EQ(values[10 + 4], FirstByteClassifier::kHot);

  Request typed = RawRequest(2);
  typed.clear_raw_input_contents();
  Request floats = RawRequest(2, "FP32");
  floats.clear_raw_input_contents();
  for (int64_t i = 0; i < 2 * kImageBytes; ++i) {
    typed.mutable_inputs(0)->mutable_contents()->add_uint_contents(i / kImageBytes + 3);
    floats.mutable_inputs(0)->mutable_contents()->add_fp32_contents(i / kImageBytes + 3.0f);
  }
  for (const Request& request : {typed, floats}) {
    inference::ModelInferResponse answer;
    ASSERT_OK(core_.Infer(request, &answer));
    EXPECT_EQ(answer.raw_output_contents_size(), 0);
    const auto& contents = answer.outputs(0).contents().fp32_contents();
    EXPECT_EQ(std::vector<float>(contents.begin(), contents.end()), values);
  }
}

TEST_F(InferenceCoreTest, ClassificationExtensionGivesTopKBestFirst) {
  Request request = RawRequest(1);
  request.clear_raw_input_contents();
  for (int64_t i = 0; i < kImageBytes; ++i) request.mutable_inputs(0)->mutable_contents()->add_uint_contents(7);
  auto* asked = request.add_outputs();
  asked->set_name("output");
  (*asked->mutable_parameters())["classification"].set_int64_param(2);
  inference::ModelInferResponse answer;
  ASSERT_OK(core_.Infer(request, &answer));
  ASSERT_EQ(answer.outputs(0).datatype(), "BYTES");
  ASSERT_EQ(answer.outputs(0).contents().bytes_contents_size(), 2);
  EXPECT_EQ(answer.outputs(0).contents().bytes_contents(0), "0.910000026:7:class7");
  EXPECT_EQ(answer.outputs(0).contents().bytes_contents(1), "0.00999999978:0:class0");  // ties: lowest index
}

TEST_F(InferenceCoreTest, RefusesWithTheProtocolsCodesNamingTheField) {
  auto refused = [&](Request request, absl::StatusCode code, const std::string& fragment) {
    inference::ModelInferResponse answer;
    EXPECT_STATUS(core_.Infer(request, &answer), code, fragment);
  };
  Request r = RawRequest(1);
  r.set_model_name("other");
  refused(r, absl::StatusCode::kNotFound, "no model named 'other'");
  r = RawRequest(1);
  r.set_model_version("2");
  refused(r, absl::StatusCode::kNotFound, "has no version '2'");
  r = RawRequest(5);
  refused(r, absl::StatusCode::kResourceExhausted, "5 images, above this server's max_batch_images of 4");
  r = RawRequest(1);
  r.mutable_inputs(0)->set_name("x");
  refused(r, absl::StatusCode::kInvalidArgument, "inputs[0] is named 'x'");
  r = RawRequest(1);
  r.mutable_inputs(0)->set_shape(1, 3);
  refused(r, absl::StatusCode::kInvalidArgument, "shape is [1,3,32,3]");
  r = RawRequest(1, "FP16");
  refused(r, absl::StatusCode::kInvalidArgument, "datatype 'FP16'");
  r = RawRequest(1, "FP32");
  refused(r, absl::StatusCode::kInvalidArgument, "has 3072 bytes; FP32 shape [1,32,32,3] needs exactly 12288");
  r = RawRequest(1);
  r.add_raw_input_contents("");
  refused(r, absl::StatusCode::kInvalidArgument, "raw_input_contents has 2 entries for 1 input");
  r = RawRequest(1);
  r.mutable_inputs(0)->mutable_contents()->add_uint_contents(1);
  refused(r, absl::StatusCode::kInvalidArgument, "sets contents and raw_input_contents");
  r = RawRequest(1, "FP32");
  r.clear_raw_input_contents();
  for (int64_t i = 0; i < kImageBytes; ++i)
    r.mutable_inputs(0)->mutable_contents()->add_fp32_contents(i == 9 ? NAN : 1);
  refused(r, absl::StatusCode::kInvalidArgument, "inputs[0] element 9 is nan");
  r = RawRequest(1);
  (*r.mutable_parameters())["priority"].set_int64_param(1);
  refused(r, absl::StatusCode::kInvalidArgument, "request parameter 'priority' is not supported");
  r = RawRequest(1);
  r.add_outputs()->set_name("output");
  r.add_outputs()->set_name("output");
  refused(r, absl::StatusCode::kInvalidArgument, "outputs[1] asks for 'output' a second time");
  r = RawRequest(1);
  (*r.add_outputs()->mutable_parameters())["classification"].set_int64_param(1);
  r.mutable_outputs(0)->set_name("output");
  (*r.mutable_outputs(0)->mutable_parameters())["binary_data"].set_bool_param(true);
  refused(r, absl::StatusCode::kInvalidArgument, "parameter 'binary_data' is not supported");
  EXPECT_EQ(classifier_.calls(), 0) << "a refused request reached the model";
}

TEST_F(InferenceCoreTest, StatisticsCountSuccessesFailuresAndImages) {
  inference::ModelInferResponse answer;
  ASSERT_OK(core_.Infer(RawRequest(3), &answer));
  ASSERT_OK(core_.Infer(RawRequest(1), &answer));
  EXPECT_FALSE(core_.Infer(RawRequest(9), &answer).ok());
  const inference::ModelStatistics stats =
      core_.Statistics(7, absl::Milliseconds(2), absl::Milliseconds(5)).model_stats(0);
  EXPECT_EQ(stats.inference_count(), 4u);
  EXPECT_EQ(stats.execution_count(), 2u);
  EXPECT_EQ(stats.inference_stats().success().count(), 2u);
  EXPECT_EQ(stats.inference_stats().fail().count(), 1u);
  EXPECT_EQ(stats.inference_stats().queue().ns(), 2000000u);
  EXPECT_EQ(stats.inference_stats().compute_infer().count(), 7u);
  EXPECT_GT(stats.last_inference(), 0u);
}

}  // namespace
}  // namespace resnet8
