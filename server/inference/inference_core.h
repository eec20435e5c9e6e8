// The Open Inference Protocol (KServe v2) for the served model, without any
// gRPC transport, as EvaluatorCore is for the Evaluator service: metadata,
// configuration, and ModelInfer's validation, classification and answer.
// The gRPC adapter (inference_service.h) moves messages and maps statuses.
//
// The model as the protocol sees it: one input named after the Keras input
// layer, [-1, 32, 32, 3] (Keras's NHWC), UINT8 pixels or FP32 pixel values
// (0..255, before the model's input transform, as --input_scale/--offset
// describe); one output named after the Keras output layer, FP32 [-1, C]
// with the values Classify returns (probabilities; softmax of the logits for
// a logits model). The classification extension answers BYTES
// "value:index:label", top-k per image, best first.
//
//   InferenceCore core(classifier, served_model, "resnet8", "1", limits);
//   RETURN_IF_ERROR(core.Infer(request, &response));
#ifndef RESNET8_SERVER_INFERENCE_INFERENCE_CORE_H_
#define RESNET8_SERVER_INFERENCE_INFERENCE_CORE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/image_classifier.h"
#include "inference/grpc_service.pb.h"
#include "server/admission.h"
#include "server/request_validation.h"
#include "server/served_model.h"

namespace resnet8 {

// The server's name, version and protocol extensions, the same over both
// bindings and whichever models it holds.
inference::ServerMetadataResponse InferenceServerMetadata();

class InferenceCore {
 public:
  // `classifier` must outlive the core; `name` and `version` are the
  // model's in the protocol (model_repository.h numbers the versions).
  // Infer calls pass `admission` (which must outlive the core) first; without
  // one every call is admitted.
  InferenceCore(const ImageClassifier& classifier, const ServedModel& model, std::string name, std::string version,
                ServiceLimits limits, AdmissionGate* admission = nullptr);

  // OK when `name` is this model and `version` is "" or its version;
  // NOT_FOUND naming what was asked otherwise.
  absl::Status FindModel(absl::string_view name, absl::string_view version) const;

  inference::ModelMetadataResponse Metadata() const;
  inference::ModelConfigResponse Config() const;

  // Validates and classifies. INVALID_ARGUMENT naming the field for a wrong
  // input name, datatype, shape, size or value, or an unknown output or
  // parameter; NOT_FOUND for another model or version; RESOURCE_EXHAUSTED
  // above max_batch_images or refused by the admission gate (IsOverload);
  // the classifier's error otherwise. `images` is
  // set to the number of images classified. Thread-safe.
  absl::Status Infer(const inference::ModelInferRequest& request, inference::ModelInferResponse* response,
                     int64_t* images = nullptr) const;

  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }

  // Triton's cumulative statistics: Infer()'s successes and failures from
  // both bindings, with the classifier's `queue` and `compute` totals over
  // its `calls` (every API's). Thread-safe.
  inference::ModelStatisticsResponse Statistics(uint64_t calls, absl::Duration queue, absl::Duration compute) const;

 private:
  absl::Status InferUncounted(const inference::ModelInferRequest& request, inference::ModelInferResponse* response,
                              int64_t* images) const;

  const ImageClassifier& classifier_;
  std::string name_;
  std::string version_;
  std::string input_name_;
  std::string output_name_;
  std::vector<std::string> class_names_;
  ServiceLimits limits_;
  AdmissionGate* admission_;

  struct Totals {
    uint64_t success = 0, success_ns = 0, fail = 0, fail_ns = 0, images = 0, last_ms = 0;
  };
  mutable absl::Mutex mutex_;
  mutable Totals totals_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_INFERENCE_INFERENCE_CORE_H_
