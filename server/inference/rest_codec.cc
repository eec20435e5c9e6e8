#include "server/inference/rest_codec.h"

#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/admission.h"
#include "server/inference/raw_tensor.h"

namespace resnet8 {
namespace {

using nlohmann::json;

// Appends every number of a (possibly nested) JSON array to `out`, as the
// protocol allows nested or flat row-major data.
absl::Status Flatten(const json& data, const std::string& where, std::vector<const json*>* out) {
  if (!data.is_array()) {
    out->push_back(&data);
    return absl::OkStatus();
  }
  for (const json& element : data) {
    if (absl::Status status = Flatten(element, where, out); !status.ok()) return status;
  }
  return absl::OkStatus();
}

// The JSON of an infer request, `binary` holding the bytes after the JSON
// header (the binary-data extension), as the gRPC binding's message.
absl::StatusOr<RestInferRequest> FromJson(const json& body, absl::string_view binary, const std::string& model,
                                          const std::string& version) {
  RestInferRequest result;
  inference::ModelInferRequest& request = result.request;
  bool* all_binary = &result.all_binary;
  std::set<std::string>* binary_outputs = &result.binary_outputs;
  request.set_model_name(model);
  request.set_model_version(version);
  if (!body.is_object()) return absl::InvalidArgumentError("the request body is not a JSON object");
  if (body.contains("id")) {
    if (!body["id"].is_string()) return absl::InvalidArgumentError("'id' is not a string");
    request.set_id(body["id"].get<std::string>());
  }
  if (body.contains("parameters")) {
    if (!body["parameters"].is_object()) return absl::InvalidArgumentError("'parameters' is not an object");
    for (const auto& [key, value] : body["parameters"].items()) {
      if (key == "binary_data_output" && value.is_boolean()) {
        *all_binary = value.get<bool>();
        continue;
      }
      return absl::InvalidArgumentError(absl::StrCat("request parameter '", key, "' is not supported by this server"));
    }
  }
  if (!body.contains("inputs") || !body["inputs"].is_array()) {
    return absl::InvalidArgumentError("'inputs' is missing or not an array");
  }
  size_t binary_used = 0;
  for (size_t i = 0; i < body["inputs"].size(); ++i) {
    const json& input = body["inputs"][i];
    const std::string where = absl::StrCat("inputs[", i, "]");
    if (!input.is_object() || !input.contains("name") || !input["name"].is_string() || !input.contains("datatype") ||
        !input["datatype"].is_string() || !input.contains("shape") || !input["shape"].is_array()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " needs 'name' (string), 'datatype' (string) and 'shape' (array)"));
    }
    auto* tensor = request.add_inputs();
    tensor->set_name(input["name"].get<std::string>());
    tensor->set_datatype(input["datatype"].get<std::string>());
    for (const json& d : input["shape"]) {
      if (!d.is_number_integer()) return absl::InvalidArgumentError(absl::StrCat(where, " shape holds a non-integer"));
      tensor->add_shape(d.get<int64_t>());
    }
    int64_t binary_size = -1;
    if (input.contains("parameters")) {
      if (!input["parameters"].is_object()) {
        return absl::InvalidArgumentError(absl::StrCat(where, " 'parameters' is not an object"));
      }
      for (const auto& [key, value] : input["parameters"].items()) {
        if (key != "binary_data_size" || !value.is_number_unsigned()) {
          return absl::InvalidArgumentError(absl::StrCat(where, " parameter '", key, "' is not supported"));
        }
        binary_size = value.get<int64_t>();
      }
    }
    if (binary_size >= 0) {
      if (input.contains("data")) {
        return absl::InvalidArgumentError(absl::StrCat(where, " has both 'data' and binary_data_size"));
      }
      if (binary_used + binary_size > binary.size()) {
        return absl::InvalidArgumentError(absl::StrCat(where, " binary_data_size ", binary_size, " runs past the ",
                                                       binary.size(), " bytes after the JSON header"));
      }
      request.add_raw_input_contents(std::string(binary.substr(binary_used, binary_size)));
      binary_used += binary_size;
      continue;
    }
    if (!input.contains("data")) return absl::InvalidArgumentError(absl::StrCat(where, " has no 'data'"));
    std::vector<const json*> values;
    if (absl::Status status = Flatten(input["data"], where, &values); !status.ok()) return status;
    auto* contents = tensor->mutable_contents();
    if (tensor->datatype() == "FP32") {
      for (size_t v = 0; v < values.size(); ++v) {
        if (!values[v]->is_number()) {
          return absl::InvalidArgumentError(absl::StrCat(where, " data element ", v, " is not a number"));
        }
        contents->add_fp32_contents(values[v]->get<float>());
      }
    } else {  // UINT8, and any other datatype, which the core refuses by name
      for (size_t v = 0; v < values.size(); ++v) {
        if (!values[v]->is_number_unsigned()) {
          return absl::InvalidArgumentError(absl::StrCat(where, " data element ", v, " is ", values[v]->dump(), "; ",
                                                         tensor->datatype(), " data are whole numbers 0..255"));
        }
        const uint64_t value = values[v]->get<uint64_t>();
        contents->add_uint_contents(value > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(value));
      }
    }
  }
  if (binary_used != binary.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(binary.size() - binary_used, " bytes after the JSON header belong to no input"));
  }
  if (request.raw_input_contents_size() > 0 && request.raw_input_contents_size() != request.inputs_size()) {
    return absl::InvalidArgumentError("send every input as binary data, or none");
  }
  if (body.contains("outputs")) {
    if (!body["outputs"].is_array()) return absl::InvalidArgumentError("'outputs' is not an array");
    for (size_t i = 0; i < body["outputs"].size(); ++i) {
      const json& output = body["outputs"][i];
      const std::string where = absl::StrCat("outputs[", i, "]");
      if (!output.is_object() || !output.contains("name") || !output["name"].is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(where, " needs 'name' (string)"));
      }
      auto* asked = request.add_outputs();
      asked->set_name(output["name"].get<std::string>());
      if (!output.contains("parameters")) continue;
      if (!output["parameters"].is_object()) {
        return absl::InvalidArgumentError(absl::StrCat(where, " 'parameters' is not an object"));
      }
      for (const auto& [key, value] : output["parameters"].items()) {
        if (key == "binary_data" && value.is_boolean()) {
          if (value.get<bool>()) binary_outputs->insert(asked->name());
        } else if (key == "classification" && value.is_number_integer()) {
          (*asked->mutable_parameters())[key].set_int64_param(value.get<int64_t>());
        } else {
          return absl::InvalidArgumentError(absl::StrCat(where, " parameter '", key, "' is not supported"));
        }
      }
    }
  }
  return result;
}

