#include "server/repository/model_version.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace resnet8 {

ModelVersion::ModelVersion(std::string name, int64_t version, LoadedClassifier loaded, const ServiceLimits& limits,
                           AdmissionGate* admission)
    : name_(std::move(name)),
      version_(version),
      loaded_(std::move(loaded)),
      evaluator_(*loaded_.classifier, loaded_.description.class_names, loaded_.description.sha256, limits, admission),
      inference_(*loaded_.classifier, loaded_.description, name_, absl::StrCat(version_), limits, admission) {}

}  // namespace resnet8
