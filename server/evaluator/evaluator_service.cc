#include "server/evaluator/evaluator_service.h"

#include <grpcpp/support/method_handler.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/image.h"
#include "common/wire.h"
#include "server/raw_grpc_call.h"

namespace resnet8 {
namespace {

v1::ModelInfo ToWireModelInfo(const ModelVersion& version, const ServiceLimits& limits) {
  const ServedModel& model = version.description();
  const CheckResult& self_check = version.self_check();
  v1::ModelInfo info;
  info.set_model_name(version.name());
  info.set_model_version(static_cast<uint64_t>(version.version()));
  info.set_model_sha256(model.sha256);
  info.set_model_file(model.file);
  info.set_keras_version(model.keras_version);
  info.set_architecture(model.architecture);
  info.set_outputs_are_logits(model.outputs_are_logits);
  info.set_parameter_count(model.parameter_count);
  v1::InputSpec* input = info.mutable_input();
  input->set_height(kImageHeight);
  input->set_width(kImageWidth);
  input->set_channels(kImageChannels);
  input->set_value_range(model.input_value_range);
  input->add_layouts(ToWireLayout(PixelLayout::kChannelPlanar));
  input->add_layouts(ToWireLayout(PixelLayout::kInterleavedHwc));
  input->mutable_scale()->Add(model.input_scale.begin(), model.input_scale.end());
  input->mutable_offset()->Add(model.input_offset.begin(), model.input_offset.end());
  for (const std::string& name : model.class_names) info.add_class_names(name);
  info.mutable_limits()->set_max_batch_images(limits.max_batch_images);
  info.mutable_limits()->set_max_message_bytes(MaxRequestBytes(limits));
  v1::SelfCheck* check = info.mutable_self_check();
  check->set_passed(self_check.passed);
  check->set_images(static_cast<uint32_t>(self_check.images));
  check->set_max_abs_difference(self_check.max_abs_difference);
  check->set_detail(self_check.detail);
  info.set_runtime(model.runtime);
  info.set_convert_seconds(model.convert_seconds);
  return info;
}

}  // namespace

EvaluatorService::EvaluatorService(const ModelRepository& models, ServiceLimits limits, std::string auth_token,
                                   ServiceMetrics* metrics)
    : models_(models), limits_(limits), token_(auth_token), metrics_(metrics) {
  // The raw handlers replace the generated ones; a "streamed" unary method
  // still looks like a plain unary call to clients.
  MarkMethodStreamed(RawMethodIndex(v1::Evaluator::service_full_name(), "Classify"),
                     new grpc::internal::StreamedUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
                         [this](grpc::ServerContext* context, RawUnaryCall* call) {
                           return Counted("Classify", [&] { return DoClassify(context, call); });
                         }));
  MarkMethodStreamed(RawMethodIndex(v1::Evaluator::service_full_name(), "EvaluateDataset"),
                     new grpc::internal::BidiStreamingHandler<EvaluatorService, grpc::ByteBuffer, grpc::ByteBuffer>(
                         [](EvaluatorService* service, grpc::ServerContext* context, RawStream* stream) {
                           return service->Counted("EvaluateDataset",
                                                   [&] { return service->DoEvaluateDataset(context, stream); });
                         },
                         this));
}

template <typename Handler>
grpc::Status EvaluatorService::Counted(absl::string_view method, Handler handler) {
  const absl::Time start = absl::Now();
  grpc::Status status = handler();
  if (metrics_ != nullptr) metrics_->RecordCall(method, status.error_code(), absl::Now() - start);
  return status;
}

grpc::Status EvaluatorService::DoClassify(grpc::ServerContext* context, RawUnaryCall* call) {
  if (grpc::Status denied = token_.Check(*context); !denied.ok()) return denied;
  if (!ready_.load()) return ToGrpcStatus(NotReadyError());
  v1::ClassifyRequest request;
  if (grpc::Status read = ReadRequest(call, request); !read.ok()) return read;
  if (context->IsCancelled()) return ClientGoneStatus();
  absl::StatusOr<std::shared_ptr<const ModelVersion>> model = models_.Find(request.model_name());
  if (!model.ok()) return ToGrpcStatus(model.status());
  v1::ClassifyResponse response;
  absl::Status status = (*model)->evaluator().Classify(request, &response);
  if (!status.ok()) return ToGrpcStatus(status);
  if (metrics_ != nullptr) metrics_->RecordBatch("Classify", (*model)->name(), response.predictions_size());
  return SendMessage(response, call);
}

