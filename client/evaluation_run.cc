#include "client/evaluation_run.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "common/wire.h"

namespace resnet8 {
namespace {

constexpr absl::Duration kFirstBackoff = absl::Milliseconds(100);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);

struct Batch {
  int64_t begin = 0;
  int64_t end = 0;
};

v1::EvaluateRequest MakeRequest(const LabeledImages& images, const Batch& batch, PixelLayout layout) {
  v1::EvaluateRequest request;
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

class Run {
 public:
  Run(v1::Evaluator::StubInterface& stub, const LabeledImages& images, const EvaluateOptions& options,
      const std::string& auth_token)
      : stub_(stub), images_(images), options_(options), auth_token_(auth_token), server_counts_(kCifarClasses) {
    for (int64_t begin = 0; begin < images.size(); begin += options.batch_size) {
      pending_.push_back(static_cast<int>(batches_.size()));
      batches_.push_back({begin, std::min(begin + options.batch_size, images.size())});
    }
    predictions_.resize(images.size());
    deadline_ = options.timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + options.timeout;
  }

  absl::StatusOr<EvaluationResult> Execute() {
    const absl::Time start = absl::Now();
    std::vector<std::thread> workers;
    for (int i = 0; i < options_.streams; ++i) workers.emplace_back([this] { Worker(); });
    for (std::thread& worker : workers) worker.join();
    if (!fatal_.ok()) return fatal_;

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
  bool Finished() const { return answered_images_ == images_.size() || !fatal_.ok(); }

  void Fail(absl::Status status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (fatal_.ok()) fatal_ = std::move(status);
    }
    cv_.notify_all();
  }

  // Whether a stream that failed with `status` is worth reopening (under mu_).
  // UNAVAILABLE: the server died, restarts or drains. RESOURCE_EXHAUSTED: the
  // server is at its stream limit. A run that has answers or another stream
  // open was admitted, and its own turnover leaves gaps another client can
  // take, so it waits for a slot as for a restart. A run that was never
  // admitted is told at once: the server is full. ("Another stream open"
  // includes one the server has not answered yet: with several streams
  // against a full server, a worker may back off once while a sibling is
  // being refused; the first worker that finds none open ends the run.)
  bool Retryable(const absl::Status& status) const {
    if (options_.reconnect_budget <= absl::ZeroDuration()) return false;
    if (status.code() == absl::StatusCode::kUnavailable) return true;
    return status.code() == absl::StatusCode::kResourceExhausted && (answered_images_ > 0 || open_streams_ > 0);
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
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return Finished() || !pending_.empty(); });
        if (Finished()) return;
      }
      bool progressed = false;
      absl::Status status = RunStream(stream_batches, &progressed);
      stream_batches = std::min(stream_batches * 2, options_.batches_per_stream);
      if (progressed || status.ok()) backoff = kFirstBackoff;
      if (status.ok()) {
        answered_when_failing = -1;
        continue;
      }
      std::unique_lock<std::mutex> lock(mu_);
      if (!Retryable(status)) {
        lock.unlock();
        return Fail(status);
      }
      const absl::Time now = absl::Now();
      if (answered_images_ != answered_when_failing) {  // the run moved since: a fresh budget
        failing_since = now;
        answered_when_failing = answered_images_;
      }
      if (now - failing_since >= options_.reconnect_budget || now >= deadline_) {
        lock.unlock();
        return Fail(
            absl::Status(status.code(), absl::StrCat("gave up after ", absl::FormatDuration(now - failing_since),
                                                     " of reopening streams without progress: ", status.message())));
      }
      ++reconnects_;
      cv_.wait_for(lock, absl::ToChronoNanoseconds(std::min(backoff, deadline_ - now)), [this] { return Finished(); });
      if (Finished()) return;
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }

  // One EvaluateDataset stream: a writer thread sends up to `max_batches`
  // batches (0: no limit) from the queue while this thread checks the
  // answers. OK once the stream ended with a report that matches what it
  // carried.
  absl::Status RunStream(int max_batches, bool* progressed) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++open_streams_;
    }
    grpc::ClientContext context;
    if (deadline_ != absl::InfiniteFuture()) context.set_deadline(absl::ToChronoTime(deadline_));
    AddBearerToken(context, auth_token_);
    std::unique_ptr<grpc::ClientReaderWriterInterface<v1::EvaluateRequest, v1::EvaluateResponse>> stream =
        stub_.EvaluateDataset(&context);
    std::deque<int> in_flight;  // sent, not yet answered, in sending order (guarded by mu_)
    bool reader_done = false;   // guarded by mu_

    std::thread writer([&] {
      for (int sent = 0; max_batches == 0 || sent < max_batches; ++sent) {
        int id;
        {
          std::unique_lock<std::mutex> lock(mu_);
          cv_.wait(lock, [&] {
            return reader_done || !fatal_.ok() || pending_.empty() ||
                   static_cast<int>(in_flight.size()) < options_.window;
          });
          if (reader_done || !fatal_.ok() || pending_.empty()) break;
          id = pending_.front();
          pending_.pop_front();
          in_flight.push_back(id);
        }
        if (!stream->Write(MakeRequest(images_, batches_[id], options_.layout))) return;  // the reader learns why
      }
      stream->WritesDone();
    });

    ClassificationMetrics counted(kCifarClasses);  // this stream's answers
    absl::Status problem;
    bool have_report = false;
    v1::EvaluateResponse response;
    while (problem.ok() && stream->Read(&response)) {
      int id = -1;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!in_flight.empty()) id = in_flight.front();
      }
      if (response.has_report()) {
        have_report = true;
        if (id >= 0) problem = Mismatch("a final report while batches were still unanswered");
        break;
      }
      if (id < 0) {
        problem = Mismatch("an answer for a batch that was not sent");
        break;
      }
      problem = CheckAndStore(batches_[id], response, counted);
      if (!problem.ok()) break;
      int64_t answered;
      {
        std::lock_guard<std::mutex> lock(mu_);
        in_flight.pop_front();
        answered_images_ += batches_[id].end - batches_[id].begin;
        answered = answered_images_;
        *progressed = true;
      }
      cv_.notify_all();
      if (options_.on_progress) {
        std::lock_guard<std::mutex> lock(progress_mu_);
        options_.on_progress(answered, images_.size());
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      reader_done = true;
    }
    cv_.notify_all();
    if (!problem.ok()) context.TryCancel();  // also unblocks a writer waiting on flow control
    writer.join();
    const absl::Status finish = FromGrpcStatus(stream->Finish());
    {
      std::lock_guard<std::mutex> lock(mu_);
      --open_streams_;
      // Unanswered batches go back to the front of the queue, in order.
      resent_batches_ += static_cast<int64_t>(in_flight.size());
      pending_.insert(pending_.begin(), in_flight.begin(), in_flight.end());
      // A stream that broke never sent its report; the running totals it did
      // send were checked batch by batch against these counts.
      if (problem.ok() && !finish.ok()) problem = server_counts_.Merge(counted);
    }
    cv_.notify_all();
    if (!problem.ok()) return problem;
    if (!finish.ok()) return finish;
    if (!have_report) return Mismatch("the stream ended without a final report");
    RETURN_IF_ERROR(CheckReport(response.report(), counted));
    std::lock_guard<std::mutex> lock(mu_);
    if (counted.images() == 0) return absl::OkStatus();
    if (!model_sha256_.empty() && model_sha256_ != response.report().model_sha256()) {
      return absl::FailedPreconditionError(absl::StrCat("servers answer with different models (sha256 ", model_sha256_,
                                                        " and ", response.report().model_sha256(),
                                                        "); point the client at replicas of one model"));
    }
    model_sha256_ = response.report().model_sha256();
    return server_counts_.Merge(counted);
  }

  // Checks one batch's answers and stores them in their records' slots.
  absl::Status CheckAndStore(const Batch& batch, const v1::EvaluateResponse& response, ClassificationMetrics& counted) {
    if (response.predictions_size() != batch.end - batch.begin) {
      return Mismatch(
          absl::StrCat(response.predictions_size(), " predictions for a batch of ", batch.end - batch.begin));
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
  std::vector<Batch> batches_;
  absl::Time deadline_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int> pending_;  // batches not sent, or sent on a stream that broke
  int64_t answered_images_ = 0;
  int open_streams_ = 0;                      // streams of this run between opening and Finish()
  absl::Status fatal_;                        // the first error that ends the run
  std::vector<ImagePrediction> predictions_;  // one slot per record, in data order
  ClassificationMetrics server_counts_;       // the streams' reports, summed
  std::string model_sha256_;
  int64_t reconnects_ = 0;
  int64_t resent_batches_ = 0;
  std::mutex progress_mu_;  // on_progress is called from several streams
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
  return Run(stub, images, options, auth_token).Execute();
}

}  // namespace resnet8
