// The gRPC adapter of the Evaluator service: it moves messages between the
// transport and EvaluatorCore, answers UNAVAILABLE while the server is not
// ready (starting up, or shutting down), stops a stream's work as soon as its
// client is gone or its deadline passes, and maps every status in one place
// (common/grpc_status.h), and checks the bearer token when one is set. No
// exception escapes a handler.
//
// Classify and EvaluateDataset receive their requests as raw bytes and parse
// them here. gRPC's generated handlers cannot tell a request that does not
// parse from a client's half-close (Read() returns false for both), so a
// stream with a garbled message would end with an OK report that silently
// left images out; parsing ourselves turns it into INVALID_ARGUMENT naming the
// message, and no report is sent.
#ifndef RESNET8_SERVER_EVALUATOR_EVALUATOR_SERVICE_H_
#define RESNET8_SERVER_EVALUATOR_EVALUATOR_SERVICE_H_

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/sync_stream.h>

#include <atomic>

#include "resnet8/v1/evaluator.grpc.pb.h"
#include "server/bearer_token.h"
#include "server/repository/model_repository.h"
#include "server/service_metrics.h"

namespace resnet8 {

class EvaluatorService final : public v1::Evaluator::Service {
 public:
  // `models` must outlive the service; each call asks the model its request
  // names. Starts not ready. A non-empty `auth_token` makes every call
  // require "authorization: Bearer <token>". `metrics`, if not null, must
  // outlive the service; every call is counted. `limits` are the server's,
  // which GetModelInfo reports and EvaluateDataset's stream count obeys.
  EvaluatorService(const ModelRepository& models, ServiceLimits limits, std::string auth_token = "",
                   ServiceMetrics* metrics = nullptr);

  // Thread-safe.
  void SetReady(bool ready) { ready_.store(ready); }

  grpc::Status GetModelInfo(grpc::ServerContext* context, const v1::GetModelInfoRequest* request,
                            v1::ModelInfo* response) override;

 private:
  using RawUnaryCall = grpc::ServerUnaryStreamer<grpc::ByteBuffer, grpc::ByteBuffer>;
  using RawStream = grpc::ServerReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>;
  // The handlers, registered over the generated ones in the constructor.
  grpc::Status DoClassify(grpc::ServerContext* context, RawUnaryCall* call);
  grpc::Status DoEvaluateDataset(grpc::ServerContext* context, RawStream* stream);
  template <typename Handler>
  grpc::Status Counted(absl::string_view method, Handler handler);

  const ModelRepository& models_;
  const ServiceLimits limits_;
  const BearerToken token_;
  ServiceMetrics* const metrics_;
  std::atomic<bool> ready_{false};
  std::atomic<int64_t> open_streams_{0};
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_EVALUATOR_EVALUATOR_SERVICE_H_
