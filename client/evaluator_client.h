// Client library of the resnet8.v1.Evaluator service.
//
// Evaluate() streams a labelled dataset through EvaluateDataset: a writer
// thread sends batches while another reads the answers, so the server never
// waits for the client; a stream that breaks is reopened and its unanswered
// batches resent (evaluation_run.h). The client aggregates accuracy itself
// from the per-image answers and checks it against the server's reports; any
// disagreement is an error, never a silently trusted number.
//
//   EvaluatorClient client(EvaluatorClient::Connect("127.0.0.1:50051"));
//   ASSIGN_OR_RETURN(EvaluationResult result, client.Evaluate(dataset.images, {}));
//   result.metrics.correct();   // 8719
#ifndef RESNET8_CLIENT_EVALUATOR_CLIENT_H_
#define RESNET8_CLIENT_EVALUATOR_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/cifar10.h"
#include "common/classification_metrics.h"
#include "common/image.h"
#include "common/roc_auc.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "resnet8/v1/evaluator.grpc.pb.h"

namespace resnet8 {

struct EvaluateOptions {
  // The server's model to evaluate, by name; "" is its default model.
  std::string model_name;
  // Its version (GetModelInfo's model_version): every stream runs on it, so
  // that a model replaced during the evaluation does not mix into it. 0 asks
  // whichever version serves when each stream starts (a replacement then
  // fails the evaluation: its streams' reports name two models).
  uint64_t model_version = 0;
  // Images per request; at most the server's max_batch_images (1,024 by default).
  int64_t batch_size = 500;
  // The layout to send. The data is stored planar; kInterleavedHwc makes the
  // client reorder each image first (both must give identical results).
  PixelLayout layout = PixelLayout::kChannelPlanar;
  // Deadline of the whole evaluation; infinite by default.
  absl::Duration timeout = absl::InfiniteDuration();
  // Concurrent EvaluateDataset streams sharing the batches. One keeps a
  // single server's order; over a round_robin channel to several replicas,
  // each stream goes to its own replica.
  int streams = 1;
  // Batches a stream may have sent and not yet had answered: enough to keep
  // the server busy, few enough that a broken stream resends little.
  int window = 4;
  // A stream half-closes after this many batches and the next stream takes
  // over. Each stream is one call, so over a round_robin channel this keeps
  // spreading the work: to replicas that became ready after the first
  // streams started, and to a replica that came back after a restart. A
  // turnover costs about a round trip. Each worker starts with one batch per
  // stream and doubles up to this. 0 keeps each stream to the end.
  int batches_per_stream = 16;
  // When the server becomes unreachable (UNAVAILABLE: it died, restarts or
  // drains), keep reopening streams with exponential backoff (0.1 s doubling
  // to 5 s) and resend the unanswered batches, for at most this long without
  // progress of the evaluation. The same for a stream refused with
  // RESOURCE_EXHAUSTED (the server's stream limit) once the evaluation was
  // admitted: between its own streams another client may take the slot. An
  // evaluation refused before any answer fails at once. Zero fails at the
  // first UNAVAILABLE or refusal.
  absl::Duration reconnect_budget = absl::Seconds(60);
  // Called after each answered batch with (images answered, total images).
  std::function<void(int64_t, int64_t)> on_progress;
};

struct ImagePrediction {
  int64_t index = 0;  // record number in the data file
  std::string file;   // the image's file, when the data names them (an MLPerf Tiny folder)
  int label = 0;
  int predicted = 0;
  std::vector<float> probabilities;
};

// The labels and the scores (image-major) of `predictions`, in the form
// ComputeOneVsRestAuc and OneVsRestRocCurve take them.
struct LabelsAndScores {
  std::vector<int> labels;
  std::vector<float> scores;
};
LabelsAndScores GatherLabelsAndScores(const std::vector<ImagePrediction>& predictions);

struct EvaluationResult {
  ClassificationMetrics metrics{kCifarClasses};  // aggregated by the client
  // One-vs-rest ROC AUC of the probabilities, computed by the client from
  // every answer. The server's reports carry no AUC: it needs every score,
  // and a stream's state in the server stays a few counters however long.
  OneVsRestAuc auc;
  std::vector<ImagePrediction> predictions;  // in data order
  // The server's own counts, summed over the streams (equal to `metrics`, or
  // Evaluate() fails): each stream's final report, or for a stream that
  // broke, the running totals it confirmed; model_sha256 is the model that
  // answered.
  v1::EvaluationReport server_report;
  double seconds = 0;          // wall time of the evaluation
  int64_t reconnects = 0;      // streams reopened after UNAVAILABLE or a refusal mid-run
  int64_t resent_batches = 0;  // batches sent again because their stream broke
};

// How to reach a server that uses TLS or a token. Defaults: plaintext, no token.
struct ConnectOptions {
  // PEM certificates to trust; non-empty switches the channel to TLS.
  std::string tls_root_certificates;
  // The name the server's certificate must carry, when it differs from the
  // host in the address (e.g. "localhost" while dialling 127.0.0.1).
  std::string tls_server_name;
  // Sent as "authorization: Bearer <auth_token>" on every call. Over
  // plaintext it is readable on the network: use TLS beyond loopback.
  std::string auth_token;
};

// The gRPC target for `servers`: one HOST:PORT, whose name may resolve to
// several replicas (a Kubernetes headless Service), or a comma-separated list
// of IPv4 HOST:PORT replicas (an "ipv4:" target). INVALID_ARGUMENT for an
// empty entry, or a name in a list (use one DNS name for all instead).
absl::StatusOr<std::string> ChannelTarget(const std::string& servers);

// How many replicas `servers` names: the entries of a list, else 1.
int CountListedServers(const std::string& servers);

class EvaluatorClient {
 public:
  // A channel to `servers` (see ChannelTarget) whose message limits fit the
  // service's, whose reconnect backoff is short (see Evaluate()), and which
  // spreads calls over all resolved replicas with gRPC's round_robin policy;
  // each EvaluateDataset stream is one call, so EvaluateOptions::streams >= the
  // replica count gives every replica work. Check `servers` with
  // ChannelTarget() first: an invalid one gives a channel that never connects.
  static std::shared_ptr<grpc::Channel> Connect(const std::string& servers, const ConnectOptions& options = {});

