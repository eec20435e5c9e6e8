#include "client/evaluator_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "client/evaluation_run.h"
#include "common/grpc_status.h"

namespace resnet8 {
namespace {

void SetTimeout(grpc::ClientContext& context, absl::Duration timeout) {
  if (timeout != absl::InfiniteDuration()) {
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
  }
}

v1::PixelLayout ToProto(PixelLayout layout) {
  return layout == PixelLayout::kChannelPlanar ? v1::PIXEL_LAYOUT_CHANNEL_PLANAR : v1::PIXEL_LAYOUT_INTERLEAVED_HWC;
}

}  // namespace

void PlanarToHwc(absl::Span<const uint8_t> planar, uint8_t* hwc) {
  constexpr int64_t kPlane = kImageHeight * kImageWidth;
  for (int64_t p = 0; p < kPlane; ++p) {
    for (int64_t c = 0; c < kImageChannels; ++c) hwc[p * kImageChannels + c] = planar[c * kPlane + p];
  }
}

std::shared_ptr<grpc::Channel> EvaluatorClient::Connect(const std::string& address, const ConnectOptions& options) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(64 << 20);
  arguments.SetMaxSendMessageSize(64 << 20);  // the server enforces its own limit
  // gRPC's reconnect backoff grows to 120 s by default: a server restarted
  // by compose would sit unused for minutes. Cap it to match Evaluate()'s.
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!options.tls_root_certificates.empty()) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = options.tls_root_certificates;
    credentials = grpc::SslCredentials(tls);
    if (!options.tls_server_name.empty()) {
      arguments.SetSslTargetNameOverride(options.tls_server_name);
    }
  }
  return grpc::CreateCustomChannel(address, credentials, arguments);
}

EvaluatorClient::EvaluatorClient(std::shared_ptr<grpc::Channel> channel, std::string auth_token)
    : channel_(std::move(channel)),
      auth_token_(std::move(auth_token)),
      stub_(v1::Evaluator::NewStub(channel_)),
      health_(grpc::health::v1::Health::NewStub(channel_)) {}

void EvaluatorClient::Prepare(grpc::ClientContext& context, absl::Duration timeout) const {
  SetTimeout(context, timeout);
  if (!auth_token_.empty()) context.AddMetadata("authorization", "Bearer " + auth_token_);
}

absl::StatusOr<EvaluationResult> EvaluatorClient::Evaluate(const LabeledImages& images,
                                                           const EvaluateOptions& options) const {
  return RunEvaluation(*stub_, images, options, auth_token_);
}

absl::StatusOr<v1::ClassifyResponse> EvaluatorClient::Classify(const ImageBatchView& batch,
                                                               absl::Duration timeout) const {
  v1::ClassifyRequest request;
  request.mutable_images()->set_layout(ToProto(batch.layout));
  request.mutable_images()->set_count(static_cast<uint32_t>(batch.count));
  request.mutable_images()->set_pixels(reinterpret_cast<const char*>(batch.pixels.data()), batch.pixels.size());
  grpc::ClientContext context;
  Prepare(context, timeout);
  v1::ClassifyResponse response;
  if (absl::Status status = FromGrpcStatus(stub_->Classify(&context, request, &response)); !status.ok()) return status;
  return response;
}

absl::StatusOr<v1::ModelInfo> EvaluatorClient::GetModelInfo(absl::Duration timeout) const {
  grpc::ClientContext context;
  Prepare(context, timeout);
  v1::ModelInfo info;
  if (absl::Status status = FromGrpcStatus(stub_->GetModelInfo(&context, {}, &info)); !status.ok()) return status;
  return info;
}

absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> EvaluatorClient::CheckHealth(
    const std::string& service, absl::Duration timeout) const {
  grpc::ClientContext context;
  Prepare(context, timeout);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  if (absl::Status status = FromGrpcStatus(health_->Check(&context, request, &response)); !status.ok()) {
    return status;
  }
  return response.status();
}

}  // namespace resnet8