grpc::Status EvaluatorService::DoEvaluateDataset(grpc::ServerContext* context, RawStream* stream) {
  if (grpc::Status denied = token_.Check(*context); !denied.ok()) return denied;
  if (!ready_.load()) return ToGrpcStatus(NotReadyError());
  // Count this stream for as long as the handler runs.
  struct StreamSlot {
    std::atomic<int64_t>& open;
    ServiceMetrics* metrics;
    const int64_t count = Open();
    int64_t Open() {
      if (metrics != nullptr) metrics->StreamOpened();
      return open.fetch_add(1) + 1;
    }
    ~StreamSlot() {
      open.fetch_sub(1);
      if (metrics != nullptr) metrics->StreamClosed();
    }
  } slot{open_streams_, metrics_};
  const int64_t limit = limits_.max_concurrent_streams;
  if (slot.count > limit) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("the server is at its limit of ", limit,
                                     " concurrent EvaluateDataset streams; retry when one has finished"));
  }
  // The model is chosen by the first message and held for the whole stream:
  // a swap meanwhile does not change it.
  std::shared_ptr<const ModelVersion> model;
  std::optional<EvaluatorCore::Evaluation> evaluation;
  grpc::ByteBuffer raw;
  v1::EvaluateRequest request;
  v1::EvaluateResponse response;
  for (int64_t number = 1; stream->Read(&raw); ++number) {
    // No work for a client that is gone; a shutdown past its grace period
    // cancels every call, which ends here too.
    if (context->IsCancelled()) return ClientGoneStatus();
    grpc::ProtoBufferReader input(&raw);
    const std::string message = absl::StrCat("message ", number, " of the stream");
    absl::Status status = ParseRequest(input, request, message);
    if (status.ok() && model == nullptr) {
      absl::StatusOr<std::shared_ptr<const ModelVersion>> found =
          models_.Find(request.model_name(), request.model_version() == 0 ? "" : absl::StrCat(request.model_version()));
      if (found.ok()) {
        model = *std::move(found);
        evaluation.emplace(model->evaluator().StartEvaluation());
      }
      status = found.status();
    } else if (status.ok() && !request.model_name().empty() && request.model_name() != model->name()) {
      status = absl::InvalidArgumentError(absl::StrCat(message, " names model '", request.model_name(),
                                                       "'; the stream runs on '", model->name(),
                                                       "', which its first message chose"));
    }
    if (status.ok()) {
      response.Clear();
      status = evaluation->AddBatch(request, &response);
    }
    if (!status.ok()) return ToGrpcStatus(status);
    if (metrics_ != nullptr) metrics_->RecordBatch("EvaluateDataset", model->name(), response.predictions_size());
    if (grpc::Status sent = SendMessage(response, stream); !sent.ok()) return sent;
  }
  // Read() returns false after a clean half-close, and also when the call was
  // cancelled: only the half-close earns the final report.
  if (context->IsCancelled()) return ClientGoneStatus();
  response.Clear();
  if (model == nullptr) {
    // An empty stream: the report of no images, from the default model.
    absl::StatusOr<std::shared_ptr<const ModelVersion>> found = models_.Find("");
    if (!found.ok()) return ToGrpcStatus(found.status());
    model = *std::move(found);
    evaluation.emplace(model->evaluator().StartEvaluation());
  }
  evaluation->Finish(&response);
  response.mutable_report()->set_model_name(model->name());
  response.mutable_report()->set_model_version(static_cast<uint64_t>(model->version()));
  return SendMessage(response, stream);
}

grpc::Status EvaluatorService::GetModelInfo(grpc::ServerContext* context, const v1::GetModelInfoRequest* request,
                                            v1::ModelInfo* response) {
  return Counted("GetModelInfo", [&] {
    if (grpc::Status denied = token_.Check(*context); !denied.ok()) return denied;
    absl::StatusOr<std::shared_ptr<const ModelVersion>> model = models_.Find(request->model_name());
    if (!model.ok()) return ToGrpcStatus(model.status());
    *response = ToWireModelInfo(**model, limits_);
    return grpc::Status::OK;
  });
}

}  // namespace resnet8
