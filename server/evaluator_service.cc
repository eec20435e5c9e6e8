#include "server/evaluator_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"

namespace resnet8 {
namespace {

const grpc::Status kNotReady(grpc::StatusCode::UNAVAILABLE, "the server is not ready (starting up or shutting down)");
const grpc::Status kClientGone(grpc::StatusCode::CANCELLED, "the call was cancelled or its deadline passed");

}  // namespace

EvaluatorService::EvaluatorService(const EvaluatorCore& core, v1::ModelInfo info)
    : core_(core), info_(std::move(info)) {}

grpc::Status EvaluatorService::Classify(grpc::ServerContext* context, const v1::ClassifyRequest* request,
                                        v1::ClassifyResponse* response) {
  if (!ready_.load()) return kNotReady;
  if (context->IsCancelled()) return kClientGone;
  return ToGrpcStatus(core_.Classify(*request, response));
}

grpc::Status EvaluatorService::EvaluateDataset(
    grpc::ServerContext* context, grpc::ServerReaderWriter<v1::EvaluateResponse, v1::EvaluateRequest>* stream) {
  if (!ready_.load()) return kNotReady;
  // Count this stream for as long as the handler runs.
  struct StreamSlot {
    std::atomic<int64_t>& open;
    const int64_t count = open.fetch_add(1) + 1;
    ~StreamSlot() { open.fetch_sub(1); }
  } slot{open_streams_};
  const int64_t limit = core_.limits().max_concurrent_streams;
  if (slot.count > limit) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("the server is at its limit of ", limit,
                                     " concurrent EvaluateDataset streams; retry when one has finished"));
  }
  EvaluatorCore::Evaluation evaluation = core_.StartEvaluation();
  v1::EvaluateRequest request;
  v1::EvaluateResponse response;
  while (stream->Read(&request)) {
    // No work for a client that is gone; a shutdown past its grace period
    // cancels every call, which ends here too.
    if (context->IsCancelled()) return kClientGone;
    response.Clear();
    absl::Status status = evaluation.AddBatch(request, &response);
    if (!status.ok()) return ToGrpcStatus(status);
    if (!stream->Write(response)) return kClientGone;
  }
  // Read() also returns false when the call was cancelled: only a clean
  // half-close earns the final report.
  if (context->IsCancelled()) return kClientGone;
  response.Clear();
  evaluation.Finish(&response);
  if (!stream->Write(response)) return kClientGone;
  return grpc::Status::OK;
}

void EvaluatorService::SetSelfCheck(const v1::SelfCheck& self_check) {
  absl::MutexLock lock(&info_mutex_);
  *info_.mutable_self_check() = self_check;
}

grpc::Status EvaluatorService::GetModelInfo(grpc::ServerContext*, const v1::GetModelInfoRequest*,
                                            v1::ModelInfo* response) {
  absl::MutexLock lock(&info_mutex_);
  *response = info_;
  return grpc::Status::OK;
}

}  // namespace resnet8
