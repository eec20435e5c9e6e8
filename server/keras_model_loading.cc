#include "server/keras_model_loading.h"

#include <glog/logging.h>
#include <torch/version.h>

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/cifar10.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "server/keras/self_check.h"
#include "server/torch/model_loader.h"

namespace resnet8 {
namespace {

ServedModel DescribeModel(const LoadedModel& model, bool optimized, const PrecisionChoice& precision,
                          double convert_seconds) {
  ServedModel served;
  served.file = model.path.substr(model.path.rfind('/') + 1);
  served.sha256 = model.sha256;
  served.keras_version = model.keras.keras_version;
  served.architecture = model.keras.Summary();
  served.outputs_are_logits = model.keras.Outputs() == OutputKind::kLogits;
  served.parameter_count = model.keras.ParameterCount();
  const int64_t outputs = model.keras.OutputShape().back();
  if (outputs == kCifarClasses) {
    served.class_names = StandardCifar10ClassNames();
  } else {
    for (int64_t i = 0; i < outputs; ++i) served.class_names.push_back(absl::StrCat("class_", i));
  }
  const InputTransform& transform = model.keras.input_transform;
  served.input_value_range =
      transform.IsIdentity()
          ? "uint8 0..255 fed to the model as float 0..255: no scaling, no mean subtraction"
          : absl::StrCat("uint8 0..255 fed to the model as float ", transform.ToString(), " (per channel R, G, B)");
  served.input_scale.assign(transform.scale.begin(), transform.scale.end());
  served.input_offset.assign(transform.offset.begin(), transform.offset.end());
  served.runtime = absl::StrCat("LibTorch ", TORCH_VERSION, " (CPU, ",
                                optimized ? "optimized: BatchNorm folded, channels-last" : "as converted", "; ",
                                precision.detail, ")");
  served.precision = PrecisionName(precision.precision);
  served.convert_seconds = convert_seconds;
  served.input_name = model.keras.input_layer;
  served.output_name = model.keras.output_layer;
  return served;
}

absl::StatusOr<LoadedClassifier> LoadKerasSource(const KerasLoadingOptions& options, const ModelSource& source) {
  ModelSettings settings = options.defaults;
  if (!source.settings_path.empty()) {
    ASSIGN_OR_RETURN(std::string text, ReadFileBytes(source.settings_path));
    ASSIGN_OR_RETURN(settings, ParseModelSettings(text, source.settings_path, options.defaults));
  }
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(LoadedModel model, LoadKerasFile(source.model_path, settings.input_transform));
  TorchClassifierOptions timed = options.inference;
  if (ServiceMetrics* metrics = options.metrics; metrics != nullptr) {
    timed.on_timing = [metrics, name = source.name](absl::Duration queue, absl::Duration compute) {
      metrics->RecordInference(name, queue, compute);
    };
  }
  ASSIGN_OR_RETURN(ServedClassifier served, MakeServedClassifier(model, options.optimize, timed, settings.precision));
  // Reading, validating and building the served module: the conversion.
  const double convert_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const KerasModel& keras = model.keras;
  LOG(INFO) << "model '" << source.name << "': converted " << source.model_path << " in " << convert_seconds
            << " s: " << keras.Summary() << "; outputs "
            << (keras.Outputs() == OutputKind::kLogits ? "logits" : "probabilities") << "; input "
            << keras.input_transform.ToString() << "; sha256 " << model.sha256 << "; precision "
            << served.precision.detail;
  ASSIGN_OR_RETURN(CheckResult check, RunSelfCheck(keras, *served.classifier, CheckTolerance(served.precision)));
  if (!check.passed) {
    return absl::InternalError(absl::StrCat("self-check ", check.detail, "; refusing to serve ", source.model_path));
  }
  LOG(INFO) << "model '" << source.name << "': self-check " << check.detail;
  LoadedClassifier loaded;
  loaded.description = DescribeModel(model, options.optimize, served.precision, convert_seconds);
  loaded.self_check = std::move(check);
  loaded.classifier = std::shared_ptr<const ImageClassifier>(std::move(served.classifier));
  return loaded;
}

}  // namespace

absl::StatusOr<ModelSettings> ParseModelSettings(const std::string& text, const std::string& path,
                                                 const ModelSettings& defaults) {
  ModelSettings settings = defaults;
  std::string scale, offset;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const size_t equals = line.find('=');
    const std::string where = absl::StrCat(path, " line ", number);
    if (equals == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": expected 'key = value', got '", line, "'"));
    }
    const std::string key(absl::StripAsciiWhitespace(line.substr(0, equals)));
    const std::string value(absl::StripAsciiWhitespace(line.substr(equals + 1)));
    if (key == "input_scale") {
      scale = value;
    } else if (key == "input_offset") {
      offset = value;
    } else if (key == "precision") {
      absl::StatusOr<PrecisionPolicy> precision = ParsePrecisionPolicy(value);
      if (!precision.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", precision.status().message()));
      settings.precision = *precision;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": unknown key '", key, "'; known: input_scale, input_offset, precision"));
    }
  }
  if (!scale.empty() || !offset.empty()) {
    absl::StatusOr<InputTransform> transform =
        ParseInputTransformFlags(scale.empty() ? "1" : scale, offset.empty() ? "0" : offset);
    if (!transform.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", transform.status().message()));
    settings.input_transform = *transform;
  }
  return settings;
}

ModelLoader MakeKerasModelLoader(KerasLoadingOptions options) {
  return [options = std::move(options)](const ModelSource& source) { return LoadKerasSource(options, source); };
}

}  // namespace resnet8
