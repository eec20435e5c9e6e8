#include "server/evaluator_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"

namespace resnet8 {
namespace {

const grpc::Status kNotReady(grpc::StatusCode::UNAVAILABLE, "the server is not ready (starting up or shutting down)");
const grpc::Status kClientGone(grpc::StatusCode::CANCELLED, "the call was cancelled or its deadline passed");

// Compares in time independent of where the strings differ, so response
// times do not reveal how much of a guessed token was right.
bool ConstantTimeEquals(grpc::string_ref a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (size_t i = 0; i < a.size(); ++i) difference |= static_cast<unsigned char>(a.data()[i] ^ b[i]);
  return difference == 0;
}

}  // namespace

EvaluatorService::EvaluatorService(const EvaluatorCore& core, v1::ModelInfo info, std::string auth_token,
                                   ServiceMetrics* metrics)
    : core_(core),
      auth_token_(auth_token.empty() ? "" : "Bearer " + auth_token),
      metrics_(metrics),
      info_(std::move(info)) {}

template <typename Handler>
grpc::Status EvaluatorService::Counted(absl::string_view method, Handler handler) {
  const absl::Time start = absl::Now();
  grpc::Status status = handler();
  if (metrics_ != nullptr) metrics_->RecordCall(method, status.error_code(), absl::Now() - start);
  return status;
}

grpc::Status EvaluatorService::Authenticate(const grpc::ServerContext& context) const {
  if (auth_token_.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto found = metadata.find("authorization");
  if (found == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "this server requires a token: send metadata 'authorization: Bearer <token>'");
  }
  if (!ConstantTimeEquals(found->second, auth_token_)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "the bearer token is not valid for this server");
  }
  return grpc::Status::OK;
}

grpc::Status EvaluatorService::Classify(grpc::ServerContext* context, const v1::ClassifyRequest* request,
                                        v1::ClassifyResponse* response) {
  return Counted("Classify", [&] { return DoClassify(context, request, response); });
}

grpc::Status EvaluatorService::EvaluateDataset(
    grpc::ServerContext* context, grpc::ServerReaderWriter<v1::EvaluateResponse, v1::EvaluateRequest>* stream) {
  return Counted("EvaluateDataset", [&] { return DoEvaluateDataset(context, stream); });
}

grpc::Status EvaluatorService::DoClassify(grpc::ServerContext* context, const v1::ClassifyRequest* request,
                                          v1::ClassifyResponse* response) {
  if (grpc::Status denied = Authenticate(*context); !denied.ok()) return denied;
  if (!ready_.load()) return kNotReady;
  if (context->IsCancelled()) return kClientGone;
  absl::Status status = core_.Classify(*request, response);
  if (status.ok() && metrics_ != nullptr) metrics_->RecordBatch("Classify", response->predictions_size());
  return ToGrpcStatus(status);
}

grpc::Status EvaluatorService::DoEvaluateDataset(
    grpc::ServerContext* context, grpc::ServerReaderWriter<v1::EvaluateResponse, v1::EvaluateRequest>* stream) {
  if (grpc::Status denied = Authenticate(*context); !denied.ok()) return denied;
  if (!ready_.load()) return kNotReady;
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
    if (metrics_ != nullptr) metrics_->RecordBatch("EvaluateDataset", response.predictions_size());
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

grpc::Status EvaluatorService::GetModelInfo(grpc::ServerContext* context, const v1::GetModelInfoRequest*,
                                            v1::ModelInfo* response) {
  return Counted("GetModelInfo", [&] {
    if (grpc::Status denied = Authenticate(*context); !denied.ok()) return denied;
    absl::MutexLock lock(&info_mutex_);
    *response = info_;
    return grpc::Status::OK;
  });
}

}  // namespace resnet8
