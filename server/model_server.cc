#include "server/model_server.h"

#include <glog/logging.h>
#include <torch/version.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/cifar10.h"
#include "common/status_macros.h"
#include "server/keras/self_check.h"

namespace resnet8 {
namespace {

ServedModel DescribeModel(const LoadedModel& model, bool optimized, const PrecisionChoice& precision,
                          double convert_seconds) {
  ServedModel served;
  served.file = model.path.substr(model.path.rfind('/') + 1);
  served.sha256 = model.sha256;
  served.keras_version = model.keras.keras_version;
  served.architecture = model.keras.Summary();
  served.outputs_are_logits = model.keras.Outputs() == OutputKind::kLogits;
  served.parameter_count = model.keras.ParameterCount();
  const int64_t outputs = model.keras.OutputShape().back();
  if (outputs == kCifarClasses) {
    served.class_names = StandardCifar10ClassNames();
  } else {
    for (int64_t i = 0; i < outputs; ++i) served.class_names.push_back(absl::StrCat("class_", i));
  }
  const InputTransform& transform = model.keras.input_transform;
  served.input_value_range =
      transform.IsIdentity()
          ? "uint8 0..255 fed to the model as float 0..255: no scaling, no mean subtraction"
          : absl::StrCat("uint8 0..255 fed to the model as float ", transform.ToString(), " (per channel R, G, B)");
  served.input_scale.assign(transform.scale.begin(), transform.scale.end());
  served.input_offset.assign(transform.offset.begin(), transform.offset.end());
  served.runtime = absl::StrCat("LibTorch ", TORCH_VERSION, " (CPU, ",
                                optimized ? "optimized: BatchNorm folded, channels-last" : "as converted", "; ",
                                precision.detail, ")");
  served.convert_seconds = convert_seconds;
  served.input_name = model.keras.input_layer;
  served.output_name = model.keras.output_layer;
  return served;
}

}  // namespace

absl::Status ModelServerOptions::Validate() const {
  if (model_path.empty()) return absl::InvalidArgumentError("--model is required");
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
  return ValidateServerOptions(server);
}

absl::StatusOr<std::unique_ptr<ModelServer>> ModelServer::Start(const ModelServerOptions& options) {
  RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<ModelServer> self(new ModelServer);
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(self->model_, LoadKerasFile(options.model_path, options.input_transform));
  TorchClassifierOptions timed = options.inference;
  ServiceMetrics* metrics = &self->metrics_;
  timed.on_timing = [metrics](absl::Duration queue, absl::Duration compute) {
    metrics->RecordInference(queue, compute);
  };
  ASSIGN_OR_RETURN(self->served_, MakeServedClassifier(self->model_, options.optimize, timed, options.precision));
  // Reading, validating and building the served module: the conversion.
  self->convert_seconds_ = absl::ToDoubleSeconds(absl::Now() - start);
  const KerasModel& keras = self->model_.keras;
  LOG(INFO) << "converted " << options.model_path << " in " << self->convert_seconds_ << " s: " << keras.Summary()
            << "; outputs " << (keras.Outputs() == OutputKind::kLogits ? "logits" : "probabilities") << "; input "
            << keras.input_transform.ToString() << "; sha256 " << self->model_.sha256 << "; precision "
            << self->served_.precision.detail;

  // Listen first (health NOT_SERVING), so probes see the startup; serve only
  // after the self-check passes.
  const TorchClassifier& classifier = *self->served_.classifier;
  ASSIGN_OR_RETURN(self->server_, EvaluatorServer::Start(options.server, classifier,
                                                         DescribeModel(self->model_, options.optimize,
                                                                       self->served_.precision, self->convert_seconds_),
                                                         metrics));
  ASSIGN_OR_RETURN(self->self_check_, RunSelfCheck(keras, classifier, CheckTolerance(self->served_.precision)));
  self->server_->SetSelfCheck(self->self_check_);
  if (!self->self_check_.passed) {
    return absl::InternalError(
        absl::StrCat("self-check ", self->self_check_.detail, "; refusing to serve ", options.model_path));
  }
  LOG(INFO) << "self-check " << self->self_check_.detail;
  self->server_->SetServing(true);
  return self;
}

ModelServer::~ModelServer() {
  if (server_ != nullptr) server_->Shutdown();
}

}  // namespace resnet8
