#include "server/service_metrics.h"

#include <grpcpp/support/status_code_enum.h>
#include <malloc.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace resnet8 {
namespace {

// Seconds: from a cached 1-image pass (~1 ms) to a large batch behind others.
const std::vector<double> kSecondsBuckets = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10};
// Images per request, up to the default max_batch_images.
const std::vector<double> kImageBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

const char* CodeName(int code) {
  static const char* const kNames[] = {
      "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
      "DATA_LOSS", "UNAUTHENTICATED"};
  return code >= 0 && code <= 16 ? kNames[code] : "UNKNOWN";
}

// Label values escape backslash, double quote and newline.
std::string Escape(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string FormatNumber(double value) { return absl::StrFormat("%.17g", value); }

void Header(absl::string_view name, absl::string_view type, absl::string_view help, std::string* out) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), counts_(upper_bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  size_t bucket = 0;
  while (bucket < upper_bounds_.size() && value > upper_bounds_[bucket]) ++bucket;
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

void Histogram::Render(absl::string_view name, absl::string_view labels, std::string* out) const {
  const std::string prefix = labels.empty() ? "" : absl::StrCat(labels, ",");
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string bound = i < upper_bounds_.size() ? FormatNumber(upper_bounds_[i]) : "+Inf";
    absl::StrAppend(out, name, "_bucket{", prefix, "le=\"", bound, "\"} ", cumulative, "\n");
  }
  const std::string braces = labels.empty() ? "" : absl::StrCat("{", labels, "}");
  absl::StrAppend(out, name, "_sum", braces, " ", FormatNumber(sum_), "\n");
  absl::StrAppend(out, name, "_count", braces, " ", count_, "\n");
}

ServiceMetrics::ServiceMetrics() = default;

void ServiceMetrics::SetModels(const std::vector<LoadedModelInfo>& models) {
  std::vector<std::string> labels;
  for (const LoadedModelInfo& loaded : models) {
    const ServedModel& model = loaded.model;
    labels.push_back(absl::StrCat("model=\"", Escape(loaded.name), "\",version=\"", loaded.version, "\",sha256=\"",
                                  Escape(model.sha256), "\",file=\"", Escape(model.file), "\",keras_version=\"",
                                  Escape(model.keras_version), "\",runtime=\"", Escape(model.runtime), "\",outputs=\"",
                                  model.outputs_are_logits ? "logits" : "probabilities", "\""));
  }
  absl::MutexLock lock(&mutex_);
  model_labels_ = std::move(labels);
}

void ServiceMetrics::SetServing(bool serving) {
  absl::MutexLock lock(&mutex_);
  serving_ = serving;
}

void ServiceMetrics::RecordCall(absl::string_view method, int grpc_code, absl::Duration duration) {
  absl::MutexLock lock(&mutex_);
  ++requests_[{std::string(method), grpc_code}];
  request_seconds_.try_emplace(std::string(method), kSecondsBuckets)
      .first->second.Observe(absl::ToDoubleSeconds(duration));
}

void ServiceMetrics::RecordBatch(absl::string_view method, absl::string_view model, int64_t images) {
  absl::MutexLock lock(&mutex_);
  images_[{std::string(method), std::string(model)}] += static_cast<uint64_t>(images);
  batch_images_.try_emplace(std::string(method), kImageBuckets).first->second.Observe(static_cast<double>(images));
}

void ServiceMetrics::RecordInference(absl::string_view model, absl::Duration queue, absl::Duration compute) {
  absl::MutexLock lock(&mutex_);
  queue_seconds_.try_emplace(std::string(model), kSecondsBuckets).first->second.Observe(absl::ToDoubleSeconds(queue));
  compute_seconds_.try_emplace(std::string(model), kSecondsBuckets)
      .first->second.Observe(absl::ToDoubleSeconds(compute));
}

ServiceMetrics::InferenceTotals ServiceMetrics::Inferences() const {
  absl::MutexLock lock(&mutex_);
  InferenceTotals totals;
  for (const auto& [model, histogram] : queue_seconds_) totals.queue += absl::Seconds(histogram.sum());
  for (const auto& [model, histogram] : compute_seconds_) {
    totals.calls += histogram.count();
    totals.compute += absl::Seconds(histogram.sum());
  }
  return totals;
}

