// The whole server as one library call: load every model (convert, and
// prove the conversion with the self-check on the path that serves), listen,
// then SERVING;
// with a repository folder, keep polling it for new and changed models.
// TensorFlow Serving's Server::BuildAndStart is the model; main.cc only maps
// flags to options.
//
//   ModelServerOptions options;
//   options.model_path = "pretrainedResnet.h5";   // or options.repository.folder = "models"
//   options.server.address = "127.0.0.1:0";
//   RETURN_IF_ERROR(options.Validate());
//   ASSIGN_OR_RETURN(std::unique_ptr<ModelServer> server, ModelServer::Start(options));
//   ... server->address() ...
//   server->Shutdown();  // NOT_SERVING, drain within the grace period, stop
#ifndef RESNET8_SERVER_MODEL_SERVER_H_
#define RESNET8_SERVER_MODEL_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "server/admission.h"
#include "server/keras/input_transform.h"
#include "server/repository/model_repository.h"
#include "server/server.h"
#include "server/service_metrics.h"
#include "server/torch/precision.h"
#include "server/torch/torch_classifier.h"

namespace resnet8 {

struct ModelServerOptions {
  // One model: a .h5 or .keras file (recognized by content), served as
  // server.model_name. Or a repository folder: exactly one of the two.
  std::string model_path;
  RepositoryOptions repository;
  // How often the repository folder is compared with what is loaded; zero
  // turns polling off (load and unload calls still work).
  absl::Duration poll_period = absl::Seconds(5);
  // The preprocessing the models were trained with (input_transform.h); a
  // model folder's settings.txt overrides it for that model.
  InputTransform input_transform;
  PrecisionPolicy precision = PrecisionPolicy::kAuto;
  // The fast path: BatchNorm folded, channels-last, cache-sized passes. false
  // serves the module exactly as converted, run the straightforward way.
  bool optimize = true;
  TorchClassifierOptions inference;  // threads and batching, per model; on_timing is the server's own
  ServerOptions server;              // where and how to listen

  // INVALID_ARGUMENT naming the option (as the flag that sets it) if any is
  // out of range; ModelServer::Start checks it too.
  absl::Status Validate() const;
};

class ModelServer {
 public:
  // Errors: Validate()'s; UNAVAILABLE if an address cannot be bound; for a
  // model that cannot be read or converted, the loader's error naming the
  // file; INTERNAL "self-check failed ...; refusing to serve" when the
  // served path disagrees with the reference executor. With a repository,
  // the first model that fails, named.
  static absl::StatusOr<std::unique_ptr<ModelServer>> Start(const ModelServerOptions& options);
  ~ModelServer();

  const std::string& address() const { return server_->address(); }
  int port() const { return server_->port(); }
  std::string http_address() const { return server_->http_address(); }
  std::string metrics_address() const { return server_->metrics_address(); }
  ModelRepository& models() { return *models_; }
  // The model an empty name asks for, or null if it is not loaded.
  std::shared_ptr<const ModelVersion> default_model() const;
  // Every classifier call so far (all APIs, all models), for watching the load.
  ServiceMetrics::InferenceTotals inferences() const { return metrics_.Inferences(); }

  // Stops polling; health NOT_SERVING, in-flight calls finish within the
  // grace period, then stop. Idempotent.
  void Shutdown();

 private:
  ModelServer() = default;
  void PollEvery(absl::Duration period);

  // Declared in the order they are needed; the poller and the server, which
  // refer to the others, go first on destruction.
  ServiceMetrics metrics_;
  std::unique_ptr<AdmissionGate> admission_;
  std::unique_ptr<ModelRepository> models_;
  std::unique_ptr<EvaluatorServer> server_;
  absl::Notification stop_polling_;
  std::thread poller_;
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_MODEL_SERVER_H_
