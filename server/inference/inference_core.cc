#include "server/inference/inference_core.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/image.h"
#include "common/status_macros.h"
#include "server/inference/raw_tensor.h"

namespace resnet8 {
namespace {

constexpr char kPlatform[] = "pytorch_libtorch";
constexpr char kClassification[] = "classification";

using InputTensor = inference::ModelInferRequest::InferInputTensor;
using OutputTensor = inference::ModelInferResponse::InferOutputTensor;

// The pixels of one request, owned: bytes for UINT8, floats for FP32.
struct Pixels {
  std::vector<uint8_t> bytes;
  std::vector<float> values;
  int64_t count = 0;
};

// Names the content fields that are set, other than `allowed`.
std::vector<std::string> OtherContents(const inference::InferTensorContents& contents, absl::string_view allowed) {
  std::vector<std::string> set;
  auto check = [&](absl::string_view name, int size) {
    if (size > 0 && name != allowed) set.push_back(absl::StrCat("contents.", name));
  };
  check("bool_contents", contents.bool_contents_size());
  check("int_contents", contents.int_contents_size());
  check("int64_contents", contents.int64_contents_size());
  check("uint_contents", contents.uint_contents_size());
  check("uint64_contents", contents.uint64_contents_size());
  check("fp32_contents", contents.fp32_contents_size());
  check("fp64_contents", contents.fp64_contents_size());
  check("bytes_contents", contents.bytes_contents_size());
  return set;
}

absl::Status CheckFinite(const std::vector<float>& values, absl::string_view where) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " element ", i, " is ", values[i], "; pixel values must be finite"));
    }
  }
  return absl::OkStatus();
}

// The input's pixels from raw_input_contents (`raw`, when not null) or from
// its typed contents. The shape is already checked: `count` images.
absl::StatusOr<Pixels> ReadPixels(const InputTensor& input, const std::string* raw, int64_t count) {
  Pixels pixels;
  pixels.count = count;
  const size_t elements = static_cast<size_t>(count * kImageBytes);
  const bool fp32 = input.datatype() == "FP32";
  if (raw != nullptr) {
    const size_t expected = elements * (fp32 ? sizeof(float) : 1);
    if (raw->size() != expected) {
      return absl::InvalidArgumentError(absl::StrCat("the raw data of inputs[0] has ", raw->size(), " bytes; ",
                                                     input.datatype(), " shape [", absl::StrJoin(input.shape(), ","),
                                                     "] needs exactly ", expected));
    }
    if (fp32) {
      pixels.values.resize(elements);
      std::memcpy(pixels.values.data(), raw->data(), expected);  // little-endian, as the protocol's raw data is
      RETURN_IF_ERROR(CheckFinite(pixels.values, "inputs[0]"));
    } else {
      pixels.bytes.assign(raw->begin(), raw->end());
    }
    return pixels;
  }
  const absl::string_view field = fp32 ? "fp32_contents" : "uint_contents";
  if (std::vector<std::string> others = OtherContents(input.contents(), field); !others.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("inputs[0] is ", input.datatype(), " but sets ",
                                                   absl::StrJoin(others, ", "), "; its values go in contents.", field));
  }
  const size_t given = fp32 ? input.contents().fp32_contents_size() : input.contents().uint_contents_size();
  if (given != elements) {
    return absl::InvalidArgumentError(absl::StrCat("inputs[0] holds ", given, " values; shape [",
                                                   absl::StrJoin(input.shape(), ","), "] needs exactly ", elements));
  }
  if (fp32) {
    pixels.values.assign(input.contents().fp32_contents().begin(), input.contents().fp32_contents().end());
    RETURN_IF_ERROR(CheckFinite(pixels.values, "inputs[0]"));
    return pixels;
  }
  pixels.bytes.resize(elements);
  for (size_t i = 0; i < elements; ++i) {
    const uint32_t value = input.contents().uint_contents(static_cast<int>(i));
    if (value > 255) {
      return absl::InvalidArgumentError(
          absl::StrCat("inputs[0] element ", i, " is ", value, "; UINT8 values are 0..255"));
    }
    pixels.bytes[i] = static_cast<uint8_t>(value);
  }
  return pixels;
}

}  // namespace

InferenceCore::InferenceCore(const ImageClassifier& classifier, const ServedModel& model, std::string name,
                             std::string version, ServiceLimits limits, AdmissionGate* admission)
    : classifier_(classifier),
      name_(std::move(name)),
      version_(std::move(version)),
      input_name_(model.input_name),
      output_name_(model.output_name),
      class_names_(model.class_names),
      limits_(limits),
      admission_(admission) {}

absl::Status InferenceCore::FindModel(absl::string_view name, absl::string_view version) const {
  if (name != name_) {
    return absl::NotFoundError(absl::StrCat("no model named '", name, "'; this server serves '", name_, "'"));
  }
  if (!version.empty() && version != version_) {
    return absl::NotFoundError(
        absl::StrCat("model '", name_, "' has no version '", version, "'; it has version ", version_));
  }
  return absl::OkStatus();
}

