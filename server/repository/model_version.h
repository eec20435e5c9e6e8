// One loaded version of one named model: the classifier, what the APIs say
// about it, its self-check, and the two API cores bound to it. Immutable once
// made; requests hold it by shared_ptr for as long as they use it, so a
// version that is swapped out or unloaded finishes what it started
// (model_repository.h).
//
//   LoadedClassifier loaded = ...;  // a loader's result
//   auto version = std::make_shared<const ModelVersion>("resnet8", 1, std::move(loaded), limits, &admission);
//   RETURN_IF_ERROR(version->evaluator().Classify(request, &response));
#ifndef RESNET8_SERVER_REPOSITORY_MODEL_VERSION_H_
#define RESNET8_SERVER_REPOSITORY_MODEL_VERSION_H_

#include <cstdint>
#include <memory>
#include <string>

#include "common/check_result.h"
#include "common/image_classifier.h"
#include "server/admission.h"
#include "server/evaluator/evaluator_core.h"
#include "server/inference/inference_core.h"
#include "server/request_validation.h"
#include "server/served_model.h"

namespace resnet8 {

// What a loader makes of a model file: a classifier that passed its
// self-check, and its description. `classifier` owns (or shares) whatever
// the classifier needs, such as the converted module.
struct LoadedClassifier {
  std::shared_ptr<const ImageClassifier> classifier;
  ServedModel description;
  CheckResult self_check;
};

class ModelVersion {
 public:
  // `admission`, if not null, must outlive the version.
  ModelVersion(std::string name, int64_t version, LoadedClassifier loaded, const ServiceLimits& limits,
               AdmissionGate* admission);
  ModelVersion(const ModelVersion&) = delete;
  ModelVersion& operator=(const ModelVersion&) = delete;

  const std::string& name() const { return name_; }
  // 1 for the first load of the name, one more for each swap.
  int64_t version() const { return version_; }
  const ServedModel& description() const { return loaded_.description; }
  const CheckResult& self_check() const { return loaded_.self_check; }
  const EvaluatorCore& evaluator() const { return evaluator_; }
  const InferenceCore& inference() const { return inference_; }

 private:
  const std::string name_;
  const int64_t version_;
  const LoadedClassifier loaded_;
  const EvaluatorCore evaluator_;
  const InferenceCore inference_;
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_REPOSITORY_MODEL_VERSION_H_
