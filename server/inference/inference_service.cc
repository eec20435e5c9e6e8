#include "server/inference/inference_service.h"

#include <grpcpp/support/method_handler.h>

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "server/inference/inference_repository.h"
#include "server/raw_grpc_call.h"

namespace resnet8 {

InferenceService::InferenceService(ModelRepository& models, std::string auth_token, ServiceMetrics* metrics)
    : models_(models), token_(auth_token), metrics_(metrics) {
  // A "streamed" unary method still looks like a plain unary call to clients.
  MarkMethodStreamed(RawMethodIndex(inference::GRPCInferenceService::service_full_name(), "ModelInfer"),
                     new grpc::internal::StreamedUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
                         [this](grpc::ServerContext* context, RawUnaryCall* call) {
                           return Counted("ModelInfer", [&] { return DoModelInfer(context, call); });
                         }));
}

template <typename Handler>
grpc::Status InferenceService::Counted(absl::string_view method, Handler handler) {
  const absl::Time start = absl::Now();
  grpc::Status status = handler();
  metrics_->RecordCall(method, status.error_code(), absl::Now() - start);
  return status;
}

grpc::Status InferenceService::ServerLive(grpc::ServerContext*, const inference::ServerLiveRequest*,
                                          inference::ServerLiveResponse* response) {
  return Counted("ServerLive", [&] {
    response->set_live(true);  // answering at all is being live
    return grpc::Status::OK;
  });
}

grpc::Status InferenceService::ServerReady(grpc::ServerContext*, const inference::ServerReadyRequest*,
                                           inference::ServerReadyResponse* response) {
  return Counted("ServerReady", [&] {
    response->set_ready(ready_.load());
    return grpc::Status::OK;
  });
}

grpc::Status InferenceService::ModelReady(grpc::ServerContext*, const inference::ModelReadyRequest* request,
                                          inference::ModelReadyResponse* response) {
  return Counted("ModelReady", [&] {
    absl::StatusOr<std::shared_ptr<const ModelVersion>> model = models_.Find(request->name(), request->version());
    // A known model that is not loaded is not ready; an unknown one is NOT_FOUND.
    if (!model.ok() && !absl::IsUnavailable(model.status())) return ToGrpcStatus(model.status());
    response->set_ready(model.ok() && ready_.load());
    return grpc::Status::OK;
  });
}

grpc::Status InferenceService::ServerMetadata(grpc::ServerContext* context, const inference::ServerMetadataRequest*,
                                              inference::ServerMetadataResponse* response) {
  return Counted("ServerMetadata", [&] {
    if (grpc::Status denied = token_.Check(*context); !denied.ok()) return denied;
    *response = InferenceServerMetadata();
    return grpc::Status::OK;
  });
}

grpc::Status InferenceService::ModelMetadata(grpc::ServerContext* context,
                                             const inference::ModelMetadataRequest* request,
                                             inference::ModelMetadataResponse* response) {
  return Counted("ModelMetadata", [&] {
    if (grpc::Status denied = token_.Check(*context); !denied.ok()) return denied;
    absl::StatusOr<std::shared_ptr<const ModelVersion>> model = models_.Find(request->name(), request->version());
    if (!model.ok()) return ToGrpcStatus(model.status());
    *response = (*model)->inference().Metadata();
    return grpc::Status::OK;
  });
}

grpc::Status InferenceService::ModelConfig(grpc::ServerContext* context, const inference::ModelConfigRequest* request,
                                           inference::ModelConfigResponse* response) {
  return Counted("ModelConfig", [&] {
    if (grpc::Status denied = token_.Check(*context); !denied.ok()) return denied;
    absl::StatusOr<std::shared_ptr<const ModelVersion>> model = models_.Find(request->name(), request->version());
    if (!model.ok()) return ToGrpcStatus(model.status());
    *response = (*model)->inference().Config();
    return grpc::Status::OK;
  });
}

grpc::Status InferenceService::DoModelInfer(grpc::ServerContext* context, RawUnaryCall* call) {
  if (grpc::Status denied = token_.Check(*context); !denied.ok()) return denied;
  if (!ready_.load()) return ToGrpcStatus(NotReadyError());
  if (AdmissionGate* gate = models_.admission(); gate != nullptr) {
    if (absl::Status full = gate->RefuseWhenFull(); !full.ok()) return ToGrpcStatus(full);
  }
  inference::ModelInferRequest request;
  if (grpc::Status read = ReadRequest(call, request); !read.ok()) return read;
  absl::StatusOr<std::shared_ptr<const ModelVersion>> model =
      models_.Find(request.model_name(), request.model_version());
  if (!model.ok()) return ToGrpcStatus(model.status());
  inference::ModelInferResponse response;
  int64_t images = 0;
  if (absl::Status status = (*model)->inference().Infer(request, &response, &images); !status.ok()) {
    return ToGrpcStatus(status);
  }
  metrics_->RecordBatch("ModelInfer", (*model)->name(), images);
  return SendMessage(response, call);
}

grpc::Status InferenceService::ModelStatistics(grpc::ServerContext* context,
                                               const inference::ModelStatisticsRequest* request,
                                               inference::ModelStatisticsResponse* response) {
  return Counted("ModelStatistics", [&] {
    if (grpc::Status denied = token_.Check(*context); !denied.ok()) return denied;
    absl::StatusOr<inference::ModelStatisticsResponse> statistics =
        RepositoryStatistics(models_, *metrics_, request->name(), request->version());
    if (!statistics.ok()) return ToGrpcStatus(statistics.status());
    *response = *std::move(statistics);
    return grpc::Status::OK;
  });
}

grpc::Status InferenceService::RepositoryIndex(grpc::ServerContext* context,
                                               const inference::RepositoryIndexRequest* request,
                                               inference::RepositoryIndexResponse* response) {
  return Counted("RepositoryIndex", [&] {
    if (grpc::Status denied = token_.Check(*context); !denied.ok()) return denied;
    *response = RepositoryIndexOf(models_, request->ready());
    return grpc::Status::OK;
  });
}

grpc::Status InferenceService::RepositoryModelLoad(grpc::ServerContext* context,
                                                   const inference::RepositoryModelLoadRequest* request,
                                                   inference::RepositoryModelLoadResponse*) {
  return Counted("RepositoryModelLoad", [&] {
    if (grpc::Status denied = token_.Check(*context); !denied.ok()) return denied;
    if (!request->parameters().empty()) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("load parameter '", request->parameters().begin()->first, "' is not supported by this server")));
    }
    return ToGrpcStatus(models_.Load(request->model_name()));
  });
}

grpc::Status InferenceService::RepositoryModelUnload(grpc::ServerContext* context,
                                                     const inference::RepositoryModelUnloadRequest* request,
                                                     inference::RepositoryModelUnloadResponse*) {
  return Counted("RepositoryModelUnload", [&] {
    if (grpc::Status denied = token_.Check(*context); !denied.ok()) return denied;
    if (!request->parameters().empty()) {
      return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
          "unload parameter '", request->parameters().begin()->first, "' is not supported by this server")));
    }
    return ToGrpcStatus(models_.Unload(request->model_name()));
  });
}

}  // namespace resnet8