  explicit EvaluatorClient(std::shared_ptr<grpc::Channel> channel, std::string auth_token = "");

  // Errors: the server's status (e.g. INVALID_ARGUMENT, RESOURCE_EXHAUSTED
  // when a full server refuses the evaluation, or UNAVAILABLE once the
  // reconnect budget is spent) with its message; INVALID_ARGUMENT for bad
  // options or empty data; DATA_LOSS if the server's answers do not match
  // what was sent or its report disagrees with the client's own count;
  // FAILED_PRECONDITION if streams were answered by different models.
  absl::StatusOr<EvaluationResult> Evaluate(const LabeledImages& images, const EvaluateOptions& options) const;

  // `model_name` "" asks the server's default model.
  absl::StatusOr<v1::ClassifyResponse> Classify(const ImageBatchView& batch, absl::Duration timeout,
                                                const std::string& model_name = "") const;
  absl::StatusOr<v1::ModelInfo> GetModelInfo(absl::Duration timeout, const std::string& model_name = "") const;
  // The grpc.health.v1 status of `service` ("" for the whole server).
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> CheckHealth(const std::string& service,
                                                                                   absl::Duration timeout) const;

 private:
  // Sets the deadline and the token on a call.
  void Prepare(grpc::ClientContext& context, absl::Duration timeout) const;

  std::shared_ptr<grpc::Channel> channel_;
  std::string auth_token_;
  std::unique_ptr<v1::Evaluator::Stub> stub_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

// Adds "authorization: Bearer <token>" to a call; nothing if `token` is empty.
void AddBearerToken(grpc::ClientContext& context, const std::string& token);

}  // namespace resnet8

#endif  // RESNET8_CLIENT_EVALUATOR_CLIENT_H_