ServiceMetrics::InferenceTotals ServiceMetrics::Inferences(absl::string_view model) const {
  absl::MutexLock lock(&mutex_);
  InferenceTotals totals;
  if (auto queue = queue_seconds_.find(std::string(model)); queue != queue_seconds_.end()) {
    totals.queue = absl::Seconds(queue->second.sum());
  }
  if (auto compute = compute_seconds_.find(std::string(model)); compute != compute_seconds_.end()) {
    totals.calls = compute->second.count();
    totals.compute = absl::Seconds(compute->second.sum());
  }
  return totals;
}

void ServiceMetrics::StreamOpened() {
  absl::MutexLock lock(&mutex_);
  ++streams_in_flight_;
}

void ServiceMetrics::StreamClosed() {
  absl::MutexLock lock(&mutex_);
  --streams_in_flight_;
}

std::string ServiceMetrics::RenderPrometheus() const {
  absl::MutexLock lock(&mutex_);
  std::string out;
  Header("resnet8_requests_total", "counter", "gRPC calls finished, by method and status code.", &out);
  for (const auto& [key, count] : requests_) {
    absl::StrAppend(&out, "resnet8_requests_total{method=\"", key.first, "\",code=\"", CodeName(key.second), "\"} ",
                    count, "\n");
  }
  Header("resnet8_request_seconds", "histogram", "Duration of gRPC calls (a whole stream for EvaluateDataset).", &out);
  for (const auto& [method, histogram] : request_seconds_) {
    histogram.Render("resnet8_request_seconds", absl::StrCat("method=\"", method, "\""), &out);
  }
  Header("resnet8_images_classified_total", "counter", "Images answered, by method and model.", &out);
  for (const auto& [key, count] : images_) {
    absl::StrAppend(&out, "resnet8_images_classified_total{method=\"", key.first, "\",model=\"", Escape(key.second),
                    "\"} ", count, "\n");
  }
  Header("resnet8_batch_images", "histogram", "Images per request (per batch of a stream).", &out);
  for (const auto& [method, histogram] : batch_images_) {
    histogram.Render("resnet8_batch_images", absl::StrCat("method=\"", method, "\""), &out);
  }
  Header("resnet8_inference_queue_seconds", "histogram", "Time a batch waited for the compute thread, by model.", &out);
  for (const auto& [model, histogram] : queue_seconds_) {
    histogram.Render("resnet8_inference_queue_seconds", absl::StrCat("model=\"", Escape(model), "\""), &out);
  }
  Header("resnet8_inference_compute_seconds", "histogram", "Time a batch spent on the compute thread, by model.", &out);
  for (const auto& [model, histogram] : compute_seconds_) {
    histogram.Render("resnet8_inference_compute_seconds", absl::StrCat("model=\"", Escape(model), "\""), &out);
  }
  Header("resnet8_evaluate_streams_in_flight", "gauge", "EvaluateDataset streams open now.", &out);
  absl::StrAppend(&out, "resnet8_evaluate_streams_in_flight ", streams_in_flight_, "\n");
  // What the process holds, as opposed to its resident memory, which also
  // counts what the allocator keeps free for reuse (docs/operations.md,
  // "Memory"): the number that shows a leak.
  Header("resnet8_heap_in_use_bytes", "gauge",
         "Bytes allocated and not freed, over all of glibc's arenas and mmapped blocks (mallinfo2).", &out);
  const struct mallinfo2 heap = mallinfo2();
  absl::StrAppend(&out, "resnet8_heap_in_use_bytes ", heap.uordblks + heap.hblkhd, "\n");
  Header("resnet8_serving", "gauge", "1 when the health status is SERVING.", &out);
  absl::StrAppend(&out, "resnet8_serving ", serving_ ? 1 : 0, "\n");
  if (!model_labels_.empty()) {
    Header("resnet8_model_info", "gauge", "The loaded models, as labels.", &out);
    for (const std::string& labels : model_labels_) absl::StrAppend(&out, "resnet8_model_info{", labels, "} 1\n");
  }
  return out;
}

}  // namespace resnet8