// The JSON "data" of an output given in the raw form.
json DataOfRaw(absl::string_view datatype, absl::string_view raw) {
  if (datatype == "FP32") return Fp32ElementsOfRaw(raw);
  return BytesElementsOfRaw(raw);
}

}  // namespace

RestBody EncodeInferResponse(const inference::ModelInferResponse& answer, const RestInferRequest& asked) {
  json outputs = json::array();
  std::string binary;
  for (int i = 0; i < answer.outputs_size(); ++i) {
    const auto& output = answer.outputs(i);
    // The core answers raw input with raw output contents, typed with typed.
    const std::string* raw = i < answer.raw_output_contents_size() ? &answer.raw_output_contents(i) : nullptr;
    json tensor{{"name", output.name()}, {"datatype", output.datatype()}, {"shape", output.shape()}};
    if (asked.all_binary || asked.binary_outputs.count(output.name()) > 0) {
      const std::string bytes = raw != nullptr ? *raw : RawOfTypedOutput(output);
      tensor["parameters"] = {{"binary_data_size", bytes.size()}};
      binary += bytes;
    } else if (raw != nullptr) {
      tensor["data"] = DataOfRaw(output.datatype(), *raw);
    } else if (output.datatype() == "FP32") {
      tensor["data"] = output.contents().fp32_contents();
    } else {
      tensor["data"] = output.contents().bytes_contents();
    }
    outputs.push_back(std::move(tensor));
  }
  json head{{"model_name", answer.model_name()}, {"model_version", answer.model_version()}, {"outputs", outputs}};
  if (!answer.id().empty()) head["id"] = answer.id();
  RestBody body;
  body.bytes = head.dump();
  body.json_length = body.bytes.size();
  body.bytes += binary;
  return body;
}

