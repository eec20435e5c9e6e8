#include "client/evaluator_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
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

v1::EvaluateRequest MakeRequest(const LabeledImages& images, int64_t begin, int64_t end, PixelLayout layout) {
  v1::EvaluateRequest request;
  v1::ImageBatch* batch = request.mutable_images();
  batch->set_layout(ToProto(layout));
  batch->set_count(static_cast<uint32_t>(end - begin));
  std::string* pixels = batch->mutable_pixels();
  pixels->resize((end - begin) * kImageBytes);
  for (int64_t i = begin; i < end; ++i) {
    uint8_t* out = reinterpret_cast<uint8_t*>(pixels->data()) + (i - begin) * kImageBytes;
    if (layout == PixelLayout::kChannelPlanar) {
      std::copy(images.image(i).begin(), images.image(i).end(), out);
    } else {
      PlanarToHwc(images.image(i), out);
    }
    request.add_labels(images.labels[i]);
    request.add_indices(images.indices[i]);
  }
  return request;
}

absl::Status Mismatch(const std::string& what) {
  return absl::DataLossError(absl::StrCat("the server's answer does not match: ", what));
}

}  // namespace

void PlanarToHwc(absl::Span<const uint8_t> planar, uint8_t* hwc) {
  constexpr int64_t kPlane = kImageHeight * kImageWidth;
  for (int64_t p = 0; p < kPlane; ++p) {
    for (int64_t c = 0; c < kImageChannels; ++c) hwc[p * kImageChannels + c] = planar[c * kPlane + p];
  }
}

std::shared_ptr<grpc::Channel> EvaluatorClient::Connect(const std::string& address) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(64 << 20);
  arguments.SetMaxSendMessageSize(64 << 20);  // the server enforces its own limit
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments);
}

EvaluatorClient::EvaluatorClient(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)),
      stub_(v1::Evaluator::NewStub(channel_)),
      health_(grpc::health::v1::Health::NewStub(channel_)) {}

