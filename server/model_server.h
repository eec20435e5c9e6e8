// The whole server as one library call: load and convert the model, listen
// (health NOT_SERVING, so probes see the startup), prove the conversion with
// the self-check on the path that serves, then SERVING. TensorFlow Serving's
// Server::BuildAndStart is the model; main.cc only maps flags to options.
//
//   ModelServerOptions options;
//   options.model_path = "pretrainedResnet.h5";
//   options.server.address = "127.0.0.1:0";
//   RETURN_IF_ERROR(options.Validate());
//   ASSIGN_OR_RETURN(std::unique_ptr<ModelServer> server, ModelServer::Start(options));
//   ... server->address() ...
//   server->Shutdown();  // NOT_SERVING, drain within the grace period, stop
#ifndef RESNET8_SERVER_MODEL_SERVER_H_
#define RESNET8_SERVER_MODEL_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/keras/input_transform.h"
#include "server/server.h"
#include "server/service_metrics.h"
#include "server/torch/model_loader.h"
#include "server/torch/precision.h"
#include "server/torch/torch_classifier.h"

namespace resnet8 {

struct ModelServerOptions {
  std::string model_path;  // a .h5 or .keras file, recognized by content
  // The preprocessing the model was trained with (input_transform.h).
  InputTransform input_transform;
  PrecisionPolicy precision = PrecisionPolicy::kAuto;
  // The fast path: BatchNorm folded, channels-last, cache-sized passes. false
  // serves the module exactly as converted, run the straightforward way.
  bool optimize = true;
  TorchClassifierOptions inference;  // threads and batching; on_timing is the server's own
  ServerOptions server;              // where and how to listen

  // INVALID_ARGUMENT naming the option (as the flag that sets it) if any is
  // out of range; ModelServer::Start checks it too.
  absl::Status Validate() const;
};

class ModelServer {
 public:
  // Errors: Validate()'s; the loader's for a file that cannot be read or
  // converted (naming the file); UNAVAILABLE if an address cannot be bound;
  // INTERNAL "self-check failed ...; refusing to serve" when the served path
  // disagrees with the reference executor.
  static absl::StatusOr<std::unique_ptr<ModelServer>> Start(const ModelServerOptions& options);
  ~ModelServer();

  const std::string& address() const { return server_->address(); }
  int port() const { return server_->port(); }
  std::string http_address() const { return server_->http_address(); }
  std::string metrics_address() const { return server_->metrics_address(); }
  const LoadedModel& model() const { return model_; }
  const PrecisionChoice& precision() const { return served_.precision; }
  const CheckResult& self_check() const { return self_check_; }
  double convert_seconds() const { return convert_seconds_; }
  // Every classifier call so far (all APIs), for watching the load.
  ServiceMetrics::InferenceTotals inferences() const { return metrics_.Inferences(); }

  // Health NOT_SERVING, in-flight calls finish within the grace period, then
  // stop. Idempotent.
  void Shutdown() { server_->Shutdown(); }

 private:
  ModelServer() = default;

  // Declared in the order they are needed; the server, which refers to the
  // others, goes first on destruction.
  ServiceMetrics metrics_;
  LoadedModel model_;
  ServedClassifier served_;
  CheckResult self_check_;
  double convert_seconds_ = 0;
  std::unique_ptr<EvaluatorServer> server_;
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_MODEL_SERVER_H_
