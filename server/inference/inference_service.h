// The gRPC adapter of the Open Inference Protocol (inference.GRPCInferenceService,
// proto/inference/grpc_service.proto), served beside resnet8.v1.Evaluator on
// the same port. It moves messages between the transport and InferenceCore,
// maps statuses in one place (common/grpc_status.h), checks the bearer
// token, and counts calls in the service metrics with their method.
//
// Each call asks the model its request names in the repository
// (model_repository.h); RepositoryIndex, RepositoryModelLoad and
// RepositoryModelUnload are the repository's own.
//
// ServerLive, ServerReady and ModelReady are probes: open without a token,
// as the gRPC health service is. ServerReady follows the server's readiness
// (every startup model loaded and self-checked), ModelReady the model's;
// ModelInfer answers UNAVAILABLE until the server is ready, and
// RESOURCE_EXHAUSTED before reading the request while the admission gate is
// full (admission.h).
#ifndef RESNET8_SERVER_INFERENCE_INFERENCE_SERVICE_H_
#define RESNET8_SERVER_INFERENCE_INFERENCE_SERVICE_H_

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/sync_stream.h>

#include <atomic>
#include <string>

#include "inference/grpc_service.grpc.pb.h"
#include "server/bearer_token.h"
#include "server/inference/inference_core.h"
#include "server/repository/model_repository.h"
#include "server/service_metrics.h"

namespace resnet8 {

class InferenceService final : public inference::GRPCInferenceService::Service {
 public:
  // `models` and `metrics` (not null) must outlive the service. Starts not
  // ready.
  InferenceService(ModelRepository& models, std::string auth_token, ServiceMetrics* metrics);

  // Thread-safe.
  void SetReady(bool ready) { ready_.store(ready); }

  grpc::Status ServerLive(grpc::ServerContext* context, const inference::ServerLiveRequest* request,
                          inference::ServerLiveResponse* response) override;
  grpc::Status ServerReady(grpc::ServerContext* context, const inference::ServerReadyRequest* request,
                           inference::ServerReadyResponse* response) override;
  grpc::Status ModelReady(grpc::ServerContext* context, const inference::ModelReadyRequest* request,
                          inference::ModelReadyResponse* response) override;
  grpc::Status ServerMetadata(grpc::ServerContext* context, const inference::ServerMetadataRequest* request,
                              inference::ServerMetadataResponse* response) override;
  grpc::Status ModelMetadata(grpc::ServerContext* context, const inference::ModelMetadataRequest* request,
                             inference::ModelMetadataResponse* response) override;
  grpc::Status ModelConfig(grpc::ServerContext* context, const inference::ModelConfigRequest* request,
                           inference::ModelConfigResponse* response) override;
  grpc::Status ModelStatistics(grpc::ServerContext* context, const inference::ModelStatisticsRequest* request,
                               inference::ModelStatisticsResponse* response) override;
  grpc::Status RepositoryIndex(grpc::ServerContext* context, const inference::RepositoryIndexRequest* request,
                               inference::RepositoryIndexResponse* response) override;
  grpc::Status RepositoryModelLoad(grpc::ServerContext* context, const inference::RepositoryModelLoadRequest* request,
                                   inference::RepositoryModelLoadResponse* response) override;
  grpc::Status RepositoryModelUnload(grpc::ServerContext* context,
                                     const inference::RepositoryModelUnloadRequest* request,
                                     inference::RepositoryModelUnloadResponse* response) override;

 private:
  using RawUnaryCall = grpc::ServerUnaryStreamer<grpc::ByteBuffer, grpc::ByteBuffer>;
  // ModelInfer, registered over the generated handler in the constructor: it
  // gets the call before its request is read, so that a full admission gate
  // refuses it without reading or parsing the body.
  grpc::Status DoModelInfer(grpc::ServerContext* context, RawUnaryCall* call);
  template <typename Handler>
  grpc::Status Counted(absl::string_view method, Handler handler);

  ModelRepository& models_;
  const BearerToken token_;
  ServiceMetrics* const metrics_;
  std::atomic<bool> ready_{false};
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_INFERENCE_INFERENCE_SERVICE_H_