absl::StatusOr<EvaluationResult> EvaluatorClient::Evaluate(const LabeledImages& images,
                                                           const EvaluateOptions& options) const {
  if (images.size() == 0) return absl::InvalidArgumentError("no images to evaluate");
  if (options.batch_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("batch size ", options.batch_size, " must be at least 1"));
  }
  const auto start = std::chrono::steady_clock::now();
  grpc::ClientContext context;
  SetTimeout(context, options.timeout);
  std::unique_ptr<grpc::ClientReaderWriter<v1::EvaluateRequest, v1::EvaluateResponse>> stream =
      stub_->EvaluateDataset(&context);

  const int64_t total = images.size();
  std::thread writer([&] {
    for (int64_t begin = 0; begin < total; begin += options.batch_size) {
      if (!stream->Write(MakeRequest(images, begin, std::min(begin + options.batch_size, total), options.layout))) {
        return;  // the stream broke; the reader finds out why
      }
    }
    stream->WritesDone();
  });

  EvaluationResult result;
  result.predictions.reserve(total);
  absl::Status problem;
  v1::EvaluateResponse response;
  for (int64_t begin = 0; begin < total && problem.ok(); begin += options.batch_size) {
    if (!stream->Read(&response)) break;  // Finish() says why
    const int64_t end = std::min(begin + options.batch_size, total);
    if (response.predictions_size() != end - begin) {
      problem = Mismatch(absl::StrCat(response.predictions_size(), " predictions for a batch of ", end - begin));
      break;
    }
    for (const v1::Prediction& prediction : response.predictions()) {
      const int64_t i = static_cast<int64_t>(result.predictions.size());  // answers come in data order
      if (static_cast<int64_t>(prediction.index()) != images.indices[i] || prediction.label() != images.labels[i] ||
          prediction.probabilities_size() != kCifarClasses) {
        problem = Mismatch(absl::StrCat("prediction for record ", images.indices[i], " came back as record ",
                                        prediction.index(), " with ", prediction.probabilities_size(), " classes"));
        break;
      }
      ImagePrediction ours;
      ours.index = images.indices[i];
      ours.label = images.labels[i];
      ours.probabilities.assign(prediction.probabilities().begin(), prediction.probabilities().end());
      ours.predicted = Argmax(ours.probabilities);  // recomputed, not taken from the server
      if (ours.predicted != static_cast<int>(prediction.predicted_class())) {
        problem = Mismatch(absl::StrCat("record ", ours.index, ": predicted_class ", prediction.predicted_class(),
                                        " is not the argmax ", ours.predicted, " of its probabilities"));
        break;
      }
      problem = result.metrics.Add(ours.label, ours.predicted);
      result.predictions.push_back(std::move(ours));
    }
    if (problem.ok() && (static_cast<int64_t>(response.totals().images()) != result.metrics.images() ||
                         static_cast<int64_t>(response.totals().correct()) != result.metrics.correct())) {
      problem = Mismatch(absl::StrCat("running totals ", response.totals().correct(), "/", response.totals().images(),
                                      " but the client counts ", result.metrics.correct(), "/",
                                      result.metrics.images()));
    }
    if (options.on_progress) options.on_progress(result.metrics.images(), total);
  }
  bool have_report = false;
  if (problem.ok() && result.metrics.images() == total && stream->Read(&response)) {
    have_report = response.has_report();
    result.server_report = response.report();
  }
  if (!problem.ok()) context.TryCancel();
  writer.join();
  const absl::Status finish = FromGrpcStatus(stream->Finish());
  if (!problem.ok()) return problem;
  if (!finish.ok()) return finish;
  if (!have_report) return Mismatch("the stream ended without a final report");
  const v1::EvaluationReport& report = result.server_report;
  const std::vector<int64_t>& ours = result.metrics.confusion_matrix();
  if (static_cast<int64_t>(report.images()) != result.metrics.images() ||
      static_cast<int64_t>(report.correct()) != result.metrics.correct() ||
      report.confusion_matrix_size() != static_cast<int>(ours.size()) ||
      !std::equal(ours.begin(), ours.end(), report.confusion_matrix().begin())) {
    return Mismatch(absl::StrCat("server reports ", report.correct(), "/", report.images(),
                                 ", the client counts ", result.metrics.correct(), "/", result.metrics.images(),
                                 " (or the confusion matrices differ)"));
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

absl::StatusOr<v1::ClassifyResponse> EvaluatorClient::Classify(const ImageBatchView& batch,
                                                               absl::Duration timeout) const {
  v1::ClassifyRequest request;
  request.mutable_images()->set_layout(ToProto(batch.layout));
  request.mutable_images()->set_count(static_cast<uint32_t>(batch.count));
  request.mutable_images()->set_pixels(reinterpret_cast<const char*>(batch.pixels.data()), batch.pixels.size());
  grpc::ClientContext context;
  SetTimeout(context, timeout);
  v1::ClassifyResponse response;
  if (absl::Status status = FromGrpcStatus(stub_->Classify(&context, request, &response)); !status.ok()) return status;
  return response;
}

absl::StatusOr<v1::ModelInfo> EvaluatorClient::GetModelInfo(absl::Duration timeout) const {
  grpc::ClientContext context;
  SetTimeout(context, timeout);
  v1::ModelInfo info;
  if (absl::Status status = FromGrpcStatus(stub_->GetModelInfo(&context, {}, &info)); !status.ok()) return status;
  return info;
}

absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> EvaluatorClient::CheckHealth(
    const std::string& service, absl::Duration timeout) const {
  grpc::ClientContext context;
  SetTimeout(context, timeout);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  if (absl::Status status = FromGrpcStatus(health_->Check(&context, request, &response)); !status.ok()) {
    return status;
  }
  return response.status();
}

}  // namespace resnet8
