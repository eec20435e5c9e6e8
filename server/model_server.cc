#include "server/model_server.h"

#include <glog/logging.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/keras_model_loading.h"

namespace resnet8 {

absl::Status ModelServerOptions::Validate() const {
  if (model_path.empty() == repository.folder.empty()) {
    return absl::InvalidArgumentError(model_path.empty() ? "--model or --model_repository is required"
                                                         : "--model and --model_repository exclude each other");
  }
  if (inference.compute_threads < 0 || inference.compute_threads > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("--compute_threads=", inference.compute_threads, " is outside 0..1024"));
  }
  if (inference.threads < 0 || inference.threads > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("--threads=", inference.threads, " is outside 0..1024"));
  }
  if (inference.batching_delay < absl::ZeroDuration() || inference.batching_delay > absl::Seconds(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--batching_delay_us=", absl::ToInt64Microseconds(inference.batching_delay), " is outside 0..1000000"));
  }
  if (poll_period < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--repository_poll_seconds is negative");
  }
  RETURN_IF_ERROR(ValidateRepositoryOptions(repository));
  if (!model_path.empty()) RETURN_IF_ERROR(CheckModelName(server.model_name));
  return ValidateServerOptions(server);
}

absl::StatusOr<std::unique_ptr<ModelServer>> ModelServer::Start(const ModelServerOptions& options) {
  RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<ModelServer> self(new ModelServer);
  KerasLoadingOptions loading;
  loading.defaults.input_transform = options.input_transform;
  loading.defaults.precision = options.precision;
  loading.optimize = options.optimize;
  loading.inference = options.inference;
  loading.metrics = &self->metrics_;
  self->admission_ = std::make_unique<AdmissionGate>(options.server.limits.max_queued_images);
  self->models_ = std::make_unique<ModelRepository>(MakeKerasModelLoader(std::move(loading)), options.repository,
                                                    options.server.limits, self->admission_.get());

  // The startup models load before the server listens, so that it never
  // answers for a model that is not there yet.
  if (!options.model_path.empty()) {
    ASSIGN_OR_RETURN(ModelSource source, SingleFileSource(options.server.model_name, options.model_path));
    RETURN_IF_ERROR(self->models_->Add(source));
  } else {
    RETURN_IF_ERROR(self->models_->LoadFolder());
  }
  // Listen (health NOT_SERVING until SetServing below).
  ASSIGN_OR_RETURN(self->server_, EvaluatorServer::Start(options.server, self->models_.get(), &self->metrics_));
  if (!options.repository.folder.empty()) {
    if (options.poll_period > absl::ZeroDuration()) {
      ModelServer* server = self.get();
      self->poller_ = std::thread([server, period = options.poll_period] { server->PollEvery(period); });
    }
  }
  self->server_->SetServing(true);
  return self;
}

void ModelServer::PollEvery(absl::Duration period) {
  while (!stop_polling_.WaitForNotificationWithTimeout(period)) {
    if (absl::Status polled = models_->Poll(); !polled.ok()) LOG(WARNING) << "polling: " << polled.message();
  }
}

std::shared_ptr<const ModelVersion> ModelServer::default_model() const {
  absl::StatusOr<std::shared_ptr<const ModelVersion>> model = models_->Find("");
  return model.ok() ? *model : nullptr;
}

void ModelServer::Shutdown() {
  if (!stop_polling_.HasBeenNotified()) stop_polling_.Notify();
  if (poller_.joinable()) poller_.join();
  if (server_ != nullptr) server_->Shutdown();
}

ModelServer::~ModelServer() { Shutdown(); }

}  // namespace resnet8
