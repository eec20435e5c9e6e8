// The repository's loader for Keras files (model_repository.h): read a model
// folder's settings, convert the file to the served LibTorch classifier, and
// run the self-check on the path that will serve. A model that fails any
// step is an error naming its file; it never serves.
//
// Settings (`settings.txt` beside the model file; every line optional,
// `#` starts a comment), the per-model form of the server's flags:
//
//   input_scale = 1/255          # pixel * scale + offset, one value or R,G,B
//   input_offset = -0.5,-0.5,-0.5
//   precision = auto             # auto, float32 or float64
//
//   ModelLoader loader = MakeKerasModelLoader(options);
//   ASSIGN_OR_RETURN(LoadedClassifier loaded, loader(source));
#ifndef RESNET8_SERVER_KERAS_MODEL_LOADING_H_
#define RESNET8_SERVER_KERAS_MODEL_LOADING_H_

#include <string>

#include "absl/status/statusor.h"
#include "server/keras/input_transform.h"
#include "server/repository/model_repository.h"
#include "server/service_metrics.h"
#include "server/torch/precision.h"
#include "server/torch/torch_classifier.h"

namespace resnet8 {

// What a model's settings choose.
struct ModelSettings {
  InputTransform input_transform;
  PrecisionPolicy precision = PrecisionPolicy::kAuto;
};

// `defaults` overridden by the lines of `text` (the file `path`, for
// messages). INVALID_ARGUMENT naming the file, line and key for an unknown
// key or a bad value.
absl::StatusOr<ModelSettings> ParseModelSettings(const std::string& text, const std::string& path,
                                                 const ModelSettings& defaults);

struct KerasLoadingOptions {
  ModelSettings defaults;  // the server's flags; a settings file overrides them per model
  // The fast path (model_server.h's ModelServerOptions::optimize).
  bool optimize = true;
  TorchClassifierOptions inference;
  // Each classifier reports its queue and compute times here, under its
  // model's name. Must outlive the classifiers; may be null.
  ServiceMetrics* metrics = nullptr;
};

ModelLoader MakeKerasModelLoader(KerasLoadingOptions options);

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_MODEL_LOADING_H_
