#include "server/inference/inference_http.h"

#include <httplib.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/bearer_token.h"
#include "server/http/http_listener.h"
#include "server/inference/inference_core.h"
#include "server/inference/inference_repository.h"
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
                                                                                ModelRepository& models,
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
  auto route = [metrics, token](absl::string_view method, bool probe, auto handler) {
    return [metrics, token, method = std::string(method), probe, handler](const httplib::Request& request,
                                                                          httplib::Response& response) {
      const absl::Time start = absl::Now();
      absl::Status status = absl::OkStatus();
      if (!probe) {
        const std::string header = request.get_header_value("Authorization");
        const absl::string_view value = header;
        status =
            token.CheckValue(request.has_header("Authorization") ? &value : nullptr, "'Authorization: Bearer <token>'");
      }
      if (status.ok()) status = handler(request, response);
      if (!status.ok()) ReplyError(response, status);
      metrics->RecordCall(absl::StrCat("http/", method), static_cast<int>(status.code()), absl::Now() - start);
    };
  };
  // The model a /v2/models/{name}[/versions/{v}] route names.
  auto find = [&models](const httplib::Request& request) {
    return models.Find(request.matches[1].str(), request.matches.size() > 2 ? request.matches[2].str() : "");
  };
  const std::string model_path = R"(/v2/models/([^/]+)(?:/versions/([^/]+))?)";
  using Request = const httplib::Request&;
  using Response = httplib::Response&;

  http.Get("/v2/health/live", route("ServerLive", true, [](Request, Response response) {
             Reply(response, {{"live", true}});
             return absl::OkStatus();
           }));
  http.Get("/v2/health/ready", route("ServerReady", true, [ready](Request, Response response) {
             Reply(response, {{"ready", ready()}}, ready() ? 200 : 503);
             return absl::OkStatus();
           }));
  http.Get(model_path + "/ready", route("ModelReady", true, [ready, find](Request request, Response response) {
             absl::StatusOr<std::shared_ptr<const ModelVersion>> model = find(request);
             // A known model that is not loaded is not ready; an unknown one is 404.
             if (!model.ok() && !absl::IsUnavailable(model.status())) return model.status();
             const bool is_ready = model.ok() && ready();
             Reply(response, {{"ready", is_ready}}, is_ready ? 200 : 503);
             return absl::OkStatus();
           }));
  http.Get("/v2", route("ServerMetadata", false, [](Request, Response response) {
             response.set_content(ServerMetadataJson(InferenceServerMetadata()), "application/json");
             return absl::OkStatus();
           }));
  // Before the model routes, which would take "stats" for a model name.
  http.Get("/v2/models/stats", route("ModelStatistics", false, [&models, metrics](Request, Response response) {
             absl::StatusOr<inference::ModelStatisticsResponse> stats = RepositoryStatistics(models, *metrics, "", "");
             if (!stats.ok()) return stats.status();
             response.set_content(ProtoJson(*stats), "application/json");
             return absl::OkStatus();
           }));
  http.Get(model_path, route("ModelMetadata", false, [find](Request request, Response response) {
             absl::StatusOr<std::shared_ptr<const ModelVersion>> model = find(request);
             if (!model.ok()) return model.status();
             response.set_content(ModelMetadataJson((*model)->inference().Metadata()), "application/json");
             return absl::OkStatus();
           }));
  http.Get(model_path + "/config", route("ModelConfig", false, [find](Request request, Response response) {
             absl::StatusOr<std::shared_ptr<const ModelVersion>> model = find(request);
             if (!model.ok()) return model.status();
             response.set_content(ProtoJson((*model)->inference().Config().config()), "application/json");
             return absl::OkStatus();
           }));
  http.Get(
      model_path + "/stats", route("ModelStatistics", false, [&models, metrics](Request request, Response response) {
        absl::StatusOr<inference::ModelStatisticsResponse> stats = RepositoryStatistics(
            models, *metrics, request.matches[1].str(), request.matches.size() > 2 ? request.matches[2].str() : "");
        if (!stats.ok()) return stats.status();
        response.set_content(ProtoJson(*stats), "application/json");
        return absl::OkStatus();
      }));
  http.Post(model_path + "/infer",
            route("ModelInfer", false, [find, ready, metrics](Request request, Response response) -> absl::Status {
              if (!ready()) return NotReadyError();
              absl::StatusOr<std::shared_ptr<const ModelVersion>> model = find(request);
              if (!model.ok()) return model.status();
              const std::string header_length = request.get_header_value(kInferenceHeaderLength);
              absl::StatusOr<RestInferRequest> infer = DecodeInferRequest(
                  request.body, request.has_header(kInferenceHeaderLength) ? &header_length : nullptr, (*model)->name(),
                  request.matches.size() > 2 ? request.matches[2].str() : "");
              if (!infer.ok()) return infer.status();
              inference::ModelInferResponse answer;
              int64_t images = 0;
              if (absl::Status status = (*model)->inference().Infer(infer->request, &answer, &images); !status.ok()) {
                return status;
              }
              metrics->RecordBatch("http/ModelInfer", (*model)->name(), images);
              const RestBody out = EncodeInferResponse(answer, *infer);
              if (out.json_length == out.bytes.size()) {
                response.set_content(out.bytes, "application/json");
              } else {
                response.set_header(kInferenceHeaderLength, std::to_string(out.json_length));
                response.set_content(out.bytes, "application/octet-stream");
              }
              return absl::OkStatus();
            }));
  http.Post("/v2/repository/index", route("RepositoryIndex", false, [&models](Request request, Response response) {
              absl::StatusOr<bool> ready_only = DecodeRepositoryIndexRequest(request.body);
              if (!ready_only.ok()) return ready_only.status();
              response.set_content(RepositoryIndexJson(RepositoryIndexOf(models, *ready_only)), "application/json");
              return absl::OkStatus();
            }));
  http.Post("/v2/repository/models/([^/]+)/load",
            route("RepositoryModelLoad", false, [&models](Request request, Response response) {
              if (absl::Status bad = CheckRepositoryRequestBody(request.body, "load"); !bad.ok()) return bad;
              if (absl::Status loaded = models.Load(request.matches[1].str()); !loaded.ok()) return loaded;
              Reply(response, json::object());
              return absl::OkStatus();
            }));
  http.Post("/v2/repository/models/([^/]+)/unload",
            route("RepositoryModelUnload", false, [&models](Request request, Response response) {
              if (absl::Status bad = CheckRepositoryRequestBody(request.body, "unload"); !bad.ok()) return bad;
              if (absl::Status unloaded = models.Unload(request.matches[1].str()); !unloaded.ok()) return unloaded;
              Reply(response, json::object());
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
