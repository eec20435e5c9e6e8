#include "server/inference/inference_http.h"

#include <httplib.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/bearer_token.h"
#include "server/http/http_listener.h"
#include "server/inference/rest_codec.h"

namespace resnet8 {
namespace {

using nlohmann::json;

void Reply(httplib::Response& response, const json& body, int status = 200) {
  response.status = status;
  response.set_content(body.dump(), "application/json");
}

void ReplyError(httplib::Response& response, const absl::Status& status) {
  response.status = HttpStatusOf(status);
  // Overload passes quickly: the gate holds about a second of work.
  if (response.status == 429) response.set_header("Retry-After", "1");
  response.set_content(ErrorJson(status), "application/json");
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
  http.Get("/v2", route("ServerMetadata", false, [&core](Request, Response response, Name, Name) {
             response.set_content(ServerMetadataJson(core.ServerMetadata()), "application/json");
             return absl::OkStatus();
           }));
  http.Get(model_path, route("ModelMetadata", false, [&core](Request, Response response, Name, Name) {
             response.set_content(ModelMetadataJson(core.Metadata()), "application/json");
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
              if (!ready()) return NotReadyError();
              const std::string header_length = request.get_header_value(kInferenceHeaderLength);
              absl::StatusOr<RestInferRequest> infer = DecodeInferRequest(
                  request.body, request.has_header(kInferenceHeaderLength) ? &header_length : nullptr, model, version);
              if (!infer.ok()) return infer.status();
              inference::ModelInferResponse answer;
              int64_t images = 0;
              if (absl::Status status = core.Infer(infer->request, &answer, &images); !status.ok()) return status;
              metrics->RecordBatch("http/ModelInfer", images);
              const RestBody out = EncodeInferResponse(answer, *infer);
              if (out.json_length == out.bytes.size()) {
                response.set_content(out.bytes, "application/json");
              } else {
                response.set_header(kInferenceHeaderLength, std::to_string(out.json_length));
                response.set_content(out.bytes, "application/octet-stream");
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
      ListenInBackground(http, options.address, "the inference protocol's HTTP", options.connections, &server->thread_);
  if (!bound.ok()) return bound.status();
  server->address_ = *bound;
  return server;
}

InferenceHttpServer::~InferenceHttpServer() {
  if (http_ != nullptr) http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace resnet8