inference::ServerMetadataResponse InferenceServerMetadata() {
  inference::ServerMetadataResponse metadata;
  metadata.set_name("resnet8_server");
  metadata.set_version("1");
  // binary_tensor_data is the REST binding's form of what gRPC's raw
  // contents carry; Triton lists one set for both bindings too.
  for (const char* extension :
       {"classification", "binary_tensor_data", "model_configuration", "model_repository", "statistics"}) {
    metadata.add_extensions(extension);
  }
  return metadata;
}

inference::ModelMetadataResponse InferenceCore::Metadata() const {
  inference::ModelMetadataResponse metadata;
  metadata.set_name(name_);
  metadata.add_versions(version_);
  metadata.set_platform(kPlatform);
  auto* input = metadata.add_inputs();
  input->set_name(input_name_);
  input->set_datatype("UINT8");  // FP32 is taken too (pixel values as floats)
  for (int64_t d : {int64_t{-1}, kImageHeight, kImageWidth, kImageChannels}) input->add_shape(d);
  auto* output = metadata.add_outputs();
  output->set_name(output_name_);
  output->set_datatype("FP32");
  output->add_shape(-1);
  output->add_shape(classifier_.num_classes());
  return metadata;
}

inference::ModelConfigResponse InferenceCore::Config() const {
  inference::ModelConfigResponse response;
  inference::ModelConfig* config = response.mutable_config();
  config->set_name(name_);
  config->set_platform(kPlatform);
  config->set_backend("pytorch");
  config->set_max_batch_size(static_cast<int32_t>(limits_.max_batch_images));
  inference::ModelInput* input = config->add_input();
  input->set_name(input_name_);
  input->set_data_type(inference::TYPE_UINT8);
  input->set_format(inference::ModelInput::FORMAT_NHWC);
  for (int64_t d : {kImageHeight, kImageWidth, kImageChannels}) input->add_dims(d);
  inference::ModelOutput* output = config->add_output();
  output->set_name(output_name_);
  output->set_data_type(inference::TYPE_FP32);
  output->add_dims(classifier_.num_classes());
  return response;
}

absl::Status InferenceCore::Infer(const inference::ModelInferRequest& request, inference::ModelInferResponse* response,
                                  int64_t* images) const {
  const absl::Time start = absl::Now();
  int64_t classified = 0;
  const absl::Status status = InferUncounted(request, response, &classified);
  const absl::Time end = absl::Now();
  const uint64_t ns = static_cast<uint64_t>(absl::ToInt64Nanoseconds(end - start));
  absl::MutexLock lock(&mutex_);
  if (status.ok()) {
    ++totals_.success;
    totals_.success_ns += ns;
    totals_.images += classified;
    totals_.last_ms = static_cast<uint64_t>(absl::ToUnixMillis(end));
  } else {
    ++totals_.fail;
    totals_.fail_ns += ns;
  }
  if (images != nullptr) *images = classified;
  return status;
}

inference::ModelStatisticsResponse InferenceCore::Statistics(uint64_t calls, absl::Duration queue,
                                                             absl::Duration compute) const {
  auto set = [](inference::StatisticDuration* out, uint64_t count, uint64_t ns) {
    out->set_count(count);
    out->set_ns(ns);
  };
  inference::ModelStatisticsResponse response;
  inference::ModelStatistics* stats = response.add_model_stats();
  stats->set_name(name_);
  stats->set_version(version_);
  absl::MutexLock lock(&mutex_);
  stats->set_last_inference(totals_.last_ms);
  stats->set_inference_count(totals_.images);
  stats->set_execution_count(totals_.success);
  inference::InferStatistics* infer = stats->mutable_inference_stats();
  set(infer->mutable_success(), totals_.success, totals_.success_ns);
  set(infer->mutable_fail(), totals_.fail, totals_.fail_ns);
  set(infer->mutable_queue(), calls, static_cast<uint64_t>(absl::ToInt64Nanoseconds(queue)));
  set(infer->mutable_compute_infer(), calls, static_cast<uint64_t>(absl::ToInt64Nanoseconds(compute)));
  return response;
}

