// What the server counts for operators, rendered in the Prometheus text
// exposition format (version 0.0.4) for the /metrics endpoint
// (metrics_http.h):
//
//   resnet8_requests_total{method,code}          calls finished, by gRPC method and status code
//   resnet8_request_seconds{method}              histogram of call durations
//   resnet8_images_classified_total{method,model} images answered
//   resnet8_batch_images{method}                 histogram of images per request (per batch for streams)
//   resnet8_inference_queue_seconds{model}       histogram: waiting for the compute thread
//   resnet8_inference_compute_seconds{model}     histogram: on the compute thread
//   resnet8_evaluate_streams_in_flight           gauge
//   resnet8_serving                              gauge, 1 when health is SERVING
//   resnet8_model_info{model,version,sha256,file,keras_version,runtime,outputs} 1, one per loaded model
//
//   ServiceMetrics metrics;
//   metrics.RecordCall("Classify", grpc::StatusCode::OK, absl::Milliseconds(2));
//   std::string text = metrics.RenderPrometheus();
//
// Thread-safe throughout.
#ifndef RESNET8_SERVER_SERVICE_METRICS_H_
#define RESNET8_SERVER_SERVICE_METRICS_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/served_model.h"

namespace resnet8 {

// Cumulative buckets with fixed upper bounds, as Prometheus expects.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);
  // Appends the _bucket, _sum and _count lines; `labels` is "" or `k="v",...`.
  void Render(absl::string_view name, absl::string_view labels, std::string* out) const;
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> upper_bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; the last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class ServiceMetrics {
 public:
  ServiceMetrics();

  // The loaded models, replacing the previous set.
  struct LoadedModelInfo {
    std::string name;
    int64_t version = 0;
    ServedModel model;
  };
  void SetModels(const std::vector<LoadedModelInfo>& models);
  void SetServing(bool serving);
  void RecordCall(absl::string_view method, int grpc_code, absl::Duration duration);
  void RecordBatch(absl::string_view method, absl::string_view model, int64_t images);
  void RecordInference(absl::string_view model, absl::Duration queue, absl::Duration compute);
  void StreamOpened();
  void StreamClosed();

  std::string RenderPrometheus() const;

  // Classifier calls so far, whichever API asked: how many, and their total
  // time waiting for and on the compute thread; of every model, or of one.
  struct InferenceTotals {
    uint64_t calls = 0;
    absl::Duration queue, compute;
  };
  InferenceTotals Inferences() const;
  InferenceTotals Inferences(absl::string_view model) const;

 private:
  mutable absl::Mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_ ABSL_GUARDED_BY(mutex_);
  std::map<std::string, Histogram> request_seconds_ ABSL_GUARDED_BY(mutex_);
  std::map<std::pair<std::string, std::string>, uint64_t> images_ ABSL_GUARDED_BY(mutex_);  // method, model
  std::map<std::string, Histogram> batch_images_ ABSL_GUARDED_BY(mutex_);
  std::map<std::string, Histogram> queue_seconds_ ABSL_GUARDED_BY(mutex_);    // by model
  std::map<std::string, Histogram> compute_seconds_ ABSL_GUARDED_BY(mutex_);  // by model
  int64_t streams_in_flight_ ABSL_GUARDED_BY(mutex_) = 0;
  bool serving_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<std::string> model_labels_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_SERVICE_METRICS_H_
