#include "client/evaluator_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/evaluation_run.h"
#include "common/grpc_status.h"
#include "common/wire.h"

namespace resnet8 {
namespace {

void SetTimeout(grpc::ClientContext& context, absl::Duration timeout) {
  if (timeout != absl::InfiniteDuration()) {
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
  }
}

}  // namespace

void AddBearerToken(grpc::ClientContext& context, const std::string& token) {
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
}

LabelsAndScores GatherLabelsAndScores(const std::vector<ImagePrediction>& predictions) {
  LabelsAndScores gathered;
  gathered.labels.reserve(predictions.size());
  for (const ImagePrediction& prediction : predictions) {
    gathered.labels.push_back(prediction.label);
    gathered.scores.insert(gathered.scores.end(), prediction.probabilities.begin(), prediction.probabilities.end());
  }
  return gathered;
}

absl::StatusOr<std::string> ChannelTarget(const std::string& servers) {
  if (servers.find(',') == std::string::npos) {
    if (servers.empty()) return absl::InvalidArgumentError("no server address given");
    return servers;
  }
  for (absl::string_view entry : absl::StrSplit(servers, ',')) {
    const size_t colon = entry.rfind(':');
    const absl::string_view host = colon == absl::string_view::npos ? entry : entry.substr(0, colon);
    const bool ipv4 = !host.empty() && colon != absl::string_view::npos && colon + 1 < entry.size() &&
                      host.find_first_not_of("0123456789.") == absl::string_view::npos;
    if (!ipv4) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", entry,
                       "' in the server list is not an IPv4 HOST:PORT; list IPv4 addresses, or give one DNS name "
                       "that resolves to every replica"));
    }
  }
  return absl::StrCat("ipv4:", servers);
}

int CountListedServers(const std::string& servers) {
  return static_cast<int>(std::count(servers.begin(), servers.end(), ',')) + 1;
}

std::shared_ptr<grpc::Channel> EvaluatorClient::Connect(const std::string& servers, const ConnectOptions& options) {
  grpc::ChannelArguments arguments;
  // Per call, over every resolved address: each stream goes to the next replica.
  arguments.SetLoadBalancingPolicyName("round_robin");
  arguments.SetMaxReceiveMessageSize(64 << 20);
  arguments.SetMaxSendMessageSize(64 << 20);  // the server enforces its own limit
  // gRPC's reconnect backoff grows to 120 s by default: a server restarted
  // by compose would sit unused for minutes. Cap it to match Evaluate()'s.
  // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC takes it as the time a
  // connection attempt may take, and at 100 ms a handshake slowed by a busy
  // machine failed calls with UNAVAILABLE ("tcp handshaker shutdown").
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
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
  absl::StatusOr<std::string> target = ChannelTarget(servers);
  return grpc::CreateCustomChannel(target.ok() ? *target : servers, credentials, arguments);
}

EvaluatorClient::EvaluatorClient(std::shared_ptr<grpc::Channel> channel, std::string auth_token)
    : channel_(std::move(channel)),
      auth_token_(std::move(auth_token)),
      stub_(v1::Evaluator::NewStub(channel_)),
      health_(grpc::health::v1::Health::NewStub(channel_)) {}

void EvaluatorClient::Prepare(grpc::ClientContext& context, absl::Duration timeout) const {
  SetTimeout(context, timeout);
  AddBearerToken(context, auth_token_);
}

absl::StatusOr<EvaluationResult> EvaluatorClient::Evaluate(const LabeledImages& images,
                                                           const EvaluateOptions& options) const {
  return RunEvaluation(*stub_, images, options, auth_token_);
}

absl::StatusOr<v1::ClassifyResponse> EvaluatorClient::Classify(const ImageBatchView& batch, absl::Duration timeout,
                                                               const std::string& model_name) const {
  v1::ClassifyRequest request;
  request.set_model_name(model_name);
  request.mutable_images()->set_layout(ToWireLayout(batch.layout));
  request.mutable_images()->set_count(static_cast<uint32_t>(batch.count));
  request.mutable_images()->set_pixels(reinterpret_cast<const char*>(batch.pixels.data()), batch.pixels.size());
  grpc::ClientContext context;
  Prepare(context, timeout);
  v1::ClassifyResponse response;
  if (absl::Status status = FromGrpcStatus(stub_->Classify(&context, request, &response)); !status.ok()) return status;
  return response;
}

absl::StatusOr<v1::ModelInfo> EvaluatorClient::GetModelInfo(absl::Duration timeout,
                                                            const std::string& model_name) const {
  grpc::ClientContext context;
  Prepare(context, timeout);
  v1::GetModelInfoRequest request;
  request.set_model_name(model_name);
  v1::ModelInfo info;
  if (absl::Status status = FromGrpcStatus(stub_->GetModelInfo(&context, request, &info)); !status.ok()) {
    return status;
  }
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
