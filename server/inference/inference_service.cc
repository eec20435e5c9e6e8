#include "server/inference/inference_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"

namespace resnet8 {

InferenceService::InferenceService(const InferenceCore& core, std::string auth_token, ServiceMetrics* metrics)
    : core_(core), token_(auth_token), metrics_(metrics) {}

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
    if (absl::Status found = core_.FindModel(request->name(), request->version()); !found.ok()) {
      return ToGrpcStatus(found);
    }
    response->set_ready(ready_.load());
    return grpc::Status::OK;
  });
}

grpc::Status InferenceService::ServerMetadata(grpc::ServerContext* context, const inference::ServerMetadataRequest*,
                                              inference::ServerMetadataResponse* response) {
  return Counted("ServerMetadata", [&] {
    if (grpc::Status denied = token_.Check(*context); !denied.ok()) return denied;
    *response = core_.ServerMetadata();
    return grpc::Status::OK;
  });
}

grpc::Status InferenceService::ModelMetadata(grpc::ServerContext* context,
                                             const inference::ModelMetadataRequest* request,
                                             inference::ModelMetadataResponse* response) {
  return Counted("ModelMetadata", [&] {
    if (grpc::Status denied = token_.Check(*context); !denied.ok()) return denied;
    if (absl::Status found = core_.FindModel(request->name(), request->version()); !found.ok()) {
      return ToGrpcStatus(found);
    }
    *response = core_.Metadata();
    return grpc::Status::OK;
  });
}

grpc::Status InferenceService::ModelConfig(grpc::ServerContext* context, const inference::ModelConfigRequest* request,
                                           inference::ModelConfigResponse* response) {
  return Counted("ModelConfig", [&] {
    if (grpc::Status denied = token_.Check(*context); !denied.ok()) return denied;
    if (absl::Status found = core_.FindModel(request->name(), request->version()); !found.ok()) {
      return ToGrpcStatus(found);
    }
    *response = core_.Config();
    return grpc::Status::OK;
  });
}

grpc::Status InferenceService::ModelInfer(grpc::ServerContext* context, const inference::ModelInferRequest* request,
                                          inference::ModelInferResponse* response) {
  return Counted("ModelInfer", [&] {
    if (grpc::Status denied = token_.Check(*context); !denied.ok()) return denied;
    if (!ready_.load()) return ToGrpcStatus(NotReadyError());
    int64_t images = 0;
    if (absl::Status status = core_.Infer(*request, response, &images); !status.ok()) return ToGrpcStatus(status);
    metrics_->RecordBatch("ModelInfer", images);
    return grpc::Status::OK;
  });
}

grpc::Status InferenceService::ModelStatistics(grpc::ServerContext* context,
                                               const inference::ModelStatisticsRequest* request,
                                               inference::ModelStatisticsResponse* response) {
  return Counted("ModelStatistics", [&] {
    if (grpc::Status denied = token_.Check(*context); !denied.ok()) return denied;
    // An empty name asks for every model: this one.
    if (!request->name().empty()) {
      if (absl::Status found = core_.FindModel(request->name(), request->version()); !found.ok()) {
        return ToGrpcStatus(found);
      }
    }
    // The classifier's queue and compute times cover every API's calls.
    const ServiceMetrics::InferenceTotals inferences = metrics_->Inferences();
    *response = core_.Statistics(inferences.calls, inferences.queue, inferences.compute);
    return grpc::Status::OK;
  });
}

}  // namespace resnet8
