// The server's lifecycle around a model repository: listen, report health,
// serve the Evaluator service and the Open Inference Protocol (KServe v2) on
// the same port, and shut down cleanly.
//
//   ServerOptions options;                 // defaults documented below
//   options.address = "127.0.0.1:0";      // port 0 picks a free port
//   ASSIGN_OR_RETURN(auto server, EvaluatorServer::Start(options, &models, &metrics));
//   server->SetServing(true);              // after the startup models are loaded
//   ... server->port() ...
//   server->Shutdown();                    // NOT_SERVING, drain, stop
//
// Health: the standard grpc.health.v1 service answers for "", for
// "resnet8.v1.Evaluator" and "inference.GRPCInferenceService": NOT_SERVING from Start() until SetServing(true), and
// again from Shutdown() on. Server reflection is on, so grpcurl and other
// languages' tools can discover the API.
#ifndef RESNET8_SERVER_SERVER_H_
#define RESNET8_SERVER_SERVER_H_

#include <grpcpp/server.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/image_classifier.h"
#include "resnet8/v1/evaluator.pb.h"
#include "server/evaluator/evaluator_service.h"
#include "server/http/metrics_http.h"
#include "server/inference/inference_http.h"
#include "server/inference/inference_service.h"
#include "server/repository/model_repository.h"
#include "server/service_metrics.h"

namespace resnet8 {

struct ServerOptions {
  // Where to listen. Loopback by default: binding other interfaces is an
  // explicit choice. Port 0 picks a free port (see EvaluatorServer::port()).
  std::string address = "127.0.0.1:50051";
  ServiceLimits limits;
  // How long Shutdown() lets in-flight calls finish before cancelling them.
  absl::Duration shutdown_grace = absl::Seconds(10);
  // TLS: the PEM certificate chain and private key (the contents; main reads
  // the files). Both empty means plaintext, for loopback and trusted networks.
  std::string tls_certificate_chain;
  std::string tls_private_key;
  // When set, every Evaluator call must carry the metadata
  // "authorization: Bearer <auth_token>", or it fails with UNAUTHENTICATED.
  // Health checking and reflection stay open, so probes need no secret.
  std::string auth_token;
  // HOST:PORT of the Prometheus endpoint (GET /metrics, see
  // service_metrics.h); empty means none. Port 0 picks a free port.
  std::string metrics_address;
  // The name of the one model of the single-classifier Start().
  std::string model_name = "resnet8";
  // HOST:PORT of the protocol's HTTP/REST binding (inference_http.h), over
  // TLS when the gRPC port is; empty means none. Port 0 picks a free port.
  std::string http_address;
  // Connections, timeouts and keep-alive of both HTTP ports (REST, metrics).
  HttpConnectionLimits http_connections;
};

// INVALID_ARGUMENT naming the field if an option is out of range.
absl::Status ValidateServerOptions(const ServerOptions& options);

class EvaluatorServer {
 public:
  // Starts listening with health NOT_SERVING, serving the models of
  // `models` (which must outlive the server). `metrics`, if given, must
  // outlive the server and may also be fed by others (the classifiers' queue
  // and compute times); otherwise the server keeps its own. The server sets
  // `models`' change callback, to keep the metrics' model list current.
  // Errors: INVALID_ARGUMENT for bad options; UNAVAILABLE if an address
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<EvaluatorServer>> Start(const ServerOptions& options, ModelRepository* models,
                                                                ServiceMetrics* metrics = nullptr);
  // The same around one classifier, served as options.model_name with a
  // passed self-check (tests and embedders); `classifier` must outlive the
  // server; `model` is what GetModelInfo and /metrics describe.
  static absl::StatusOr<std::unique_ptr<EvaluatorServer>> Start(const ServerOptions& options,
                                                                const ImageClassifier& classifier, ServedModel model,
                                                                ServiceMetrics* metrics = nullptr);
  ~EvaluatorServer();

  int port() const { return port_; }
  // "host:port" with the port actually bound.
  const std::string& address() const { return address_; }
  // Where GET /metrics answers, "" without ServerOptions::metrics_address.
  std::string metrics_address() const { return metrics_http_ ? metrics_http_->address() : ""; }
  // Where the REST binding answers, "" without ServerOptions::http_address.
  std::string http_address() const { return inference_http_ ? inference_http_->address() : ""; }

  // Flips health and the service's readiness together. Thread-safe.
  void SetServing(bool serving);
  // Health NOT_SERVING, stop accepting calls, let in-flight calls finish within
  // the grace period, cancel the rest, and return when all handlers are done.
  // Idempotent; thread-safe.
  void Shutdown();

 private:
  EvaluatorServer(const ServerOptions& options, ModelRepository* models, ServiceMetrics* metrics);

  // The single-classifier Start()'s own gate and repository.
  struct OwnModels {
    std::unique_ptr<AdmissionGate> admission;
    std::unique_ptr<ModelRepository> models;
  };
  OwnModels own_models_;
  ServerOptions options_;
  std::unique_ptr<ServiceMetrics> own_metrics_;  // when none was given
  ServiceMetrics* metrics_;
  ModelRepository& models_;
  EvaluatorService service_;
  InferenceService inference_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  std::unique_ptr<InferenceHttpServer> inference_http_;
  std::atomic<bool> serving_{false};
  int port_ = 0;
  std::string address_;
  std::once_flag shutdown_once_;
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_SERVER_H_
