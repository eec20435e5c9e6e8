#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace resnet8 {
namespace {

constexpr char kServiceName[] = "resnet8.v1.Evaluator";
constexpr char kInferenceServiceName[] = "inference.GRPCInferenceService";

}  // namespace

absl::Status ValidateServerOptions(const ServerOptions& options) {
  if (options.address.empty() || options.address.rfind(':') == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("address '", options.address, "' is not HOST:PORT"));
  }
  if (options.limits.max_batch_images < 1 || options.limits.max_batch_images > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_batch_images ", options.limits.max_batch_images, " is outside 1..65536"));
  }
  if (options.limits.max_queued_images < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_queued_images=", options.limits.max_queued_images, " must be at least 1"));
  }
  if (options.limits.max_concurrent_streams < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_concurrent_streams ", options.limits.max_concurrent_streams, " must be at least 1"));
  }
  if (options.shutdown_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("shutdown_grace is negative");
  }
  if (options.model_name.empty()) return absl::InvalidArgumentError("model_name is empty");
  RETURN_IF_ERROR(ValidateHttpConnectionLimits(options.http_connections));
  if (options.tls_certificate_chain.empty() != options.tls_private_key.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate chain and a private key, or neither");
  }
  return absl::OkStatus();
}

EvaluatorServer::EvaluatorServer(const ServerOptions& options, ModelRepository* models, ServiceMetrics* metrics)
    : options_(options),
      own_metrics_(metrics == nullptr ? std::make_unique<ServiceMetrics>() : nullptr),
      metrics_(metrics == nullptr ? own_metrics_.get() : metrics),
      models_(*models),
      service_(*models, options.limits, options.auth_token, metrics_),
      inference_service_(*models, options.auth_token, metrics_) {}

absl::StatusOr<std::unique_ptr<EvaluatorServer>> EvaluatorServer::Start(const ServerOptions& options,
                                                                        const ImageClassifier& classifier,
                                                                        ServedModel model, ServiceMetrics* metrics) {
  if (absl::Status status = ValidateServerOptions(options); !status.ok()) return status;
  OwnModels own;
  own.admission = std::make_unique<AdmissionGate>(options.limits.max_queued_images);
  own.models = std::make_unique<ModelRepository>(
      [](const ModelSource& source) -> absl::StatusOr<LoadedClassifier> {
        return absl::FailedPreconditionError(
            absl::StrCat("model '", source.name, "' is a fixed classifier; it cannot be loaded again"));
      },
      RepositoryOptions{}, options.limits, own.admission.get());
  LoadedClassifier loaded;
  // Not owned: the caller keeps the classifier alive.
  loaded.classifier = std::shared_ptr<const ImageClassifier>(&classifier, [](const ImageClassifier*) {});
  loaded.description = std::move(model);
  loaded.self_check.passed = true;
  loaded.self_check.detail = "not run: a classifier given to the server directly";
  if (absl::Status added = own.models->AddLoaded(options.model_name, std::move(loaded)); !added.ok()) return added;
  ModelRepository* models = own.models.get();
  absl::StatusOr<std::unique_ptr<EvaluatorServer>> server = Start(options, models, metrics);
  if (server.ok()) (*server)->own_models_ = std::move(own);
  return server;
}

absl::StatusOr<std::unique_ptr<EvaluatorServer>> EvaluatorServer::Start(const ServerOptions& options,
                                                                        ModelRepository* models,
                                                                        ServiceMetrics* metrics) {
  if (absl::Status status = ValidateServerOptions(options); !status.ok()) return status;
  std::unique_ptr<EvaluatorServer> server(new EvaluatorServer(options, models, metrics));
  ServiceMetrics* counted = server->metrics_;
  auto publish = [models, counted] {
    std::vector<ServiceMetrics::LoadedModelInfo> loaded;
    for (const std::shared_ptr<const ModelVersion>& version : models->Ready()) {
      loaded.push_back({version->name(), version->version(), version->description()});
    }
    counted->SetModels(loaded);
  };
  models->set_on_change(publish);
  publish();
  if (!options.metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> http = MetricsHttpServer::Start(
        options.metrics_address, [counted] { return counted->RenderPrometheus(); }, options.http_connections);
    if (!http.ok()) return http.status();
    server->metrics_http_ = std::move(*http);
  }

  if (!options.http_address.empty()) {
    InferenceHttpOptions http;
    http.address = options.http_address;
    http.tls_certificate_chain = options.tls_certificate_chain;
    http.tls_private_key = options.tls_private_key;
    http.auth_token = options.auth_token;
    // JSON spends up to about 8 bytes on a pixel value ("127.125,").
    http.max_body_bytes = 8 * MaxRequestBytes(options.limits);
    http.connections = options.http_connections;
    EvaluatorServer* self = server.get();
    absl::StatusOr<std::unique_ptr<InferenceHttpServer>> started = InferenceHttpServer::Start(
        http, server->models_, [self] { return self->serving_.load(); }, server->metrics_);
    if (!started.ok()) return started.status();
    server->inference_http_ = std::move(*started);
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!options.tls_certificate_chain.empty()) {
    grpc::SslServerCredentialsOptions tls;
    tls.pem_key_cert_pairs.push_back({options.tls_private_key, options.tls_certificate_chain});
    credentials = grpc::SslServerCredentials(tls);
  }
  // gRPC sets SO_REUSEPORT on Linux unless told not to: a second server on
  // a port in use would start and silently take part of its traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // A client may send only 16 KiB of a call before the server asks for its
  // message (a handler that reads it grants the rest). ModelInfer refuses
  // calls while the admission gate is full without asking, so a flood of
  // 400 KB calls costs the server 16 KiB each instead of every byte; with
  // gRPC's default (a window grown by BDP probing) the flood's bodies arrived
  // anyway and refusals waited behind them for seconds (docs/operations.md).
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 << 10);
  builder.AddListeningPort(options.address, credentials, &server->port_);
  builder.RegisterService(&server->service_);
  builder.RegisterService(&server->inference_service_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(MaxRequestBytes(options.limits)));
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.address,
                                               " (address in use, not an address of this machine, or a TLS "
                                               "certificate and key that do not load or match?)"));
  }
  server->address_ = absl::StrCat(options.address.substr(0, options.address.rfind(':')), ":", server->port_);
  server->SetServing(false);
  return server;
}

EvaluatorServer::~EvaluatorServer() { Shutdown(); }

void EvaluatorServer::SetServing(bool serving) {
  serving_.store(serving);
  service_.SetReady(serving);
  inference_service_.SetReady(serving);
  metrics_->SetServing(serving);
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  health->SetServingStatus(serving);
  health->SetServingStatus(kServiceName, serving);
  health->SetServingStatus(kInferenceServiceName, serving);
}

void EvaluatorServer::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    if (server_ == nullptr) return;
    SetServing(false);
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(absl::ToInt64Milliseconds(options_.shutdown_grace)));
    server_->Wait();
    inference_http_.reset();  // lets requests in progress finish
  });
}

}  // namespace resnet8