absl::Status InferenceCore::InferUncounted(const inference::ModelInferRequest& request,
                                           inference::ModelInferResponse* response, int64_t* images) const {
  RETURN_IF_ERROR(FindModel(request.model_name(), request.model_version()));
  if (!request.parameters().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("request parameter '", request.parameters().begin()->first, "' is not supported by this server"));
  }
  if (request.inputs_size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("the request has ", request.inputs_size(), " inputs; model '", name_,
                                                   "' takes one, '", input_name_, "'"));
  }
  const InputTensor& input = request.inputs(0);
  if (input.name() != input_name_) {
    return absl::InvalidArgumentError(
        absl::StrCat("inputs[0] is named '", input.name(), "'; model '", name_, "' takes '", input_name_, "'"));
  }
  if (input.datatype() != "UINT8" && input.datatype() != "FP32") {
    return absl::InvalidArgumentError(absl::StrCat("inputs[0] datatype '", input.datatype(),
                                                   "' is not supported; send UINT8 pixels or FP32 pixel values"));
  }
  if (!input.parameters().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("inputs[0] parameter '", input.parameters().begin()->first, "' is not supported by this server"));
  }
  const auto& shape = input.shape();
  if (shape.size() != 4 || shape[0] < 1 || shape[1] != kImageHeight || shape[2] != kImageWidth ||
      shape[3] != kImageChannels) {
    return absl::InvalidArgumentError(absl::StrCat("inputs[0] shape is [", absl::StrJoin(shape, ","),
                                                   "]; the model takes [N,32,32,3] with N >= 1 (NHWC, as Keras)"));
  }
  const int64_t count = shape[0];
  if (count > limits_.max_batch_images) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "inputs[0] has ", count, " images, above this server's max_batch_images of ", limits_.max_batch_images));
  }
  if (request.raw_input_contents_size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("raw_input_contents has ", request.raw_input_contents_size(), " entries for 1 input"));
  }
  const bool raw = request.raw_input_contents_size() == 1;
  if (raw && !OtherContents(input.contents(), "").empty()) {
    return absl::InvalidArgumentError("inputs[0] sets contents and raw_input_contents too; send one of them");
  }

  // The outputs asked for, each with its classification top-k (0: the values).
  const int classes = classifier_.num_classes();
  std::vector<int64_t> top_k;
  std::set<std::string> named;
  for (int i = 0; i < request.outputs_size(); ++i) {
    const auto& asked = request.outputs(i);
    if (asked.name() != output_name_) {
      return absl::InvalidArgumentError(absl::StrCat("outputs[", i, "] is named '", asked.name(), "'; model '", name_,
                                                     "' has one output, '", output_name_, "'"));
    }
    if (!named.insert(asked.name()).second) {
      return absl::InvalidArgumentError(absl::StrCat("outputs[", i, "] asks for '", asked.name(), "' a second time"));
    }
    int64_t k = 0;
    for (const auto& [key, value] : asked.parameters()) {
      if (key != kClassification) {
        return absl::InvalidArgumentError(absl::StrCat(
            "outputs[", i, "] parameter '", key, "' is not supported; this server knows '", kClassification, "'"));
      }
      if (value.parameter_choice_case() != inference::InferParameter::kInt64Param || value.int64_param() < 1 ||
          value.int64_param() > classes) {
        return absl::InvalidArgumentError(absl::StrCat("outputs[", i, "] parameter 'classification' must be an int64 ",
                                                       "from 1 to ", classes, " (the number of classes)"));
      }
      k = value.int64_param();
    }
    top_k.push_back(k);
  }
  if (top_k.empty()) top_k.push_back(0);  // no outputs named: every output, as values

  // Admitted before the pixels are copied out: a refusal costs nothing.
  AdmissionGate::Ticket ticket;
  if (admission_ != nullptr) {
    ASSIGN_OR_RETURN(ticket, admission_->Admit(count));
  }
  ASSIGN_OR_RETURN(Pixels pixels, ReadPixels(input, raw ? &request.raw_input_contents(0) : nullptr, count));
  ImageBatchView batch;
  batch.count = count;
  batch.layout = PixelLayout::kInterleavedHwc;
  batch.pixels = pixels.bytes;
  batch.values = pixels.values;
  std::vector<float> probabilities(count * classes);
  RETURN_IF_ERROR(classifier_.Classify(batch, absl::MakeSpan(probabilities)));

  response->set_model_name(name_);
  response->set_model_version(version_);
  response->set_id(request.id());
  for (int64_t k : top_k) {
    OutputTensor* output = response->add_outputs();
    output->set_name(output_name_);
    output->add_shape(count);
    std::string* raw_output = raw ? response->add_raw_output_contents() : nullptr;
    if (k == 0) {
      output->set_datatype("FP32");
      output->add_shape(classes);
      if (raw) {
        raw_output->assign(reinterpret_cast<const char*>(probabilities.data()), probabilities.size() * sizeof(float));
      } else {
        output->mutable_contents()->mutable_fp32_contents()->Add(probabilities.begin(), probabilities.end());
      }
      continue;
    }
    output->set_datatype("BYTES");
    output->add_shape(k);
    std::vector<int> order(classes);
    for (int64_t image = 0; image < count; ++image) {
      const float* row = probabilities.data() + image * classes;
      std::iota(order.begin(), order.end(), 0);
      // Best first; equal values keep the lower index first, as argmax does.
      std::stable_sort(order.begin(), order.end(), [row](int a, int b) { return row[a] > row[b]; });
      for (int64_t rank = 0; rank < k; ++rank) {
        // %.9g: the float exactly, so top-k answers compare bit for bit.
        const std::string element =
            absl::StrFormat("%.9g:%d:%s", row[order[rank]], order[rank], class_names_[order[rank]]);
        if (raw) {
          AppendRawBytesElement(element, raw_output);
        } else {
          output->mutable_contents()->add_bytes_contents(element);
        }
      }
    }
  }
  *images = count;
  return absl::OkStatus();
}

}  // namespace resnet8
