#include "server/evaluator/evaluator_core.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/cifar10.h"
#include "common/status_macros.h"
#include "common/wire.h"

namespace resnet8 {

EvaluatorCore::EvaluatorCore(const ImageClassifier& classifier, std::vector<std::string> class_names,
                             std::string model_sha256, ServiceLimits limits, AdmissionGate* admission)
    : classifier_(classifier),
      class_names_(std::move(class_names)),
      model_sha256_(std::move(model_sha256)),
      limits_(limits),
      admission_(admission) {}

absl::Status EvaluatorCore::Predict(const ImageBatchView& batch, std::vector<float>& probabilities,
                                    google::protobuf::RepeatedPtrField<v1::Prediction>* predictions) const {
  const int classes = classifier_.num_classes();
  probabilities.resize(batch.count * classes);
  RETURN_IF_ERROR(classifier_.Classify(batch, absl::MakeSpan(probabilities)));
  predictions->Reserve(static_cast<int>(batch.count));
  for (int64_t i = 0; i < batch.count; ++i) {
    absl::Span<const float> row = absl::MakeConstSpan(probabilities).subspan(i * classes, classes);
    v1::Prediction* prediction = predictions->Add();
    prediction->set_index(i);
    prediction->mutable_probabilities()->Add(row.begin(), row.end());
    const int top = Argmax(row);
    prediction->set_predicted_class(top);
    if (top < static_cast<int>(class_names_.size())) prediction->set_predicted_class_name(class_names_[top]);
  }
  return absl::OkStatus();
}

absl::Status EvaluatorCore::Classify(const v1::ClassifyRequest& request, v1::ClassifyResponse* response) const {
  ASSIGN_OR_RETURN(ImageBatchView batch, ValidateImageBatch(request.images(), limits_));
  AdmissionGate::Ticket ticket;
  if (admission_ != nullptr) {
    ASSIGN_OR_RETURN(ticket, admission_->Admit(batch.count));
  }
  std::vector<float> probabilities;
  return Predict(batch, probabilities, response->mutable_predictions());
}

EvaluatorCore::Evaluation::Evaluation(const EvaluatorCore& core)
    : core_(core), metrics_(core.classifier_.num_classes()) {}

absl::Status EvaluatorCore::Evaluation::AddBatch(const v1::EvaluateRequest& request, v1::EvaluateResponse* response) {
  if (core_.classifier_.num_classes() != kCifarClasses) {
    return absl::FailedPreconditionError(absl::StrCat("the served model has ", core_.classifier_.num_classes(),
                                                      " outputs; EvaluateDataset scores the ", kCifarClasses,
                                                      " CIFAR-10 classes, so use Classify for this model"));
  }
  ASSIGN_OR_RETURN(ImageBatchView batch,
                   ValidateEvaluateRequest(request, core_.classifier_.num_classes(), core_.limits_));
  AdmissionGate::Ticket held;  // counted against one-shot calls, never refused
  if (core_.admission_ != nullptr) held = core_.admission_->Hold(batch.count);
  std::vector<float> probabilities;
  RETURN_IF_ERROR(core_.Predict(batch, probabilities, response->mutable_predictions()));
  for (int i = 0; i < response->predictions_size(); ++i) {
    v1::Prediction* prediction = response->mutable_predictions(i);
    prediction->set_index(request.indices_size() > 0 ? request.indices(i) : next_index_ + i);
    prediction->set_label(request.labels(i));
    // Labels and predictions are in range: validated above and produced by Argmax.
    metrics_.Add(static_cast<int>(request.labels(i)), static_cast<int>(prediction->predicted_class())).IgnoreError();
  }
  next_index_ += batch.count;
  response->mutable_totals()->set_images(metrics_.images());
  response->mutable_totals()->set_correct(metrics_.correct());
  return absl::OkStatus();
}

void EvaluatorCore::Evaluation::Finish(v1::EvaluateResponse* response) const {
  response->mutable_totals()->set_images(metrics_.images());
  response->mutable_totals()->set_correct(metrics_.correct());
  *response->mutable_report() = ToWireReport(metrics_, core_.class_names_, core_.model_sha256_);
}

}  // namespace resnet8