absl::StatusOr<RestInferRequest> DecodeInferRequest(absl::string_view body, const std::string* header_length,
                                                    const std::string& model, const std::string& version) {
  size_t json_length = body.size();
  if (header_length != nullptr && (!absl::SimpleAtoi(*header_length, &json_length) || json_length > body.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat(kInferenceHeaderLength, " is not a length within the ", body.size(), "-byte body"));
  }
  const json parsed = json::parse(body.begin(), body.begin() + json_length, nullptr, false);
  if (parsed.is_discarded()) return absl::InvalidArgumentError("the request body is not valid JSON");
  return FromJson(parsed, body.substr(json_length), model, version);
}

absl::StatusOr<bool> DecodeRepositoryIndexRequest(absl::string_view body) {
  if (body.empty()) return false;
  const json request = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (!request.is_object()) {
    return absl::InvalidArgumentError("the repository index request is not a JSON object");
  }
  for (const auto& [key, value] : request.items()) {
    if (key != "ready") {
      return absl::InvalidArgumentError(absl::StrCat("the repository index request has an unknown field '", key, "'"));
    }
    if (!value.is_boolean()) return absl::InvalidArgumentError("the repository index field 'ready' must be a boolean");
  }
  return request.value("ready", false);
}

std::string RepositoryIndexJson(const inference::RepositoryIndexResponse& index) {
  json models = json::array();
  for (const auto& model : index.models()) {
    json row = {{"name", model.name()}, {"state", model.state()}, {"reason", model.reason()}};
    if (!model.version().empty()) row["version"] = model.version();
    models.push_back(std::move(row));
  }
  return models.dump();
}

absl::Status CheckRepositoryRequestBody(absl::string_view body, absl::string_view what) {
  if (body.empty()) return absl::OkStatus();
  const json request = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (!request.is_object())
    return absl::InvalidArgumentError(absl::StrCat("the ", what, " request is not a JSON object"));
  for (const auto& [key, value] : request.items()) {
    if (key != "parameters") {
      return absl::InvalidArgumentError(absl::StrCat("the ", what, " request has an unknown field '", key, "'"));
    }
    if (!value.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat("the ", what, " request's 'parameters' must be an object"));
    }
    if (!value.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " parameter '", value.begin().key(), "' is not supported by this server"));
    }
  }
  return absl::OkStatus();
}

std::string ServerMetadataJson(const inference::ServerMetadataResponse& metadata) {
  return json{{"name", metadata.name()}, {"version", metadata.version()}, {"extensions", metadata.extensions()}}.dump();
}

std::string ModelMetadataJson(const inference::ModelMetadataResponse& metadata) {
  auto tensors = [](const auto& list) {
    json out = json::array();
    for (const auto& t : list) out.push_back({{"name", t.name()}, {"datatype", t.datatype()}, {"shape", t.shape()}});
    return out;
  };
  return json{{"name", metadata.name()},
              {"versions", metadata.versions()},
              {"platform", metadata.platform()},
              {"inputs", tensors(metadata.inputs())},
              {"outputs", tensors(metadata.outputs())}}
      .dump();
}

std::string ProtoJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

std::string ErrorJson(const absl::Status& status) { return json{{"error", std::string(status.message())}}.dump(); }

int HttpStatusOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kResourceExhausted:
      return IsOverload(status) ? 429 : 413;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

}  // namespace resnet8
