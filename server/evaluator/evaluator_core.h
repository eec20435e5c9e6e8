// What the Evaluator service does, without any gRPC transport: validate a
// request, classify, and build the answer; and, for a dataset stream, keep the
// running accuracy. The gRPC adapter (evaluator_service.h) only moves
// messages and maps statuses, as TF Serving's PredictionServiceImpl does.
//
//   EvaluatorCore core(classifier, class_names, limits);
//   RETURN_IF_ERROR(core.Classify(request, &response));
//
//   EvaluatorCore::Evaluation evaluation = core.StartEvaluation();
//   RETURN_IF_ERROR(evaluation.AddBatch(request, &response));  // per request
//   evaluation.Finish(&final_response);                          // after the last
#ifndef RESNET8_SERVER_EVALUATOR_EVALUATOR_CORE_H_
#define RESNET8_SERVER_EVALUATOR_EVALUATOR_CORE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/classification_metrics.h"
#include "common/image_classifier.h"
#include "resnet8/v1/evaluator.pb.h"
#include "server/admission.h"
#include "server/request_validation.h"

namespace resnet8 {

class EvaluatorCore {
 public:
  // `classifier` (and `admission`, if given) must outlive the core.
  // `class_names` has one name per class. Classify calls pass `admission`
  // first; without one every call is admitted.
  EvaluatorCore(const ImageClassifier& classifier, std::vector<std::string> class_names, std::string model_sha256,
                ServiceLimits limits, AdmissionGate* admission = nullptr);

  // One EvaluateDataset stream's state. Not thread-safe; one per stream.
  class Evaluation {
   public:
    // Validates and classifies one batch, fills `response` with its
    // predictions and the running totals. On error nothing is counted.
    absl::Status AddBatch(const v1::EvaluateRequest& request, v1::EvaluateResponse* response);
    // Fills the final response: running totals and the full report.
    void Finish(v1::EvaluateResponse* response) const;
    const ClassificationMetrics& metrics() const { return metrics_; }

   private:
    friend class EvaluatorCore;
    explicit Evaluation(const EvaluatorCore& core);
    const EvaluatorCore& core_;
    ClassificationMetrics metrics_;
    uint64_t next_index_ = 0;  // numbering when the client sends no indices
  };

  // RESOURCE_EXHAUSTED when over max_batch_images, or refused by the
  // admission gate (IsOverload). Thread-safe.
  absl::Status Classify(const v1::ClassifyRequest& request, v1::ClassifyResponse* response) const;
  Evaluation StartEvaluation() const { return Evaluation(*this); }

  const ServiceLimits& limits() const { return limits_; }

 private:
  // Classifies `batch` into `probabilities` (resized) and appends one
  // Prediction per image to `predictions`, indexed by its position in the
  // batch (EvaluateDataset then sets the record numbers).
  absl::Status Predict(const ImageBatchView& batch, std::vector<float>& probabilities,
                       google::protobuf::RepeatedPtrField<v1::Prediction>* predictions) const;

  const ImageClassifier& classifier_;
  std::vector<std::string> class_names_;
  std::string model_sha256_;
  ServiceLimits limits_;
  AdmissionGate* admission_;
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_EVALUATOR_EVALUATOR_CORE_H_
