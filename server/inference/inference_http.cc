#include "server/inference/inference_http.h"

#include <google/protobuf/util/json_util.h>
#include <httplib.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/bearer_token.h"
#include "server/http/http_listener.h"

namespace resnet8 {
namespace {

using nlohmann::json;

constexpr char kHeaderLength[] = "Inference-Header-Content-Length";

int HttpCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kResourceExhausted:
      return 413;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

void Reply(httplib::Response& response, const json& body, int status = 200) {
  response.status = status;
  response.set_content(body.dump(), "application/json");
}

void ReplyError(httplib::Response& response, const absl::Status& status) {
  Reply(response, json{{"error", std::string(status.message())}}, HttpCode(status.code()));
}

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
// header (the binary-data extension), as the gRPC binding's message. Output
// tensors asked for as binary are listed in `binary_outputs` by name.
absl::StatusOr<inference::ModelInferRequest> ToInferRequest(const json& body, absl::string_view binary,
                                                            const std::string& model, const std::string& version,
                                                            std::set<std::string>* binary_outputs, bool* all_binary) {
  inference::ModelInferRequest request;
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
  return request;
}

// One output's elements in the binary-data extension's form: FP32 as
// little-endian floats, BYTES as 4-byte length + bytes each; the same form
// as the core's raw output contents.
std::string BinaryOf(const inference::ModelInferResponse::InferOutputTensor& output) {
  std::string bytes;
  if (output.datatype() == "FP32") {
    const auto& values = output.contents().fp32_contents();
    bytes.resize(values.size() * sizeof(float));
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes;
  }
  for (const std::string& element : output.contents().bytes_contents()) {
    const uint32_t size = static_cast<uint32_t>(element.size());
    for (int shift = 0; shift < 32; shift += 8) bytes.push_back(static_cast<char>((size >> shift) & 0xff));
    bytes += element;
  }
  return bytes;
}

// The JSON "data" of an output given in the raw form above.
json DataOfRaw(absl::string_view datatype, absl::string_view raw) {
  json data = json::array();
  if (datatype == "FP32") {
    for (size_t at = 0; at + sizeof(float) <= raw.size(); at += sizeof(float)) {
      float value;
      std::memcpy(&value, raw.data() + at, sizeof(float));
      data.push_back(value);
    }
    return data;
  }
  for (size_t at = 0; at + 4 <= raw.size();) {
    uint32_t size = 0;
    for (int i = 0; i < 4; ++i) size |= static_cast<uint32_t>(static_cast<unsigned char>(raw[at + i])) << (8 * i);
    data.push_back(std::string(raw.substr(at + 4, size)));
    at += 4 + size;
  }
  return data;
}

// The answer as JSON, with the outputs in `binary_outputs` (or all, with
// `all_binary`) appended after it as binary data; returns the JSON's length.
// The core answers raw input with raw output contents, typed with typed.
size_t WriteInferResponse(const inference::ModelInferResponse& answer, const std::set<std::string>& binary_outputs,
                          bool all_binary, std::string* body) {
  json outputs = json::array();
  std::string binary;
  for (int i = 0; i < answer.outputs_size(); ++i) {
    const auto& output = answer.outputs(i);
    const std::string* raw = i < answer.raw_output_contents_size() ? &answer.raw_output_contents(i) : nullptr;
    json tensor{{"name", output.name()}, {"datatype", output.datatype()}, {"shape", output.shape()}};
    if (all_binary || binary_outputs.count(output.name()) > 0) {
      const std::string bytes = raw != nullptr ? *raw : BinaryOf(output);
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
  *body = head.dump();
  const size_t json_length = body->size();
  *body += binary;
  return json_length;
}

json MetadataJson(const inference::ModelMetadataResponse& metadata) {
  auto tensors = [](const auto& list) {
    json out = json::array();
    for (const auto& t : list) out.push_back({{"name", t.name()}, {"datatype", t.datatype()}, {"shape", t.shape()}});
    return out;
  };
  return {{"name", metadata.name()},
          {"versions", metadata.versions()},
          {"platform", metadata.platform()},
          {"inputs", tensors(metadata.inputs())},
          {"outputs", tensors(metadata.outputs())}};
}

std::string ProtoJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

// Loads the PEM certificate chain's first certificate and the key for httplib.
absl::Status LoadTls(const InferenceHttpOptions& options, X509** certificate, EVP_PKEY** key) {
  BIO* cert_bio = BIO_new_mem_buf(options.tls_certificate_chain.data(), options.tls_certificate_chain.size());
  *certificate = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  BIO_free(cert_bio);
  BIO* key_bio = BIO_new_mem_buf(options.tls_private_key.data(), options.tls_private_key.size());
  *key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  if (*certificate == nullptr || *key == nullptr) {
    return absl::InvalidArgumentError("the TLS certificate or key for the HTTP endpoint does not load as PEM");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<InferenceHttpServer>> InferenceHttpServer::Start(const InferenceHttpOptions& options,
                                                                                const InferenceCore& core,
                                                                                std::function<bool()> ready,
                                                                                ServiceMetrics* metrics) {
  std::unique_ptr<InferenceHttpServer> server(new InferenceHttpServer);
  if (!options.tls_certificate_chain.empty()) {
    X509* certificate = nullptr;
    EVP_PKEY* key = nullptr;
    absl::Status loaded = LoadTls(options, &certificate, &key);
    if (loaded.ok()) server->http_ = std::make_unique<httplib::SSLServer>(certificate, key);
    if (certificate != nullptr) X509_free(certificate);  // the SSL context holds its own references
    if (key != nullptr) EVP_PKEY_free(key);
    if (!loaded.ok()) return loaded;
    if (!server->http_->is_valid()) return absl::InvalidArgumentError("the TLS certificate and key do not match");
    server->tls_ = true;
  } else {
    server->http_ = std::make_unique<httplib::Server>();
  }
  httplib::Server& http = *server->http_;
  http.set_payload_max_length(static_cast<size_t>(options.max_body_bytes));
  const BearerToken token(options.auth_token);

  // Every route: counted by method; a token check unless it is a probe.
  auto route = [&core, metrics, token](absl::string_view method, bool probe, auto handler) {
    return [&core, metrics, token, method = std::string(method), probe, handler](const httplib::Request& request,
                                                                                 httplib::Response& response) {
      const absl::Time start = absl::Now();
      absl::Status status = absl::OkStatus();
      if (!probe) {
        const std::string header = request.get_header_value("Authorization");
        const absl::string_view value = header;
        status =
            token.CheckValue(request.has_header("Authorization") ? &value : nullptr, "'Authorization: Bearer <token>'");
      }
      if (status.ok()) {
        const std::string model = request.matches.size() > 1 ? request.matches[1].str() : core.name();
        const std::string version = request.matches.size() > 2 ? request.matches[2].str() : "";
        status = core.FindModel(model, version);
        if (status.ok()) status = handler(request, response, model, version);
      }
      if (!status.ok()) ReplyError(response, status);
      metrics->RecordCall(absl::StrCat("http/", method), static_cast<int>(status.code()), absl::Now() - start);
    };
  };
  const std::string model_path = R"(/v2/models/([^/]+)(?:/versions/([^/]+))?)";
  using Request = const httplib::Request&;
  using Response = httplib::Response&;
  using Name = const std::string&;

  http.Get("/v2/health/live", route("ServerLive", true, [](Request, Response response, Name, Name) {
             Reply(response, {{"live", true}});
             return absl::OkStatus();
           }));
  http.Get("/v2/health/ready", route("ServerReady", true, [ready](Request, Response response, Name, Name) {
             Reply(response, {{"ready", ready()}}, ready() ? 200 : 503);
             return absl::OkStatus();
           }));
  http.Get(model_path + "/ready", route("ModelReady", true, [ready](Request, Response response, Name, Name) {
             Reply(response, {{"ready", ready()}}, ready() ? 200 : 503);
             return absl::OkStatus();
           }));
  http.Get("/v2", route("ServerMetadata", false, [](Request, Response response, Name, Name) {
             Reply(response,
                   {{"name", "resnet8_server"},
                    {"version", "1"},
                    {"extensions", {"classification", "binary_tensor_data", "model_configuration", "statistics"}}});
             return absl::OkStatus();
           }));
  http.Get(model_path, route("ModelMetadata", false, [&core](Request, Response response, Name, Name) {
             Reply(response, MetadataJson(core.Metadata()));
             return absl::OkStatus();
           }));
  http.Get(model_path + "/config", route("ModelConfig", false, [&core](Request, Response response, Name, Name) {
             response.set_content(ProtoJson(core.Config().config()), "application/json");
             return absl::OkStatus();
           }));
  http.Get(model_path + "/stats",
           route("ModelStatistics", false, [&core, metrics](Request, Response response, Name, Name) {
             const ServiceMetrics::InferenceTotals totals = metrics->Inferences();
             response.set_content(ProtoJson(core.Statistics(totals.calls, totals.queue, totals.compute)),
                                  "application/json");
             return absl::OkStatus();
           }));
  http.Post(
      model_path + "/infer",
      route("ModelInfer", false,
            [&core, ready, metrics](Request request, Response response, Name model, Name version) -> absl::Status {
              if (!ready()) return absl::UnavailableError("the server is not ready (starting up or shutting down)");
              size_t json_length = request.body.size();
              if (request.has_header(kHeaderLength)) {
                if (!absl::SimpleAtoi(request.get_header_value(kHeaderLength), &json_length) ||
                    json_length > request.body.size()) {
                  return absl::InvalidArgumentError(
                      absl::StrCat(kHeaderLength, " is not a length within the ", request.body.size(), "-byte body"));
                }
              }
              const json body = json::parse(request.body.begin(), request.body.begin() + json_length, nullptr, false);
              if (body.is_discarded()) return absl::InvalidArgumentError("the request body is not valid JSON");
              std::set<std::string> binary_outputs;
              bool all_binary = false;
              absl::StatusOr<inference::ModelInferRequest> infer =
                  ToInferRequest(body, absl::string_view(request.body).substr(json_length), model, version,
                                 &binary_outputs, &all_binary);
              if (!infer.ok()) return infer.status();
              inference::ModelInferResponse answer;
              int64_t images = 0;
              if (absl::Status status = core.Infer(*infer, &answer, &images); !status.ok()) return status;
              metrics->RecordBatch("http/ModelInfer", images);
              std::string out;
              const size_t json_size = WriteInferResponse(answer, binary_outputs, all_binary, &out);
              if (json_size == out.size()) {
                response.set_content(out, "application/json");
              } else {
                response.set_header(kHeaderLength, std::to_string(json_size));
                response.set_content(out, "application/octet-stream");
              }
              return absl::OkStatus();
            }));
  // Anything else, and a body over the limit, answers JSON too.
  http.set_error_handler([](const httplib::Request& request, httplib::Response& response) {
    if (!response.body.empty()) return;  // a route's own answer
    if (response.status == 413 && request.get_header_value("Content-Type") == "application/x-www-form-urlencoded") {
      // cpp-httplib parses form bodies and caps them at 8 KiB; curl -d sends that type.
      Reply(response, {{"error", "a form-encoded body is limited to 8 KiB; send Content-Type: application/json"}}, 413);
    } else if (response.status == 413) {
      Reply(response, {{"error", "the request body is larger than this server accepts"}}, 413);
    } else {
      Reply(response, {{"error", absl::StrCat("no such route (HTTP ", response.status, ")")}}, response.status);
    }
  });
  absl::StatusOr<std::string> bound =
      ListenInBackground(http, options.address, "the inference protocol's HTTP", &server->thread_);
  if (!bound.ok()) return bound.status();
  server->address_ = *bound;
  return server;
}

InferenceHttpServer::~InferenceHttpServer() {
  if (http_ != nullptr) http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace resnet8
