#include "client/evaluation_run.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/batch_queue.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "common/wire.h"

namespace resnet8 {
namespace {

constexpr absl::Duration kFirstBackoff = absl::Milliseconds(100);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);

v1::EvaluateRequest MakeRequest(const LabeledImages& images, const Batch& batch, const EvaluateOptions& options) {
  const PixelLayout layout = options.layout;
  v1::EvaluateRequest request;
  // Every message: each may start a stream.
  request.set_model_name(options.model_name);
  request.set_model_version(options.model_version);
  v1::ImageBatch* proto = request.mutable_images();
  proto->set_layout(ToWireLayout(layout));
  proto->set_count(static_cast<uint32_t>(batch.end - batch.begin));
  std::string* pixels = proto->mutable_pixels();
  pixels->resize((batch.end - batch.begin) * kImageBytes);
  for (int64_t i = batch.begin; i < batch.end; ++i) {
    uint8_t* out = reinterpret_cast<uint8_t*>(pixels->data()) + (i - batch.begin) * kImageBytes;
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

OneVsRestAuc ComputeAuc(const std::vector<ImagePrediction>& predictions) {
  const LabelsAndScores gathered = GatherLabelsAndScores(predictions);
  return ComputeOneVsRestAuc(gathered.labels, gathered.scores, kCifarClasses);
}

absl::Status Mismatch(const std::string& what) {
  return absl::DataLossError(absl::StrCat("the server's answer does not match: ", what));
}

// The report a stream ended with must count exactly the answers it carried.
absl::Status CheckReport(const v1::EvaluationReport& report, const ClassificationMetrics& counted) {
  const std::vector<int64_t>& ours = counted.confusion_matrix();
  if (static_cast<int64_t>(report.images()) != counted.images() ||
      static_cast<int64_t>(report.correct()) != counted.correct() ||
      report.confusion_matrix_size() != static_cast<int>(ours.size()) ||
      !std::equal(ours.begin(), ours.end(), report.confusion_matrix().begin())) {
    return Mismatch(absl::StrCat("server reports ", report.correct(), "/", report.images(), ", the client counts ",
                                 counted.correct(), "/", counted.images(), " (or the confusion matrices differ)"));
  }
  return absl::OkStatus();
}

// One EvaluatorClient::Evaluate() call: worker threads, each running one
// stream after another over the shared BatchQueue.
class DatasetEvaluation {
 public:
  DatasetEvaluation(v1::Evaluator::StubInterface& stub, const LabeledImages& images, const EvaluateOptions& options,
                    const std::string& auth_token)
      : stub_(stub),
        images_(images),
        options_(options),
        auth_token_(auth_token),
        queue_(images.size(), options.batch_size),
        server_counts_(kCifarClasses) {
    predictions_.resize(images.size());
    deadline_ = options.timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + options.timeout;
  }

  absl::StatusOr<EvaluationResult> Execute() {
    const absl::Time start = absl::Now();
    std::vector<std::thread> workers;
    for (int i = 0; i < options_.streams; ++i) workers.emplace_back([this] { Worker(); });
    for (std::thread& worker : workers) worker.join();
    RETURN_IF_ERROR(queue_.failure());

    EvaluationResult result;
    for (const ImagePrediction& prediction : predictions_) {
      if (absl::Status status = result.metrics.Add(prediction.label, prediction.predicted); !status.ok()) {
        return Mismatch(std::string(status.message()));
      }
    }
    result.predictions = std::move(predictions_);
    result.auc = ComputeAuc(result.predictions);
    result.server_report = ToWireReport(server_counts_, {}, model_sha256_);
    RETURN_IF_ERROR(CheckReport(result.server_report, result.metrics));
    result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
    result.reconnects = reconnects_;
    result.resent_batches = resent_batches_;
    return result;
  }

 private:
  // One EvaluateDataset call and what it carried.
  struct Stream {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriterInterface<v1::EvaluateRequest, v1::EvaluateResponse>> call;
    BatchQueue::StreamId id = 0;
    ClassificationMetrics counted{kCifarClasses};  // its answers, checked one by one
    std::optional<v1::EvaluationReport> report;    // its final report, if it sent one
    bool progressed = false;                       // at least one batch answered
  };

  // Whether a stream that failed with `status` is worth reopening.
  // UNAVAILABLE: the server died, restarts or drains. RESOURCE_EXHAUSTED: the
  // server is at its stream limit. A run that has answers or another stream
  // open was admitted, and its own turnover leaves gaps another client can
  // take, so it waits for a slot as for a restart. A run that was never
  // admitted is told at once: the server is full.
  bool Retryable(const absl::Status& status) const {
    if (options_.reconnect_budget <= absl::ZeroDuration()) return false;
    if (status.code() == absl::StatusCode::kUnavailable) return true;
    return status.code() == absl::StatusCode::kResourceExhausted &&
           (queue_.answered_images() > 0 || queue_.open_streams() > 0);
  }

  // Opens streams while there is work, reopening retryable failures with
  // exponential backoff until `reconnect_budget` passes without progress of
  // the run.
  void Worker() {
    // Slow start: a worker's first stream carries one batch, the next two,
    // doubling up to batches_per_stream. Replicas connect a few milliseconds
    // apart and round_robin picks only among those already connected, so
    // early turnovers let every replica get a stream from the start.
    int stream_batches = options_.batches_per_stream == 0 ? 0 : 1;
    absl::Duration backoff = kFirstBackoff;
    absl::Time failing_since = absl::InfiniteFuture();
    int64_t answered_when_failing = -1;  // the run's answers when failing_since was set
    while (queue_.WaitForWork()) {
      bool progressed = false;
      absl::Status status = RunStream(stream_batches, &progressed);
      stream_batches = std::min(stream_batches * 2, options_.batches_per_stream);
      if (progressed || status.ok()) backoff = kFirstBackoff;
      if (status.ok()) {
        answered_when_failing = -1;
        continue;
      }
      if (!Retryable(status)) return queue_.Fail(status);
      const absl::Time now = absl::Now();
      if (const int64_t answered = queue_.answered_images(); answered != answered_when_failing) {
        failing_since = now;  // the run moved since: a fresh budget
        answered_when_failing = answered;
      }
      if (now - failing_since >= options_.reconnect_budget || now >= deadline_) {
        return queue_.Fail(
            absl::Status(status.code(), absl::StrCat("gave up after ", absl::FormatDuration(now - failing_since),
                                                     " of reopening streams without progress: ", status.message())));
      }
      ++reconnects_;
      queue_.WaitUnlessFinished(std::min(backoff, deadline_ - now));
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }

  // One stream: sends up to `max_batches` batches (0: no limit) from a
  // writer thread while this thread checks the answers. OK once the stream
  // ended with a report that matches what it carried.
  absl::Status RunStream(int max_batches, bool* progressed) {
    Stream stream;
    stream.id = queue_.OpenStream();
    if (deadline_ != absl::InfiniteFuture()) stream.context.set_deadline(absl::ToChronoTime(deadline_));
    AddBearerToken(stream.context, auth_token_);
    stream.call = stub_.EvaluateDataset(&stream.context);
    std::thread writer([&] { WriteBatches(stream, max_batches); });
    const absl::Status problem = ReadAnswers(stream);
    queue_.StopSending(stream.id);
    if (!problem.ok()) stream.context.TryCancel();  // also unblocks a writer waiting on flow control
    writer.join();
    *progressed = stream.progressed;
    return CloseStream(stream, problem);
  }

  void WriteBatches(Stream& stream, int max_batches) {
    for (int sent = 0; max_batches == 0 || sent < max_batches; ++sent) {
      const std::optional<int> id = queue_.NextToSend(stream.id, options_.window);
      if (!id) break;
      if (!stream.call->Write(MakeRequest(images_, queue_.batch(*id), options_))) return;  // the reader learns why
    }
    stream.call->WritesDone();
  }

  // Reads answers until the final report, the end of the stream, or an
  // answer that does not match what was sent (the returned error).
  absl::Status ReadAnswers(Stream& stream) {
    v1::EvaluateResponse response;
    while (stream.call->Read(&response)) {
      const std::optional<int> id = queue_.OldestInFlight(stream.id);
      if (response.has_report()) {
        if (id) return Mismatch("a final report while batches were still unanswered");
        stream.report = std::move(*response.mutable_report());
        return absl::OkStatus();
      }
      if (!id) return Mismatch("an answer for a batch that was not sent");
      RETURN_IF_ERROR(CheckAndStore(queue_.batch(*id), response, stream.counted));
      const int64_t answered = queue_.MarkAnswered(stream.id);
      stream.progressed = true;
      if (options_.on_progress) {
        std::lock_guard<std::mutex> lock(results_mutex_);
        options_.on_progress(answered, images_.size());
      }
    }
    return absl::OkStatus();
  }

  // Finishes the call, puts back what it left unanswered, and adds what it
  // counted to the server's counts once they are confirmed.
  absl::Status CloseStream(Stream& stream, absl::Status problem) {
    const absl::Status finish = FromGrpcStatus(stream.call->Finish());
    const int64_t returned = queue_.CloseStream(stream.id);
    std::lock_guard<std::mutex> lock(results_mutex_);
    resent_batches_ += returned;
    if (!problem.ok()) return problem;
    // A stream that broke never sent its report; the running totals it did
    // send were checked batch by batch against these counts.
    if (!finish.ok()) {
      RETURN_IF_ERROR(server_counts_.Merge(stream.counted));
      return finish;
    }
    if (!stream.report) return Mismatch("the stream ended without a final report");
    RETURN_IF_ERROR(CheckReport(*stream.report, stream.counted));
    if (stream.counted.images() == 0) return absl::OkStatus();
    if (!model_sha256_.empty() && model_sha256_ != stream.report->model_sha256()) {
      return absl::FailedPreconditionError(absl::StrCat("servers answer with different models (sha256 ", model_sha256_,
                                                        " and ", stream.report->model_sha256(),
                                                        "); point the client at replicas of one model"));
    }
    model_sha256_ = stream.report->model_sha256();
    return server_counts_.Merge(stream.counted);
  }

  // Checks one batch's answers and stores them in their records' slots.
  absl::Status CheckAndStore(const Batch& batch, const v1::EvaluateResponse& response, ClassificationMetrics& counted) {
    if (response.predictions_size() != batch.size()) {
      return Mismatch(absl::StrCat(response.predictions_size(), " predictions for a batch of ", batch.size()));
    }
    for (int64_t i = batch.begin; i < batch.end; ++i) {
      const v1::Prediction& prediction = response.predictions(static_cast<int>(i - batch.begin));
      if (static_cast<int64_t>(prediction.index()) != images_.indices[i] ||
          prediction.label() != static_cast<uint32_t>(images_.labels[i]) ||
          prediction.probabilities_size() != kCifarClasses) {
        return Mismatch(absl::StrCat("prediction for record ", images_.indices[i], " came back as record ",
                                     prediction.index(), " with ", prediction.probabilities_size(), " classes"));
      }
      ImagePrediction& ours = predictions_[i];  // this batch's own slots: no lock needed
      ours.index = images_.indices[i];
      if (!images_.files.empty()) ours.file = images_.files[i];
      ours.label = images_.labels[i];
      ours.probabilities.assign(prediction.probabilities().begin(), prediction.probabilities().end());
      ours.predicted = Argmax(ours.probabilities);  // recomputed, not taken from the server
      if (ours.predicted != static_cast<int>(prediction.predicted_class())) {
        return Mismatch(absl::StrCat("record ", ours.index, ": predicted_class ", prediction.predicted_class(),
                                     " is not the argmax ", ours.predicted, " of its probabilities"));
      }
      RETURN_IF_ERROR(counted.Add(ours.label, ours.predicted));
    }
    if (static_cast<int64_t>(response.totals().images()) != counted.images() ||
        static_cast<int64_t>(response.totals().correct()) != counted.correct()) {
      return Mismatch(absl::StrCat("running totals ", response.totals().correct(), "/", response.totals().images(),
                                   " but the client counts ", counted.correct(), "/", counted.images()));
    }
    return absl::OkStatus();
  }

  v1::Evaluator::StubInterface& stub_;
  const LabeledImages& images_;
  const EvaluateOptions& options_;
  const std::string& auth_token_;
  absl::Time deadline_;
  BatchQueue queue_;
  std::vector<ImagePrediction> predictions_;  // one slot per record, in data order; a batch's slots are its own

  std::mutex results_mutex_;             // guards the rest; on_progress is called under it
  ClassificationMetrics server_counts_;  // the streams' confirmed counts, summed
  std::string model_sha256_;
  std::atomic<int64_t> reconnects_{0};
  int64_t resent_batches_ = 0;
};

}  // namespace

absl::StatusOr<EvaluationResult> RunEvaluation(v1::Evaluator::StubInterface& stub, const LabeledImages& images,
                                               const EvaluateOptions& options, const std::string& auth_token) {
  if (images.size() == 0) return absl::InvalidArgumentError("no images to evaluate");
  if (options.batch_size < 1 || options.streams < 1 || options.window < 1 || options.batches_per_stream < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "batch size (", options.batch_size, "), streams (", options.streams, ") and window (", options.window,
        ") must each be at least 1, batches_per_stream (", options.batches_per_stream, ") at least 0"));
  }
  return DatasetEvaluation(stub, images, options, auth_token).Execute();
}

}  // namespace resnet8
